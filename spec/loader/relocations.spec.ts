// Data relocations and globals (fixture loader_data.c): every data section becomes a 1-entry
// ARRAY map, every ld_imm64 of a global points into it (through the variable's symbol or through
// the section symbol plus an offset), and TypeScript reads and writes the same bytes the program
// sees. Expected values are the constants of spec/fixtures/loader_data.c.
import { expect } from 'chai';
import { Collection, InputError, ObjectSpec } from '../../src';
import type { Instruction } from '../../src/object/insn';
import { expectThrow, fixture, u32 } from './helpers';

const LD_IMM64 = 0x18;
const BPF_PSEUDO_MAP_VALUE = 2;
const BPF_F_RDONLY_PROG = 0x80;
const BPF_F_MMAPABLE = 0x400;

describe('data relocations (loader_data)', () => {
  let spec: ObjectSpec;

  before(() => {
    spec = ObjectSpec.fromFile(fixture('loader_data'));
  });

  describe('ObjectSpec', () => {
    it('turns each non-empty data section into a 1-entry mmapable ARRAY map of the section size', () => {
      const byName = Object.fromEntries(spec.maps.map((m) => [m.name, [m.type, m.keySize, m.valueSize, m.maxEntries, m.flags]]));
      // sizes: .data holds four ints, .rodata two, .bss two, .data.custom one; the strings
      // "bpfunit!" and "xyz" with their NULs; one 16-byte constant.
      expect(byName).to.deep.equal({
        '.data': [2, 4, 16, 1, BPF_F_MMAPABLE],
        '.rodata': [2, 4, 8, 1, BPF_F_RDONLY_PROG | BPF_F_MMAPABLE],
        '.bss': [2, 4, 8, 1, BPF_F_MMAPABLE],
        '.data.custom': [2, 4, 4, 1, BPF_F_MMAPABLE],
        '.rodata.str1.1': [2, 4, 13, 1, BPF_F_RDONLY_PROG | BPF_F_MMAPABLE],
        '.rodata.cst16': [2, 4, 16, 1, BPF_F_RDONLY_PROG | BPF_F_MMAPABLE],
      });
    });

    it('keeps the initial contents of each section (strings, the 16-byte constant, zeroed .bss)', () => {
      const contents = (n: string) => spec.map(n).data!.contents;
      expect(contents('.rodata.cst16').toString('hex')).to.equal('102132435465768798a9bacbdcedfe0f');
      const strs = contents('.rodata.str1.1').toString('latin1').split('\0').filter((s) => s !== '');
      expect(strs.sort()).to.deep.equal(['bpfunit!', 'xyz']);
      expect(contents('.bss').equals(Buffer.alloc(8))).to.equal(true);
      expect(contents('.data.custom').readInt32LE(0)).to.equal(40);
      const ro = contents('.rodata');
      expect([ro.readInt32LE(0), ro.readInt32LE(4)].sort((a, b) => a - b)).to.deep.equal([100, 200]);
      expect(spec.maps.filter((m) => m.data?.freeze).map((m) => m.name).sort()).to.deep.equal(['.rodata', '.rodata.cst16', '.rodata.str1.1']);
    });

    it('makes every ld_imm64 of a global a map-value reference into its section', () => {
      const loads = spec.program('read_globals').instructions.filter((i: Instruction) => i.opcode === LD_IMM64);
      expect(loads.every((i) => i.src === BPF_PSEUDO_MAP_VALUE && i.reference?.kind === 'mapValue')).to.equal(true);
      const refs = loads.map((i) => i.reference!.map);
      expect([...new Set(refs)].sort()).to.deep.equal(['.bss', '.data', '.data.custom', '.rodata', '.rodata.cst16', '.rodata.str1.1']);
      // Static variables are reached through the section symbol plus their offset, globals
      // through their own symbol: both kinds occur for .data, .rodata and .bss.
      for (const sec of ['.data', '.rodata', '.bss']) {
        const offsets = loads.filter((i) => i.reference!.map === sec).map((i) => (i.reference as { offset: number }).offset);
        expect(offsets, sec).to.include(0);
        expect(offsets.some((o) => o > 0), `${sec} has a reference at an offset`).to.equal(true);
      }
      // "xyz" follows "bpfunit!\0" in the merged string section.
      const strOffsets = loads.filter((i) => i.reference!.map === '.rodata.str1.1').map((i) => (i.reference as { offset: number }).offset);
      expect(strOffsets.sort()).to.deep.equal([0, 'bpfunit!\0'.length]);
    });
  });

  describe('run results', () => {
    let coll: Collection;
    beforeEach(() => {
      coll = Collection.load(spec);
    });
    afterEach(() => coll.close());

    it('read_globals sees every global and constant: 361 and pattern[5], "bpfunit!"[2], "xyz"[2]', () => {
      const r = coll.program('read_globals').run({ data: Buffer.alloc(24) });
      expect(r.retval).to.equal(7 + 11 + 100 + 200 + 1 + 2 + 40);
      expect(r.data.subarray(0, 3).toString('latin1')).to.equal('\x65fz');
    });

    it('.bss keeps state between runs: the second run returns 364', () => {
      const p = coll.program('read_globals');
      p.run({ data: Buffer.alloc(24) });
      expect(p.run({ data: Buffer.alloc(24) }).retval).to.equal(7 + 11 + 100 + 200 + 2 + 4 + 40);
    });

    it('writes only the first three packet bytes', () => {
      const r = coll.program('read_globals').run({ data: Buffer.alloc(14, 0xee) });
      expect(r.retval).to.equal(361);
      expect(r.data.toString('hex')).to.equal('65667a' + 'ee'.repeat(11));
    });
  });

  describe('globals from TypeScript', () => {
    let coll: Collection;
    beforeEach(() => {
      coll = Collection.load(spec);
    });
    afterEach(() => coll.close());

    it('readGlobal returns the initial values of .data, .rodata, .bss and .data.custom variables', () => {
      const values = Object.fromEntries(
        ['data_var', 'data_static', 'str_index', 'pat_index', 'ro_var', 'ro_static', 'bss_var', 'bss_static', 'custom_var'].map((n) => [
          n,
          coll.readGlobal(n).readInt32LE(0),
        ]),
      );
      expect(values).to.deep.equal({
        data_var: 7, data_static: 11, str_index: 2, pat_index: 5, ro_var: 100, ro_static: 200, bss_var: 0, bss_static: 0, custom_var: 40,
      });
    });

    it('global() names the section map and the size of the variable', () => {
      const g = coll.global('data_static');
      expect([g.map.name, g.size]).to.deep.equal(['.data', 4]);
      expect(coll.global('bss_var').map.name).to.equal('.bss');
      expect(coll.global('custom_var').map.name).to.equal('.data.custom');
      expect(coll.global('ro_static').map.name).to.equal('.rodata');
    });

    it('TypeScript observes what the program wrote (.bss counters, data_var)', () => {
      coll.program('read_globals').run({ data: Buffer.alloc(24) });
      expect(coll.readGlobal('bss_var').readInt32LE(0)).to.equal(1);
      expect(coll.readGlobal('bss_static').readInt32LE(0)).to.equal(2);
      const r = coll.program('write_globals').run({ data: Buffer.concat([Buffer.from([0x2a]), Buffer.alloc(13)]) });
      expect(r.retval).to.equal(7);
      expect(coll.readGlobal('data_var').readInt32LE(0)).to.equal(0x2a);
    });

    it('the program observes what TypeScript wrote (writeGlobal of data_var and data_static)', () => {
      coll.writeGlobal('data_var', u32(50));
      coll.writeGlobal('data_static', u32(1000));
      expect(coll.program('read_globals').run({ data: Buffer.alloc(24) }).retval).to.equal(50 + 1000 + 100 + 200 + 1 + 2 + 40);
      // the neighbours in .data are untouched
      expect([coll.readGlobal('str_index').readInt32LE(0), coll.readGlobal('pat_index').readInt32LE(0)]).to.deep.equal([2, 5]);
    });

    it('refuses writes to .rodata (frozen) with InputError, through writeGlobal and the map', () => {
      expectThrow(() => coll.writeGlobal('ro_var', u32(1)), InputError, /read-only/);
      expectThrow(() => coll.map('.rodata').update(u32(0), Buffer.alloc(8)), InputError, /read-only/);
      expectThrow(() => coll.map('.rodata.str1.1').update(u32(0), Buffer.alloc(13)), InputError, /read-only/);
      expect(coll.readGlobal('ro_var').readInt32LE(0)).to.equal(100);
      expect(coll.program('read_globals').run({ data: Buffer.alloc(24) }).retval).to.equal(361);
    });

    it('rejects a value of the wrong size and an unknown global with InputError', () => {
      expectThrow(() => coll.writeGlobal('data_var', Buffer.alloc(8)), InputError, /data_var is 4 bytes, got 8/);
      expectThrow(() => coll.global('no_such_global'), InputError, /no_such_global/);
    });
  });
});
