// Re-hosting fidelity on a program written the way projects write them (spec/fixtures/wrappers.c):
// tail calls are the kernel's own (the chain limit, an empty slot falling through), and maps are
// identified by the pointer passed through `void *map` wrappers. Expected values come from the
// kernel's documented behaviour, not from a run.
import { expect } from 'chai';
import { InputError } from '../../src/errors';
import { useHarness } from '../../src/mock/harness';
import { LookupResult, mapId, MapWriteOp } from '../../src/mock/mocks';
import { AF_INET, ip4, port } from '../../src/structs';

const MAX_TAIL_CALL_CNT = 33; // include/linux/bpf.h: a chain of tail calls stops after 33
const EEXIST = 17;
const key1 = Buffer.from([1, 0, 0, 0]);
const u32 = (v: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v >>> 0);
  return b;
};

describe('re-hosting: tail calls and map identity through wrappers (wrappers.c)', () => {
  const h = useHarness('build/fixtures/wrappers_harness.o', ['xdp_hop', 'xdp_land']);

  function connect(): { ret: number; ctx: ReturnType<typeof ctxOf> } {
    h().mocks.ctx.sockAddr.set({ user_family: AF_INET, user_ip4: ip4('10.0.0.1'), user_port: port(80), sk: 7n });
    h().run('xdp_hop', { data: Buffer.alloc(14) });
    return { ret: h().mocks.retval(), ctx: ctxOf() };
  }
  const ctxOf = () => h().mocks.ctx.sockAddr.get();

  describe('bpf_tail_call inside a void wrapper, failure path in the caller', () => {
    it('an empty slot falls through: the caller carries on, its failure path runs, its own return value stands', () => {
      const c = connect();
      expect(c.ret).to.equal(1);
      expect(h().get('failures')).to.equal(1);
      expect(h().mocks.tailCalls()).to.deep.equal([{ map: mapId('jumps'), index: 0, taken: false }]);
    });

    it('a slot mapped but left empty also falls through', () => {
      h().mocks.tailCallTarget('jumps', 0);
      connect();
      expect(h().get('failures')).to.equal(1);
      expect(h().mocks.tailCalls()).to.deep.equal([{ map: mapId('jumps'), index: 0, taken: false }]);
    });

    it('a taken tail call ends the program: nothing after it runs; the target runs on the same context and its return value is the result', () => {
      h().map('ports').update(key1, u32(port(8080)));
      h().mocks.tailCallTarget('jumps', 0, 'xdp_land');
      const c = connect();
      expect(h().get('failures'), 'the code after the call').to.equal(0);
      expect(c.ret, "land's return value").to.equal(0);
      expect(c.ctx.user_port, 'written by hop before the call').to.equal(port(8080));
      expect(c.ctx.user_ip4, 'written by land').to.equal(ip4('127.0.0.1'));
      expect(h().mocks.tailCalls()).to.deep.equal([{ map: mapId('jumps'), index: 0, taken: true }]);
      expect(h().get('mock_runs')).to.equal(2);
    });

    it('a program tail-calling itself: the kernel takes 33 calls, the 34th falls through', () => {
      h().mocks.tailCallTarget('jumps', 0, 'xdp_hop');
      const c = connect();
      expect(h().get('hops')).to.equal(MAX_TAIL_CALL_CNT + 1);
      expect(h().get('failures')).to.equal(1);
      expect(c.ret).to.equal(1);
      const calls = h().mocks.tailCalls();
      expect(calls.filter((t) => t.taken)).to.have.length(MAX_TAIL_CALL_CNT);
      expect(calls[calls.length - 1]).to.deep.equal({ map: mapId('jumps'), index: 0, taken: false });
    });

    it('another index of the same array stays empty', () => {
      h().mocks.tailCallTarget('jumps', 1, 'xdp_land');
      const c = connect();
      expect(c.ret).to.equal(1);
      expect(h().get('failures')).to.equal(1);
    });
  });

  describe('maps passed as void * through wrappers', () => {
    it('lookups through an inlined wrapper and a subprogram wrapper are recorded under the map the caller passed', () => {
      h().map('ports').update(key1, u32(port(8080)));
      connect();
      expect(h().mocks.lookupCalls()).to.deep.equal([
        { map: mapId('ports'), result: LookupResult.HIT },
        { map: mapId('addrs'), result: LookupResult.MISS },
      ]);
    });

    it('lookupReturnsNull through a wrapper takes effect for that map only', () => {
      h().map('ports').update(key1, u32(port(8080)));
      h().map('addrs').update(key1, u32(ip4('10.9.9.9')));
      h().mocks.lookupReturnsNull(['ports']);
      const c = connect();
      expect(c.ctx.user_port, 'the forced miss left the port alone').to.equal(port(80));
      expect(c.ctx.user_ip4, 'the other map is looked up for real').to.equal(ip4('10.9.9.9'));
      expect(h().mocks.lookupCalls()).to.deep.equal([
        { map: mapId('ports'), result: LookupResult.FORCED },
        { map: mapId('addrs'), result: LookupResult.HIT },
      ]);
    });

    it('lookupReturnsNull through the subprogram wrapper (compared at run time) takes effect', () => {
      h().map('addrs').update(key1, u32(ip4('10.9.9.9')));
      h().mocks.lookupReturnsNull(['addrs']);
      const c = connect();
      expect(c.ctx.user_ip4).to.equal(ip4('10.0.0.1'));
      expect(h().mocks.lookupCalls()[1]).to.deep.equal({ map: mapId('addrs'), result: LookupResult.FORCED });
    });

    it("updates through a wrapper are the kernel's, recorded under the right map with its return value", () => {
      h().map('addrs').update(key1, u32(5));
      connect();
      // What the program's register gets back differs by kernel in its upper half: 6.1's map ops
      // return int and the JIT calls them directly (0xffffffef recorded), 6.18's return long (-17).
      const writes = h().mocks.mapWrites().map((w) => ({ ...w, ret: BigInt.asIntN(32, w.ret) }));
      expect(writes).to.deep.equal([{ map: mapId('addrs'), op: MapWriteOp.UPDATE, flags: 1n, ret: BigInt(-EEXIST) }]);
      expect(h().map('addrs').lookup(key1)!.readUInt32LE(0), 'BPF_NOEXIST left the entry').to.equal(5);
    });

    it('a fresh key is inserted by the kernel (BPF_NOEXIST, return 0)', () => {
      connect();
      expect(h().mocks.mapWrites()).to.deep.equal([{ map: mapId('addrs'), op: MapWriteOp.UPDATE, flags: 1n, ret: 0n }]);
      expect(h().map('addrs').lookup(key1)!.readUInt32LE(0)).to.equal(1);
    });
  });
});

