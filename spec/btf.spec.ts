import { expect } from 'chai';
import { execFileSync } from 'child_process';
import { existsSync, readFileSync } from 'fs';
import * as path from 'path';
import { Btf, BtfKind, BtfType, btfKindName } from '../src/btf/btf';
import { parseBtfExt } from '../src/btf/ext';
import { BtfError } from '../src/errors';

const ROOT = path.resolve(__dirname, '..');
const FIXTURE = path.join(ROOT, 'build/fixtures/btf_shapes.o');
const SOURCE = path.join(ROOT, 'spec/fixtures/btf_shapes.c');

// A minimal ELF64 little-endian reader, local so this spec does not depend on src/elf.
interface Section { name: string; index: number; data: Buffer; size: number }
interface Sym { name: string; shndx: number; value: number }
function readElf(file: Buffer): { sections: Section[]; symbols: Sym[] } {
  const shoff = Number(file.readBigUInt64LE(0x28));
  const [shentsize, shnum, shstrndx] = [0x3a, 0x3c, 0x3e].map((o) => file.readUInt16LE(o));
  const hdr = (i: number) => shoff + i * shentsize;
  const bytes = (i: number) => {
    const off = Number(file.readBigUInt64LE(hdr(i) + 24));
    const size = Number(file.readBigUInt64LE(hdr(i) + 32));
    const nobits = file.readUInt32LE(hdr(i) + 4) === 8;
    return { data: nobits ? Buffer.alloc(0) : file.subarray(off, off + size), size };
  };
  const cstr = (tab: Buffer, off: number) => tab.toString('latin1', off, tab.indexOf(0, off));
  const shstr = bytes(shstrndx).data;
  const sections = Array.from({ length: shnum }, (_, i) => ({
    name: cstr(shstr, file.readUInt32LE(hdr(i))), index: i, ...bytes(i),
  }));
  const symtab = sections.find((s) => s.name === '.symtab')!;
  const strtab = sections[file.readUInt32LE(hdr(symtab.index) + 40)].data; // sh_link
  const symbols: Sym[] = [];
  for (let o = 0; o + 24 <= symtab.data.length; o += 24) {
    symbols.push({
      name: cstr(strtab, symtab.data.readUInt32LE(o)),
      shndx: symtab.data.readUInt16LE(o + 6),
      value: Number(symtab.data.readBigUInt64LE(o + 8)),
    });
  }
  return { sections, symbols };
}

// Deterministic PRNG (mulberry32) so a failing mutation can be reproduced.
function prng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Runs fn and expects a BtfError (optionally matching `re`). */
function expectBtfError(fn: () => unknown, re?: RegExp): void {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err, 'expected a BtfError').to.be.instanceOf(BtfError);
  if (re) expect((err as Error).message).to.match(re);
}

/** A .BTF.ext built by hand: header (24 or 32 bytes) then the blocks back to back. */
function buildExt(func: Buffer, line: Buffer, core?: Buffer): Buffer {
  const hdrLen = core ? 32 : 24;
  const h = Buffer.alloc(hdrLen);
  h.writeUInt16LE(0xeb9f, 0);
  h[2] = 1;
  h.writeUInt32LE(hdrLen, 4);
  h.writeUInt32LE(0, 8);
  h.writeUInt32LE(func.length, 12);
  h.writeUInt32LE(func.length, 16);
  h.writeUInt32LE(line.length, 20);
  if (core) {
    h.writeUInt32LE(func.length + line.length, 24);
    h.writeUInt32LE(core.length, 28);
  }
  return Buffer.concat([h, func, line, core ?? Buffer.alloc(0)]);
}

/** An info block: rec_size, then one section with records padded to recSize. */
function buildBlock(recSize: number, secNameOff: number, records: number[][], numInfo = records.length): Buffer {
  const b = Buffer.alloc(12 + records.length * recSize, 0xaa); // 0xaa: padding must be skipped
  b.writeUInt32LE(recSize, 0);
  b.writeUInt32LE(secNameOff, 4);
  b.writeUInt32LE(numInfo, 8);
  records.forEach((r, i) => r.forEach((v, j) => b.writeUInt32LE(v, 12 + i * recSize + j * 4)));
  return b;
}

