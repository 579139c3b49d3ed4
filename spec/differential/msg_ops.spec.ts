// Differential: the sk_msg helpers the Kmesh programs do not call (spec/fixtures/diff_msg_ops.c),
// attached for real to a sockmap holding one end of a loopback TCP connection, against the same
// programs re-hosted with the message mock (mock/msg.h): the bytes the peer read, the helper's
// return value and, after a pull, how far msg->data_end is from msg->data and what msg->size is
// (the globals `ret`, `window` and `size`, read from the real object's .bss). The pulls also
// write what they see of the window into it, so a window other than the kernel's shows on the wire.
import { expect } from 'chai';
import { Harness, useHarness } from '../../src/mock/harness';
import { attachReal, hex, itDifferential, sectionGlobals } from './real';

const PAYLOAD = Buffer.from('a message of some forty bytes, or so....');

interface Observed {
  wire: string;
  ret: bigint;
  window: bigint;
  size: bigint;
}

function real(program: string): Observed {
  const r = attachReal(['skmsg', 'build/fixtures/diff_msg_ops.o', program, '--payload', hex(PAYLOAD), '--dump', '.bss']);
  expect(r.sent, 'the send went through').to.equal(PAYLOAD.length);
  const g = sectionGlobals('build/fixtures/diff_msg_ops.o', '.bss', Buffer.from(r.maps!['.bss']['00000000'], 'hex'));
  return { wire: r.wire as string, ret: g.ret.readBigInt64LE(0), window: g.window.readBigInt64LE(0), size: g.size.readBigInt64LE(0) };
}

function rehosted(h: Harness, program: string): Observed {
  h.reset();
  const wire = hex(h.run(`xdp_${program}`, { data: PAYLOAD }).data);
  return { wire, ret: h.get('ret') as bigint, window: h.get('window') as bigint, size: h.get('size') as bigint };
}

describe('differential: bpf_msg_push/pull/pop_data attached to a sockmap vs re-hosted', () => {
  const h = useHarness('build/fixtures/diff_msg_ops_harness.o', [
    'xdp_pop_head', 'xdp_pull_head', 'xdp_push_head', 'xdp_push_bad_flags', 'xdp_pop_middle', 'xdp_pull_middle', 'xdp_pull_long', 'xdp_push_middle']);

  const cases: [string, string][] = [
    ['pop_head', 'bpf_msg_pop_data(msg, 0, 4, 0) removes the first 4 bytes'],
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

  // each program writes 'A' + (data_end - data) at msg->data, or (push_middle) a byte past the
  // 8 bytes it pulled where the window runs on: the window's end shows on the wire
  const pulls: [string, string, number, number][] = [
    ['pull_head', 'bpf_msg_pull_data(msg, 0, 4, 0): a window shorter than an XDP packet', 4, PAYLOAD.length],
    ['pull_middle', 'bpf_msg_pull_data(msg, 4, 12, 0) moves msg->data to byte 4 and msg->data_end to byte 12', 8, PAYLOAD.length],
    ['pull_long', 'bpf_msg_pull_data(msg, 20, 36, 0): a window of 16 bytes', 16, PAYLOAD.length],
    ['push_middle', 'bpf_msg_push_data(msg, 4, 8, 0), then a pull of the pushed bytes, which the program fills in place', 8, PAYLOAD.length + 8],
  ];
  for (const [program, title, window, size] of pulls) {
    itDifferential(`${program}: ${title}: the same bytes on the wire, return value, window and msg->size`, () => {
      const kernel = real(program);
      expect(kernel, 'the kernel\'s window').to.include({ ret: 0n, window: BigInt(window), size: BigInt(size) });
      expect(rehosted(h(), program)).to.deep.equal(kernel);
    });
  }
});
