import { expect } from 'chai';
import { useHarness } from '../../src/mock/harness';
import { Cmd } from '../../src/sys/bpf';
import { bpfCallCount } from '../../src/sys/ffi';

const OBJ = 'build/fixtures/reset_state.o';
const PACKET = { data: Buffer.alloc(64) };
const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
};
const u64 = (n: number) => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(n));
  return b;
};

/** bpf() calls fn makes, by command name. */
function callsOf(fn: () => void): { total: number; byCmd: Record<string, number> } {
  const cmds = { UPDATE_BATCH: Cmd.MAP_UPDATE_BATCH, LOOKUP_AND_DELETE_BATCH: Cmd.MAP_LOOKUP_AND_DELETE_BATCH, UPDATE: Cmd.MAP_UPDATE_ELEM, DELETE: Cmd.MAP_DELETE_ELEM, GET_NEXT_KEY: Cmd.MAP_GET_NEXT_KEY };
  const before = Object.fromEntries(Object.entries(cmds).map(([n, c]) => [n, bpfCallCount(c)]));
  const total = bpfCallCount();
  fn();
  const byCmd: Record<string, number> = {};
  for (const [n, c] of Object.entries(cmds)) if (bpfCallCount(c) !== before[n]) byCmd[n] = bpfCallCount(c) - before[n];
  return { total: bpfCallCount() - total, byCmd };
}

describe('Harness reset: back to the state the object was loaded in', () => {
  const h = useHarness(OBJ, ['slot_prog', 'jumper', 'writer']);

  describe('a prog array slot the C source set (.values = { [1] = &slot_prog })', () => {
    it('is there after a reset: the tail call lands in slot_prog', () => {
      expect(h().run('jumper', PACKET).retval).to.equal(42);
      h().reset();
      expect(h().run('jumper', PACKET).retval).to.equal(42);
    });

    it('comes back after a test deleted it, and a slot a test filled is emptied', () => {
      h().map('jumps').delete(u32(1));
      expect(h().run('jumper', PACKET).retval).to.equal(13);
      h().map('jumps').update(u32(2), u32(h().collection.program('slot_prog').fd));
      h().set('jump_index', 2);
      expect(h().run('jumper', PACKET).retval).to.equal(42);

      h().reset();
      expect(h().get('jump_index')).to.equal(1);
      expect(h().run('jumper', PACKET).retval).to.equal(42);
      h().set('jump_index', 2);
      expect(h().run('jumper', PACKET).retval).to.equal(13);
    });
  });

  describe('cost: what changed is restored, never one call per element', () => {
    it('does no bpf() call when nothing changed since the last reset', () => {
      h().set('touched_index', 9); // globals are memory: restored by a copy
      expect(callsOf(() => h().reset()).total).to.equal(0);
      expect(h().get('touched_index')).to.equal(3);
    });

    it('restores the 1M-entry array and the hash a run wrote with one batch call each', () => {
      h().set('touched_index', 700000);
      expect(h().run('writer', PACKET).retval).to.equal(2 /* XDP_PASS */);
      expect(h().map('big').lookup(u32(700000))!.readBigUInt64LE(0)).to.equal(1n);
      expect(h().map('table').lookup(u32(700000))!.readBigUInt64LE(0)).to.equal(1n);

      const calls = callsOf(() => h().reset());
      expect(calls).to.deep.equal({ total: 2, byCmd: { UPDATE_BATCH: 1, LOOKUP_AND_DELETE_BATCH: 1 } });
      expect(h().map('big').lookup(u32(700000))!.readBigUInt64LE(0)).to.equal(0n);
      expect(h().map('table').lookup(u32(700000))).to.equal(undefined);
      expect(h().get('runs')).to.equal(0n);
    });

    it('undoes writes made through bpfunit to maps no run touched, in one batch call per map', () => {
      for (const k of [5, 6, 7]) h().map('user_only').update(u32(k), u32(k * 10));
      h().map('big').update(u32(12345), u64(77));
      const calls = callsOf(() => h().reset());
      expect(calls).to.deep.equal({ total: 2, byCmd: { UPDATE_BATCH: 1, LOOKUP_AND_DELETE_BATCH: 1 } });
      expect(h().map('user_only').entries()).to.deep.equal([]);
      expect(h().map('big').lookup(u32(12345))!.readBigUInt64LE(0)).to.equal(0n);
    });

    it('restores the data sections written by a run and by a test', () => {
      h().set('jump_index', 3);
      h().run('writer', PACKET);
      h().run('writer', PACKET);
      expect(h().get('runs')).to.equal(2n);
      h().reset();
      expect([h().get('jump_index'), h().get('touched_index'), h().get('runs')]).to.deep.equal([1, 3, 0n]);
      expect(h().map('.bss').lookup(u32(0))!.readBigUInt64LE(0)).to.equal(0n);
    });
  });
});

describe('a re-hosted case (reset, configure the mocks, run, read the recordings)', () => {
  const h = useHarness('build/fixtures/tag_harness.o', ['xdp_tag']);

  it('costs one bpf() call, the test run: globals are memory', () => {
    h().run('xdp_tag', { data: Buffer.from('warm up the case....') });
    const calls = callsOf(() => {
      h().reset();
      h().mocks.setMsgSocket({ family: 2 });
      h().mocks.pushDataFails(-12);
      const out = h().run('xdp_tag', { data: Buffer.from('hello from bpfunit') }).data.toString();
      expect(out).to.equal('hello from bpfunit');
      expect(h().mocks.msgCalls()).to.deep.equal([{ op: 1, start: 0, len: 4, flags: 0n, ret: -12n }]);
    });
    expect(calls.total).to.equal(1);
  });
});
