// `__ksym` externs and the attach targets of tracing sections, resolved against the running
// kernel as libbpf resolves them: untyped
// variables to their address in /proc/kallsyms, typed variables and kfuncs to their BTF ids in
// /sys/kernel/btf/vmlinux (module BTF is not searched). A weak symbol the kernel lacks becomes
// 0 (a kfunc call with id 0, which the verifier accepts only in code it can prove dead); a
// strong one fails the program that uses it.
import { readFileSync } from 'node:fs';
import { Btf, BtfKind } from '../btf/btf';
import { LinkError } from '../errors';
import { cloneAll, Instruction, KernelSymbolRef } from '../object/insn';
import type { ProgramSpec } from '../object/object';

let kallsyms: Map<string, bigint> | undefined;
type VmlinuxIds = { vars: Map<string, number>; funcs: Map<string, number>; typedefs: Map<string, number> };
let vmlinux: VmlinuxIds | undefined;

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

function vmlinuxIds(): VmlinuxIds {
  if (!vmlinux) {
    let bytes: Buffer;
    try {
      bytes = readFileSync('/sys/kernel/btf/vmlinux');
    } catch (e) {
      throw new LinkError(`typed __ksym externs and kfuncs need the kernel's BTF: ${(e as Error).message}`);
    }
    const btf = Btf.parse(bytes);
    vmlinux = { vars: new Map(), funcs: new Map(), typedefs: new Map() };
    const index = { [BtfKind.Var]: vmlinux.vars, [BtfKind.Func]: vmlinux.funcs, [BtfKind.Typedef]: vmlinux.typedefs } as Partial<Record<BtfKind, Map<string, number>>>;
    for (const t of btf.types) {
      const m = index[t.kind];
      if (m && !m.has(t.name)) m.set(t.name, t.id);
    }
  }
  return vmlinux;
}

/** The value an instruction gets for `ref`, or undefined when the kernel has no such symbol. */
function lookup(ref: KernelSymbolRef): bigint | number | undefined {
  switch (ref.kind) {
    case 'untyped': {
      const addr = kernelAddresses().get(ref.name);
      // Without privileges kallsyms shows zeros, which would silently make every address 0.
      if (addr === 0n) throw new LinkError(`__ksym '${ref.name}': /proc/kallsyms shows no addresses (kptr_restrict, or not root)`);
      return addr;
    }
    case 'typed': return vmlinuxIds().vars.get(ref.name);
    case 'kfunc': return vmlinuxIds().funcs.get(ref.name);
  }
}

const WHAT = { untyped: 'kernel symbol (in /proc/kallsyms)', typed: 'kernel variable (in vmlinux BTF)', kfunc: 'kfunc (in vmlinux BTF)' };

/** The program with every `__ksym` instruction filled in; a copy when it has any. */
export function resolveKernelSymbols(p: ProgramSpec): ProgramSpec {
  if (!p.instructions.some((i) => i.ksym)) return p;
  const instructions = cloneAll(p.instructions);
  for (const insn of instructions) {
    const ref = insn.ksym;
    if (!ref) continue;
    const found = lookup(ref);
    if (found === undefined && !ref.weak) {
      throw new LinkError(`program ${p.name}: the ${WHAT[ref.kind]} '${ref.name}' does not exist on this kernel (module BTF is not searched)`);
    }
    fill(insn, ref, found);
    delete insn.ksym;
  }
  return { ...p, instructions };
}

function fill(insn: Instruction, ref: KernelSymbolRef, found: bigint | number | undefined): void {
  if (ref.kind === 'kfunc') {
    insn.imm = (found as number | undefined) ?? 0;
    insn.off = 0; // vmlinux: no fd_array slot
  } else if (ref.kind === 'typed' && found !== undefined) {
    insn.imm = found as number;
    insn.imm2 = 0; // vmlinux BTF
  } else {
    // An address (or 0 for an absent weak symbol, typed or not) as a plain 64-bit constant.
    const addr = BigInt(found ?? 0);
    insn.src = 0;
    insn.imm = Number(addr & 0xffffffffn) | 0;
    insn.imm2 = Number(addr >> 32n) | 0;
  }
}

/** The program with the vmlinux BTF id of what its section attaches to (fentry/, lsm/, iter/,
 * tp_btf/...), which the kernel needs at load; unchanged for other sections. */
export function resolveAttachTarget(p: ProgramSpec): ProgramSpec {
  const to = p.kind?.attachTo;
  if (!to) return p;
  const ids = vmlinuxIds();
  const id = (to.kind === 'func' ? ids.funcs : ids.typedefs).get(to.name);
  if (id === undefined) {
    throw new LinkError(`program ${p.name}: section '${p.section}' attaches to ${to.kind === 'func' ? 'function' : 'typedef'} '${to.name}', which vmlinux BTF does not have (module BTF is not searched)`);
  }
  return { ...p, attachBtfId: id };
}
