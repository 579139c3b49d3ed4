// A seeded mutation fuzzer for bpfunit's pure stage: ELF reading, .BTF and .BTF.ext parsing,
// instruction decoding, relocation and BPF-to-BPF linking (ObjectSpec.parse), then the pure steps
// loading takes afterwards (marshal with a dummy map fd resolver, btfForKernel, the MapSpec fields
// the kernel stage writes as u32).
//
// The contract checked: every input ends in an ObjectSpec or a BpfUnitError subclass. Anything
// else (a RangeError from a Buffer read, a TypeError on undefined, an invariant broken in a model
// that parsed) is a failure, reported with the seed and index that regenerate the input.
//
// Inputs are reproducible one by one: input `index` of a run with `seed` is generated from a PRNG
// seeded with mix(seed, index) over the corpus sorted by path, so `generateInput(corpus, seed,
// index)` rebuilds it without replaying the inputs before it.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { BpfUnitError } from '../src/errors';
import { marshal } from '../src/kernel/program';
import { ObjectSpec } from '../src/object/object';

// ---------------------------------------------------------------------------------------------
// PRNG: sfc32 (Chris Doty-Humphrey's small fast counter), seeded through splitmix32.

function splitmix32(state: number): [number, number] {
  state = (state + 0x9e3779b9) | 0;
  let z = state;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return [(z ^ (z >>> 16)) >>> 0, state];
}

export class Prng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
    let s = seed | 0;
    const words: number[] = [];
    for (let i = 0; i < 4; i++) {
      const [v, next] = splitmix32(s);
      words.push(v);
      s = next;
    }
    [this.a, this.b, this.c, this.d] = words;
    for (let i = 0; i < 12; i++) this.u32(); // discard the first outputs
  }

  /** Uniform in [0, 2^32). */
  u32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform integer in [0, n), n >= 1. */
  below(n: number): number {
    if (n <= 1) return 0;
    if (n <= 0x100000000) return Math.floor((this.u32() / 0x100000000) * n);
    return Math.floor((this.u32() * 0x100000000 + this.u32()) / 2 ** 64 * n);
  }

  /** Uniform integer in [lo, hi]. */
  range(lo: number, hi: number): number {
    return lo + this.below(hi - lo + 1);
  }

  chance(p: number): boolean {
    return this.u32() / 0x100000000 < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.below(items.length)];
  }

  u64(): bigint {
    return (BigInt(this.u32()) << 32n) | BigInt(this.u32());
  }
}

/** The seed of input `index` in a run seeded with `seed`. */
export function inputSeed(seed: number, index: number): number {
  let h = Math.imul((seed ^ 0x5bd1e995) >>> 0, 0x9e3779b1) ^ index;
  h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d);
  h = Math.imul(h ^ (h >>> 12), 0x297a2d39);
  return (h ^ (h >>> 15)) >>> 0;
}

// ---------------------------------------------------------------------------------------------
// Corpus and the layout of each object, read once from the well-formed original.

export const CORPUS_DIRS = ['build/fixtures', 'build/bpf', 'build/mocks'];

/** One integer field in the file: absolute byte offset, width and a name for the mutation log. */
interface Field {
  at: number;
  width: 1 | 2 | 4 | 8;
  what: string;
}

interface Insn {
  at: number;
  index: number;
  /** Instructions (8-byte slots) in the section: used to aim jump offsets at its edges. */
  total: number;
  opcode: number;
}

interface Chunk {
  at: number;
  size: number;
  name: string;
}

export interface Layout {
  header: Field[];
  sectionHeaders: Field[][];
  symbols: Field[][];
  relocations: Field[][];
  btfHeader: Field[];
  btfTypes: Field[][];
  extHeader: Field[];
  extFields: Field[];
  insns: Insn[];
  strtabs: Chunk[];
  sections: Chunk[];
  sectionCount: number;
}

export interface CorpusEntry {
  /** Path relative to the repository root, e.g. build/fixtures/loader_calls.o. */
  name: string;
  bytes: Buffer;
  layout: Layout;
}

const HEADER_FIELDS: [number, 1 | 2 | 4 | 8, string][] = [
  [4, 1, 'EI_CLASS'], [5, 1, 'EI_DATA'], [6, 1, 'EI_VERSION'], [16, 2, 'e_type'], [18, 2, 'e_machine'],
  [20, 4, 'e_version'], [24, 8, 'e_entry'], [32, 8, 'e_phoff'], [40, 8, 'e_shoff'], [48, 4, 'e_flags'],
  [52, 2, 'e_ehsize'], [54, 2, 'e_phentsize'], [56, 2, 'e_phnum'], [58, 2, 'e_shentsize'],
  [60, 2, 'e_shnum'], [62, 2, 'e_shstrndx'],
];
const SHDR_FIELDS: [number, 1 | 2 | 4 | 8, string][] = [
  [0, 4, 'sh_name'], [4, 4, 'sh_type'], [8, 8, 'sh_flags'], [16, 8, 'sh_addr'], [24, 8, 'sh_offset'],
  [32, 8, 'sh_size'], [40, 4, 'sh_link'], [44, 4, 'sh_info'], [48, 8, 'sh_addralign'], [56, 8, 'sh_entsize'],
];
const SYM_FIELDS: [number, 1 | 2 | 4 | 8, string][] = [
  [0, 4, 'st_name'], [4, 1, 'st_info'], [5, 1, 'st_other'], [6, 2, 'st_shndx'], [8, 8, 'st_value'], [16, 8, 'st_size'],
];
const REL_FIELDS: [number, 1 | 2 | 4 | 8, string][] = [
  [0, 8, 'r_offset'], [8, 8, 'r_info'], [8, 4, 'r_info.type'], [12, 4, 'r_info.sym'],
];

