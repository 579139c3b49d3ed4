// ObjectSpec: everything in a BPF ELF object that loading needs, linked and ready, with no
// syscalls. Programs carry their own copies of every subprogram they call.
import { basename } from 'node:path';
import { Btf, BtfKind } from '../btf/btf';
import { BtfExt, parseBtfExt } from '../btf/ext';
import { CoreRelo, parseCoreRelos } from '../core/relos';
import { ElfFile, ElfRelocation, ElfSection, ElfSymbol, parseElf, SHF_EXECINSTR, SHT_PROGBITS, STB_LOCAL, STT_FUNC, SHN_UNDEF } from '../elf/elf';
import { ElfError, InputError, LinkError } from '../errors';
import {
  cloneAll, decode, Instruction, isJump, isPseudoCall, jumpOffset, KernelSymbolRef, LD_IMM64, PSEUDO_CALL, PSEUDO_FUNC, PSEUDO_MAP_FD, PSEUDO_MAP_VALUE, slots,
} from './insn';
import { btfWithExterns, describeExtern } from './externs';
import { KconfigExtern, kconfigExterns } from './kconfig';
import { BPF_F_MMAPABLE, BPF_F_RDONLY_PROG, btfMaps, dataSectionMaps, isDataSection, MapSpec, MapType } from './maps';
import { readObjectFile } from './file';
import { SectionKind, sectionKind, unsupportedSection } from './sections';
import { structOpsMaps, structOpsUse } from './struct-ops';

export interface ProgramSpec {
  name: string;
  section: string;
  /** Program type and attach type from the section name; undefined when no convention matches. */
  kind: SectionKind | undefined;
  license: string;
  /** BTF id of the function or typedef the program attaches to (fentry/, lsm/, tp_btf/...): in
   * vmlinux, or in the module named in `attachBtfObj`; filled by Collection.load from
   * `kind.attachTo`. */
  attachBtfId?: number;
  /** The module whose BTF holds the attach target, and the fd of that BTF the load passes
   * (attach_btf_obj_fd; open only while Collection.load runs). Absent: vmlinux. */
  attachBtfObj?: { module: string; fd: number };
  /** struct_ops programs: the map and member they are set to (kernel struct and member index
   * are resolved by Collection.load). */
  structOps?: { map: string; member: string };
  /** The entry function followed by every subprogram it reaches; empty when `error` is set. */
  instructions: Instruction[];
  /** Why this program cannot be loaded (an unsupported extern, relocation or function in the
   * code it reaches); thrown when it is asked for. Other programs of the object are unaffected. */
  error?: LinkError;
}

interface FunctionCode {
  name: string;
  section: ElfSection;
  start: number;
  instructions: Instruction[];
  global: boolean;
  /** The function each BPF-to-BPF call instruction calls, filled while resolving relocations. */
  calls: Map<Instruction, FunctionCode>;
  /** The first reason this function cannot be loaded; it fails every program that reaches it. */
  error?: LinkError;
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
    /** `__kconfig` externs, filled into the .kconfig map when the object loads. */
    readonly kconfig: KconfigExtern[],
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
    const kconfig = kconfigExterns(elf, btf);
    const maps = [...declared.map((m) => m.spec), ...dataSectionMaps(elf), ...kconfigMap(kconfig), ...structOpsMaps(elf, btf)];
    const coreRelos = extSec && btf ? parseCoreRelos(extSec.data, btf) : new Map<string, CoreRelo[]>();
    const functions = collectFunctions(elf, btfExt, coreRelos);
    resolveRelocations(elf, btf, functions, declared, kconfig);

    const license = licenseOf(elf);
    const programs: ProgramSpec[] = [];
    for (const fn of functions.values()) {
      if (fn.section.name === '.text' || !fn.global) continue;
      const linked = link(fn);
      const kind = sectionKind(fn.section.name);
      const use = kind?.type === 'STRUCT_OPS' ? structOpsUse(maps, fn.name) : undefined;
      const unsupported = unsupportedSection(fn.section.name);
      const error = linked.error ?? (use instanceof LinkError ? use : undefined)
        ?? (unsupported ? new LinkError(`program ${fn.name}: section '${fn.section.name}': ${unsupported}`) : undefined);
      programs.push({
        name: fn.name,
        section: fn.section.name,
        kind,
        license,
        instructions: error ? [] : linked.instructions,
        ...(use && !(use instanceof LinkError) && { structOps: use }),
        ...(error && { error }),
      });
    }
    // Programs and maps are addressed (and their fds kept) by name: two of one name could not be.
    unique(programs, 'program');
    unique(maps, 'map');
    return new ObjectSpec(name, elf, btf, btfExt, programs, maps, kconfig);
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
    const bytes = this.btf.forKernel(sizes, (section, variable) => {
      const sec = this.elf.sectionByName(section);
      const sym = sec && this.elf.symbols.find((s) => s.section === sec.index && s.name === variable);
      return sym?.value;
    });
    return btfWithExterns(this.btf, bytes);
  }
}

