// What libbpf's kconfig externs need to know about the running kernel: its release, its config
// (/boot/config-<release>, else /proc/config.gz), whether kprobes on syscalls go through wrappers and
// whether bpf_get_attach_cookie exists. Each fact is read once per process, and only when an
// object asks for it.
import { existsSync, readFileSync } from 'node:fs';
import { release } from 'node:os';
import { gunzipSync } from 'node:zlib';
import type { KernelFacts } from '../object/kconfig';
import { sectionKind } from '../object/sections';
import { Program } from './program';

let config: { text: string | undefined } | undefined;
let syscallWrapper: boolean | undefined;
let bpfCookie: boolean | undefined;

function readConfig(): string | undefined {
  for (const path of [`/boot/config-${release()}`, '/proc/config.gz']) {
    let bytes: Buffer;
    try {
      bytes = readFileSync(path);
    } catch {
      continue;
    }
    // gzip magic: either file may be compressed.
    return (bytes[0] === 0x1f && bytes[1] === 0x8b ? gunzipSync(bytes) : bytes).toString('latin1');
  }
  return undefined;
}

/** The syscall entry symbol of an architecture with syscall wrappers (x86-64: __x64_sys_bpf). */
const WRAPPER_PREFIX: Partial<Record<string, string>> = { x64: '__x64_', arm64: '__arm64_', s390x: '__s390x_', riscv64: '__riscv_' };

/** libbpf decides by creating a kprobe on the wrapped bpf() entry, so the answer is "no" on a
 * kernel without kprobes even when it wraps syscalls: both conditions are checked here. */
function hasSyscallWrapper(): boolean {
  const prefix = WRAPPER_PREFIX[process.arch];
  const kprobes = ['/sys/bus/event_source/devices/kprobe/type', '/sys/kernel/tracing/kprobe_events', '/sys/kernel/debug/tracing/kprobe_events'];
  if (!prefix || !kprobes.some((f) => existsSync(f))) return false;
  try {
    return new RegExp(` ${prefix}sys_bpf$`, 'm').test(readFileSync('/proc/kallsyms', 'latin1'));
  } catch {
    return false;
  }
}

const BPF_FUNC_GET_ATTACH_COOKIE = 174;

/** Whether the kernel accepts a tracepoint program calling bpf_get_attach_cookie. */
function hasBpfCookie(): boolean {
  const insn = (opcode: number, imm: number) => ({ opcode, dst: 0, src: 0, off: 0, imm });
  try {
    Program.load(
      {
        name: 'bpfunit_cookie', section: 'tracepoint', kind: sectionKind('tracepoint'), license: 'GPL',
        instructions: [insn(0x85, BPF_FUNC_GET_ATTACH_COOKIE), insn(0xb7, 0), insn(0x95, 0)],
      },
      { mapFd: () => -1 },
    ).close();
    return true;
  } catch {
    return false;
  }
}

/** Facts for the externs named (only those are gathered). */
export function kernelFacts(names: string[]): KernelFacts {
  const needs = (n: string) => names.includes(n);
  if (names.some((n) => n.startsWith('CONFIG_'))) config ??= { text: readConfig() };
  if (needs('LINUX_HAS_SYSCALL_WRAPPER')) syscallWrapper ??= hasSyscallWrapper();
  if (needs('LINUX_HAS_BPF_COOKIE')) bpfCookie ??= hasBpfCookie();
  return { release: release(), config: config?.text, hasSyscallWrapper: syscallWrapper ?? false, hasBpfCookie: bpfCookie ?? false };
}
