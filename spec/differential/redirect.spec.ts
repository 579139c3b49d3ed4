// Differential: sk_msg programs that call bpf_msg_redirect_map (spec/fixtures/diff_redirect.c),
// attached for real to a sockmap holding the sender at key 0 and its peer at key 1, against the
// same programs re-hosted with the redirect mock (mock/redirect.h, told that key 1 holds a socket).
// The mock does not move bytes: it returns the verdict and records the redirect, so what the
// re-hosted run predicts is derived from that record here, by the kernel's documented rules: a
// message redirected to key 1 goes out of the peer's socket (back to the sender), or into the
// peer's receive queue with BPF_F_INGRESS; a dropped message fails the send with EACCES.
import { expect } from 'chai';
import { Harness, useHarness } from '../../src/mock/harness';
import { SK_DROP, SK_PASS } from '../../src/structs';
import { attachReal, hex, itDifferential } from './real';

const EACCES = 13;
const BPF_F_INGRESS = 1n;
const PEER_KEY = 1;
const PAYLOAD = Buffer.from('redirected through the sockmap');

interface Observed {
  sent: number;
  /** bytes the peer received */
  wire: string;
  /** bytes that came back to the sender */
  back: string;
}

function real(program: string): Observed {
  const r = attachReal(['skmsg', 'build/fixtures/diff_redirect.o', program, '--sockmap', 'diff_socks', '--peer-key', String(PEER_KEY), '--payload', hex(PAYLOAD)]);
  return { sent: r.sent as number, wire: r.wire as string, back: r.back as string };
}

function rehosted(h: Harness, program: string): Observed {
  h.reset();
  h.mocks.redirectTargets([PEER_KEY]);
  const message = hex(h.run(`xdp_${program}`, { data: PAYLOAD }).data);
  const verdict = h.mocks.retval();
  const redirects = h.mocks.redirects();
  expect(redirects, 'one redirect call').to.have.length(1);
  if (verdict === SK_DROP) return { sent: -EACCES, wire: '', back: '' };
  expect(verdict).to.equal(SK_PASS);
  const { key, flags } = redirects[0];
  expect(key, 'a redirect passes only to a key holding a socket').to.equal(PEER_KEY);
  const ingress = (flags & BPF_F_INGRESS) !== 0n;
  return { sent: PAYLOAD.length, wire: ingress ? message : '', back: ingress ? '' : message };
}

describe('differential: bpf_msg_redirect_map attached to a sockmap vs re-hosted', () => {
  const h = useHarness('build/fixtures/diff_redirect_harness.o', ['xdp_to_peer', 'xdp_to_peer_ingress', 'xdp_to_empty', 'xdp_bad_flags']);

  const cases: [string, string][] = [
    ['to_peer', 'a redirect to the peer\'s socket sends the message out of it, back to the sender'],
    ['to_peer_ingress', 'a redirect to the peer\'s socket with BPF_F_INGRESS queues the message for the peer to read'],
    ['to_empty', 'a redirect to a key without a socket drops the message: the send fails with EACCES'],
    ['bad_flags', 'a redirect with a flag other than BPF_F_INGRESS drops the message'],
  ];
  for (const [program, title] of cases) {
    itDifferential(`${program}: ${title}`, () => {
      const kernel = real(program);
      expect(rehosted(h(), program)).to.deep.equal(kernel);
    });
  }
});
