// Kernel requirements a spec can state: a helper a program type may call (probed by loading a
// two-instruction program that calls it), a kfunc in the kernel's BTF or a minimum kernel version. A spec states what happens
// on kernels that lack the feature (the verifier's refusal) as well as on those that have it,
// so a kernel matrix shows the difference as two passing expectations, never as a silent skip.
import { readFileSync } from 'fs';
import os from 'os';
import { InputError, VerifierError } from '../errors';
import { Class, Instruction, OP_CALL, OP_EXIT, ALU_MOV } from '../object/insn';
import type { ProgramSpec } from '../object/object';
import { sectionKind } from '../object/sections';
import { BtfKind } from '../btf/btf';
import { findKernelSymbol } from '../btf/kernel-symbols';
import { closeFd } from '../sys/bpf';
import { openModuleBtfs, vmlinuxBtf } from './kernel-btf';
import { Program } from './program';

export type Requirement =
  /** The helper (bpf_helper_defs.h name) may be called from programs of `section`'s type. */
  | { helper: string; section: string }
  /** The running kernel's version is at least this (major.minor[.patch]). */
  | { kernel: string }
  /** The kernel's BTF (vmlinux, or a loaded module's) has this kfunc. */
  | { kfunc: string }
  /** Anything else a spec can probe: `probe` says whether this kernel has `feature` (a phrase). */
  | { feature: string; probe: () => boolean };

/** libbpf's helper declarations: the ids the BPF C code is compiled against. */
const HELPER_DEFS = '/usr/include/bpf/bpf_helper_defs.h';
let helperIds: Map<string, number> | undefined;

export function helperId(name: string): number {
  if (!helperIds) {
    helperIds = new Map();
    for (const m of readFileSync(HELPER_DEFS, 'utf8').matchAll(/\(\s*\*\s*(bpf_\w+)\)\([^;]*?\)\s*=\s*\(void \*\)\s*(\d+);/g)) helperIds.set(m[1], Number(m[2]));
  }
  const id = helperIds.get(name);
  if (id === undefined) throw new InputError(`no helper named '${name}' in ${HELPER_DEFS}`);
  return id;
}

/** The verifier's ways of refusing a helper: unknown to this kernel (6.1 words it "unknown
 * func"), or known but not allowed for the program type ("cannot use helper"). */
export function helperRefusal(helper: string): RegExp {
  return new RegExp(`(unknown func|invalid func|cannot use helper|cannot call helper) ${helper}#`);
}

function versionParts(v: string): number[] {
  return (/^(\d+)\.(\d+)(?:\.(\d+))?/.exec(v) ?? []).slice(1).map((x) => Number(x ?? 0));
}

function atLeast(have: string, want: string): boolean {
  const [a, b] = [versionParts(have), versionParts(want)];
  if (b.length !== 3 || b.some(Number.isNaN)) throw new InputError(`a kernel version is major.minor[.patch], got '${want}'`);
  for (let i = 0; i < 3; i++) if (a[i] !== b[i]) return a[i] > b[i];
  return true;
}

const probed = new Map<string, boolean>();

/** Loads `call helper; r0 = 0; exit` as a program of the section's type: the verifier checks the
 * helper against the type before it looks at the arguments, so only those refusals mean absent. */
function probeHelper(helper: string, section: string): boolean {
  const key = `${section} ${helper}`;
  const known = probed.get(key);
  if (known !== undefined) return known;
  const kind = sectionKind(section);
  if (!kind) throw new InputError(`requirement: '${section}' names no known program type`);
  const insn = (opcode: number, dst: number, imm: number): Instruction => ({ opcode, dst, src: 0, off: 0, imm });
  const spec: ProgramSpec = {
    name: 'probe_helper',
    section,
    kind,
    license: 'GPL',
    instructions: [insn(Class.JMP | OP_CALL, 0, helperId(helper)), insn(Class.ALU64 | ALU_MOV, 0, 0), insn(Class.JMP | OP_EXIT, 0, 0)],
  };
  let present: boolean;
  try {
    Program.load(spec, { mapFd: () => -1 }).close();
    present = true;
  } catch (e) {
    if (!(e instanceof VerifierError)) throw e;
    present = !helperRefusal(helper).test(e.log);
  }
  probed.set(key, present);
  return present;
}

/** Whether vmlinux or a loaded module has the kfunc in its BTF (module fds closed again). */
function hasKfunc(name: string): boolean {
  let modules: ReturnType<typeof openModuleBtfs> = [];
  try {
    return findKernelSymbol(vmlinuxBtf(), () => (modules = openModuleBtfs()), BtfKind.Func, name) !== undefined;
  } finally {
    for (const m of modules) closeFd(m.fd);
  }
}

/** Whether the running kernel meets the requirement. */
export function kernelMeets(req: Requirement): boolean {
  if ('feature' in req) return req.probe();
  if ('kfunc' in req) return hasKfunc(req.kfunc);
  return 'kernel' in req ? atLeast(os.release(), req.kernel) : probeHelper(req.helper, req.section);
}

export function describeRequirement(req: Requirement): string {
  if ('feature' in req) return req.feature;
  if ('kfunc' in req) return `kfunc ${req.kfunc}`;
  return 'kernel' in req ? `kernel >= ${req.kernel}` : `${req.helper} in ${req.section} programs`;
}
