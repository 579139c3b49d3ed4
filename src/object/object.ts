// ObjectSpec: everything in a BPF ELF object that loading needs, linked and ready, with no
// syscalls. Programs carry their own copies of every subprogram they call.
import { basename } from 'node:path';
import { Btf } from '../btf/btf';
import { BtfExt, parseBtfExt } from '../btf/ext';
import { ElfFile, ElfRelocation, ElfSection, ElfSymbol, parseElf, SHF_EXECINSTR, SHT_PROGBITS, STB_LOCAL, STT_FUNC, SHN_UNDEF } from '../elf/elf';
import { ElfError, InputError, LinkError } from '../errors';
import {
  cloneAll, decode, Instruction, isJump, isPseudoCall, jumpOffset, LD_IMM64, PSEUDO_CALL, PSEUDO_FUNC, PSEUDO_MAP_FD, PSEUDO_MAP_VALUE, slots,
} from './insn';
import { btfMaps, dataSectionMaps, isDataSection, MapSpec } from './maps';
import { readObjectFile } from './file';
import { SectionKind, sectionKind } from './sections';

export interface ProgramSpec {
  name: string;
  section: string;
  /** Program type and attach type from the section name; undefined when no convention matches. */
  kind: SectionKind | undefined;
  license: string;
  /** The entry function followed by every subprogram it reaches. */
  instructions: Instruction[];
}

interface FunctionCode {
  name: string;
  section: ElfSection;
  start: number;
  instructions: Instruction[];
  global: boolean;
}

const R_BPF_64_64 = 1;
const R_BPF_64_32 = 10;

export class ObjectSpec {
  private constructor(
    readonly name: string,
    readonly elf: ElfFile,
    readonly btf: Btf | undefined,
    readonly btfExt: BtfExt | undefined,
    readonly programs: ProgramSpec[],
    readonly maps: MapSpec[],
  ) {}

  static fromFile(path: string): ObjectSpec {
    return ObjectSpec.parse(readObjectFile(path), basename(path));
  }

  static parse(bytes: Buffer, name = 'object'): ObjectSpec {
    const elf = parseElf(bytes);
    const btfSec = elf.sectionByName('.BTF');
    const btf = btfSec ? Btf.parse(btfSec.data) : undefined;
    const extSec = elf.sectionByName('.BTF.ext');
    const btfExt = extSec && btf ? parseBtfExt(extSec.data, btf) : undefined;
    if (elf.sectionByName('maps')) throw new LinkError('legacy "maps" section definitions are not supported: use BTF-defined maps in .maps');

    const declared = btfMaps(elf, btf);
    const maps = [...declared.map((m) => m.spec), ...dataSectionMaps(elf)];
    const functions = collectFunctions(elf, btfExt);
    resolveRelocations(elf, functions, declared);

    const license = licenseOf(elf);
    const programs: ProgramSpec[] = [];
    const byStart = new Map<Instruction, FunctionCode>();
    for (const f of functions.values()) byStart.set(f.instructions[0], f);
    const taken = new Set<FunctionCode>();
    for (const fn of functions.values()) {
      if (fn.section.name === '.text' || !fn.global) continue;
      programs.push({
        name: fn.name,
        section: fn.section.name,
        kind: sectionKind(fn.section.name),
        license,
        instructions: link(fn, byStart, taken),
      });
    }
    // Programs and maps are addressed (and their fds kept) by name: two of one name could not be.
    unique(programs, 'program');
    unique(maps, 'map');
    return new ObjectSpec(name, elf, btf, btfExt, programs, maps);
  }

  program(name: string): ProgramSpec {
    const p = this.programs.find((x) => x.name === name);
    if (!p) throw new InputError(`no program named '${name}' in ${this.name} (it has: ${this.programs.map((x) => x.name).join(', ') || 'none'})`);
    return p;
  }

  map(name: string): MapSpec {
    const m = this.maps.find((x) => x.name === name);
    if (!m) throw new InputError(`no map named '${name}' in ${this.name} (it has: ${this.maps.map((x) => x.name).join(', ') || 'none'})`);
    return m;
  }

  /** BTF bytes as the kernel accepts them: data section sizes and variable offsets filled in. */
  btfForKernel(): Buffer | undefined {
    if (!this.btf) return undefined;
    const sizes = new Map(this.elf.sections.map((s) => [s.name, s.size] as [string, number]));
    return this.btf.forKernel(sizes, (section, variable) => {
      const sec = this.elf.sectionByName(section);
      return sec && this.elf.symbolIn(sec.index, variable)?.value;
    });
  }
}

function unique(items: { name: string }[], what: string): void {
  const seen = new Set<string>();
  for (const { name } of items) {
    if (seen.has(name)) throw new LinkError(`two ${what}s are named '${name}'`);
    seen.add(name);
  }
}

