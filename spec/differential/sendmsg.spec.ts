// Differential: sendmsg_prog (bpf/sendmsg.c) attached for real as an sk_msg verdict on a sockmap
// holding one end of a TCP connection on the guest's loopback, against the same program re-hosted
// (build/mocks/sendmsg_harness.o) on the same message and socket storage. Compared: the bytes the
// peer read off the wire with the re-hosted data_out, the send's result with the program's verdict,
// and the socket's storage afterwards. Mocks exercised: bpf_msg_push_data (msg.h), bpf_sk_storage_get
// (sk_storage.h), the sk_msg context (ctx.h). build/differential/sendmsg_broken.o is the same harness
// with a push_data mock one byte off (spec/differential/broken_push.h): it must be caught.
import { expect } from 'chai';
import { Harness, useHarness } from '../../src/mock/harness';
import { AF_INET, AF_INET6, encodeSockStorageData, Init, ip4, ip6, port, SK_PASS, SockStorageData } from '../../src/structs';
import { attachReal, hex, itDifferential, Real } from './real';

const SK = 0x5eedn;
const PAYLOAD = Buffer.from('GET /reviews HTTP/1.1\r\nHost: reviews\r\n\r\n');

interface Case {
  family: number;
  storage?: Init<SockStorageData>;
}

interface Observed {
  /** the message as the peer receives it */
  wire: string;
  /** the program let the message through (SK_PASS: the send succeeded with every byte) */
  passed: boolean;
  /** the socket's storage after the send */
  storage: string | null;
}

function waypoint(address: string, hostPort: number, extra: Init<SockStorageData> = {}): Init<SockStorageData> {
  const sk_tuple = address.includes(':')
    ? { ipv6: { daddr: ip6(address), dport: port(hostPort) } }
    : { ipv4: { daddr: ip4(address), dport: port(hostPort) } };
  return { via_waypoint: true, has_set_ip: true, sk_tuple, ...extra };
}

function real(c: Case): Observed {
  const args = ['skmsg', 'build/bpf/sendmsg.o', 'sendmsg_prog', '--family', c.family === AF_INET6 ? '6' : '4', '--payload', hex(PAYLOAD)];
  if (c.storage) args.push('--storage', `km_sockstorage:${hex(encodeSockStorageData(c.storage))}`);
  const r: Real = attachReal(args);
  return { wire: r.wire as string, passed: r.sent === PAYLOAD.length, storage: r.storage ?? null };
}

function rehosted(h: Harness, c: Case): Observed {
  h.reset();
  h.mocks.setMsgSocket({ sk: SK, family: c.family });
  if (c.storage) h.mocks.setStorage(SK, encodeSockStorageData(c.storage), 'km_sockstorage');
  const run = h.run('xdp_sendmsg', { data: PAYLOAD });
  const storage = h.mocks.storage(SK, 64, 'km_sockstorage');
  return { wire: hex(run.data), passed: h.mocks.retval() === SK_PASS, storage: storage ? hex(storage) : null };
}

const CASES: [string, Case][] = [
  ['IPv4, sent to a waypoint, not yet encoded: the TLV goes on the wire before the payload', { family: AF_INET, storage: waypoint('10.244.1.7', 9080) }],
  ['IPv6, sent to a waypoint, not yet encoded: the IPv6 TLV', { family: AF_INET6, storage: waypoint('fd00:10::9', 15006) }],
  ['already encoded: the payload alone', { family: AF_INET, storage: waypoint('10.244.1.7', 9080, { has_encoded: true }) }],
  ['not sent to a waypoint: the payload alone, storage untouched', { family: AF_INET, storage: waypoint('10.244.1.7', 9080, { via_waypoint: false }) }],
  ['no socket storage: the payload alone', { family: AF_INET }],
];

describe('differential: sendmsg_prog attached to a sockmap vs re-hosted', () => {
  const h = useHarness('build/mocks/sendmsg_harness.o', ['xdp_sendmsg']);
  const broken = useHarness('build/differential/sendmsg_broken.o', ['xdp_sendmsg']);

  for (const [title, c] of CASES) {
    itDifferential(`${title}: the same bytes on the wire, verdict and storage`, () => {
      const kernel = real(c);
      expect(kernel.passed, 'the real send went through').to.equal(true);
      expect(rehosted(h(), c)).to.deep.equal(kernel);
    });
  }

  itDifferential('a push_data mock one byte off (sendmsg_broken.o) is caught: its message differs from the wire', () => {
    const c = CASES[0][1];
    const kernel = real(c);
    const wrong = rehosted(broken(), c);
    expect(wrong.wire).to.not.equal(kernel.wire);
    // the difference is the one planted: a zero byte after the 16 TLV bytes
    const wire = Buffer.from(kernel.wire, 'hex');
    expect(wrong.wire).to.equal(hex(Buffer.concat([wire.subarray(0, 16), Buffer.alloc(1), wire.subarray(16)])));
    expect(rehosted(h(), c).wire, 'the library mock on the same input').to.equal(kernel.wire);
  });
});
