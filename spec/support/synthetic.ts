// Synthetic BPF objects of any size, written byte by byte (no clang): N programs over S sections,
// each loading a map and a global and calling one of K subprograms in .text, with BTF describing
// the maps and globals the way clang leaves them (DATASEC sizes and VAR offsets 0). Used by the
// specs and the bench that check parsing stays linear in the object's size, and by the fuzzer's
// growing-size stage. The description returned says what the object holds, independently of the
// parser, so specs can check what it produced.
import { btfBlob } from './btf-blob';


export interface SyntheticOptions {
  programs: number;
  /** Programs per executable section (clang puts every SEC("xdp") function in one section). */
  perSection?: number;
  /** Instructions (slots) in each program, at least 8. */
  programInsns?: number;
  subprograms?: number;
  /** Instructions in each subprogram, at least 4. Even subprograms call the next one. */
  subprogramInsns?: number;
  maps?: number;
  globals?: number;
  /** FUNC symbols with st_size 0, as some assemblers and hand-written objects leave them. */
  zeroFunctionSizes?: boolean;
}

export interface SyntheticProgram {
  name: string;
  section: string;
  /** The subprogram it calls, and the one that calls in turn (or undefined). */
  callee: number;
  /** Slots of the program once linked: its body plus every subprogram it reaches. */
  linkedSlots: number;
  map: string;
  global: string;
}

export interface SyntheticObject {
  bytes: Buffer;
  programs: SyntheticProgram[];
  maps: string[];
  globals: string[];
}

const EM_BPF = 247;
const R_BPF_64_64 = 1;
const R_BPF_64_32 = 10;

class Strings {
  private readonly parts: Buffer[] = [Buffer.from([0])];
  private size = 1;
  add(s: string): number {
    const at = this.size;
    const b = Buffer.from(s + '\0', 'latin1');
    this.parts.push(b);
    this.size += b.length;
    return at;
  }
  bytes(): Buffer {
    return Buffer.concat(this.parts);
  }
}

function insn(opcode: number, dst: number, src: number, off: number, imm: number): Buffer {
  const b = Buffer.alloc(8);
  b[0] = opcode;
  b[1] = (src << 4) | dst;
  b.writeInt16LE(off, 2);
  b.writeInt32LE(imm, 4);
  return b;
}

const MOV64_IMM = 0xb7;
const ADD64_IMM = 0x07;
const JEQ_IMM = 0x15;
const CALL = 0x85;
const EXIT = 0x95;
const LD_IMM64 = 0x18;

interface Sym { name: number; info: number; shndx: number; value: number; size: number }
interface Rel { offset: number; sym: number; type: number }

