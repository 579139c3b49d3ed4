// `__kconfig` externs: what each one is (libbpf's kinds: bool, tristate, char, integer, char
// array), where it lives in the .kconfig map, and the bytes of that map for given kernel facts
// and spec overrides, by libbpf's rules. Pure: the kernel stage reads the facts.
import { Btf, BtfKind } from '../btf/btf';
import type { ElfFile } from '../elf/elf';
import { kconfigLayout } from './externs';

export type KconfigKind = 'bool' | 'tristate' | 'char' | 'int' | 'chars' | 'unsupported';

export interface KconfigExtern {
  name: string;
  offset: number;
  size: number;
  kind: KconfigKind;
  signed: boolean;
  /** `__weak`: left 0 when no value is found, instead of failing. */
  weak: boolean;
}

/** A value a spec sets for a CONFIG_ option, as a kernel config would spell it. */
export type KconfigValue = 'y' | 'n' | 'm' | number | bigint | string;

/** What the running kernel says (gathered by the kernel stage). */
export interface KernelFacts {
  /** uname release, e.g. "6.18.44-fc-v782". */
  release: string;
  /** The kernel config text (/boot/config-<release> or /proc/config.gz), when there is one. */
  config: string | undefined;
  hasSyscallWrapper: boolean;
  hasBpfCookie: boolean;
}

const STB_WEAK = 2;
const INT_SIGNED = 1;
const INT_BOOL = 4;

function classify(btf: Btf, typeId: number): { kind: KconfigKind; signed: boolean } {
  const t = btf.resolve(typeId);
  switch (t.kind) {
    case BtfKind.Int: {
      const enc = t.int!.encoding;
      if (enc & INT_BOOL) return { kind: t.size === 1 ? 'bool' : 'unsupported', signed: false };
      if (t.size === 1) return { kind: 'char', signed: (enc & INT_SIGNED) !== 0 };
      const pow2 = t.size === 2 || t.size === 4 || t.size === 8;
      return { kind: pow2 ? 'int' : 'unsupported', signed: (enc & INT_SIGNED) !== 0 };
    }
    case BtfKind.Enum: case BtfKind.Enum64:
      return { kind: t.name === 'libbpf_tristate' && (t.kind === BtfKind.Enum64 || t.size === 4) ? 'tristate' : 'unsupported', signed: false };
    case BtfKind.Array: {
      const elem = t.array!.nelems > 0 ? classify(btf, t.array!.type).kind : 'unsupported';
      return { kind: elem === 'char' ? 'chars' : 'unsupported', signed: false };
    }
    default:
      return { kind: 'unsupported', signed: false };
  }
}

/** Every `__kconfig` extern of the object, at its .kconfig offset. */
export function kconfigExterns(elf: ElfFile, btf: Btf | undefined): KconfigExtern[] {
  if (!btf) return [];
  return kconfigLayout(btf).slots.map((s) => {
    const sym = elf.symbols.find((x) => x.name === s.name && x.section === 0);
    return { name: s.name, offset: s.offset, size: s.size, ...classify(btf, btf.type(s.varId).type!), weak: sym?.bind === STB_WEAK };
  });
}

/** KERNEL_VERSION(a, b, c) of a release string, the patch level capped at 255 as the kernel does. */
export function kernelVersionCode(release: string): number | undefined {
  const m = /^(\d+)\.(\d+)(?:\.(\d+))?/.exec(release);
  if (!m) return undefined;
  return ((Number(m[1]) << 16) + (Number(m[2]) << 8) + Math.min(Number(m[3] ?? 0), 255)) >>> 0;
}

/** The .kconfig map's bytes, and for each extern that has no usable value, why (a program
 * that reads it cannot load). Overrides win over the kernel's config, as libbpf's `kconfig`
 * open option does. */
export function kconfigData(
  externs: KconfigExtern[],
  facts: KernelFacts,
  overrides: Record<string, KconfigValue> = {},
): { data: Buffer; problems: Map<string, string> } {
  const size = externs.reduce((n, e) => Math.max(n, e.offset + e.size), 0);
  const data = Buffer.alloc(size);
  const problems = new Map<string, string>();
  const fromConfig = facts.config === undefined ? new Map<string, string>() : parseConfig(facts.config);
  for (const e of externs) {
    const at = data.subarray(e.offset, e.offset + e.size);
    let problem: string | undefined;
    if (e.kind === 'unsupported') {
      problem = `kconfig extern '${e.name}' has a type libbpf does not support for kconfig values`;
    } else if (e.name.startsWith('LINUX_')) {
      const value = virtualValue(e.name, facts);
      if (value !== undefined) problem = setNumber(e, at, BigInt(value));
      else if (!e.weak) problem = `kconfig extern '${e.name}' is not a value libbpf provides (LINUX_KERNEL_VERSION, LINUX_HAS_SYSCALL_WRAPPER, LINUX_HAS_BPF_COOKIE)`;
    } else if (e.name.startsWith('CONFIG_')) {
      const override = overrides[e.name];
      const text = override === undefined ? fromConfig.get(e.name) : typeof override === 'string' ? spelled(override) : undefined;
      if (override !== undefined && typeof override !== 'string') problem = setNumber(e, at, BigInt.asUintN(64, BigInt(override)));
      else if (text !== undefined) problem = setText(e, at, text);
      else if (!e.weak) {
        problem = facts.config === undefined
          ? `kconfig extern '${e.name}': no kernel config found (/boot/config-${facts.release} or /proc/config.gz); set it with the kconfig option`
          : `kconfig extern '${e.name}' is not set in the kernel config; mark it __weak for 0, or set it with the kconfig option`;
      }
    } else {
      problem = `kconfig extern '${e.name}': only CONFIG_ and LINUX_ names are kconfig values`;
    }
    if (problem) {
      at.fill(0);
      problems.set(e.name, problem);
    }
  }
  return { data, problems };
}