describe('btf', () => {
  let elf: ReturnType<typeof readElf>;
  let btfData: Buffer;
  let extData: Buffer;
  let btf: Btf;
  let srcLines: string[];

  const section = (name: string) => elf.sections.find((s) => s.name === name)!;
  const sectionSizes = () => new Map(elf.sections.map((s) => [s.name, s.size]));
  const symbolOffset = (sec: string, name: string) =>
    elf.symbols.find((s) => s.name === name && s.shndx === section(sec)?.index)?.value;
  /** Follows a map-definition member: Ptr -> Array, returning nelems (the `__uint` value). */
  const uintMember = (t: BtfType, name: string) => {
    const m = t.members!.find((x) => x.name === name)!;
    const ptr = btf.type(m.type);
    expect(ptr.kind, `${name} is a Ptr`).to.equal(BtfKind.Ptr);
    const arr = btf.type(ptr.type!);
    expect(arr.kind, `${name} points at an Array`).to.equal(BtfKind.Array);
    return arr.array!.nelems;
  };
  const mapDef = (name: string) => {
    const v = btf.find(BtfKind.Var, name)!;
    expect(v, `VAR ${name}`).to.exist;
    const def = btf.type(v.type!);
    expect(def.kind).to.equal(BtfKind.Struct);
    return def;
  };
  /** `__type(key, T)` member: Ptr to T. */
  const typeMember = (t: BtfType, name: string) => {
    const ptr = btf.type(t.members!.find((x) => x.name === name)!.type);
    expect(ptr.kind).to.equal(BtfKind.Ptr);
    return btf.type(ptr.type!);
  };

  before(function () {
    if (!existsSync(FIXTURE)) execFileSync('make', ['-s', 'build/fixtures/btf_shapes.o'], { cwd: ROOT });
    elf = readElf(readFileSync(FIXTURE));
    btfData = section('.BTF').data;
    extData = section('.BTF.ext').data;
    btf = Btf.parse(btfData);
    srcLines = readFileSync(SOURCE, 'utf8').split('\n');
  });

  describe('Btf.parse on the fixture', () => {
    it('starts with the void type and indexes types by id', () => {
      expect(btf.types[0]).to.include({ id: 0, kind: BtfKind.Unknown, name: '' });
      btf.types.forEach((t, i) => expect(t.id).to.equal(i));
      expect(btf.type(btf.types.length - 1)).to.equal(btf.types[btf.types.length - 1]);
    });

    it('agrees with bpftool on every type id, kind, name, size and referenced type', function () {
      let json: string;
      try {
        json = execFileSync('bpftool', ['-j', 'btf', 'dump', 'file', FIXTURE], { encoding: 'utf8' });
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') this.skip();
        throw e;
      }
      const dumped = JSON.parse(json).types as {
        id: number; kind: string; name: string; size?: number; type_id?: number; vlen?: number;
      }[];
      expect(btf.types.length).to.equal(dumped.length + 1);
      for (const d of dumped) {
        const t = btf.type(d.id);
        expect(btfKindName(t.kind), `kind of ${d.id}`).to.equal(d.kind);
        expect(t.name || '(anon)', `name of ${d.id}`).to.equal(d.name);
        if (d.size !== undefined) expect(t.size, `size of ${d.id}`).to.equal(d.size);
        if (d.type_id !== undefined && d.kind !== 'ARRAY') expect(t.type, `type of ${d.id}`).to.equal(d.type_id);
        if (d.vlen !== undefined) {
          const n = t.members ?? t.values ?? t.params ?? t.vars;
          expect(n?.length, `vlen of ${d.id}`).to.equal(d.vlen);
        }
      }
      expect(dumped.map((d) => d.name)).to.include.members(['flow_key', 'shape_xdp', 'classify', '.maps']);
    });

    it('decodes the HASH map definition (__uint as Ptr to Array, __type as Ptr to the type)', () => {
      const def = mapDef('flows');
      expect(def.members!.map((m) => m.name)).to.deep.equal(['type', 'max_entries', 'key', 'value']);
      expect(uintMember(def, 'type')).to.equal(1); // BPF_MAP_TYPE_HASH
      expect(uintMember(def, 'max_entries')).to.equal(16);
      expect(typeMember(def, 'key').name).to.equal('flow_key');
      expect(typeMember(def, 'value').name).to.equal('flow_stats');
      expect(def.members!.map((m) => m.bitOffset)).to.deep.equal([0, 64, 128, 192]);
    });

    it('decodes the ARRAY map with key_size/value_size', () => {
      const def = mapDef('counters');
      expect(uintMember(def, 'type')).to.equal(2); // BPF_MAP_TYPE_ARRAY
      expect(uintMember(def, 'max_entries')).to.equal(4);
      expect(uintMember(def, 'key_size')).to.equal(4);
      expect(uintMember(def, 'value_size')).to.equal(8);
    });

    it('decodes the PROG_ARRAY __array(values) as an empty array of function pointers', () => {
      const def = mapDef('jumps');
      expect(uintMember(def, 'type')).to.equal(3); // BPF_MAP_TYPE_PROG_ARRAY
      expect(uintMember(def, 'max_entries')).to.equal(2);
      const values = btf.type(def.members!.find((m) => m.name === 'values')!.type);
      expect(values.kind).to.equal(BtfKind.Array);
      expect(values.array!.nelems).to.equal(0);
      const proto = btf.type(btf.type(values.array!.type).type!);
      expect(proto.kind).to.equal(BtfKind.FuncProto);
      expect(btf.type(proto.type!).name).to.equal('int');
      expect(proto.params).to.have.length(1);
      expect(btf.type(proto.params![0].type)).to.include({ kind: BtfKind.Ptr, type: 0 }); // void *
    });

    it('decodes the SK_STORAGE map with map_flags', () => {
      const def = mapDef('sk_states');
      expect(uintMember(def, 'type')).to.equal(24); // BPF_MAP_TYPE_SK_STORAGE
      expect(uintMember(def, 'map_flags')).to.equal(1); // BPF_F_NO_PREALLOC
      expect(typeMember(def, 'key').name).to.equal('int');
      expect(btf.sizeOf(typeMember(def, 'value').id)).to.equal(8);
    });

    it('sizes structs, arrays, typedefs, pointers and vars like the C compiler', () => {
      const id = (kind: BtfKind, name: string) => btf.find(kind, name)!.id;
      expect(btf.sizeOf(id(BtfKind.Struct, 'flow_key'))).to.equal(16);
      expect(btf.sizeOf(id(BtfKind.Struct, 'flow_stats'))).to.equal(24);
      expect(btf.sizeOf(id(BtfKind.Struct, 'sk_state'))).to.equal(8);
      expect(btf.sizeOf(id(BtfKind.Typedef, '__u64'))).to.equal(8);
      expect(btf.sizeOf(id(BtfKind.Var, 'seen_flags'))).to.equal(16); // __u32[4]
      expect(btf.sizeOf(id(BtfKind.Var, 'LICENSE'))).to.equal(4); // "GPL"
      expect(btf.sizeOf(typeMember(mapDef('flows'), 'key').id)).to.equal(16);
      expect(btf.sizeOf(mapDef('flows').members![0].type)).to.equal(8); // a Ptr
      expect(btf.sizeOf(id(BtfKind.Struct, '__sk_buff'))).to.equal(192);
      expectBtfError(() => btf.sizeOf(0), /no size/);
      expectBtfError(() => btf.sizeOf(id(BtfKind.Func, 'classify')), /FUNC 'classify'.*no size/);
    });

    it('decodes bitfields, enums, ints and linkage', () => {
      const stats = btf.find(BtfKind.Struct, 'flow_stats')!;
      expect(stats.members!.slice(2)).to.deep.equal([
        { name: 'flags', type: btf.find(BtfKind.Typedef, '__u32')!.id, bitOffset: 128, bitfieldSize: 3 },
        { name: 'mark', type: btf.find(BtfKind.Typedef, '__u32')!.id, bitOffset: 131, bitfieldSize: 29 },
      ]);
      expect(btf.find(BtfKind.Enum, 'verdict')!.values).to.deep.equal([
        { name: 'VERDICT_PASS', value: 2n },
        { name: 'VERDICT_DROP', value: 1n },
      ]);
      expect(btf.find(BtfKind.Int, 'int')!.int).to.deep.equal({ encoding: 1, offset: 0, bits: 32 });
      expect(btf.find(BtfKind.Func, 'classify')!.linkage).to.equal(0); // static
      expect(btf.find(BtfKind.Func, 'shape_xdp')!.linkage).to.equal(1); // global
      expect(btf.find(BtfKind.Var, 'packet_count')!.linkage).to.equal(1);
      expect(btf.find(BtfKind.Fwd, 'bpf_sock')).to.include({ kindFlag: false }); // struct, not union
      expect(btf.find(BtfKind.Struct, 'no_such_struct')).to.equal(undefined);
    });

    it('resolve() looks through const, volatile and typedef', () => {
      const drop = btf.find(BtfKind.Var, 'drop_port')!;
      expect(btf.type(drop.type!).kind).to.equal(BtfKind.Const);
      expect(btf.resolve(drop.type!)).to.include({ kind: BtfKind.Int, name: 'unsigned int', size: 4 });
      const flowKey = btf.find(BtfKind.Struct, 'flow_key')!;
      expect(btf.resolve(flowKey.id)).to.equal(flowKey);
      expectBtfError(() => btf.resolve(btf.types.length), /no BTF type id/);
      expectBtfError(() => btf.type(-1), /no BTF type id -1/);
    });

    it('lists the globals of each data section in its DATASEC', () => {
      const names = (sec: string) => btf.find(BtfKind.Datasec, sec)!.vars!.map((v) => btf.type(v.type).name);
      expect(names('.data')).to.deep.equal(['packet_count', 'last_key']);
      expect(names('.rodata')).to.deep.equal(['drop_port']);
      expect(names('.bss')).to.deep.equal(['seen_bytes', 'seen_flags']);
      expect(names('.maps')).to.deep.equal(['flows', 'counters', 'jumps', 'sk_states']);
      const data = btf.find(BtfKind.Datasec, '.data')!;
      expect(data.size).to.equal(0); // clang leaves it for the loader
      expect(data.vars!.map((v) => v.size)).to.deep.equal([4, 16]);
    });

    it('stringAt() resolves names and rejects offsets out of range', () => {
      expect(btf.stringAt(0)).to.equal('');
      expectBtfError(() => btf.stringAt(1 << 30), /string offset 1073741824 out of range/);
      expectBtfError(() => btf.stringAt(-1), /out of range/);
    });
  });

  describe('Btf.forKernel', () => {
    it('fills DATASEC sizes and VAR offsets from the ELF, sorted, without mutating the parsed BTF', () => {
      const out = Btf.parse(btf.forKernel(sectionSizes(), symbolOffset));
      expect(out.types.length).to.equal(btf.types.length);
      for (const sec of ['.data', '.rodata', '.bss', '.maps', 'license']) {
        const ds = out.find(BtfKind.Datasec, sec)!;
        expect(ds.size, `size of ${sec}`).to.equal(section(sec).size).and.to.be.above(0);
        for (const v of ds.vars!) expect(v.offset).to.equal(symbolOffset(sec, out.type(v.type).name));
        const offsets = ds.vars!.map((v) => v.offset);
        expect(offsets).to.deep.equal([...offsets].sort((a, b) => a - b));
      }
      // The fixture's own numbers: .data = int (4) then struct flow_key (16).
      const data = out.find(BtfKind.Datasec, '.data')!;
      expect(data.size).to.equal(20);
      expect(data.vars!.map((v) => [out.type(v.type).name, v.offset])).to.deep.equal([
        ['packet_count', 0], ['last_key', 4],
      ]);
      expect(out.find(BtfKind.Datasec, '.maps')!.vars!.map((v) => v.offset)).to.deep.equal([0, 32, 64, 88]);
      // Everything else is byte-identical, so types and names survive.
      out.types.forEach((t, i) => {
        if (t.kind !== BtfKind.Datasec) expect(t).to.deep.equal(btf.types[i]);
      });
      expect(btf.find(BtfKind.Datasec, '.data')!.size).to.equal(0);
      expect(btf.find(BtfKind.Datasec, '.data')!.vars!.map((v) => v.offset)).to.deep.equal([0, 0]);
    });

    it('sorts secinfos by offset and leaves unknown sections and variables alone', () => {
      const offsets: Record<string, number> = { packet_count: 40, last_key: 8 };
      const out = Btf.parse(btf.forKernel(new Map([['.data', 64]]), (sec, name) =>
        sec === '.data' ? offsets[name] : undefined));
      const data = out.find(BtfKind.Datasec, '.data')!;
      expect(data.size).to.equal(64);
      expect(data.vars!.map((v) => [out.type(v.type).name, v.offset, v.size])).to.deep.equal([
        ['last_key', 8, 16], ['packet_count', 40, 4],
      ]);
      expect(out.find(BtfKind.Datasec, '.bss')).to.deep.equal(btf.find(BtfKind.Datasec, '.bss'));
    });

    it('writes a plain 24-byte header with types then strings', () => {
      const out = btf.forKernel(sectionSizes(), symbolOffset);
      const typeLen = btfData.readUInt32LE(12);
      const strLen = btfData.readUInt32LE(20);
      expect([out.readUInt16LE(0), out[2], out.readUInt32LE(4)]).to.deep.equal([0xeb9f, 1, 24]);
      expect([out.readUInt32LE(8), out.readUInt32LE(12), out.readUInt32LE(16), out.readUInt32LE(20)])
        .to.deep.equal([0, typeLen, typeLen, strLen]);
      expect(out.length).to.equal(24 + typeLen + strLen);
    });
  });

  describe('parseBtfExt on the fixture', () => {
    it('has one func_info record per function, keyed by ELF section', () => {
      const ext = parseBtfExt(extData, btf);
      expect(ext.funcInfoRecSize).to.equal(8);
      expect(ext.lineInfoRecSize).to.equal(16);
      expect([...ext.funcInfo.keys()].sort()).to.deep.equal(['.text', 'tc', 'xdp']);
      const fn = (sec: string) => ext.funcInfo.get(sec)!.map((f) => [f.insnOff, btf.type(f.typeId).name]);
      expect(fn('xdp')).to.deep.equal([[0, 'shape_xdp']]);
      expect(fn('tc')).to.deep.equal([[0, 'shape_tc']]);
      expect(fn('.text')).to.deep.equal([[0, 'classify']]);
    });

    it('has line_info pointing at the real lines of the C source', () => {
      const ext = parseBtfExt(extData, btf);
      expect([...ext.lineInfo.keys()].sort()).to.deep.equal(['.text', 'tc', 'xdp']);
      for (const [sec, lines] of ext.lineInfo) {
        const insns = section(sec).size / 8;
        let prev = -1;
        for (const l of lines) {
          expect(l.insnOff).to.be.above(prev).and.below(insns);
          prev = l.insnOff;
          expect(l.file.endsWith('spec/fixtures/btf_shapes.c'), l.file).to.equal(true);
          if (l.line === 0) continue; // compiler-generated code has no line
          expect(l.text, `${sec}+${l.insnOff}`).to.equal(srcLines[l.line - 1]);
          expect(l.column).to.be.at.most(l.text.length + 1);
        }
      }
      const first = (sec: string) => ext.lineInfo.get(sec)![0].text;
      expect(first('xdp')).to.equal('int shape_xdp(struct xdp_md *ctx)');
      expect(first('tc')).to.equal('int shape_tc(struct __sk_buff *skb)');
      expect(first('.text')).to.contain('classify(__u32 len)');
      const texts = ext.lineInfo.get('xdp')!.map((l) => l.text);
      expect(texts).to.include('\tst = bpf_map_lookup_elem(&flows, &key);');
      const lookup = ext.lineInfo.get('tc')!.find((l) => l.text.includes('&counters'))!;
      expect(lookup.line).to.equal(srcLines.findIndex((s) => s.includes('&counters')) + 1);
    });
  });

  describe('parseBtfExt on built input', () => {
    let xdpNameOff: number;
    let xdpFunc: number;
    before(() => {
      // sec_name_off of the first func_info section, read from the raw block.
      const block = extData.subarray(extData.readUInt32LE(4) + extData.readUInt32LE(8));
      xdpNameOff = block.readUInt32LE(4);
      expect(btf.stringAt(xdpNameOff)).to.equal('xdp');
      xdpFunc = btf.find(BtfKind.Func, 'shape_xdp')!.id;
    });

    it('honours a larger rec_size and ignores core_relo', () => {
      const line = parseBtfExt(extData, btf).lineInfo.get('xdp')![1];
      const ext = parseBtfExt(buildExt(
        buildBlock(12, xdpNameOff, [[0, xdpFunc, 7], [16, xdpFunc, 9]]),
        buildBlock(24, xdpNameOff, [[8, line.fileNameOff, line.lineOff, (72 << 10) | 5]]),
        Buffer.from('core relocations are skipped'),
      ), btf);
      expect(ext.funcInfoRecSize).to.equal(12);
      expect(ext.lineInfoRecSize).to.equal(24);
      expect(ext.funcInfo.get('xdp')).to.deep.equal([{ insnOff: 0, typeId: xdpFunc }, { insnOff: 2, typeId: xdpFunc }]);
      expect(ext.lineInfo.get('xdp')).to.deep.equal([{
        insnOff: 1, fileNameOff: line.fileNameOff, lineOff: line.lineOff, line: 72, column: 5,
        file: line.file, text: line.text,
      }]);
    });

    it('accepts empty blocks', () => {
      const ext = parseBtfExt(buildExt(Buffer.alloc(0), Buffer.alloc(0)), btf);
      expect(ext.funcInfo.size + ext.lineInfo.size).to.equal(0);
    });

    it('rejects malformed blocks with BtfError', () => {
      const ok = buildBlock(16, xdpNameOff, []);
      const cases: [Buffer, RegExp][] = [
        [Buffer.from([0x9f, 0xeb, 1, 0]), /truncated BTF.ext header/],
        [Buffer.concat([Buffer.from([0x12, 0x34]), buildExt(ok, ok).subarray(2)]), /bad BTF.ext magic 0x3412/],
        [buildExt(buildBlock(4, xdpNameOff, [[0]]), ok), /func_info rec_size 4 is smaller than 8/],
        [buildExt(ok, buildBlock(12, xdpNameOff, [])), /line_info rec_size 12 is smaller than 16/],
        [buildExt(buildBlock(8, xdpNameOff, [[0, xdpFunc]], 0xffffffff), ok), /func_info records for section xdp.*past the end/],
        [buildExt(buildBlock(8, 0xfffff, [[0, xdpFunc]]), ok), /section name: string offset 1048575 out of range/],
        [buildExt(buildBlock(8, xdpNameOff, [[4, xdpFunc]]), ok), /insn_off 4 is not a multiple of 8/],
        [buildExt(buildBlock(8, xdpNameOff, [[0, 2]]), ok), /type id 2 is not a FUNC/],
        [buildExt(buildBlock(8, xdpNameOff, [[0, 99999]]), ok), /no BTF type id 99999/],
        [buildExt(ok, ok).subarray(0, 30), /BTF.ext func_info .*runs past the end/],
      ];
      for (const [buf, re] of cases) expectBtfError(() => parseBtfExt(buf, btf), re);
    });
  });

  describe('malformed .BTF', () => {
    const typeStart = () => btfData.readUInt32LE(4) + btfData.readUInt32LE(8);
    const mutate = (f: (b: Buffer) => void) => {
      const b = Buffer.from(btfData);
      f(b);
      return b;
    };

    it('rejects a bad magic', () => {
      expectBtfError(() => Btf.parse(mutate((b) => b.writeUInt16LE(0x1234, 0))), /bad BTF magic 0x1234/);
      expectBtfError(() => Btf.parse(mutate((b) => b.writeUInt16LE(0x9feb, 0))), /big-endian/);
    });

    it('rejects a truncated header', () => {
      expectBtfError(() => Btf.parse(btfData.subarray(0, 2)), /truncated BTF header/);
      expectBtfError(() => Btf.parse(btfData.subarray(0, 20)), /truncated BTF header: 20 bytes/);
      expectBtfError(() => Btf.parse(mutate((b) => b.writeUInt32LE(1 << 20, 4))), /BTF header .*runs past the end/);
      expectBtfError(() => Btf.parse(mutate((b) => b.writeUInt32LE(8, 4))), /hdr_len 8/);
    });

    it('rejects a type section past the end of the data', () => {
      expectBtfError(() => Btf.parse(btfData.subarray(0, 200)), /BTF type section .*runs past the end/);
    });

    it('rejects a type record cut short by type_len', () => {
      const cut = mutate((b) => b.writeUInt32LE(b.readUInt32LE(12) - 4, 12));
      const last = btf.types.length - 1;
      expectBtfError(() => Btf.parse(cut), new RegExp(`type id ${last}: type record past the end of the type section`));
      // Type 1 as a STRUCT with 65535 members: its member array runs off the section.
      const huge = mutate((b) => b.writeUInt32LE((4 << 24) | 0xffff, typeStart() + 4));
      expectBtfError(() => Btf.parse(huge), /type id 1 \(STRUCT\): type record past the end/);
      const cutHeader = mutate((b) => b.writeUInt32LE(6, 12)); // half of type 1's common header
      expectBtfError(() => Btf.parse(cutHeader), /type id 1: type record past the end/);
    });

    it('rejects a string offset past the end', () => {
      const strLen = btfData.readUInt32LE(20);
      const b = mutate((x) => x.writeUInt32LE(strLen + 5, typeStart()));
      expectBtfError(() => Btf.parse(b), new RegExp(`type id 1: string offset ${strLen + 5} out of range`));
      const noNul = mutate((x) => x[x.length - 1] = 0x41); // last string loses its terminator
      expectBtfError(() => Btf.parse(noNul), /not NUL-terminated/);
      expectBtfError(() => Btf.parse(mutate((x) => x[typeStart() + btfData.readUInt32LE(12)] = 0x41)),
        /must start with a NUL/);
    });

    it('rejects an unknown kind, naming it and the type id', () => {
      const b = mutate((x) => x.writeUInt32LE(25 << 24, typeStart() + 4));
      expectBtfError(() => Btf.parse(b), /unknown kind 25 at type id 1/);
      const zero = mutate((x) => x.writeUInt32LE(0, typeStart() + 4));
      expectBtfError(() => Btf.parse(zero), /unknown kind 0 at type id 1/);
    });

    it('rejects a reference to a missing type and an unsupported version', () => {
      const b = mutate((x) => x.writeUInt32LE(5000, typeStart() + 8)); // type 1 is a PTR
      expectBtfError(() => Btf.parse(b), /type id 1 \(PTR\): type refers to missing type id 5000/);
      expectBtfError(() => Btf.parse(mutate((x) => x[2] = 2)), /unsupported BTF version 2/);
    });

    it('turns a typedef cycle into BtfError in resolve() and sizeOf()', () => {
      // Make type 1 (PTR -> 3) a TYPEDEF pointing at itself.
      const b = Btf.parse(mutate((x) => {
        x.writeUInt32LE(8 << 24, typeStart() + 4);
        x.writeUInt32LE(1, typeStart() + 8);
      }));
      expectBtfError(() => b.resolve(1), /loops/);
      expectBtfError(() => b.sizeOf(1), /loops/);
    });
  });

  describe('fuzzing', () => {
    it('2,000 random mutations and truncations give a result or BtfError (time per input is judged by the fuzzer and the bench, not here)', () => {
      const rand = prng(0x5eed);
      const pick = (n: number) => Math.floor(rand() * n);
      let parsed = 0;
      for (let i = 0; i < 2000; i++) {
        const ext = i % 2 === 1;
        const orig = ext ? extData : btfData;
        let m = Buffer.from(orig);
        if (rand() < 0.2) {
          m = m.subarray(0, pick(orig.length));
        } else {
          // Half the hits land in the header and first records, where the offsets live.
          const at = rand() < 0.5 ? pick(Math.min(64, orig.length)) : pick(orig.length);
          m[at] = rand() < 0.5 ? pick(256) : m[at] ^ (1 << pick(8));
        }
        try {
          if (ext) {
            parseBtfExt(m, btf);
          } else {
            const b = Btf.parse(m);
            for (const t of b.types) {
              try {
                b.sizeOf(t.id);
              } catch (e) {
                expect(e, String(e)).to.be.instanceOf(BtfError);
              }
            }
            Btf.parse(b.forKernel(sectionSizes(), symbolOffset));
          }
          parsed++;
        } catch (e) {
          expect(e, `case ${i}: ${String(e)}`).to.be.instanceOf(BtfError);
        }
      }
      expect(parsed, 'some mutations still parse').to.be.above(100);
    });
  });
});