function fields(base: number, spec: [number, 1 | 2 | 4 | 8, string][], prefix: string): Field[] {
  return spec.map(([off, width, what]) => ({ at: base + off, width, what: `${prefix}${what}` }));
}

/** Reads the structure of a well-formed object; anything odd is skipped rather than trusted. */
export function layoutOf(file: Buffer): Layout {
  const out: Layout = {
    header: fields(0, HEADER_FIELDS, ''), sectionHeaders: [], symbols: [], relocations: [], btfHeader: [],
    btfTypes: [], extHeader: [], extFields: [], insns: [], strtabs: [], sections: [], sectionCount: 0,
  };
  if (file.length < 64) return out;
  const shoff = Number(file.readBigUInt64LE(40));
  const shnum = file.readUInt16LE(60);
  const shstrndx = file.readUInt16LE(62);
  if (shoff + shnum * 64 > file.length) return out;
  out.sectionCount = shnum;
  const shdr = (i: number) => {
    const at = shoff + i * 64;
    return {
      at, nameOff: file.readUInt32LE(at), type: file.readUInt32LE(at + 4), flags: Number(file.readBigUInt64LE(at + 8)),
      offset: Number(file.readBigUInt64LE(at + 24)), size: Number(file.readBigUInt64LE(at + 32)),
    };
  };
  const strAt = shstrndx < shnum ? shdr(shstrndx).offset : 0;
  const nameOf = (off: number) => {
    const end = file.indexOf(0, strAt + off);
    return end < 0 ? '' : file.toString('latin1', strAt + off, end);
  };
  for (let i = 0; i < shnum; i++) {
    const h = shdr(i);
    const name = nameOf(h.nameOff);
    out.sectionHeaders.push(fields(h.at, SHDR_FIELDS, `section ${i} (${name || 'null'}) `));
    const inFile = h.type !== 8 && h.offset + h.size <= file.length && h.size > 0;
    if (!inFile) continue;
    out.sections.push({ at: h.offset, size: h.size, name });
    if (h.type === 3) out.strtabs.push({ at: h.offset, size: h.size, name });
    if (h.type === 2) {
      for (let k = 0; (k + 1) * 24 <= h.size; k++) out.symbols.push(fields(h.offset + k * 24, SYM_FIELDS, `symbol ${k} `));
    }
    if (h.type === 9) {
      for (let k = 0; (k + 1) * 16 <= h.size; k++) out.relocations.push(fields(h.offset + k * 16, REL_FIELDS, `${name}[${k}] `));
    }
    if (h.type === 1 && (h.flags & 4) !== 0) {
      const total = Math.floor(h.size / 8);
      for (let k = 0; k < total; k++) {
        out.insns.push({ at: h.offset + k * 8, index: k, total, opcode: file[h.offset + k * 8] });
      }
    }
    if (name === '.BTF') btfLayout(file, h.offset, h.size, out);
    if (name === '.BTF.ext') extLayout(file, h.offset, h.size, out);
  }
  return out;
}

const BTF_HEADER: [number, 1 | 2 | 4 | 8, string][] = [
  [0, 2, 'magic'], [2, 1, 'version'], [3, 1, 'flags'], [4, 4, 'hdr_len'], [8, 4, 'type_off'],
  [12, 4, 'type_len'], [16, 4, 'str_off'], [20, 4, 'str_len'],
];

function btfLayout(file: Buffer, base: number, size: number, out: Layout): void {
  if (size < 24) return;
  out.btfHeader = fields(base, BTF_HEADER, '.BTF ');
  const hdrLen = file.readUInt32LE(base + 4);
  const typeAt = base + hdrLen + file.readUInt32LE(base + 8);
  const typeLen = file.readUInt32LE(base + 12);
  const strAt = base + hdrLen + file.readUInt32LE(base + 16);
  const strLen = file.readUInt32LE(base + 20);
  if (strAt + strLen <= base + size) out.strtabs.push({ at: strAt, size: strLen, name: '.BTF strings' });
  let off = 0;
  for (let id = 1; off + 12 <= typeLen && typeAt + typeLen <= base + size; id++) {
    const at = typeAt + off;
    const info = file.readUInt32LE(at + 4);
    const vlen = info & 0xffff;
    const kind = (info >>> 24) & 0x1f;
    const extra = [1, 14, 17].includes(kind) ? 4 : kind === 3 ? 12 : [4, 5, 15, 19].includes(kind) ? 12 * vlen
      : [6, 13].includes(kind) ? 8 * vlen : 0;
    const rec: Field[] = [
      { at, width: 4, what: `.BTF type ${id} name_off` },
      { at: at + 4, width: 4, what: `.BTF type ${id} info` },
      { at: at + 4, width: 2, what: `.BTF type ${id} vlen` },
      { at: at + 7, width: 1, what: `.BTF type ${id} kind` },
      { at: at + 8, width: 4, what: `.BTF type ${id} size/type` },
    ];
    for (let k = 0; k < extra / 4; k++) rec.push({ at: at + 12 + k * 4, width: 4, what: `.BTF type ${id} word ${k}` });
    out.btfTypes.push(rec);
    off += 12 + extra;
  }
}

