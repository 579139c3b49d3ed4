// Differential: sk_skb stream verdicts that call bpf_sk_redirect_map (spec/fixtures/diff_sk_skb.c),
// attached for real with a stream parser to a sockmap holding the receiving end of a loopback
// TCP connection at key 0, against the same verdicts re-hosted with the redirect mock
// (mock/redirect.h, told that key 0 holds a socket). The mock does not move bytes: what the
// re-hosted run predicts is derived from its verdict and recorded redirect, by the kernel's
// documented rules: SK_DROP discards what was received; a redirect to key 0 sends it out of the
// receiving socket (back to the sender), or queues it for that socket to read with BPF_F_INGRESS.
import { expect } from 'chai';
import { Harness, useHarness } from '../../src/mock/harness';
import { SK_DROP, SK_PASS } from '../../src/structs';
import { attachReal, hex, itDifferential } from './real';

const BPF_F_INGRESS = 1n;
const SELF_KEY = 0;
const PAYLOAD = Buffer.from('through the stream verdict');

interface Observed {
  sent: number;
  /** bytes the receiving socket read */
  wire: string;
  /** bytes that came back to the sender */
  back: string;
}

function real(program: string): Observed {
  const r = attachReal(['skskb', 'build/fixtures/diff_sk_skb.o', program, '--parser', 'whole', '--sockmap', 'diff_skb_socks', '--payload', hex(PAYLOAD)]);
  return { sent: r.sent as number, wire: r.wire as string, back: r.back as string };
}

function rehosted(h: Harness, program: string): Observed {
  h.reset();
  h.mocks.redirectTargets([SELF_KEY]);
  h.run(`xdp_${program}`, { data: Buffer.concat([Buffer.alloc(14), PAYLOAD]) });
  const verdict = h.mocks.retval();
  const redirects = h.mocks.redirects();
  expect(redirects, 'one redirect call').to.have.length(1);
  const sent = { sent: PAYLOAD.length, wire: '', back: '' };
  if (verdict === SK_DROP) return sent;
  expect(verdict).to.equal(SK_PASS);
  const { key, flags } = redirects[0];
  expect(key, 'a redirect passes only to a key holding a socket').to.equal(SELF_KEY);
  return (flags & BPF_F_INGRESS) !== 0n ? { ...sent, wire: hex(PAYLOAD) } : { ...sent, back: hex(PAYLOAD) };
}

describe('differential: bpf_sk_redirect_map in sk_skb verdicts attached to a sockmap vs re-hosted', () => {
  const programs = ['xdp_echo', 'xdp_to_self_ingress', 'xdp_to_empty', 'xdp_bad_flags'];
  const h = useHarness('build/fixtures/diff_sk_skb_harness.o', programs);
  const broken = useHarness('build/differential/sk_skb_broken.o', programs);

  const cases: [string, string][] = [
    ['echo', 'a redirect to the receiving socket sends what it received back out, to the sender'],
    ['to_self_ingress', 'a redirect to the receiving socket with BPF_F_INGRESS queues it for that socket to read'],
    ['to_empty', 'a redirect to a key without a socket drops what was received'],
    ['bad_flags', 'a redirect with a flag other than BPF_F_INGRESS drops what was received'],
  ];
  for (const [program, title] of cases) {
    itDifferential(`${program}: ${title}`, () => {
      const kernel = real(program);
      expect(kernel.sent, 'the send went through').to.equal(PAYLOAD.length);
      expect(rehosted(h(), program)).to.deep.equal(kernel);
    });
  }

  itDifferential('a bpf_sk_redirect_map mock that loses BPF_F_INGRESS (sk_skb_broken.o) is caught: it predicts an echo the kernel does not do', () => {
    const kernel = real('to_self_ingress');
    expect(rehosted(broken(), 'to_self_ingress')).to.deep.equal({ sent: kernel.sent, wire: '', back: kernel.wire });
    expect(kernel.wire, 'the kernel queued it for the receiving socket').to.equal(hex(PAYLOAD));
    expect(rehosted(h(), 'to_self_ingress'), 'the library mock on the same input').to.deep.equal(kernel);
  });
});