function licenseOf(elf: ElfFile): string {
  const sec = elf.sectionByName('license');
  if (!sec) return '';
  const end = sec.data.indexOf(0);
  return sec.data.toString('latin1', 0, end < 0 ? sec.data.length : end);
}

function functionKey(section: number, slot: number): string {
  return `${section}:${slot}`;
}

/** Decodes every executable section and splits it into functions at its FUNC symbols. Functions
 * must not overlap, so the work (and the instructions held) stays linear in the section's size. */
function collectFunctions(elf: ElfFile, ext: BtfExt | undefined): Map<string, FunctionCode> {
  const out = new Map<string, FunctionCode>();
  const funcSyms = new Map<number, ElfSymbol[]>();
  for (const s of elf.symbols) {
    if (s.type !== STT_FUNC) continue;
    const list = funcSyms.get(s.section);
    if (list) list.push(s);
    else funcSyms.set(s.section, [s]);
  }
  for (const sec of elf.sections) {
    if (sec.type !== SHT_PROGBITS || (sec.flags & SHF_EXECINSTR) === 0n || sec.size === 0) continue;
    const where = `section ${sec.name}`;
    const insns = decode(sec.data, where);
    const totalSlots = sec.size / 8;
    // indexAt[slot]: the instruction starting at that slot, -1 inside an ld_imm64.
    const indexAt = new Int32Array(totalSlots).fill(-1);
    for (let k = 0, slot = 0; k < insns.length; slot += slots(insns[k]), k++) indexAt[slot] = k;
    const at = (slot: number) => (Number.isInteger(slot) && slot >= 0 && slot < totalSlots && indexAt[slot] >= 0 ? insns[indexAt[slot]] : undefined);
    for (const li of ext?.lineInfo.get(sec.name) ?? []) {
      const insn = at(li.insnOff);
      if (insn) insn.line = li;
    }
    for (const fi of ext?.funcInfo.get(sec.name) ?? []) {
      const insn = at(fi.insnOff);
      if (insn) insn.funcTypeId = fi.typeId;
    }
    let syms = funcSyms.get(sec.index) ?? [];
    if (syms.length === 0) {
      // Hand-written code without symbols: the whole section is one program.
      syms = [{ index: -1, name: sec.name.replace(/[^A-Za-z0-9_]/g, '_'), value: 0, size: sec.size, type: STT_FUNC, bind: 1, section: sec.index }];
    }
    // Stable: of symbols at one address (aliases) the last in the table names the function.
    syms = [...syms].sort((a, b) => a.value - b.value).filter((sym, k, all) => k + 1 === all.length || all[k + 1].value !== sym.value);
    let prev: { name: string; end: number } | undefined;
    syms.forEach((sym, k) => {
      if (sym.value % 8 !== 0 || sym.size % 8 !== 0 || sym.value + sym.size > sec.size) {
        throw new LinkError(`${where}: function ${sym.name} has a bad address or size`);
      }
      const start = sym.value / 8;
      // st_size 0 (hand-written or assembled code): the function runs to the next one.
      const end = sym.size ? start + sym.size / 8 : k + 1 < syms.length ? syms[k + 1].value / 8 : totalSlots;
      if (prev && start < prev.end) throw new LinkError(`${where}: function ${sym.name} overlaps function ${prev.name}`);
      if (!at(start)) throw new LinkError(`${where}: function ${sym.name} does not start on an instruction`);
      // The first instruction at or after `end` (an ld_imm64 cut by the end stays in this function).
      let last = end;
      while (last < totalSlots && indexAt[last] < 0) last++;
      const body = insns.slice(indexAt[start], last < totalSlots ? indexAt[last] : insns.length);
      for (let slot = start, k = 0; k < body.length; slot += slots(body[k]), k++) {
        const to = isJump(body[k]) ? slot + 1 + jumpOffset(body[k]) : start;
        if (to < start || to >= last) throw new LinkError(`${where}: a jump in ${sym.name} leaves the function`);
      }
      out.set(functionKey(sec.index, start), { name: sym.name, section: sec, start, instructions: body, global: sym.bind !== STB_LOCAL });
      prev = { name: sym.name, end };
    });
  }
  return out;
}

