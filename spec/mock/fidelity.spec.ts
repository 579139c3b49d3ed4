// Mock fidelity: the same input through the kernel's helper (a native test run of the program's
// own type) and through the mock (the program re-hosted in XDP), compared, and both checked
// against the helper's documented behaviour.
import { expect } from 'chai';
import { useHarness } from '../../src/mock/harness';

const EFAULT = 14;
const FRAME = Buffer.concat([
  Buffer.from('020000000002020000000001' + '0800', 'hex'), // Ethernet, IPv4
  Buffer.from('45000028000000004006000' + '00a0000010a000002', 'hex'), // IPv4 header, protocol TCP
  Buffer.from('b26e2378000000000000000050100000' + '00000000', 'hex'), // TCP header
]);
const L3 = FRAME.subarray(14); // what a cgroup_skb program sees: the packet from its IP header

type Harness = ReturnType<ReturnType<typeof useHarness>>;

/** One load by skb_fidelity.o: `load` is the tc program (the kernel's helper), `xdp_load` the same
 * code re-hosted (the mock). `start` is the fixture's load_start: 0 for bpf_skb_load_bytes,
 * start_header + 1 for bpf_skb_load_bytes_relative. */
function loadBytes(h: Harness, program: 'load' | 'xdp_load', offset: number, len: number, start: number): { ret: bigint; bytes: Buffer } {
  h.reset();
  h.set('load_offset', offset);
  h.set('load_len', len);
  h.set('load_start', start);
  h.run(program, program === 'load' ? { data: FRAME, ctx: Buffer.alloc(192) } : { data: FRAME });
  return { ret: h.get('load_ret') as bigint, bytes: Buffer.from(h.get('load_buf') as number[]) };
}

/** Both sides of a load give 0 and the bytes of `from` (or -EFAULT and a zeroed destination). */
function expectSameLoad(native: { ret: bigint; bytes: Buffer }, mock: { ret: bigint; bytes: Buffer }, from: Buffer | undefined, offset: number, len: number): void {
  const expected = Buffer.alloc(16, 0xaa);
  if (from) from.copy(expected, 0, offset, offset + len);
  else expected.fill(0, 0, len);
  expect(native).to.deep.equal({ ret: from ? 0n : BigInt(-EFAULT), bytes: expected });
  expect(mock).to.deep.equal(native);
}

describe('mock fidelity: bpf_skb_load_bytes (spec/fixtures/skb_fidelity.c)', () => {
  const h = useHarness('build/fixtures/skb_fidelity.o', ['load', 'xdp_load']);
  const load = (program: 'load' | 'xdp_load', offset: number, len: number) => loadBytes(h(), program, offset, len, 0);

  const cases: [string, number, number, boolean][] = [
    ['the first byte', 0, 1, true],
    ['the protocol byte', 9, 1, true],
    ['16 bytes from the start', 0, 16, true],
    ['16 bytes ending exactly at the end of the packet', L3.length - 16, 16, true],
    ['16 bytes, one past the end', L3.length - 15, 16, false],
    ['one byte at the end', L3.length, 1, false],
    ['offset 0x10000', 0x10000, 1, false],
    ['offset 0xffffffff', 0xffffffff, 4, false],
  ];
  for (const [what, offset, len, fits] of cases) {
    it(`${what} (offset ${offset}, len ${len}): ${fits ? '0 and the bytes' : '-EFAULT and the destination zeroed'}, natively and re-hosted`, () => {
      expectSameLoad(load('load', offset, len), load('xdp_load', offset, len), fits ? L3 : undefined, offset, len);
    });
  }
});

describe('mock fidelity: bpf_skb_load_bytes_relative (spec/fixtures/skb_fidelity.c)', () => {
  const h = useHarness('build/fixtures/skb_fidelity.o', ['load', 'xdp_load']);
  const BPF_HDR_START_MAC = 0;
  const BPF_HDR_START_NET = 1;

  const load = (program: 'load' | 'xdp_load', offset: number, len: number, startHeader: number) => loadBytes(h(), program, offset, len, startHeader + 1);

  const cases: [string, number, number, number, Buffer | undefined][] = [
    ['the MAC header: destination and source addresses', BPF_HDR_START_MAC, 0, 12, FRAME],
    ['from the MAC header, the EtherType', BPF_HDR_START_MAC, 12, 2, FRAME],
    ['from the MAC header, 16 bytes ending at the end of the packet', BPF_HDR_START_MAC, FRAME.length - 16, 16, FRAME],
    ['from the MAC header, one past the end', BPF_HDR_START_MAC, FRAME.length - 15, 16, undefined],
    ['the network header: the IPv4 addresses', BPF_HDR_START_NET, 12, 8, L3],
    ['from the network header, one past the end', BPF_HDR_START_NET, L3.length - 3, 4, undefined],
    ['an unknown start_header (7)', 7, 0, 4, undefined],
  ];
  for (const [what, start, offset, len, from] of cases) {
    it(`${what}: ${from ? '0 and the bytes' : '-EFAULT and the destination zeroed'}, natively and re-hosted`, () => {
      expectSameLoad(load('load', offset, len, start), load('xdp_load', offset, len, start), from, offset, len);
    });
  }
});

describe('mock fidelity: bpf_sk_storage_get / delete (spec/fixtures/storage_seq*.c)', () => {
  const native = useHarness('build/fixtures/storage_seq.o', ['storage_seq']);
  const mock = useHarness('build/fixtures/storage_seq_harness.o', ['xdp_storage_seq']);
  const ENOENT = 2;
  const INIT = 0x1122334455667788n;

  it('the same calls on one socket give the same outcomes through the kernel and through the mock', () => {
    native().run('storage_seq', { data: FRAME, ctx: Buffer.alloc(192) });
    mock().mocks.ctx.skb.set({ family: 2, sk: 1n });
    mock().run('xdp_storage_seq', { data: FRAME });
    const kernel = native().get('results');
    expect(kernel, 'the kernel: absent, created from the value, found, bad flags, deleted, not found, created zeroed, found').to.deep.equal([
      -1n, INIT, INIT + 1n, -1n, 0n, BigInt(-ENOENT), 0n, 0n,
    ]);
    expect(mock().get('results')).to.deep.equal(kernel);
  });
});
