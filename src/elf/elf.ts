// A reader for 64-bit little-endian ELF relocatable objects, the format clang emits for BPF.
// It only reads: section headers, the symbol table and relocation tables.
import { ElfError } from '../errors';
import { NulIndex } from './strings';

export const SHT_PROGBITS = 1;
export const SHT_SYMTAB = 2;
export const SHT_STRTAB = 3;
export const SHT_REL = 9;
export const SHT_NOBITS = 8;
export const SHF_WRITE = 0x1n;
export const SHF_EXECINSTR = 0x4n;
export const STT_NOTYPE = 0;
export const STT_OBJECT = 1;
export const STT_FUNC = 2;
export const STT_SECTION = 3;
export const STB_LOCAL = 0;
export const STB_GLOBAL = 1;
export const SHN_UNDEF = 0;
export const SHN_ABS = 0xfff1;
const EM_BPF = 247;
const ET_REL = 1;
const SHDR_SIZE = 64;
const SYM_SIZE = 24;
const REL_SIZE = 16;
/** SHT_NOBITS sections take no file bytes, so only this bounds the zero-filled buffers made for
 * them (all together): a header claiming gigabytes would otherwise be allocated, then copied into a
 * map's initial value. 16 MiB is far beyond the .bss of any BPF object. */
export const MAX_NOBITS_BYTES = 16 << 20;

export interface ElfSection {
  index: number;
  name: string;
  type: number;
  flags: bigint;
  size: number;
  link: number;
  info: number;
  /** The section's bytes; zero-filled for SHT_NOBITS (.bss). */
  data: Buffer;
}

export interface ElfSymbol {
  index: number;
  name: string;
  value: number;
  size: number;
  type: number;
  bind: number;
  section: number;
}

export interface ElfRelocation {
  /** Byte offset inside the section the relocation applies to. */
  offset: number;
  symbol: ElfSymbol;
  type: number;
}

export class ElfFile {
  // Name lookups are indexed once, on first use, so callers looking up every variable or map by
  // name stay linear in the object's size.
  private sectionIndex?: Map<string, ElfSection>;
  private symbolIndex?: Map<string, ElfSymbol>;

  constructor(
    readonly sections: ElfSection[],
    readonly symbols: ElfSymbol[],
    /** Relocations keyed by the index of the section they apply to. */
    readonly relocations: Map<number, ElfRelocation[]>,
  ) {}

  /** The first section with this name. */
  sectionByName(name: string): ElfSection | undefined {
    if (!this.sectionIndex) {
      this.sectionIndex = new Map();
      for (const s of this.sections) if (!this.sectionIndex.has(s.name)) this.sectionIndex.set(s.name, s);
    }
    return this.sectionIndex.get(name);
  }

  /** The first symbol with this name defined in section `section`. */
  symbolIn(section: number, name: string): ElfSymbol | undefined {
    if (!this.symbolIndex) {
      this.symbolIndex = new Map();
      for (const s of this.symbols) {
        const key = `${s.section}\0${s.name}`;
        if (!this.symbolIndex.has(key)) this.symbolIndex.set(key, s);
      }
    }
    return this.symbolIndex.get(`${section}\0${name}`);
  }
}

function need(buf: Buffer, offset: number, length: number, what: string): void {
  if (offset < 0 || length < 0 || offset + length > buf.length) {
    throw new ElfError(
      `${what} at bytes ${offset}..${offset + length} lies past the end of the ${buf.length}-byte file`,
    );
  }
}

function cString(buf: Buffer, nuls: NulIndex, offset: number, what: string): string {
  if (offset >= buf.length) throw new ElfError(`${what}: string offset ${offset} is out of range`);
  const end = nuls.end(offset);
  if (end < 0) throw new ElfError(`${what}: string at ${offset} is not NUL-terminated`);
  return buf.toString('latin1', offset, end);
}

function safeNumber(v: bigint, what: string): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new ElfError(`${what} ${v} is out of range`);
  return Number(v);
}