const EXT_HEADER: [number, 1 | 2 | 4 | 8, string][] = [
  [0, 2, 'magic'], [2, 1, 'version'], [3, 1, 'flags'], [4, 4, 'hdr_len'], [8, 4, 'func_info_off'],
  [12, 4, 'func_info_len'], [16, 4, 'line_info_off'], [20, 4, 'line_info_len'], [24, 4, 'core_relo_off'],
  [28, 4, 'core_relo_len'],
];

function extLayout(file: Buffer, base: number, size: number, out: Layout): void {
  if (size < 24) return;
  const hdrLen = file.readUInt32LE(base + 4);
  out.extHeader = fields(base, EXT_HEADER.filter(([off]) => off + 4 <= hdrLen), '.BTF.ext ');
  for (const [field, what] of [[8, 'func_info'], [16, 'line_info'], [24, 'core_relo']] as const) {
    if (field + 8 > hdrLen) continue;
    const start = base + hdrLen + file.readUInt32LE(base + field);
    const len = file.readUInt32LE(base + field + 4);
    if (len < 4 || start + len > base + size) continue;
    const recSize = file.readUInt32LE(start);
    if (recSize < 4) continue;
    out.extFields.push({ at: start, width: 4, what: `${what} rec_size` });
    let pos = start + 4;
    for (let sec = 0; pos + 8 <= start + len; sec++) {
      const num = file.readUInt32LE(pos + 4);
      out.extFields.push({ at: pos, width: 4, what: `${what} sec ${sec} sec_name_off` });
      out.extFields.push({ at: pos + 4, width: 4, what: `${what} sec ${sec} num_info` });
      pos += 8;
      for (let r = 0; r < num && pos + recSize <= start + len; r++, pos += recSize) {
        for (let w = 0; w + 4 <= recSize; w += 4) {
          out.extFields.push({ at: pos + w, width: 4, what: `${what} sec ${sec} record ${r} word ${w / 4}` });
        }
      }
    }
  }
}

/** Every build/{fixtures,bpf,mocks}/*.o under `root`, sorted by path so indexes are stable. */
export function loadCorpus(root: string): CorpusEntry[] {
  const out: CorpusEntry[] = [];
  for (const dir of CORPUS_DIRS) {
    const abs = path.join(root, dir);
    if (!existsSync(abs)) continue;
    for (const f of readdirSync(abs).filter((n) => n.endsWith('.o')).sort()) {
      const bytes = readFileSync(path.join(abs, f));
      out.push({ name: `${dir}/${f}`, bytes, layout: layoutOf(bytes) });
    }
  }
  return out;
}

/** A short hash of the corpus (names and bytes), printed with the figures. */
export function corpusDigest(corpus: CorpusEntry[]): string {
  const h = createHash('sha256');
  for (const c of corpus) h.update(c.name).update('\0').update(c.bytes);
  return h.digest('hex').slice(0, 12);
}

// ---------------------------------------------------------------------------------------------
// Mutations. Each works on a copy and returns a description for the reproduction log.

const INTERESTING_BYTES = [0x00, 0xff, 0x7f, 0x80, 0x01, 0xfe, 0x10, 0x20, 0x40];
const INTERESTING_OPCODES = [
  0x18, // ld_imm64
  0x85, // call
  0x8d, // callx
  0x95, // exit
  0x05, // ja
  0x06, // gotol (JMP32 | JA: imm is the offset)
  0x15, 0x1d, 0x55, 0xa5, // jeq/jne/jlt imm, jeq reg
  0x16, 0x56, // jmp32 jeq/jne
  0xb7, 0x07, 0x61, 0x63, 0x7b, 0x79, 0x00, 0xff,
];

function maxOf(width: number): bigint {
  return (1n << BigInt(width * 8)) - 1n;
}

function readField(buf: Buffer, f: Field): bigint {
  if (f.at < 0 || f.at + f.width > buf.length) return 0n;
  switch (f.width) {
    case 1: return BigInt(buf[f.at]);
    case 2: return BigInt(buf.readUInt16LE(f.at));
    case 4: return BigInt(buf.readUInt32LE(f.at));
    default: return buf.readBigUInt64LE(f.at);
  }
}