export function syntheticObject(opts: SyntheticOptions): SyntheticObject {
  const n = opts.programs;
  const perSection = opts.perSection ?? 4;
  const progInsns = Math.max(8, opts.programInsns ?? 16);
  const k = Math.max(1, opts.subprograms ?? 8);
  const subInsns = Math.max(4, opts.subprogramInsns ?? 6);
  const mapCount = Math.max(1, opts.maps ?? 4);
  const globalCount = Math.max(1, opts.globals ?? 4);
  const zero = opts.zeroFunctionSizes ?? false;

  const shstr = new Strings();
  const str = new Strings();
  const locals: Sym[] = [];
  const globalsSyms: Sym[] = [];
  interface Sec { name: string; type: number; flags: bigint; data: Buffer; link?: number; info?: number; entsize?: number; align: number }
  const sections: Sec[] = [{ name: '', type: 0, flags: 0n, data: Buffer.alloc(0), align: 0 }];
  const add = (s: Sec) => sections.push(s) - 1;

  // .text: subprogram j is `r0 = j; [call j+1 if j is even]; filler; exit`.
  const subs: Buffer[] = [];
  const textIndex = add({ name: '.text', type: 1, flags: 0x6n, data: Buffer.alloc(0), align: 8 });
  for (let j = 0; j < k; j++) {
    const body = [insn(MOV64_IMM, 0, 0, 0, j)];
    const calls = j % 2 === 0 && j + 1 < k;
    // A call inside .text needs no relocation: imm is relative to the next instruction.
    if (calls) body.push(insn(CALL, 0, 1, 0, subInsns - 2)); // at slot 1: target = 1 + 1 + imm = subInsns
    while (body.length < subInsns - 1) body.push(insn(ADD64_IMM, 0, 0, 0, 1));
    body.push(insn(EXIT, 0, 0, 0, 0));
    subs.push(Buffer.concat(body));
    locals.push({ name: str.add(`sub_${j}`), info: 2 /* LOCAL FUNC */, shndx: textIndex, value: j * subInsns * 8, size: zero ? 0 : subInsns * 8 });
  }
  sections[textIndex].data = Buffer.concat(subs);

  // .maps (32-byte definitions) and .data (8-byte globals), named by OBJECT symbols.
  const mapsIndex = add({ name: '.maps', type: 1, flags: 0x3n, data: Buffer.alloc(32 * mapCount), align: 8 });
  const dataIndex = add({ name: '.data', type: 1, flags: 0x3n, data: Buffer.alloc(8 * globalCount), align: 8 });
  const maps: string[] = [];
  const globals: string[] = [];
  const mapSym: number[] = [];
  const globalSym: number[] = [];
  for (let m = 0; m < mapCount; m++) {
    maps.push(`map_${m}`);
    mapSym.push(globalsSyms.push({ name: str.add(`map_${m}`), info: 0x11, shndx: mapsIndex, value: 32 * m, size: 32 }) - 1);
  }
  for (let g = 0; g < globalCount; g++) {
    globals.push(`global_${g}`);
    globalSym.push(globalsSyms.push({ name: str.add(`global_${g}`), info: 0x11, shndx: dataIndex, value: 8 * g, size: 8 }) - 1);
  }

  // Programs: `r1 = map; r2 = &global; call sub; if r0 == 0 goto +1; r0 = 1; filler; exit`.
  const programs: SyntheticProgram[] = [];
  const relSections: { target: number; rels: Rel[] }[] = [];
  const reach = (j: number): number => subInsns + (j % 2 === 0 && j + 1 < k ? subInsns : 0);
  for (let s = 0; s * perSection < n; s++) {
    const secName = `xdp/s${s}`;
    const count = Math.min(perSection, n - s * perSection);
    const bodies: Buffer[] = [];
    const rels: Rel[] = [];
    const secIndex = add({ name: secName, type: 1, flags: 0x6n, data: Buffer.alloc(0), align: 8 });
    for (let q = 0; q < count; q++) {
      const p = s * perSection + q;
      const base = q * progInsns;
      const callee = p % k;
      const map = p % mapCount;
      const global = p % globalCount;
      const body = [
        insn(LD_IMM64, 1, 0, 0, 0), insn(0, 0, 0, 0, 0),
        insn(LD_IMM64, 2, 0, 0, 0), insn(0, 0, 0, 0, 0),
        insn(CALL, 0, 1, 0, -1),
        insn(JEQ_IMM, 0, 0, 1, 0),
        insn(MOV64_IMM, 0, 0, 0, 1),
      ];
      while (body.length < progInsns - 1) body.push(insn(ADD64_IMM, 0, 0, 0, 1));
      body.push(insn(EXIT, 0, 0, 0, 0));
      bodies.push(Buffer.concat(body));
      rels.push({ offset: (base + 0) * 8, sym: -1 - mapSym[map], type: R_BPF_64_64 });
      rels.push({ offset: (base + 2) * 8, sym: -1 - globalSym[global], type: R_BPF_64_64 });
      rels.push({ offset: (base + 4) * 8, sym: callee + 1, type: R_BPF_64_32 }); // local symbol sub_<callee>
      const name = `prog_${p}`;
      globalsSyms.push({ name: str.add(name), info: 0x12, shndx: secIndex, value: base * 8, size: zero ? 0 : progInsns * 8 });
      programs.push({ name, section: secName, callee, linkedSlots: progInsns + reach(callee), map: maps[map], global: globals[global] });
    }
    sections[secIndex].data = Buffer.concat(bodies);
    relSections.push({ target: secIndex, rels });
  }
  add({ name: 'license', type: 1, flags: 0x3n, data: Buffer.from('GPL\0'), align: 1 });

  // BTF: int, the __uint()/__type() encodings, one map struct, a VAR per map and global, two DATASECs.
  const btfStr = new Strings();
  const types: Buffer[] = [];
  const type = (nameOff: number, kind: number, vlen: number, sizeOrType: number, extra: number[] = [], kflag = 0) => {
    const b = Buffer.alloc(12 + extra.length * 4);
    b.writeUInt32LE(nameOff, 0);
    b.writeUInt32LE(((kflag << 31) | (kind << 24) | vlen) >>> 0, 4);
    b.writeUInt32LE(sizeOrType, 8);
    extra.forEach((w, i) => b.writeUInt32LE(w >>> 0, 12 + i * 4));
    return types.push(b); // the new type's id
  };
  const intId = type(btfStr.add('int'), 1, 0, 4, [(1 << 24) | 32]);
  const arr = (nelems: number) => type(0, 3, 0, 0, [intId, intId, nelems]);
  const ptr = (to: number) => type(0, 2, 0, to);
  const typePtr = ptr(arr(2)); // BPF_MAP_TYPE_ARRAY
  const maxPtr = ptr(arr(16));
  const intPtr = ptr(intId);
  const structId = type(0, 4, 4, 32, [
    btfStr.add('type'), typePtr, 0, btfStr.add('max_entries'), maxPtr, 64,
    btfStr.add('key'), intPtr, 128, btfStr.add('value'), intPtr, 192,
  ]);
  const mapVars = maps.map((m) => type(btfStr.add(m), 14, 0, structId, [1]));
  const globalVars = globals.map((g) => type(btfStr.add(g), 14, 0, intId, [1]));
  // Sizes and offsets 0, as clang leaves them for the loader to fill.
  type(btfStr.add('.maps'), 15, mapVars.length, 0, mapVars.flatMap((v) => [v, 0, 32]));
  type(btfStr.add('.data'), 15, globalVars.length, 0, globalVars.flatMap((v) => [v, 0, 8]));
  const typeBytes = Buffer.concat(types);
  const strBytes = btfStr.bytes();
  add({ name: '.BTF', type: 1, flags: 0n, data: btfBlob(typeBytes, strBytes), align: 4 });

  // Symbol table: null, locals, then globals (sh_info = first global). Relocations name global
  // symbols as -1 - index into globalsSyms, locals by their table index.
  const firstGlobal = 1 + locals.length;
  const symIndex = (s: number) => (s < 0 ? firstGlobal + (-1 - s) : s);
  const all = [{ name: 0, info: 0, shndx: 0, value: 0, size: 0 }, ...locals, ...globalsSyms];
  const symtab = Buffer.alloc(all.length * 24);
  all.forEach((s, i) => {
    const at = i * 24;
    symtab.writeUInt32LE(s.name, at);
    symtab[at + 4] = s.info;
    symtab.writeUInt16LE(s.shndx, at + 6);
    symtab.writeBigUInt64LE(BigInt(s.value), at + 8);
    symtab.writeBigUInt64LE(BigInt(s.size), at + 16);
  });
  const strtabIndex = sections.length + 1;
  const symtabIndex = add({ name: '.symtab', type: 2, flags: 0n, data: symtab, link: strtabIndex, info: firstGlobal, entsize: 24, align: 8 });
  add({ name: '.strtab', type: 3, flags: 0n, data: str.bytes(), align: 1 });
  for (const { target, rels } of relSections) {
    const data = Buffer.alloc(rels.length * 16);
    rels.forEach((r, i) => {
      data.writeBigUInt64LE(BigInt(r.offset), i * 16);
      data.writeBigUInt64LE((BigInt(symIndex(r.sym)) << 32n) | BigInt(r.type), i * 16 + 8);
    });
    add({ name: `.rel${sections[target].name}`, type: 9, flags: 0n, data, link: symtabIndex, info: target, entsize: 16, align: 8 });
  }
  const shstrIndex = add({ name: '.shstrtab', type: 3, flags: 0n, data: Buffer.alloc(0), align: 1 });
  const nameOffs = sections.map((s) => (s.name ? shstr.add(s.name) : 0));
  sections[shstrIndex].data = shstr.bytes();

  // Layout: ELF header, section contents (8-byte aligned), section header table.
  const parts: Buffer[] = [];
  let at = 64;
  const offsets = sections.map((s) => {
    const pad = (8 - (at % 8)) % 8;
    if (pad) parts.push(Buffer.alloc(pad));
    at += pad;
    const off = at;
    parts.push(s.data);
    at += s.data.length;
    return off;
  });
  const shpad = (8 - (at % 8)) % 8;
  parts.push(Buffer.alloc(shpad));
  const shoff = at + shpad;
  const shdrs = Buffer.alloc(sections.length * 64);
  sections.forEach((s, i) => {
    const h = i * 64;
    shdrs.writeUInt32LE(nameOffs[i], h);
    shdrs.writeUInt32LE(s.type, h + 4);
    shdrs.writeBigUInt64LE(s.flags, h + 8);
    shdrs.writeBigUInt64LE(BigInt(i === 0 ? 0 : offsets[i]), h + 24);
    shdrs.writeBigUInt64LE(BigInt(s.data.length), h + 32);
    shdrs.writeUInt32LE(s.link ?? 0, h + 40);
    shdrs.writeUInt32LE(s.info ?? 0, h + 44);
    shdrs.writeBigUInt64LE(BigInt(s.align), h + 48);
    shdrs.writeBigUInt64LE(BigInt(s.entsize ?? 0), h + 56);
  });
  const ehdr = Buffer.alloc(64);
  ehdr.writeUInt32BE(0x7f454c46, 0);
  ehdr[4] = 2; // ELFCLASS64
  ehdr[5] = 1; // little-endian
  ehdr[6] = 1; // EV_CURRENT
  ehdr.writeUInt16LE(1, 16); // ET_REL
  ehdr.writeUInt16LE(EM_BPF, 18);
  ehdr.writeUInt32LE(1, 20);
  ehdr.writeBigUInt64LE(BigInt(shoff), 40);
  ehdr.writeUInt16LE(64, 52);
  ehdr.writeUInt16LE(64, 58);
  ehdr.writeUInt16LE(sections.length, 60);
  ehdr.writeUInt16LE(shstrIndex, 62);
  return { bytes: Buffer.concat([ehdr, ...parts, shdrs]), programs, maps, globals };
}

/** Options giving an object of about `bytes` bytes with `programs` programs. */
export function sizedOptions(programs: number, bytes: number, zeroFunctionSizes = false): SyntheticOptions {
  return { programs, programInsns: Math.max(8, Math.round(bytes / programs / 8) - 3), subprograms: 64, maps: 64, globals: 256, zeroFunctionSizes };
}