export const KCONFIG_MAP = '.kconfig';
/** Far above what kconfig values take (integers, and strings of a few dozen bytes): only corrupt
 * BTF lays out more. */
const KCONFIG_MAX = 1 << 20;

/** libbpf's .kconfig map: read-only to programs and frozen; its bytes depend on the kernel, so
 * Collection.load fills them. */
function kconfigMap(externs: KconfigExtern[]): MapSpec[] {
  if (externs.length === 0) return [];
  const size = externs.reduce((n, e) => Math.max(n, e.offset + e.size), 0);
  if (size > KCONFIG_MAX) throw new LinkError(`.kconfig: the externs' BTF lays out ${size} bytes, more than any kconfig values take (${KCONFIG_MAX})`);
  return [{
    name: KCONFIG_MAP, type: MapType.ARRAY, keySize: 4, valueSize: size, maxEntries: 1, flags: BPF_F_RDONLY_PROG | BPF_F_MMAPABLE,
    needsBtf: false,
    data: { section: KCONFIG_MAP, contents: Buffer.alloc(size), freeze: true },
  }];
}

/** A `__ksym` extern used the way libbpf resolves it (ld_imm64 of a variable, call of a
 * function); undefined for anything else, which stays an unsupported extern. */
function ksymOf(btf: Btf | undefined, sym: ElfSymbol, insn: Instruction, relocType: number): KernelSymbolRef | undefined {
  const sec = btf?.find(BtfKind.Datasec, '.ksyms');
  const t = sec?.vars?.map((v) => btf!.type(v.type)).find((x) => x.name === sym.name);
  if (!t) return undefined;
  const weak = sym.bind === STB_WEAK;
  if (t.kind === BtfKind.Func && isPseudoCall(insn) && relocType === R_BPF_64_32) {
    insn.src = PSEUDO_KFUNC_CALL;
    insn.imm = 0;
    return { name: sym.name, kind: 'kfunc', weak, type: t.type! };
  }
  if (t.kind === BtfKind.Var && insn.opcode === LD_IMM64 && relocType === R_BPF_64_64) {
    const typed = btf!.resolve(t.type!).kind !== BtfKind.Unknown; // `const void` externs are untyped
    insn.src = typed ? PSEUDO_BTF_ID : 0;
    return { name: sym.name, kind: typed ? 'typed' : 'untyped', weak, ...(typed ? { type: t.type! } : {}) };
  }
  return undefined;
}

function unique(items: { name: string }[], what: string): void {
  const seen = new Set<string>();
  for (const { name } of items) {
    if (seen.has(name)) throw new LinkError(`two ${what}s are named '${name}'`);
    seen.add(name);
  }
}

const STB_WEAK = 2;
const PSEUDO_BTF_ID = 3;
const PSEUDO_KFUNC_CALL = 2;

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
function collectFunctions(elf: ElfFile, ext: BtfExt | undefined, coreRelos: Map<string, CoreRelo[]>): Map<string, FunctionCode> {
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
    for (const r of coreRelos.get(sec.name) ?? []) {
      const insn = at(r.insnOff);
      if (!insn) throw new LinkError(`${where}: CO-RE relocation #${r.index} points at instruction ${r.insnOff}, which does not start an instruction`);
      insn.coreRelo = r;
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
      const fn: FunctionCode = {
        name: sym.name, section: sec, start: Math.floor(sym.value / 8), instructions: [], global: sym.bind !== STB_LOCAL, calls: new Map(),
      };
      out.set(functionKey(sec.index, fn.start), fn);
      // A broken function fails only the programs that reach it (as an error, when they load).
      const broken = (message: string) => {
        fn.error = new LinkError(`${where}: ${message}`);
      };
      if (sym.value % 8 !== 0 || sym.size % 8 !== 0 || sym.value + sym.size > sec.size) return broken(`function ${sym.name} has a bad address or size`);
      const start = fn.start;
      // st_size 0 (hand-written or assembled code): the function runs to the next one.
      const end = sym.size ? start + sym.size / 8 : k + 1 < syms.length ? syms[k + 1].value / 8 : totalSlots;
      if (prev && start < prev.end) return broken(`function ${sym.name} overlaps function ${prev.name}`);
      prev = { name: sym.name, end };
      if (!at(start)) return broken(`function ${sym.name} does not start on an instruction`);
      // The first instruction at or after `end` (an ld_imm64 cut by the end stays in this function).
      let last = end;
      while (last < totalSlots && indexAt[last] < 0) last++;
      fn.instructions = insns.slice(indexAt[start], last < totalSlots ? indexAt[last] : insns.length);
      for (let slot = start, j = 0; j < fn.instructions.length; slot += slots(fn.instructions[j]), j++) {
        const to = isJump(fn.instructions[j]) ? slot + 1 + jumpOffset(fn.instructions[j]) : start;
        if (to < start || to >= last) return broken(`a jump in ${sym.name} leaves the function`);
      }
    });
  }
  return out;
}