function writeField(buf: Buffer, f: Field, value: bigint): void {
  if (f.at < 0 || f.at + f.width > buf.length) return;
  const v = BigInt.asUintN(f.width * 8, value);
  switch (f.width) {
    case 1: buf[f.at] = Number(v); break;
    case 2: buf.writeUInt16LE(Number(v), f.at); break;
    case 4: buf.writeUInt32LE(Number(v), f.at); break;
    default: buf.writeBigUInt64LE(v, f.at);
  }
}

/** A value worth trying in a field: boundaries, off-by-ones, and numbers that mean something in
 * this file (its length, section offsets and sizes, the section count). */
function interestingValue(rng: Prng, width: number, old: bigint, ctx: Context): bigint {
  // A u64 offset or size is as interesting at the 32-bit boundaries (still safe integers, so they
  // get past the first range check) as at its own.
  const w = width === 8 && rng.chance(0.5) ? 4 : width;
  const max = maxOf(w);
  const bits = BigInt(w * 8);
  switch (rng.below(14)) {
    case 0: return 0n;
    case 1: return max;
    case 2: return (1n << (bits - 1n)) - 1n; // 0x7f..
    case 3: return 1n << (bits - 1n); // 0x80..
    case 4: return old + 1n;
    case 5: return old - 1n;
    case 6: return old + BigInt(rng.pick([2, 4, 8, 12, 16, 24, 64, 4096]) * (rng.chance(0.5) ? 1 : -1));
    case 7: return rng.chance(0.5) ? old * 2n : old / 2n;
    case 8: case 12: case 13: return BigInt(rng.pick(ctx.numbers)) + BigInt(rng.range(-1, 1));
    case 9: {
      const big = [1n << 31n, (1n << 32n) - 1n, 1n << 32n, 1n << 53n, (1n << 53n) - 1n, 1n << 63n, 0xffffn, 0x10000n];
      return rng.pick(big);
    }
    case 10: return BigInt(rng.below(Math.min(256, Number(max) + 1)));
    default: return w === 8 ? rng.u64() : BigInt(rng.u32()) & max;
  }
}

interface Context {
  numbers: number[];
  btfTypes: number;
}

function contextOf(entry: CorpusEntry): Context {
  const n = [entry.bytes.length, entry.layout.sectionCount, 8, 16, 24, 64];
  for (const s of entry.layout.sections) n.push(s.at, s.size, s.at + s.size);
  return { numbers: n, btfTypes: entry.layout.btfTypes.length };
}

function mutateField(rng: Prng, buf: Buffer, f: Field, ctx: Context, log: string[]): void {
  const old = readField(buf, f);
  let v: bigint;
  if (f.what.endsWith(' kind')) v = BigInt(rng.chance(0.7) ? rng.below(32) : rng.below(256)) | (rng.chance(0.3) ? 0x80n : 0n);
  else if (f.what.endsWith('sh_type')) v = BigInt(rng.chance(0.8) ? rng.pick([0, 1, 2, 3, 4, 8, 9, 11, 0x6fff4c03]) : rng.u32());
  else if (f.what.endsWith('sh_flags') && rng.chance(0.5)) v = old ^ BigInt(rng.pick([1, 2, 4, 0x10, 0x20, 0x40]));
  else if (f.what.endsWith('st_info') && rng.chance(0.6)) v = BigInt((rng.below(3) << 4) | rng.pick([0, 1, 2, 3, 4, 6]));
  else if (f.what.endsWith('r_info.type') && rng.chance(0.6)) v = BigInt(rng.pick([0, 1, 2, 3, 4, 10]));
  else if (f.what.endsWith(' info') && rng.chance(0.3)) v = old ^ 0x80000000n; // kind_flag
  else if (f.what.startsWith('.BTF type') && !f.what.endsWith('name_off') && rng.chance(0.3)) {
    v = BigInt(rng.below(ctx.btfTypes + 2)); // another type id: a plausible but wrong reference
  }
  else v = interestingValue(rng, f.width, old, ctx);
  writeField(buf, f, v);
  log.push(`${f.what} @${f.at}: ${old} -> ${BigInt.asUintN(f.width * 8, v)}`);
}

function pickFieldFrom(rng: Prng, groups: Field[][]): Field | undefined {
  if (groups.length === 0) return undefined;
  const g = rng.pick(groups);
  return g.length ? rng.pick(g) : undefined;
}

type Mutator = (rng: Prng, buf: Buffer, entry: CorpusEntry, ctx: Context, log: string[]) => Buffer;

function withField(pick: (rng: Prng, l: Layout) => Field | undefined): Mutator {
  return (rng, buf, entry, ctx, log) => {
    const f = pick(rng, entry.layout);
    if (f) mutateField(rng, buf, f, ctx, log);
    else blindByte(rng, buf, log);
    return buf;
  };
}

function blindByte(rng: Prng, buf: Buffer, log: string[]): void {
  if (buf.length === 0) return;
  const at = rng.below(buf.length);
  const old = buf[at];
  const v = rng.chance(0.5) ? rng.pick(INTERESTING_BYTES) : rng.chance(0.5) ? (old + rng.pick([1, -1])) & 0xff : rng.below(256);
  buf[at] = v;
  log.push(`byte @${at}: ${old} -> ${v}`);
}

