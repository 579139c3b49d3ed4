// ObjectSpec: everything in a BPF ELF object that loading needs, linked and ready, with no
// syscalls. Programs carry their own copies of every subprogram they call.
import { basename } from 'node:path';
import { Btf } from '../btf/btf';
import { BtfExt, parseBtfExt } from '../btf/ext';
import { ElfFile, ElfSection, ElfSymbol, parseElf, SHF_EXECINSTR, SHT_PROGBITS, STB_LOCAL, STT_FUNC, SHN_UNDEF } from '../elf/elf';
import { ElfError, InputError, LinkError } from '../errors';
import {
  cloneAll, decode, Instruction, isPseudoCall, LD_IMM64, PSEUDO_CALL, PSEUDO_FUNC, PSEUDO_MAP_FD, PSEUDO_MAP_VALUE, slots,
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
    for (const fn of functions.values()) {
      if (fn.section.name === '.text' || !fn.global) continue;
      programs.push({
        name: fn.name,
        section: fn.section.name,
        kind: sectionKind(fn.section.name),
        license,
        instructions: link(fn, functions),
      });
    }
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
      const sym = sec && this.elf.symbols.find((s) => s.section === sec.index && s.name === variable);
      return sym?.value;
    });
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

/** Decodes every executable section and splits it into functions at its FUNC symbols. */
function collectFunctions(elf: ElfFile, ext: BtfExt | undefined): Map<string, FunctionCode> {
  const out = new Map<string, FunctionCode>();
  for (const sec of elf.sections) {
    if (sec.type !== SHT_PROGBITS || (sec.flags & SHF_EXECINSTR) === 0n || sec.size === 0) continue;
    const where = `section ${sec.name}`;
    const insns = decode(sec.data, where);
    const bySlot = new Map<number, Instruction>();
    let slot = 0;
    for (const i of insns) {
      bySlot.set(slot, i);
      slot += slots(i);
    }
    for (const li of ext?.lineInfo.get(sec.name) ?? []) {
      const insn = bySlot.get(li.insnOff);
      if (insn) insn.line = li;
    }
    for (const fi of ext?.funcInfo.get(sec.name) ?? []) {
      const insn = bySlot.get(fi.insnOff);
      if (insn) insn.funcTypeId = fi.typeId;
    }
    let syms = elf.symbols.filter((s) => s.section === sec.index && s.type === STT_FUNC);
    if (syms.length === 0) {
      // Hand-written code without symbols: the whole section is one program.
      syms = [{ index: -1, name: sec.name.replace(/[^A-Za-z0-9_]/g, '_'), value: 0, size: sec.size, type: STT_FUNC, bind: 1, section: sec.index }];
    }
    syms.sort((a, b) => a.value - b.value);
    for (const sym of syms) {
      if (sym.value % 8 !== 0 || sym.size % 8 !== 0 || sym.value + sym.size > sec.size) {
        throw new LinkError(`${where}: function ${sym.name} has a bad address or size`);
      }
      const start = sym.value / 8;
      const end = start + (sym.size || sec.size - sym.value) / 8;
      const body = insns.filter((_, k) => {
        const s = slotOf(insns, k);
        return s >= start && s < end;
      });
      if (body.length === 0 || !bySlot.has(start)) throw new LinkError(`${where}: function ${sym.name} does not start on an instruction`);
      const members = new Set(body);
      for (const i of body) {
        if (i.target && !isPseudoCall(i) && !members.has(i.target)) {
          throw new LinkError(`${where}: a jump in ${sym.name} leaves the function`);
        }
      }
      out.set(functionKey(sec.index, start), { name: sym.name, section: sec, start, instructions: body, global: sym.bind !== STB_LOCAL });
    }
  }
  return out;
}

const slotCache = new WeakMap<Instruction[], number[]>();
function slotOf(list: Instruction[], k: number): number {
  let table = slotCache.get(list);
  if (!table) {
    table = [];
    let s = 0;
    for (const i of list) {
      table.push(s);
      s += slots(i);
    }
    slotCache.set(list, table);
  }
  return table[k];
}

