// Differential: the sk_msg helpers the Kmesh programs do not call (spec/fixtures/diff_msg_ops.c),
// attached for real to a sockmap holding one end of a loopback TCP connection, against the same
// programs re-hosted with the message mock (mock/msg.h): the bytes the peer read, the helper's
// return value and, after a pull, how far msg->data_end is from msg->data (the globals `ret` and
// `window`, read from the real object's .bss). One difference is stated, not hidden: after a
// pull the kernel's window ends at the pull's end, the mock's at the end of the message (an XDP
// packet cannot be cut below 14 bytes and keep the rest).
import { expect } from 'chai';
import { Harness, useHarness } from '../../src/mock/harness';
import { AF_INET } from '../../src/structs';
import { attachReal, hex, itDifferential, sectionGlobals } from './real';

const PAYLOAD = Buffer.from('a message of some forty bytes, or so....');

interface Observed {
  wire: string;
  ret: bigint;
  window: bigint;
}

function real(program: string): Observed {
  const r = attachReal(['skmsg', 'build/fixtures/diff_msg_ops.o', program, '--payload', hex(PAYLOAD), '--dump', '.bss']);
  expect(r.sent, 'the send went through').to.equal(PAYLOAD.length);
  const g = sectionGlobals('build/fixtures/diff_msg_ops.o', '.bss', Buffer.from(r.maps!['.bss']['00000000'], 'hex'));
  return { wire: r.wire as string, ret: g.ret.readBigInt64LE(0), window: g.window.readBigInt64LE(0) };
}

function rehosted(h: Harness, program: string): Observed {
  h.reset();
  h.mocks.setMsgSocket({ sk: 1n, family: AF_INET });
  const wire = hex(h.run(`xdp_${program}`, { data: PAYLOAD }).data);
  return { wire, ret: h.get('ret') as bigint, window: h.get('window') as bigint };
}

describe('differential: bpf_msg_push/pull/pop_data attached to a sockmap vs re-hosted', () => {
  const h = useHarness('build/fixtures/diff_msg_ops_harness.o', [
    'xdp_pop_head', 'xdp_pull_head', 'xdp_push_head', 'xdp_push_bad_flags', 'xdp_pop_middle', 'xdp_pull_middle', 'xdp_push_middle']);

  const cases: [string, string][] = [
    ['pop_head', 'bpf_msg_pop_data(msg, 0, 4, 0) removes the first 4 bytes'],
    ['pull_head', 'bpf_msg_pull_data(msg, 0, 4, 0) returns 0 and leaves the message as it was'],
    ['push_head', 'bpf_msg_push_data(msg, 0, 8, 0) makes room the program fills before the message'],
    ['push_bad_flags', 'bpf_msg_push_data with flags 1 is refused (-EINVAL), the message unchanged'],
    ['pop_middle', 'bpf_msg_pop_data(msg, 4, 4, 0) removes bytes 4..8'],
  ];
  for (const [program, title] of cases) {
    itDifferential(`${program}: ${title}: the same bytes on the wire and return value`, () => {
      const kernel = real(program);
      expect(rehosted(h(), program)).to.deep.equal(kernel);
    });
  }

  // pull(4, 12): the kernel's window is the 8 bytes pulled; the mock's runs on to the message's end
  const pulls: [string, string, number][] = [
    ['pull_middle', 'bpf_msg_pull_data(msg, 4, 12, 0) moves msg->data to byte 4, where the program writes', PAYLOAD.length],
    ['push_middle', 'bpf_msg_push_data(msg, 4, 8, 0), then a pull of the pushed bytes, which the program fills in place', PAYLOAD.length + 8],
  ];
  for (const [program, title, size] of pulls) {
    itDifferential(`${program}: ${title}: the same bytes on the wire and return value; the window's end is the stated difference`, () => {
      const kernel = real(program);
      const mock = rehosted(h(), program);
      expect({ ...mock, window: kernel.window }).to.deep.equal(kernel);
      expect({ kernel: kernel.window, mock: mock.window }).to.deep.equal({ kernel: 8n, mock: BigInt(size - 4) });
    });
  }
});