/** Copies a chunk of `buf` (often a whole section) elsewhere: inserted, shifting what follows, or written over. */
function duplicate(rng: Prng, buf: Buffer, entry: CorpusEntry, log: string[]): Buffer {
  if (buf.length < 2) return buf;
  const structured = entry.layout.sections.length > 0 && rng.chance(0.5);
  const src = structured ? rng.pick(entry.layout.sections) : undefined;
  const len = Math.min(buf.length, src ? Math.max(1, src.size) : rng.range(1, Math.min(4096, buf.length)));
  const from = src && src.at + len <= buf.length ? src.at : rng.below(buf.length - len + 1);
  const to = rng.below(buf.length);
  const chunk = Buffer.from(buf.subarray(from, from + len));
  if (rng.chance(0.5)) {
    log.push(`insert copy of ${from}..${from + len} at ${to}`);
    return Buffer.concat([buf.subarray(0, to), chunk, buf.subarray(to)]);
  }
  log.push(`overwrite ${to}.. with copy of ${from}..${from + len}`);
  chunk.copy(buf, to);
  return buf;
}

function copyEntry(rng: Prng, buf: Buffer, groups: Field[][], size: number, what: string, log: string[]): void {
  if (groups.length < 2) return;
  const a = rng.pick(groups)[0].at;
  const b = rng.pick(groups)[0].at;
  if (a + size > buf.length || b + size > buf.length) return;
  buf.copyWithin(b, a, a + size);
  log.push(`copy ${what} @${a} over @${b}`);
}

const MUTATORS: [weight: number, name: string, fn: Mutator][] = [
  [6, 'bit flips', (rng, buf, _e, _c, log) => {
    const n = rng.range(1, 8);
    for (let k = 0; k < n && buf.length; k++) {
      const bit = rng.below(buf.length * 8);
      buf[bit >> 3] ^= 1 << (bit & 7);
      log.push(`flip bit ${bit & 7} of byte ${bit >> 3}`);
    }
    return buf;
  }],
  [4, 'section retype', (rng, buf, entry, ctx, log) => {
    // A section read as another kind (symbols, relocations, strings, no bits), often with an
    // extent that no longer fits: the reader must check what it reads against the file.
    const l = entry.layout;
    if (!l.sectionHeaders.length) return buf;
    const h = rng.pick(l.sectionHeaders);
    const type = h[1];
    const t = rng.pick([1, 2, 3, 8, 9]);
    writeField(buf, type, BigInt(t));
    log.push(`${type.what} @${type.at}: -> ${t}`);
    if (rng.chance(0.6)) mutateField(rng, buf, h[5], ctx, log); // sh_size
    if (rng.chance(0.5)) mutateField(rng, buf, h[4], ctx, log); // sh_offset
    if (rng.chance(0.3)) mutateField(rng, buf, h[6], ctx, log); // sh_link
    return buf;
  }],
  [6, 'interesting bytes', (rng, buf, _e, _c, log) => {
    const n = rng.range(1, 4);
    for (let k = 0; k < n; k++) blindByte(rng, buf, log);
    return buf;
  }],
  [2, 'random run', (rng, buf, _e, _c, log) => {
    if (!buf.length) return buf;
    const at = rng.below(buf.length);
    const len = Math.min(buf.length - at, rng.range(1, 32));
    const fill = rng.chance(0.5) ? rng.pick(INTERESTING_BYTES) : -1;
    for (let k = 0; k < len; k++) buf[at + k] = fill < 0 ? rng.below(256) : fill;
    log.push(`${fill < 0 ? 'random bytes' : `fill 0x${fill.toString(16)}`} @${at}..${at + len}`);
    return buf;
  }],
  [4, 'ELF header field', withField((rng, l) => rng.pick(l.header))],
  [12, 'section header field', withField((rng, l) => pickFieldFrom(rng, l.sectionHeaders))],
  [8, 'symbol field', withField((rng, l) => pickFieldFrom(rng, l.symbols))],
  [8, 'relocation field', withField((rng, l) => pickFieldFrom(rng, l.relocations))],
  [3, '.BTF header field', withField((rng, l) => (l.btfHeader.length ? rng.pick(l.btfHeader) : undefined))],
  [10, '.BTF type field', withField((rng, l) => pickFieldFrom(rng, l.btfTypes))],
  [3, '.BTF.ext header field', withField((rng, l) => (l.extHeader.length ? rng.pick(l.extHeader) : undefined))],
  [6, '.BTF.ext record field', withField((rng, l) => (l.extFields.length ? rng.pick(l.extFields) : undefined))],
  [12, 'instruction', (rng, buf, entry, _c, log) => {
    mutateInsn(rng, buf, entry.layout, log);
    return buf;
  }],
  [3, 'string table', (rng, buf, entry, _c, log) => {
    const tabs = entry.layout.strtabs.filter((t) => t.size > 0);
    if (!tabs.length) return buf;
    const t = rng.pick(tabs);
    const at = t.at + rng.below(t.size);
    if (at >= buf.length) return buf;
    const old = buf[at];
    // Remove a terminator (a string runs into the next), add one, or change a character.
    buf[at] = old === 0 ? rng.pick([0x41, 0x2e, 0xff]) : rng.chance(0.5) ? 0 : rng.range(0x21, 0x7e);
    log.push(`${t.name} byte @${at}: ${old} -> ${buf[at]}`);
    return buf;
  }],
  [3, 'copy entry', (rng, buf, entry, _c, log) => {
    const l = entry.layout;
    switch (rng.below(4)) {
      case 0: copyEntry(rng, buf, l.sectionHeaders, 64, 'section header', log); break;
      case 1: copyEntry(rng, buf, l.symbols, 24, 'symbol', log); break;
      case 2: copyEntry(rng, buf, l.relocations, 16, 'relocation', log); break;
      default: copyEntry(rng, buf, l.btfTypes, 12, 'BTF type header', log);
    }
    return buf;
  }],
  [4, 'truncate', (rng, buf, entry, _c, log) => {
    let len: number;
    if (rng.chance(0.5) && entry.layout.sections.length) {
      const s = rng.pick(entry.layout.sections);
      len = rng.pick([s.at, s.at + s.size, s.at + (s.size >> 1)]) + rng.range(-1, 1);
    } else {
      len = rng.below(buf.length + 1);
    }
    len = Math.max(0, Math.min(buf.length, len));
    log.push(`truncate to ${len} of ${buf.length} bytes`);
    return buf.subarray(0, len);
  }],
  [4, 'duplicate chunk', (rng, buf, entry, _c, log) => duplicate(rng, buf, entry, log)],
];
const TOTAL_WEIGHT = MUTATORS.reduce((s, [w]) => s + w, 0);