/** Turns relocations into symbolic references and call targets. */
function resolveRelocations(elf: ElfFile, functions: Map<string, FunctionCode>, declared: { spec: MapSpec; offset: number }[]): void {
  const mapsSec = elf.sectionByName('.maps');
  const mapAt = new Map<number, MapSpec>();
  for (const d of declared) if (!mapAt.has(d.offset)) mapAt.set(d.offset, d.spec);
  // Each section's relocations grouped by the slot they patch, so each function finds its own
  // without scanning its neighbours'.
  const relocsAt = new Map<number, Map<number, ElfRelocation[]>>();
  for (const [index, list] of elf.relocations) {
    const bySlot = new Map<number, ElfRelocation[]>();
    for (const r of list) {
      const slot = r.offset / 8;
      const group = bySlot.get(slot);
      if (group) group.push(r);
      else bySlot.set(slot, [r]);
    }
    relocsAt.set(index, bySlot);
  }
  const call = (insn: Instruction, sym: ElfSymbol, slot: number, where: string, caller: string) => {
    const callee = functions.get(functionKey(sym.section, slot));
    if (!callee) throw new LinkError(`${where}: ${caller} calls ${sym.name}, which does not start a function`);
    insn.target = callee.instructions[0];
  };
  for (const fn of functions.values()) {
    const sec = fn.section;
    const sectionRelocs = relocsAt.get(sec.index);
    let slot = fn.start;
    for (const insn of fn.instructions) {
      let handled = false;
      for (const r of sectionRelocs?.get(slot) ?? []) {
        const sym = r.symbol;
        if (sym.section === SHN_UNDEF) {
          throw new LinkError(`${sec.name}: ${fn.name} uses the unresolved symbol '${sym.name}' (externs and kconfig are not supported)`);
        }
        const target = elf.sections[sym.section];
        if (!target) throw new ElfError(`${sec.name}: relocation names symbol ${sym.name} in missing section ${sym.section}`);
        if (insn.opcode === LD_IMM64 && r.type === R_BPF_64_64) {
          if (mapsSec && sym.section === mapsSec.index) {
            const m = mapAt.get(sym.value + (sym.name === '.maps' || sym.name === '' ? insn.imm : 0));
            if (!m) throw new LinkError(`${sec.name}: ${fn.name} refers to ${sym.name}, which is not a map in .maps`);
            insn.src = PSEUDO_MAP_FD;
            insn.reference = { kind: 'map', map: m.name };
          } else if (isDataSection(target)) {
            // dataSectionMaps makes no map of an empty section, so there would be nothing to point at.
            if (target.size === 0) throw new LinkError(`${sec.name}: ${fn.name} refers to ${sym.name} in ${target.name}, which is empty`);
            insn.src = PSEUDO_MAP_VALUE;
            insn.reference = { kind: 'mapValue', map: target.name, offset: sym.value + insn.imm };
          } else if ((target.flags & SHF_EXECINSTR) !== 0n) {
            throw new LinkError(`${sec.name}: ${fn.name} takes the address of function ${sym.name}: callbacks are not supported`);
          } else {
            throw new LinkError(`${sec.name}: ${fn.name} refers to ${sym.name} in section ${target.name}, which is neither a map nor data`);
          }
        } else if (insn.src === PSEUDO_CALL && isPseudoCall(insn) && r.type === R_BPF_64_32) {
          call(insn, sym, sym.value / 8 + insn.imm + 1, sec.name, fn.name);
        } else {
          throw new LinkError(`${sec.name}: unsupported relocation type ${r.type} at instruction ${r.offset / 8} (symbol ${sym.name})`);
        }
        handled = true;
      }
      if (!handled) {
        // Calls inside one section need no relocation: imm is already relative.
        if (isPseudoCall(insn)) {
          const fake: ElfSymbol = { index: -1, name: `${sec.name}+${slot + insn.imm + 1}`, value: 0, size: 0, type: 0, bind: 0, section: sec.index };
          call(insn, fake, slot + insn.imm + 1, sec.name, fn.name);
        }
        if (insn.opcode === LD_IMM64 && insn.src === PSEUDO_FUNC) {
          throw new LinkError(`${sec.name}: ${fn.name} takes the address of a function: callbacks are not supported`);
        }
      }
      slot += slots(insn);
    }
  }
}

/**
 * The entry function followed by every function it reaches. The first program to reach a function
 * takes its instructions as decoded; later ones get copies, so an object whose functions each
 * belong to one program is linked without copying them. `byStart` maps the first instruction of
 * every function, and of every copy made, to the function; `taken` holds those given out.
 */
function link(entry: FunctionCode, byStart: Map<Instruction, FunctionCode>, taken: Set<FunctionCode>): Instruction[] {
  const order: FunctionCode[] = [entry];
  const seen = new Set(order);
  const calls: { from: FunctionCode; k: number; callee: FunctionCode }[] = [];
  for (let n = 0; n < order.length; n++) {
    const from = order[n];
    const list = from.instructions;
    for (let k = 0; k < list.length; k++) {
      const i = list[k];
      const callee = isPseudoCall(i) && i.target ? byStart.get(i.target) : undefined;
      if (!callee) continue;
      calls.push({ from, k, callee });
      if (!seen.has(callee)) {
        seen.add(callee);
        order.push(callee);
      }
    }
  }
  const own = new Map<FunctionCode, Instruction[]>();
  for (const f of order) {
    const list = taken.has(f) ? cloneAll(f.instructions) : f.instructions;
    taken.add(f);
    byStart.set(list[0], f);
    own.set(f, list);
  }
  // Every call goes to this program's own copy of its callee.
  for (const c of calls) own.get(c.from)![c.k].target = own.get(c.callee)![0];
  return order.flatMap((f) => own.get(f)!);
}