/** Turns relocations into symbolic references and call targets. */
function resolveRelocations(
  elf: ElfFile, btf: Btf | undefined, functions: Map<string, FunctionCode>, declared: { spec: MapSpec; offset: number }[], kconfig: KconfigExtern[],
): void {
  const mapAt = new Map<number, MapSpec>();
  for (const d of declared) if (!mapAt.has(d.offset)) mapAt.set(d.offset, d.spec);
  // Each section's relocations grouped by the slot they patch, so each function finds its own
  // without scanning its neighbours'.
  const relocsAt = new Map<number, Map<number, ElfRelocation[]>>();
  for (const [index, list] of elf.relocations) {
    const bySlot = new Map<number, ElfRelocation[]>();
    for (const r of list) {
      const group = bySlot.get(r.offset / 8);
      if (group) group.push(r);
      else bySlot.set(r.offset / 8, [r]);
    }
    relocsAt.set(index, bySlot);
  }
  for (const fn of functions.values()) {
    if (fn.error) continue;
    try {
      resolveFunction(elf, btf, fn, functions, { mapAt, relocs: relocsAt.get(fn.section.index) }, kconfig);
    } catch (e) {
      // Only this function (and the programs that reach it) is unusable; ElfErrors are a
      // malformed file and stay fatal.
      if (!(e instanceof LinkError)) throw e;
      fn.error = e;
    }
  }
}