function mutateInsn(rng: Prng, buf: Buffer, l: Layout, log: string[]): void {
  if (!l.insns.length) return blindByte(rng, buf, log);
  // Aim at the instructions the linker cares about most of the time.
  const wide = l.insns.filter((i) => i.opcode === 0x18);
  const calls = l.insns.filter((i) => i.opcode === 0x85);
  const jumps = l.insns.filter((i) => (i.opcode & 7) === 5 || (i.opcode & 7) === 6);
  const choice = rng.below(6);
  const pool = choice === 1 && wide.length ? wide : choice === 2 && calls.length ? calls : choice === 3 && jumps.length ? jumps : l.insns;
  const insn = rng.pick(pool);
  const at = insn.at;
  if (at + 8 > buf.length) return;
  const what = `insn ${insn.index} (opcode 0x${buf[at].toString(16)}) @${at}`;
  switch (choice) {
    case 0: { // opcode
      const op = rng.chance(0.7) ? rng.pick(INTERESTING_OPCODES) : rng.below(256);
      log.push(`${what}: opcode -> 0x${op.toString(16)}`);
      buf[at] = op;
      break;
    }
    case 1: case 2: { // src_reg of ld_imm64 / call: pseudo kinds
      const src = rng.chance(0.7) ? rng.below(7) : rng.below(16);
      log.push(`${what}: src_reg -> ${src}`);
      buf[at + 1] = (buf[at + 1] & 0x0f) | (src << 4);
      if (choice === 2 && rng.chance(0.5)) {
        const imm = rng.pick([-1, 0, 1, -(insn.index + 1), insn.total - insn.index - 1, insn.total - insn.index, 0x7fffffff, -0x80000000]);
        buf.writeInt32LE(imm, at + 4);
        log.push(`${what}: imm -> ${imm}`);
      }
      break;
    }
    case 3: { // jump offset (off, or imm for gotol)
      const rel = rng.pick([0, -1, -2, 1, 0x7fff, -0x8000, -(insn.index + 1), -(insn.index + 2), insn.total - insn.index - 1, insn.total - insn.index]);
      if (buf[at] === 0x06) buf.writeInt32LE(rel, at + 4);
      else buf.writeInt16LE(Math.max(-0x8000, Math.min(0x7fff, rel)), at + 2);
      log.push(`${what}: jump offset -> ${rel}`);
      break;
    }
    case 4: { // registers
      const v = rng.below(256);
      log.push(`${what}: regs -> 0x${v.toString(16)}`);
      buf[at + 1] = v;
      break;
    }
    default: { // imm
      const imm = rng.chance(0.5) ? rng.pick([0, -1, 1, 0x7fffffff, -0x80000000, 8, -8]) : rng.u32() | 0;
      log.push(`${what}: imm -> ${imm}`);
      buf.writeInt32LE(imm, at + 4);
    }
  }
}

export interface FuzzInput {
  file: string;
  bytes: Buffer;
  mutations: string[];
}

