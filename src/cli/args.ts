// Command-line values: parsed and checked before any object is opened (a bad one is exit 2).
import { U32_MAX } from '../validate';

export class UsageError extends Error {}

export interface RunArgs {
  progs: string[];
  data?: Buffer;
  ctx?: Buffer;
  repeat?: number;
  flags?: number;
  cpu?: number;
  sets: { map: string; key: Buffer; value: Buffer }[];
  dumps: string[];
  /** Relocate CO-RE against this BTF file instead of the running kernel's. */
  btf?: string;
}

/** Hex bytes in memory order; spaces and colons between them, and a leading 0x, are allowed. */
export function hex(text: string, what: string): Buffer {
  const clean = text.replace(/^\s*0x/i, '').replace(/[\s:]/g, '');
  if (!/^([0-9a-fA-F]{2})*$/.test(clean)) throw new UsageError(`${what} is not an even-length hex string: '${text}'`);
  return Buffer.from(clean, 'hex');
}

export function repeatCount(value: string): number {
  const n = Number(value);
  // The kernel's repeat is a u32: a larger count is bad usage, not a failed run.
  if (!Number.isInteger(n) || n < 1 || n > U32_MAX) throw new UsageError(`--repeat needs a positive integer, got '${value}' (from 1 to ${U32_MAX})`);
  return n;
}

/** A u32 option (--flags, --cpu): decimal or 0x hex. */
export function u32Option(name: string): (value: string) => number {
  return (value) => {
    const n = /^(0x[0-9a-fA-F]+|[0-9]+)$/.test(value) ? Number(value) : NaN;
    if (!Number.isInteger(n) || n > U32_MAX) throw new UsageError(`${name} needs an integer from 0 to ${U32_MAX} (decimal or 0x hex), got '${value}'`);
    return n;
  };
}

export function setEntry(value: string): RunArgs['sets'][number] {
  const m = /^([^:]+):([^=]*)=(.*)$/.exec(value);
  if (!m) throw new UsageError(`--set needs MAP:KEYHEX=VALUEHEX, got '${value}'`);
  return { map: m[1], key: hex(m[2], `key of --set ${m[1]}`), value: hex(m[3], `value of --set ${m[1]}`) };
}
