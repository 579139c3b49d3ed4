// `__ksym` externs, resolved against the running kernel as libbpf resolves them: untyped
// variables to their address in /proc/kallsyms, typed
// variables and kfuncs to their BTF ids in vmlinux, else in a loaded module's BTF (a kfunc call
// then names the module's BTF by its fd_array index, a typed variable by the fd itself), once
// their declared type is found to fit the kernel's (libbpf's check: the kernel has no copy of
// the declaration, so checks calls against its own prototype only). A weak
// symbol the kernel lacks becomes 0 (a kfunc call with id 0, which the verifier accepts only in
// code it can prove dead); a strong one fails the program that uses it.
import { readFileSync } from 'node:fs';
import { Btf, BtfKind } from '../btf/btf';
import { fdArray, fdArraySlots, findKernelSymbol, SymbolSite, typeMismatch } from '../btf/kernel-symbols';
import { LinkError } from '../errors';
import { cloneAll, Instruction, KernelSymbolRef } from '../object/insn';
import type { ProgramSpec } from '../object/object';
import { ModuleBtfs, OpenModuleBtf, vmlinuxBtf } from './kernel-btf';

let kallsyms: Map<string, bigint> | undefined;

function kernelAddresses(): Map<string, bigint> {
  if (!kallsyms) {
    kallsyms = new Map();
    for (const line of readFileSync('/proc/kallsyms', 'latin1').split('\n')) {
      const [addr, , name] = line.split(/\s+/);
      if (name && !kallsyms.has(name)) kallsyms.set(name, BigInt('0x' + addr));
    }
  }
  return kallsyms;
}

const WHAT = { untyped: 'kernel symbol (in /proc/kallsyms)', typed: 'kernel variable (in BTF)', kfunc: 'kfunc (in BTF)' };

/**
 * The kernel symbols of one load. Module BTF is searched only when vmlinux lacks a symbol; its fds
 * must stay open until the programs are loaded: close() then.
 */
export class KernelSymbols {
  private slots = new Map<OpenModuleBtf, number>();

  constructor(private readonly modules: ModuleBtfs = new ModuleBtfs()) {}

  private site(ref: KernelSymbolRef): SymbolSite<OpenModuleBtf> | undefined {
    const kind = ref.kind === 'kfunc' ? BtfKind.Func : BtfKind.Var;
    return findKernelSymbol(vmlinuxBtf('typed __ksym externs and kfuncs'), () => this.modules.list, kind, ref.name);
  }

  /** Numbers the fd_array slots of the module BTFs the object's kfuncs are in, over all of its
   * programs (libbpf resolves every extern of an object, loaded or not). */
  planFdArray(programs: ProgramSpec[]): void {
    const kfuncs = programs.flatMap((p) => p.instructions.flatMap((i) => (i.ksym?.kind === 'kfunc' ? [i.ksym] : [])));
    const byName = new Map(kfuncs.map((k) => [k.name, k]));
    this.slots = fdArraySlots(byName.keys(), (name) => this.site(byName.get(name)!));
  }

  /** What BPF_PROG_LOAD takes as fd_array: undefined when no kfunc is in a module. */
  fdArray(): number[] | undefined {
    return fdArray(this.slots, (m) => m.fd);
  }

  /** The program with every `__ksym` instruction filled in; a copy when it has any. `local` is
   * the object's BTF, which declares its typed symbols and kfuncs. */
  resolve(p: ProgramSpec, local: Btf | undefined): ProgramSpec {
    if (!p.instructions.some((i) => i.ksym)) return p;
    const instructions = cloneAll(p.instructions);
    for (const insn of instructions) {
      const ref = insn.ksym;
      if (!ref) continue;
      if (ref.kind === 'untyped') {
        const addr = kernelAddresses().get(ref.name);
        // Without privileges kallsyms shows zeros, which would silently make every address 0.
        if (addr === 0n) throw new LinkError(`__ksym '${ref.name}': /proc/kallsyms shows no addresses (kptr_restrict, or not root)`);
        if (addr === undefined && !ref.weak) throw this.missing(p, ref);
        setConstant(insn, addr ?? 0n);
      } else {
        const site = this.site(ref);
        if (!site && !ref.weak) throw this.missing(p, ref);
        if (site) this.checkType(p, ref, site, local);
        this.fill(insn, ref, site);
      }
      delete insn.ksym;
    }
    return { ...p, instructions };
  }

  private fill(insn: Instruction, ref: KernelSymbolRef, site: SymbolSite<OpenModuleBtf> | undefined): void {
    if (ref.kind === 'kfunc') {
      insn.imm = site?.id ?? 0;
      const slot = site?.module ? this.slots.get(site.module) : 0;
      if (slot === undefined) throw new Error(`bpfunit bug: kfunc '${ref.name}' is in module ${site!.module!.name}, which planFdArray gave no slot`);
      insn.off = slot; // 0: vmlinux (or an absent weak kfunc)
    } else if (site) {
      insn.imm = site.id;
      insn.imm2 = site.module?.fd ?? 0; // 0: vmlinux BTF
    } else {
      setConstant(insn, 0n); // an absent weak typed variable: a plain 0, as untyped ones
    }
  }

  /** libbpf 1.1 refuses a declaration that does not fit the kernel's, weak or not (1.3 and
   * later treat a weak kfunc that does not fit as absent). */
  private checkType(p: ProgramSpec, ref: KernelSymbolRef, site: SymbolSite<OpenModuleBtf>, local: Btf | undefined): void {
    if (!local || ref.type === undefined) throw new Error(`bpfunit bug: the ${WHAT[ref.kind]} '${ref.name}' has no local BTF type`);
    const kernel = site.module?.btf ?? vmlinuxBtf('typed __ksym externs and kfuncs');
    const wrong = typeMismatch(local, ref.type, kernel, site.id);
    if (!wrong) return;
    const where = site.module ? `${site.module.name}'s BTF` : 'vmlinux BTF';
    throw new LinkError(`program ${p.name}: the ${WHAT[ref.kind]} '${ref.name}' is declared as \`${wrong.local}\` here but is \`${wrong.kernel}\` in ${where}, `
      + `and libbpf refuses a declaration that does not fit the kernel's${ref.weak ? ', __weak or not' : ''}`);
  }

  private missing(p: ProgramSpec, ref: KernelSymbolRef): LinkError {
    if (ref.kind === 'untyped') return new LinkError(`program ${p.name}: the ${WHAT[ref.kind]} '${ref.name}' does not exist on this kernel`);
    return new LinkError(`program ${p.name}: the ${WHAT[ref.kind]} '${ref.name}' does not exist on this kernel (${this.modules.notFound()})`);
  }

  /** Closes the module BTF fds: after the programs are loaded (the kernel holds its own refs). */
  close(): void {
    this.modules.close();
    this.slots = new Map();
  }
}

/** An address (or 0 for an absent weak symbol) as a plain 64-bit constant. */
function setConstant(insn: Instruction, addr: bigint): void {
  insn.src = 0;
  insn.imm = Number(addr & 0xffffffffn) | 0;
  insn.imm2 = Number(addr >> 32n) | 0;
}