/** Input `index` of a run seeded with `seed`: a corpus object with 1 to 4 mutations stacked. */
export function generateInput(corpus: CorpusEntry[], seed: number, index: number): FuzzInput {
  if (corpus.length === 0) throw new Error('the fuzz corpus is empty: run `make objects` first');
  const rng = new Prng(inputSeed(seed, index));
  const entry = corpus[rng.below(corpus.length)];
  const ctx = contextOf(entry);
  let buf: Buffer = Buffer.from(entry.bytes);
  const log: string[] = [];
  const count = rng.chance(0.5) ? 1 : rng.range(2, 4);
  for (let k = 0; k < count; k++) {
    let r = rng.below(TOTAL_WEIGHT);
    let m = MUTATORS[0];
    for (const cand of MUTATORS) {
      if (r < cand[0]) {
        m = cand;
        break;
      }
      r -= cand[0];
    }
    log.push(`[${m[1]}]`);
    buf = m[2](rng, buf, entry, ctx, log);
  }
  return { file: entry.name, bytes: buf, mutations: log };
}

// ---------------------------------------------------------------------------------------------
// Running one input.

/** A model that parsed but that later stages would trip over: counted as a failure. */
export class InvariantViolation extends Error {
  override name = 'InvariantViolation';
}

const DUMMY_FD = 3;

function u32(v: number | undefined, what: string): void {
  if (v !== undefined && !(Number.isInteger(v) && v >= 0 && v <= 0xffffffff)) {
    throw new InvariantViolation(`${what} is ${v}, not a u32 (the kernel stage writes it with writeUInt32LE)`);
  }
}

/** What loading does with a parsed model before its first syscall. */
export function exercise(spec: ObjectSpec): void {
  const maps = new Set<string>();
  for (const m of spec.maps) {
    for (const k of ['type', 'keySize', 'valueSize', 'maxEntries', 'flags', 'btfKey', 'btfValue'] as const) {
      u32(m[k], `map ${m.name} ${k}`);
    }
    for (const s of m.programSlots ?? []) u32(s.index, `map ${m.name} program slot index`);
    maps.add(m.name);
  }
  // A program that cannot load throws its typed error when asked for, as Collection.load does;
  // the others are still checked first.
  const refused = spec.programs.find((p) => p.error)?.error;
  for (const p of spec.programs) {
    // Every reference must name a map of this object: Collection.load would fail late, with an
    // InputError from c.map(n) that points at no defect in the object.
    const m = marshal(p, (name) => {
      if (!maps.has(name)) throw new InvariantViolation(`program ${p.name} refers to map '${name}', which the object does not have`);
      return DUMMY_FD;
    });
    let slots = 0;
    for (const i of p.instructions) slots += i.opcode === 0x18 ? 2 : 1;
    if (m.insns.length !== slots * 8) throw new InvariantViolation(`program ${p.name}: encoded ${m.insns.length} bytes for ${slots} slots`);
    for (const [slot, id] of m.funcs) {
      u32(slot, `program ${p.name} func_info insn_off`);
      u32(id, `program ${p.name} func_info type_id`);
    }
  }
  spec.btfForKernel();
  if (refused) throw refused;
}

export type Outcome =
  | { kind: 'parsed' }
  | { kind: 'typed'; stage: 'parse' | 'exercise'; error: string; message: string }
  | { kind: 'untyped'; stage: 'parse' | 'exercise'; error: unknown };

export function runInput(bytes: Buffer, name = 'fuzz'): Outcome {
  let spec: ObjectSpec;
  try {
    spec = ObjectSpec.parse(bytes, name);
  } catch (e) {
    if (e instanceof BpfUnitError) return { kind: 'typed', stage: 'parse', error: e.constructor.name, message: e.message };
    return { kind: 'untyped', stage: 'parse', error: e };
  }
  try {
    exercise(spec);
  } catch (e) {
    if (e instanceof BpfUnitError) return { kind: 'typed', stage: 'exercise', error: e.constructor.name, message: e.message };
    return { kind: 'untyped', stage: 'exercise', error: e };
  }
  return { kind: 'parsed' };
}

// ---------------------------------------------------------------------------------------------
// The loop and its figures.

export interface Failure {
  seed: number;
  index: number;
  file: string;
  mutations: string[];
  stage: 'parse' | 'exercise';
  error: string;
  message: string;
  stack: string;
  /** Inputs that failed with the same error at the same place (only the first is kept). */
  count: number;
}

export interface SlowInput {
  seed: number;
  index: number;
  file: string;
  ms: number;
  mutations: string[];
}

export interface FuzzReport {
  seed: number;
  inputs: number;
  /** Inputs are reproducible for the same corpus: `digest` tells whether it changed since. */
  corpus: { files: number; bytes: number; digest: string };
  /** Inputs that gave an object model (which then passed `exercise`). */
  parsed: number;
  /** Typed errors from ObjectSpec.parse, by class. */
  typed: Record<string, number>;
  /** Typed errors from the steps after parsing (marshal, btfForKernel), by class. */
  typedAfterParse: Record<string, number>;
  /** The first input behind each (class, message shape) of typedAfterParse: a model that parsed but
   * cannot load is worth a look even when the error is typed. */
  afterParseExamples: Failure[];
  untypedCount: number;
  /** One entry per distinct failure (error class and throwing source line). */
  untyped: Failure[];
  timeBoundMs: number;
  timeViolations: SlowInput[];
  slowest: SlowInput | undefined;
  /** The slowest unmutated corpus object, for comparison. */
  slowestOriginal: { file: string; ms: number } | undefined;
  elapsedMs: number;
  inputsPerSecond: number;
}

