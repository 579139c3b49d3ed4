// Map handles on the maps of loader_maps.c: element operations, iteration, batch updates, update
// flags, size checks, per-CPU values, prog arrays, and values crossing between TypeScript and the
// program in both directions.
import { expect } from 'chai';
import { BpfMap, Collection, InputError, ObjectSpec, SyscallError, UpdateFlags } from '../../src';
import { expectThrow, fdinfo, fixture, possibleCpus, u32, u64 } from './helpers';

const keyHex = (entries: [Buffer, Buffer][]) => entries.map(([k, v]) => [k.toString('hex'), v.toString('hex')]).sort();

describe('maps (loader_maps)', () => {
  let spec: ObjectSpec;
  let coll: Collection;
  let hmap: BpfMap;
  let amap: BpfMap;

  before(() => {
    spec = ObjectSpec.fromFile(fixture('loader_maps'));
  });
  beforeEach(() => {
    coll = Collection.load(spec);
    hmap = coll.map('hmap');
    amap = coll.map('amap');
  });
  afterEach(() => coll.close());

  describe('definitions', () => {
    it('parses every map type with its sizes and flags from the C definitions', () => {
      const defs = Object.fromEntries(spec.maps.map((m) => [m.name, [m.type, m.keySize, m.valueSize, m.maxEntries, m.flags, m.needsBtf]]));
      // UAPI map types: HASH 1, ARRAY 2, PROG_ARRAY 3, PERCPU_ARRAY 6, LRU_HASH 9, SK_STORAGE 24,
      // RINGBUF 27; BPF_F_NO_PREALLOC 1.
      expect(defs).to.deep.equal({
        hmap: [1, 4, 8, 8, 0, false],
        amap: [2, 4, 8, 4, 0, false],
        pcpu: [6, 4, 4, 2, 0, false],
        lru: [9, 8, 4, 16, 0, false],
        jmp: [3, 4, 4, 4, 0, false],
        sks: [24, 4, 8, 0, 1, true],
        rb: [27, 0, 0, 4096, 0, false],
      });
    });

    it('turns each ld_imm64 of a .maps symbol into a map-fd reference (BPF_PSEUDO_MAP_FD)', () => {
      const wide = spec.program('maps_main').instructions.filter((i) => i.opcode === 0x18);
      const refs = wide.filter((i) => i.reference).map((i) => [i.src, i.reference]);
      // amap, pcpu, hmap (update), lru, rb, jmp, hmap (lookup): in the order the C code uses them
      expect(refs).to.deep.equal(['amap', 'pcpu', 'hmap', 'lru', 'rb', 'jmp', 'hmap'].map((m) => [1, { kind: 'map', map: m }]));
      // the two 64-bit constants (lru_key, record) stay plain immediates
      const consts = wide.filter((i) => !i.reference).map((i) => [i.src, (BigInt(i.imm2! >>> 0) << 32n) | BigInt(i.imm >>> 0)]);
      expect(consts).to.have.deep.members([[0, 0x1122334455667788n], [0, 0x0102030405060708n]]);
      expect(spec.program('sk_count').instructions.filter((i) => i.opcode === 0x18).map((i) => i.reference)).to.deep.equal([{ kind: 'map', map: 'sks' }]);
    });

    it('creates the kernel maps with those definitions (fdinfo of each map fd)', () => {
      for (const m of spec.maps) {
        const info = fdinfo(coll.map(m.name).fd);
        expect([info.map_type, info.key_size, info.value_size, info.max_entries].map(Number), m.name).to.deep.equal([
          m.type, m.keySize, m.valueSize, m.maxEntries,
        ]);
        expect(parseInt(info.map_flags, 16), `${m.name} flags`).to.equal(m.flags);
      }
    });
  });

  describe('element operations', () => {
    it('update, lookup, delete on a HASH map', () => {
      expect(hmap.lookup(u32(5))).to.equal(undefined);
      hmap.update(u32(5), u64(0x1122334455667788n));
      expect(hmap.lookup(u32(5))!.toString('hex')).to.equal('8877665544332211');
      expect(hmap.delete(u32(5))).to.equal(true);
      expect(hmap.delete(u32(5))).to.equal(false);
      expect(hmap.lookup(u32(5))).to.equal(undefined);
    });

    it('keys and entries list what was stored; clear empties a HASH map', () => {
      hmap.update(u32(1), u64(10));
      hmap.update(u32(2), u64(20));
      hmap.update(u32(3), u64(30));
      expect([...hmap.keys()].map((k) => k.readUInt32LE(0)).sort()).to.deep.equal([1, 2, 3]);
      expect(keyHex(hmap.entries())).to.deep.equal([
        ['01000000', '0a00000000000000'],
        ['02000000', '1400000000000000'],
        ['03000000', '1e00000000000000'],
      ]);
      hmap.clear();
      expect([...hmap.keys()]).to.have.length(0);
    });

    it('an ARRAY map has every key; clear zeroes the values', () => {
      expect([...amap.keys()].map((k) => k.readUInt32LE(0))).to.deep.equal([0, 1, 2, 3]);
      amap.update(u32(2), Buffer.from('0100000002000000', 'hex'));
      expect(amap.lookup(u32(2))!.toString('hex')).to.equal('0100000002000000');
      amap.clear();
      expect(amap.entries().map(([, v]) => v.toString('hex'))).to.deep.equal(Array(4).fill('0000000000000000'));
      expectThrow(() => amap.delete(u32(0)), SyscallError); // array elements cannot be deleted
    });

    it('updateBatch writes many entries at once, in HASH and ARRAY maps', () => {
      hmap.updateBatch([[u32(7), u64(70)], [u32(8), u64(80)], [u32(9), u64(90)]]);
      expect(keyHex(hmap.entries())).to.deep.equal([
        ['07000000', '4600000000000000'],
        ['08000000', '5000000000000000'],
        ['09000000', '5a00000000000000'],
      ]);
      amap.updateBatch([[u32(0), Buffer.from('0a0000000b000000', 'hex')], [u32(3), Buffer.from('0c0000000d000000', 'hex')]]);
      expect(amap.entries().map(([, v]) => v.toString('hex'))).to.deep.equal([
        '0a0000000b000000', '0000000000000000', '0000000000000000', '0c0000000d000000',
      ]);
    });

    it('NOEXIST on an existing key fails with EEXIST, EXIST on a missing key with ENOENT', () => {
      hmap.update(u32(1), u64(1), UpdateFlags.NOEXIST);
      const exists = expectThrow(() => hmap.update(u32(1), u64(2), UpdateFlags.NOEXIST), SyscallError);
      expect(exists.code).to.equal('EEXIST');
      const missing = expectThrow(() => hmap.update(u32(4), u64(2), UpdateFlags.EXIST), SyscallError);
      expect(missing.code).to.equal('ENOENT');
      hmap.update(u32(1), u64(3), UpdateFlags.EXIST);
      expect(hmap.lookup(u32(1))!.readBigUInt64LE(0)).to.equal(3n);
      const batch = expectThrow(() => hmap.updateBatch([[u32(1), u64(9)]], UpdateFlags.NOEXIST), SyscallError);
      expect(batch.code).to.equal('EEXIST');
    });

    it('a full HASH map refuses a new key with E2BIG', () => {
      for (let k = 0; k < 8; k++) hmap.update(u32(k), u64(k));
      const full = expectThrow(() => hmap.update(u32(8), u64(8)), SyscallError);
      expect(full.code).to.equal('E2BIG');
    });

    it('rejects keys and values of the wrong size with InputError before any syscall', () => {
      expectThrow(() => hmap.lookup(Buffer.alloc(8)), InputError, /key is 8 bytes, the map's keys are 4/);
      expectThrow(() => hmap.update(u32(1), u32(1)), InputError, /value is 4 bytes, the map's values are 8/);
      expectThrow(() => hmap.delete(Buffer.alloc(2)), InputError, /key is 2 bytes/);
      expectThrow(() => coll.map('lru').update(u32(1), u32(1)), InputError, /key is 4 bytes, the map's keys are 8/);
      expectThrow(() => hmap.updateBatch([[u32(1), u64(1)], [u32(2), Buffer.alloc(7)]]), InputError, /value is 7 bytes/);
      expect([...hmap.keys()]).to.have.length(0); // the bad batch wrote nothing
    });

    it('refuses to read ring buffer and prog array values from userspace (InputError)', () => {
      expectThrow(() => coll.map('rb').lookup(Buffer.alloc(0)), InputError, /cannot be read/);
      expectThrow(() => coll.map('jmp').lookup(u32(0)), InputError, /cannot be read/);
    });
  });

  describe('per-CPU values', () => {
    it('a PERCPU_ARRAY value is one 8-byte slot per possible CPU', () => {
      const pcpu = coll.map('pcpu');
      const cpus = possibleCpus();
      expect(pcpu.valueBytes).to.equal(8 * cpus);
      expect(pcpu.lookup(u32(0))!.length).to.equal(8 * cpus);
      expectThrow(() => pcpu.update(u32(0), Buffer.alloc(4)), InputError, new RegExp(`values are ${8 * cpus}`));
      const value = Buffer.alloc(8 * cpus);
      for (let c = 0; c < cpus; c++) value.writeUInt32LE(100 + c, 8 * c);
      pcpu.update(u32(1), value);
      expect(pcpu.lookup(u32(1))!.equals(value)).to.equal(true);
    });

    it('the program increments pcpu[0] on exactly one CPU per run', () => {
      const p = coll.program('maps_main');
      for (let i = 0; i < 3; i++) p.run({ data: Buffer.alloc(14) });
      const v = coll.map('pcpu').lookup(u32(0))!;
      let total = 0;
      for (let c = 0; c < possibleCpus(); c++) total += v.readUInt32LE(8 * c);
      expect(total).to.equal(3);
    });
  });

  describe('values crossing between TypeScript and the program', () => {
    it('TypeScript sees what the program wrote: hmap[1] = a * b of amap[0], lru[0x1122334455667788]', () => {
      amap.update(u32(0), Buffer.from('0600000007000000', 'hex')); // a = 6, b = 7
      coll.program('maps_main').run({ data: Buffer.alloc(14) });
      expect(hmap.lookup(u32(1))!.readBigUInt64LE(0)).to.equal(42n);
      expect(keyHex(coll.map('lru').entries())).to.deep.equal([['8877665544332211', 'cdab0000']]);
    });

    it('the program sees what TypeScript wrote: hmap[2] + XDP_TX', () => {
      const p = coll.program('maps_main');
      expect(p.run({ data: Buffer.alloc(14) }).retval).to.equal(3);
      hmap.update(u32(2), u64(100));
      expect(p.run({ data: Buffer.alloc(14) }).retval).to.equal(103);
    });

    it('a PROG_ARRAY slot set from TypeScript makes the tail call land in tail_target (77)', () => {
      const jmp = coll.map('jmp');
      jmp.update(u32(1), u32(coll.program('tail_target').fd));
      expect(coll.program('maps_main').run({ data: Buffer.alloc(14) }).retval).to.equal(77);
      expect(jmp.delete(u32(1))).to.equal(true);
      expect(coll.program('maps_main').run({ data: Buffer.alloc(14) }).retval).to.equal(3);
    });

    it('sk_count creates SK_STORAGE for the test socket and allows the packet (1)', () => {
      expect(coll.program('sk_count').run({ data: Buffer.alloc(14) }).retval).to.equal(1);
    });
  });

  describe('a PROG_ARRAY initialised in C (loader_tailcall)', () => {
    it('fills slot 1 with tail_prog at load, so tail_entry returns 42 as it does under libbpf', () => {
      const tc = Collection.load(ObjectSpec.fromFile(fixture('loader_tailcall')));
      try {
        expect(tc.program('tail_entry').run({ data: Buffer.alloc(14) }).retval).to.equal(42);
      } finally {
        tc.close();
      }
    });
  });
});
