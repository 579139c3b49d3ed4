// Checks on the values callers hand to the public API (run options, map arguments, globals): a bad
// one becomes an InputError naming the argument and what it accepts, before any syscall, instead
// of a RangeError or TypeError from deep inside Buffer or BigInt.
import { InputError } from './errors';

export const U32_MAX = 0xffffffff;

/** What the API takes wherever it reads bytes. */
export type Bytes = Buffer | Uint8Array;

function shown(value: unknown): string {
  if (typeof value === 'string') return `the string '${value.length > 32 ? `${value.slice(0, 32)}...` : value}'`;
  if (typeof value === 'bigint') return `${value}n`;
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (value === null) return 'null';
  if (typeof value === 'object') return `a ${value.constructor?.name ?? 'object'}`;
  return String(value);
}

/** An integer from min to max. */
export function integer(value: unknown, what: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new InputError(`${what} must be an integer from ${min} to ${max}, got ${shown(value)}`);
  }
  return value;
}

/** Bytes as a Buffer: a Buffer as it is, any other Uint8Array viewed in place (not copied). */
export function bytes(value: unknown, what: string): Buffer {
  if (Buffer.isBuffer(value)) return value;
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  throw new InputError(`${what} must be a Buffer or Uint8Array, got ${shown(value)}`);
}

export function optionalBytes(value: unknown, what: string): Buffer | undefined {
  return value === undefined ? undefined : bytes(value, what);
}

/** A name of a program, map or global. */
export function name(value: unknown, what: string): string {
  if (typeof value !== 'string') throw new InputError(`${what} must be a string, got ${shown(value)}`);
  return value;
}