export interface FuzzOptions {
  /** Repository root holding build/; defaults to the parent of fuzz/. */
  root?: string;
  corpus?: CorpusEntry[];
  /** Written before each input: [index being run, inputs done]. A watchdog reads it. */
  progress?: Int32Array;
  /** How many re-timings decide a slow input (the smallest time counts). */
  retimes?: number;
}

export const ROOT = path.resolve(__dirname, '..');

function signature(e: unknown, stage: string): string {
  const err = e instanceof Error ? e : new Error(String(e));
  const frame = (err.stack ?? '').split('\n').find((l) => /\/src\//.test(l)) ?? '';
  return `${stage}|${err.name}|${frame.replace(/:\d+\)?$/, '').trim()}`;
}

/**
 * Runs `iterations` inputs. Every input is timed (parse plus exercise); one over `timeBoundMs`
 * is run again `retimes` times and counts as a violation only if every run is over, so a GC pause
 * or a busy machine does not fail the run while a super-linear input still does.
 */
export function fuzz(iterations: number, seed: number, timeBoundMs: number, opts: FuzzOptions = {}): FuzzReport {
  const corpus = opts.corpus ?? loadCorpus(opts.root ?? ROOT);
  const retimes = opts.retimes ?? 2;
  const report: FuzzReport = {
    seed, inputs: 0, corpus: { files: corpus.length, bytes: corpus.reduce((s, c) => s + c.bytes.length, 0), digest: corpusDigest(corpus) },
    parsed: 0, typed: {}, typedAfterParse: {}, afterParseExamples: [], untypedCount: 0, untyped: [], timeBoundMs, timeViolations: [],
    slowest: undefined, slowestOriginal: undefined, elapsedMs: 0, inputsPerSecond: 0,
  };
  const bySignature = new Map<string, Failure>();
  const afterParse = new Map<string, Failure>();
  // Parse every original once untimed, so compiling the parsers is not charged to the first inputs,
  // then time each original: the figure the bound should be read against.
  for (const c of corpus) runInput(c.bytes, c.name);
  for (const c of corpus) {
    const t0 = performance.now();
    runInput(c.bytes, c.name);
    const ms = performance.now() - t0;
    if (!report.slowestOriginal || ms > report.slowestOriginal.ms) report.slowestOriginal = { file: c.name, ms };
  }
  const started = performance.now();
  for (let index = 0; index < iterations; index++) {
    if (opts.progress) Atomics.store(opts.progress, 0, index);
    const input = generateInput(corpus, seed, index);
    let t0 = performance.now();
    const outcome = runInput(input.bytes, input.file);
    let ms = performance.now() - t0;
    if (ms > timeBoundMs) {
      for (let k = 0; k < retimes && ms > timeBoundMs; k++) {
        t0 = performance.now();
        runInput(input.bytes, input.file);
        ms = Math.min(ms, performance.now() - t0);
      }
    }
    const slow: SlowInput = { seed, index, file: input.file, ms, mutations: input.mutations };
    if (!report.slowest || ms > report.slowest.ms) report.slowest = slow;
    if (ms > timeBoundMs) report.timeViolations.push(slow);
    report.inputs++;
    switch (outcome.kind) {
      case 'parsed':
        report.parsed++;
        break;
      case 'typed': {
        const bucket = outcome.stage === 'parse' ? report.typed : report.typedAfterParse;
        bucket[outcome.error] = (bucket[outcome.error] ?? 0) + 1;
        if (outcome.stage === 'exercise') {
          // Messages differ in names and numbers only: group by what is left.
          const shape = `${outcome.error}|${outcome.message.replace(/'[^']*'|\d+/g, '#')}`;
          const seen = afterParse.get(shape);
          if (seen) seen.count++;
          else {
            const f: Failure = {
              seed, index, file: input.file, mutations: input.mutations, stage: 'exercise', error: outcome.error,
              message: outcome.message, stack: '', count: 1,
            };
            afterParse.set(shape, f);
            report.afterParseExamples.push(f);
          }
        }
        break;
      }
      case 'untyped': {
        report.untypedCount++;
        const key = signature(outcome.error, outcome.stage);
        const seen = bySignature.get(key);
        if (seen) {
          seen.count++;
          break;
        }
        const err = outcome.error instanceof Error ? outcome.error : new Error(String(outcome.error));
        const f: Failure = {
          seed, index, file: input.file, mutations: input.mutations, stage: outcome.stage, error: err.name,
          message: err.message, stack: err.stack ?? '', count: 1,
        };
        bySignature.set(key, f);
        report.untyped.push(f);
      }
    }
    if (opts.progress) Atomics.store(opts.progress, 1, index + 1);
  }
  report.elapsedMs = performance.now() - started;
  report.inputsPerSecond = report.inputs / (report.elapsedMs / 1000);
  return report;
}
