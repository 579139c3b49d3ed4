import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { Collection, InputError, ObjectSpec } from '../../src';
import { Cmd } from '../../src/sys/bpf';
import { bpfCallCount } from '../../src/sys/ffi';

const OBJ = 'build/fixtures/reset_state.o';
const PACKET = { data: Buffer.alloc(64) };
const KEY0 = Buffer.alloc(4);
const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
};
const hexes = (keys: Iterable<Buffer>) => [...keys].map((k) => k.toString('hex')).sort();
/** Lines of /proc/self/maps that are mappings of BPF maps. */
const bpfMappings = () => readFileSync('/proc/self/maps', 'utf8').split('\n').filter((l) => l.includes('bpf-map')).length;

describe('map state: iteration, size bound, globals as mapped memory', () => {
  let coll: Collection;
  before(() => {
    coll = Collection.load(ObjectSpec.fromFile(OBJ), { programs: ['writer'] });
  });
  after(() => coll.close());

  describe('keys() while the map changes', () => {
    const filled = () => {
      const table = coll.map('table');
      table.clear();
      for (let k = 0; k < 32; k++) table.update(u32(k * 7), Buffer.alloc(8, k));
      return table;
    };
    const all = Array.from({ length: 32 }, (_, k) => u32(k * 7).toString('hex')).sort();

    it('yields each of the 32 keys once while every key is deleted, and the map ends empty', () => {
      const table = filled();
      const seen: Buffer[] = [];
      for (const key of table.keys()) {
        seen.push(key);
        expect(table.delete(key)).to.equal(true);
      }
      expect(hexes(seen)).to.deep.equal(all);
      expect([...table.keys()]).to.have.length(0);
    });

    it('ends when every key is replaced by a new one, yielding the keys present when it began', () => {
      const table = filled();
      const seen: Buffer[] = [];
      for (const key of table.keys()) {
        seen.push(key);
        table.delete(key);
        table.update(u32(key.readUInt32LE(0) + 1), Buffer.alloc(8));
      }
      expect(hexes(seen)).to.deep.equal(all);
      expect(hexes(table.keys())).to.deep.equal(Array.from({ length: 32 }, (_, k) => u32(k * 7 + 1).toString('hex')).sort());
    });

    it('walks a map type without batch lookups key by key, each key once (prog array)', () => {
      const jumps = coll.map('jumps');
      const seen = [...jumps.keys()].map((k) => k.readUInt32LE(0));
      expect(seen).to.deep.equal([0, 1, 2, 3]);
    });

    it('entries() is the same snapshot, with values', () => {
      const table = filled();
      const entries = table.entries();
      expect(entries.map(([k, v]) => [k.readUInt32LE(0), v[0]]).sort((a, b) => a[0] - b[0])).to.deep.equal(Array.from({ length: 32 }, (_, k) => [k * 7, k]));
    });
  });

  describe('maps larger than maxMapBytes', () => {
    it('refuses a map above the bound before any syscall, naming the map and its size', () => {
      const before = bpfCallCount();
      // big: 1,048,576 entries of a 4-byte key and an 8-byte value = 12,582,912 bytes.
      expect(() => Collection.load(ObjectSpec.fromFile(OBJ), { maxMapBytes: 12582911 }))
        .to.throw(InputError, /map big asks the kernel for 12582912 bytes .*more than maxMapBytes \(12582911\)/);
      expect(bpfCallCount() - before).to.equal(0);
    });

    it('refuses by default a map asking for more than 1 GiB', () => {
      const spec = ObjectSpec.fromFile(OBJ);
      (spec.maps.find((m) => m.name === 'big') as { maxEntries: number }).maxEntries = 2 ** 27; // 12 * 2^27 = 1.5 GiB
      expect(() => Collection.load(spec)).to.throw(InputError, /map big asks the kernel for 1610612736 bytes/);
    });

    it('loads a map of exactly the bound', () => {
      const c = Collection.load(ObjectSpec.fromFile(OBJ), { programs: [], maxMapBytes: 12582912 });
      c.close();
    });
  });

  describe('globals through the mapped data sections', () => {
    it('reads the bytes a BPF_MAP_LOOKUP of the section gives, after the program wrote them', () => {
      coll.writeGlobal('touched_index', u32(11));
      coll.program('writer').run(PACKET);
      coll.program('writer').run(PACKET);
      const bss = coll.map('.bss').lookup(KEY0)!;
      const runs = coll.global('runs');
      expect(coll.readGlobal('runs')).to.deep.equal(bss.subarray(runs.offset, runs.offset + 8));
      expect(Number(coll.readGlobal('runs').readBigUInt64LE(0))).to.be.greaterThanOrEqual(2);
    });

    it('writes bytes the kernel holds at once: a lookup and the program both see them', () => {
      coll.map('table').clear(); // room for the program's insert
      coll.writeGlobal('touched_index', u32(4242));
      const g = coll.global('touched_index');
      expect(coll.map('.data').lookup(KEY0)!.readUInt32LE(g.offset)).to.equal(4242);
      coll.program('writer').run(PACKET);
      expect(coll.map('table').lookup(u32(4242))).to.not.equal(undefined);
    });

    it('costs no bpf() call to read or write a global', () => {
      const before = bpfCallCount();
      for (let i = 0; i < 100; i++) {
        coll.writeGlobal('jump_index', u32(i));
        expect(coll.readGlobal('jump_index').readUInt32LE(0)).to.equal(i);
      }
      expect(bpfCallCount() - before).to.equal(0);
    });

    it('keeps .rodata frozen and unmapped: read by lookup, writes refused', () => {
      expect(coll.readGlobal('ro_limit').readUInt32LE(0)).to.equal(99);
      expect(() => coll.writeGlobal('ro_limit', u32(1))).to.throw(InputError, /read-only/);
      expect(coll.map('.rodata').mapped).to.equal(false);
      expect(coll.map('.data').mapped).to.equal(true);
    });

    it('unmaps the sections on close (and a closed map refuses access)', () => {
      const before = bpfMappings();
      const c = Collection.load(ObjectSpec.fromFile(OBJ), { programs: [] });
      expect(bpfMappings() - before).to.equal(2); // .data and .bss
      const data = c.map('.data');
      c.close();
      expect(bpfMappings()).to.equal(before);
      expect(() => data.mappedValue()).to.throw(InputError, /closed/);
    });

    it('unmaps the sections when a load fails after mapping them', () => {
      const before = bpfMappings();
      const failing = { prepare: (_: unknown, programs: never[]) => ({ maps: [], programs }), loaded: () => { throw new Error('refused by the hook'); } };
      expect(() => Collection.load(ObjectSpec.fromFile(OBJ), { programs: [], hook: failing })).to.throw('refused by the hook');
      expect(bpfMappings()).to.equal(before);
    });

    it('counts every bpf() call by command', () => {
      const runs = bpfCallCount(Cmd.PROG_TEST_RUN);
      const total = bpfCallCount();
      coll.program('writer').run(PACKET);
      expect([bpfCallCount(Cmd.PROG_TEST_RUN) - runs, bpfCallCount() - total]).to.deep.equal([1, 1]);
    });
  });
});