describe('re-hosting: a map the harness does not name in MOCK_MAPS', () => {
  const h = useHarness('build/fixtures/wrappers_unlisted_harness.o', ['xdp_hop']);

  it('its calls are recorded as map 0 and the kernel answers them; a forced miss elsewhere does not touch them', () => {
    h().map('addrs').update(key1, u32(ip4('10.9.9.9')));
    h().mocks.lookupReturnsNull(['ports']);
    h().mocks.ctx.sockAddr.set({ user_family: AF_INET, user_ip4: ip4('10.0.0.1') });
    h().run('xdp_hop', { data: Buffer.alloc(14) });
    expect(h().mocks.lookupCalls()).to.deep.equal([
      { map: mapId('ports'), result: LookupResult.FORCED },
      { map: 0, result: LookupResult.HIT },
    ]);
    expect(h().mocks.ctx.sockAddr.get().user_ip4).to.equal(ip4('10.9.9.9'));
  });

  it('configuring a mock for it is an InputError naming the maps the harness lists', () => {
    expect(() => h().mocks.lookupReturnsNull(['addrs'])).to.throw(InputError, /'addrs' is not named in the harness's MOCK_MAPS\(jumps, ports\)/);
    expect(() => h().mocks.tailCallTarget('nope', 0, 'xdp_hop')).to.throw(InputError, /'nope'/);
  });
});