/** An override string as the config file spells it: y/n/m as they are, any other text quoted. */
function spelled(v: string): string {
  return v === 'y' || v === 'n' || v === 'm' ? v : `"${v}"`;
}

function parseConfig(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^(CONFIG_\w+)=(.+)$/.exec(line.trimEnd());
    if (m && !out.has(m[1])) out.set(m[1], m[2]);
  }
  return out;
}

function virtualValue(name: string, facts: KernelFacts): number | undefined {
  switch (name) {
    case 'LINUX_KERNEL_VERSION': return kernelVersionCode(facts.release);
    case 'LINUX_HAS_SYSCALL_WRAPPER': return facts.hasSyscallWrapper ? 1 : 0;
    case 'LINUX_HAS_BPF_COOKIE': return facts.hasBpfCookie ? 1 : 0;
    default: return undefined;
  }
}

/** A config value: y/n/m, a quoted string or an integer (C syntax: 0x.., 0.., decimal). */
function setText(e: KconfigExtern, at: Buffer, value: string): string | undefined {
  if (value === 'y' || value === 'n' || value === 'm') {
    switch (e.kind) {
      case 'bool':
        if (value === 'm') return `kconfig extern '${e.name}' is a bool, but its value is 'm' (use a tristate or char)`;
        at[0] = value === 'y' ? 1 : 0;
        return undefined;
      case 'tristate':
        at.writeUInt32LE(value === 'y' ? 1 : value === 'm' ? 2 : 0);
        return undefined;
      case 'char':
        at[0] = value.charCodeAt(0);
        return undefined;
      default:
        return `kconfig extern '${e.name}': value '${value}' needs a bool, tristate or char type`;
    }
  }
  if (value.startsWith('"')) {
    if (e.kind !== 'chars') return `kconfig extern '${e.name}': a string value needs a char array`;
    if (value.length < 2 || !value.endsWith('"')) return `kconfig extern '${e.name}': bad string value ${value}`;
    // Longer strings are cut to fit with their NUL, as libbpf does.
    const bytes = Buffer.from(value.slice(1, -1), 'latin1').subarray(0, e.size - 1);
    bytes.copy(at);
    at[bytes.length] = 0;
    return undefined;
  }
  const n = parseInteger(value);
  if (n === undefined) return `kconfig extern '${e.name}': '${value}' is not an integer`;
  if (e.kind !== 'int' && e.kind !== 'char') return `kconfig extern '${e.name}': an integer value needs an integer or char type`;
  return setNumber(e, at, n);
}

function parseInteger(text: string): bigint | undefined {
  const m = /^(-?)(0x[0-9a-f]+|0[0-7]*|[1-9][0-9]*)$/i.exec(text);
  if (!m) return undefined;
  const digits = m[2];
  const v = /^0[0-7]+$/.test(digits) ? BigInt('0o' + digits.slice(1)) : BigInt(digits);
  return BigInt.asUintN(64, m[1] ? -v : v);
}

/** An integer (as u64 bits) into an int, char or bool extern, if it fits without loss. */
function setNumber(e: KconfigExtern, at: Buffer, v: bigint): string | undefined {
  if (e.kind !== 'int' && e.kind !== 'char' && e.kind !== 'bool') return `kconfig extern '${e.name}': an integer value needs an integer, char or bool type`;
  if (e.kind === 'bool' && v > 1n) return `kconfig extern '${e.name}' is a bool, but its value is ${v}`;
  const bits = BigInt(e.size * 8);
  const fits = e.size === 8 || (e.signed ? BigInt.asUintN(64, v + (1n << (bits - 1n))) < 1n << bits : v >> bits === 0n);
  if (!fits) return `kconfig extern '${e.name}': ${v} does not fit in ${e.size} bytes`;
  for (let k = 0; k < e.size; k++) at[k] = Number((v >> BigInt(8 * k)) & 0xffn);
  return undefined;
}