export function parseElf(file: Buffer): ElfFile {
  if (file.length < 64) throw new ElfError(`not an ELF object: ${file.length} bytes is shorter than an ELF header`);
  if (file.readUInt32BE(0) !== 0x7f454c46) throw new ElfError('not an ELF object: bad magic');
  if (file[4] !== 2) throw new ElfError('not a 64-bit ELF object (EI_CLASS is not ELFCLASS64)');
  if (file[5] !== 1) throw new ElfError('not a little-endian ELF object (big-endian BPF is not supported)');
  const type = file.readUInt16LE(16);
  const machine = file.readUInt16LE(18);
  if (machine !== EM_BPF) throw new ElfError(`not a BPF object: e_machine is ${machine}, expected ${EM_BPF} (EM_BPF)`);
  if (type !== ET_REL) throw new ElfError(`not a relocatable object: e_type is ${type}`);
  const shoff = safeNumber(file.readBigUInt64LE(40), 'section header offset');
  const shentsize = file.readUInt16LE(58);
  const shnum = file.readUInt16LE(60);
  const shstrndx = file.readUInt16LE(62);
  if (shentsize !== SHDR_SIZE) throw new ElfError(`unexpected section header size ${shentsize}`);
  need(file, shoff, shnum * SHDR_SIZE, 'section header table');
  if (shstrndx >= shnum) throw new ElfError(`section name table index ${shstrndx} is out of range`);

  const raw = [];
  let nobits = 0;
  for (let i = 0; i < shnum; i++) {
    const at = shoff + i * SHDR_SIZE;
    const s = {
      nameOff: file.readUInt32LE(at),
      type: file.readUInt32LE(at + 4),
      flags: file.readBigUInt64LE(at + 8),
      offset: safeNumber(file.readBigUInt64LE(at + 24), `section ${i} offset`),
      size: safeNumber(file.readBigUInt64LE(at + 32), `section ${i} size`),
      link: file.readUInt32LE(at + 40),
      info: file.readUInt32LE(at + 44),
    };
    if (s.type !== SHT_NOBITS) need(file, s.offset, s.size, `section ${i}`);
    if (s.type === SHT_NOBITS && (nobits += s.size) > MAX_NOBITS_BYTES) {
      throw new ElfError(`section ${i}: SHT_NOBITS sections total ${nobits} bytes, more than the ${MAX_NOBITS_BYTES} bpfunit allows`);
    }
    raw.push(s);
  }
  const shstr = raw[shstrndx];
  const names = file.subarray(shstr.offset, shstr.offset + shstr.size);
  const nameNuls = new NulIndex(names);
  const sections: ElfSection[] = raw.map((s, index) => ({
    index,
    name: index === 0 ? '' : cString(names, nameNuls, s.nameOff, `name of section ${index}`),
    type: s.type,
    flags: s.flags,
    size: s.size,
    link: s.link,
    info: s.info,
    data: s.type === SHT_NOBITS ? Buffer.alloc(s.size) : file.subarray(s.offset, s.offset + s.size),
  }));

  const symtab = sections.find((s) => s.type === SHT_SYMTAB);
  const symbols: ElfSymbol[] = [];
  if (symtab) {
    if (symtab.link >= sections.length) throw new ElfError('symbol table names a missing string table');
    const strs = sections[symtab.link].data;
    const strNuls = new NulIndex(strs);
    const count = Math.floor(symtab.size / SYM_SIZE);
    for (let i = 0; i < count; i++) {
      const at = i * SYM_SIZE;
      const info = symtab.data[at + 4];
      const sym: ElfSymbol = {
        index: i,
        name: cString(strs, strNuls, symtab.data.readUInt32LE(at), `name of symbol ${i}`),
        type: info & 0xf,
        bind: info >> 4,
        section: symtab.data.readUInt16LE(at + 6),
        value: safeNumber(symtab.data.readBigUInt64LE(at + 8), `value of symbol ${i}`),
        size: safeNumber(symtab.data.readBigUInt64LE(at + 16), `size of symbol ${i}`),
      };
      if (sym.type === STT_SECTION && sym.name === '' && sym.section < sections.length) {
        sym.name = sections[sym.section].name;
      }
      symbols.push(sym);
    }
  }

  const relocations = new Map<number, ElfRelocation[]>();
  for (const sec of sections) {
    if (sec.type !== SHT_REL) continue;
    if (sec.info >= sections.length) throw new ElfError(`relocation section ${sec.name} targets missing section ${sec.info}`);
    const list: ElfRelocation[] = [];
    for (let at = 0; at + REL_SIZE <= sec.size; at += REL_SIZE) {
      const info = sec.data.readBigUInt64LE(at + 8);
      const symIndex = Number(info >> 32n);
      const symbol = symbols[symIndex];
      if (!symbol) throw new ElfError(`relocation in ${sec.name} names missing symbol ${symIndex}`);
      list.push({ offset: safeNumber(sec.data.readBigUInt64LE(at), 'relocation offset'), symbol, type: Number(info & 0xffffffffn) });
    }
    relocations.set(sec.info, list);
  }
  return new ElfFile(sections, symbols, relocations);
}