/** Turns relocations into symbolic references and call targets. */
function resolveRelocations(elf: ElfFile, functions: Map<string, FunctionCode>, declared: { spec: MapSpec; offset: number }[]): void {
  const mapsSec = elf.sectionByName('.maps');
  for (const fn of functions.values()) {
    const sec = fn.section;
    const relocs = elf.relocations.get(sec.index) ?? [];
    const bySlot = new Map<number, Instruction>();
    let at = fn.start;
    for (const i of fn.instructions) {
      bySlot.set(at, i);
      at += slots(i);
    }
    const handled = new Set<Instruction>();
    for (const r of relocs) {
      const insn = bySlot.get(r.offset / 8);
      if (!insn) continue; // belongs to another function of this section
      const sym = r.symbol;
      if (sym.section === SHN_UNDEF) {
        throw new LinkError(`${sec.name}: ${fn.name} uses the unresolved symbol '${sym.name}' (externs and kconfig are not supported)`);
      }
      const target = elf.sections[sym.section];
      if (!target) throw new ElfError(`${sec.name}: relocation names symbol ${sym.name} in missing section ${sym.section}`);
      if (insn.opcode === LD_IMM64 && r.type === R_BPF_64_64) {
        if (mapsSec && sym.section === mapsSec.index) {
          const m = declared.find((d) => d.offset === sym.value + (sym.name === '.maps' || sym.name === '' ? insn.imm : 0));
          if (!m) throw new LinkError(`${sec.name}: ${fn.name} refers to ${sym.name}, which is not a map in .maps`);
          insn.src = PSEUDO_MAP_FD;
          insn.reference = { kind: 'map', map: m.spec.name };
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
        insn.target = calleeStart(functions, sym, sym.value / 8 + insn.imm + 1, sec.name, fn.name);
      } else {
        throw new LinkError(`${sec.name}: unsupported relocation type ${r.type} at instruction ${r.offset / 8} (symbol ${sym.name})`);
      }
      handled.add(insn);
    }
    // Calls inside one section need no relocation: imm is already relative.
    for (const [slot, insn] of bySlot) {
      if (isPseudoCall(insn) && !handled.has(insn)) {
        const fake: ElfSymbol = { index: -1, name: `${sec.name}+${slot + insn.imm + 1}`, value: 0, size: 0, type: 0, bind: 0, section: sec.index };
        insn.target = calleeStart(functions, fake, slot + insn.imm + 1, sec.name, fn.name);
      }
      if (insn.opcode === LD_IMM64 && insn.src === PSEUDO_FUNC && !handled.has(insn)) {
        throw new LinkError(`${sec.name}: ${fn.name} takes the address of a function: callbacks are not supported`);
      }
    }
  }
}

function calleeStart(functions: Map<string, FunctionCode>, sym: ElfSymbol, slot: number, where: string, caller: string): Instruction {
  const callee = functions.get(functionKey(sym.section, slot));
  if (!callee) throw new LinkError(`${where}: ${caller} calls ${sym.name}, which does not start a function`);
  return callee.instructions[0];
}

/** The entry function followed by every function it reaches, cloned for this program. */
function link(entry: FunctionCode, functions: Map<string, FunctionCode>): Instruction[] {
  const byStart = new Map<Instruction, FunctionCode>();
  for (const f of functions.values()) byStart.set(f.instructions[0], f);
  const order: FunctionCode[] = [entry];
  const seen = new Set(order);
  for (let k = 0; k < order.length; k++) {
    for (const i of order[k].instructions) {
      if (!isPseudoCall(i) || !i.target) continue;
      const callee = byStart.get(i.target)!;
      if (!seen.has(callee)) {
        seen.add(callee);
        order.push(callee);
      }
    }
  }
  return cloneAll(order.flatMap((f) => f.instructions));
}