function resolveFunction(
  elf: ElfFile, btf: Btf | undefined, fn: FunctionCode, functions: Map<string, FunctionCode>,
  index: { mapAt: Map<number, MapSpec>; relocs: Map<number, ElfRelocation[]> | undefined }, kconfig: KconfigExtern[],
): void {
  const mapsSec = elf.sectionByName('.maps');
  {
    const sec = fn.section;
    const bySlot = new Map<number, Instruction>();
    let at = fn.start;
    for (const i of fn.instructions) {
      bySlot.set(at, i);
      at += slots(i);
    }
    const handled = new Set<Instruction>();
    for (const [slot, insn] of bySlot) for (const r of index.relocs?.get(slot) ?? []) {
      const sym = r.symbol;
      const kc = sym.section === SHN_UNDEF ? kconfig.find((k) => k.name === sym.name) : undefined;
      if (kc && insn.opcode === LD_IMM64 && r.type === R_BPF_64_64) {
        if (kc.kind === 'unsupported') throw new LinkError(`${sec.name}: ${fn.name} uses the kconfig extern '${kc.name}', whose type is not one libbpf supports (bool, tristate, char, integer, char array)`);
        // libbpf points the load at the extern's slot in .kconfig; clang leaves the addend 0.
        insn.src = PSEUDO_MAP_VALUE;
        insn.reference = { kind: 'mapValue', map: KCONFIG_MAP, offset: kc.offset, extern: kc.name };
        handled.add(insn);
        continue;
      }
      const ks = sym.section === SHN_UNDEF ? ksymOf(btf, sym, insn, r.type) : undefined;
      if (ks) {
        insn.ksym = ks;
        handled.add(insn);
        continue;
      }
      if (sym.section === SHN_UNDEF) {
        const what = describeExtern(btf, sym.name);
        const why = what.startsWith('the extern symbol') ? 'only __kconfig and __ksym externs are resolved' : `not in an instruction and relocation (type ${r.type}) that refer to it`;
        throw new LinkError(`${sec.name}: ${fn.name} uses ${what}: ${why}`);
      }
      const target = elf.sections[sym.section];
      if (!target) throw new ElfError(`${sec.name}: relocation names symbol ${sym.name} in missing section ${sym.section}`);
      if (insn.opcode === LD_IMM64 && r.type === R_BPF_64_64) {
        if (mapsSec && sym.section === mapsSec.index) {
          const m = index.mapAt.get(sym.value + (sym.name === '.maps' || sym.name === '' ? insn.imm : 0));
          if (!m) throw new LinkError(`${sec.name}: ${fn.name} refers to ${sym.name}, which is not a map in .maps`);
          insn.src = PSEUDO_MAP_FD;
          insn.reference = { kind: 'map', map: m.name };
        } else if (isDataSection(target)) {
          // dataSectionMaps makes no map of an empty section, so there would be nothing to point at.
          if (target.size === 0) throw new LinkError(`${sec.name}: ${fn.name} refers to ${sym.name} in ${target.name}, which is empty`);
          insn.src = PSEUDO_MAP_VALUE;
          insn.reference = { kind: 'mapValue', map: target.name, offset: sym.value + insn.imm };
        } else if ((target.flags & SHF_EXECINSTR) !== 0n) {
          // A callback: a global function's symbol carries its offset, a static one's the
          // section symbol with the offset in imm (bytes).
          const at = sym.value + insn.imm;
          if (at % 8 !== 0) throw new LinkError(`${sec.name}: ${fn.name} takes the address ${sym.name}+${at}, which is not an instruction`);
          insn.src = PSEUDO_FUNC;
          insn.imm = 0;
          insn.target = callee(fn, insn, functions, sym, at / 8);
        } else {
          throw new LinkError(`${sec.name}: ${fn.name} refers to ${sym.name} in section ${target.name}, which is neither a map nor data`);
        }
      } else if (insn.src === PSEUDO_CALL && isPseudoCall(insn) && r.type === R_BPF_64_32) {
        insn.target = callee(fn, insn, functions, sym, sym.value / 8 + insn.imm + 1);
      } else {
        throw new LinkError(`${sec.name}: unsupported relocation type ${r.type} at instruction ${r.offset / 8} (symbol ${sym.name})`);
      }
      handled.add(insn);
    }
    // Calls inside one section need no relocation: imm is already relative.
    for (const [slot, insn] of bySlot) {
      if (isPseudoCall(insn) && !handled.has(insn)) {
        const fake: ElfSymbol = { index: -1, name: `${sec.name}+${slot + insn.imm + 1}`, value: 0, size: 0, type: 0, bind: 0, section: sec.index };
        insn.target = callee(fn, insn, functions, fake, slot + insn.imm + 1);
      }
      if (insn.opcode === LD_IMM64 && insn.src === PSEUDO_FUNC && !handled.has(insn)) {
        throw new LinkError(`${sec.name}: ${fn.name} takes the address of a function without a relocation naming it`);
      }
    }
  }
}

/** Records a BPF-to-BPF call from `caller` and returns the callee's first instruction (undefined
 * for a callee that is itself broken: its error fails the caller's programs at link time). */
function callee(caller: FunctionCode, call: Instruction, functions: Map<string, FunctionCode>, sym: ElfSymbol, slot: number): Instruction | undefined {
  const fn = functions.get(functionKey(sym.section, slot));
  if (!fn) throw new LinkError(`${caller.section.name}: ${caller.name} calls ${sym.name}, which does not start a function`);
  caller.calls.set(call, fn);
  return fn.instructions[0];
}

/** The entry function followed by every function it reaches (called or passed as a callback),
 * cloned for this program; or the error of the first of them that cannot be loaded. Functions
 * are appended depth-first in instruction order, as libbpf does: the program tag depends on it. */
function link(entry: FunctionCode): { instructions: Instruction[]; error?: LinkError } {
  const order: FunctionCode[] = [entry];
  const seen = new Set(order);
  const stack = [{ fn: entry, next: 0 }];
  while (stack.length > 0) {
    const top = stack[stack.length - 1];
    if (top.fn.error) {
      const error = top.fn === entry ? top.fn.error : new LinkError(`${entry.name} calls ${top.fn.name}, which cannot be loaded: ${top.fn.error.message}`);
      return { instructions: [], error };
    }
    if (top.next >= top.fn.instructions.length) {
      stack.pop();
      continue;
    }
    const c = top.fn.calls.get(top.fn.instructions[top.next++]);
    if (c && !seen.has(c)) {
      seen.add(c);
      order.push(c);
      stack.push({ fn: c, next: 0 });
    }
  }
  return { instructions: cloneAll(order.flatMap((f) => f.instructions)) };
}

