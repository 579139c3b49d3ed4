// Shared building blocks for the struct codecs: C-shaped layouts on top of @solana/buffer-layout
// (bigint u64, bool, fixed arrays, C unions, fixed char arrays), a size-checked codec, and the
// address/port helpers that turn text into the values C programs keep in memory.
//
// Conventions used throughout src/structs:
// - every integer field holds the value as stored in memory on the little-endian host; addresses
//   and ports that C keeps in network byte order are therefore "as stored" numbers, produced by
//   ip4()/ip6()/port() and turned back into text or host numbers by ip4String()/ip6String()/
//   portNumber();
// - encoders always start from a zero-filled buffer: a field not given is 0 / 0n / false / '';
// - a field name the struct does not have is an error (catches typos that TypeScript cannot see
//   when specs run without type checking).

import {
  Layout,
  Structure,
  Sequence,
  blob,
  u8,
  u16,
  u32,
  u16be,
  u32be,
} from '@solana/buffer-layout';
import { BpfUnitError } from '../errors';

export { Layout, u8, u16, u32, u16be, u32be };

/** A value does not fit a struct: wrong buffer size, unknown field, out-of-range number, bad
 * address text, malformed TLV. The message names the struct (or helper) concerned. */
export class LayoutError extends BpfUnitError {}

/** Four u32 words, e.g. an IPv6 address as stored (`__u32 ip6[4]`). */
export type U32x4 = [number, number, number, number];

/** What an encoder accepts for a T: every field optional, at every depth; bigints also as
 * numbers; arrays may be shorter than the C array (the rest stays zero). */
export type Init<T> = T extends bigint
  ? bigint | number
  : T extends number | boolean | string
    ? T
    : T extends Uint8Array
      ? Uint8Array
      : T extends readonly (infer E)[]
        ? readonly Init<E>[]
        : T extends object
          ? { [K in keyof T]?: Init<T[K]> }
          : T;

function describe(v: unknown): string {
  if (typeof v === 'bigint') return `${v}n`;
  if (typeof v === 'string') return JSON.stringify(v);
  return String(v);
}

// ---------------------------------------------------------------------------------------------
// Scalar layouts

/** Unsigned 64-bit little-endian integer decoded as a bigint (buffer-layout's nu64 is lossy). */
export class U64 extends Layout<bigint> {
  constructor(property?: string) {
    super(8, property);
  }

  override decode(b: Uint8Array, offset = 0): bigint {
    return Buffer.from(b.buffer, b.byteOffset, b.byteLength).readBigUInt64LE(offset);
  }

  override encode(src: bigint | number, b: Uint8Array, offset = 0): number {
    let v: bigint;
    if (typeof src === 'bigint') {
      v = src;
    } else if (typeof src === 'number' && Number.isSafeInteger(src)) {
      v = BigInt(src);
    } else {
      throw new LayoutError(`expected a bigint or a safe integer, got ${describe(src)}`);
    }
    if (v < 0n || v > 0xffff_ffff_ffff_ffffn) {
      throw new LayoutError(`${v} does not fit in 64 unsigned bits`);
    }
    Buffer.from(b.buffer, b.byteOffset, b.byteLength).writeBigUInt64LE(v, offset);
    return 8;
  }
}

export const u64 = (property?: string): U64 => new U64(property);

/** C `bool` (one byte): decodes to true for any non-zero byte, encodes booleans (and 0/1). */
export class Bool8 extends Layout<boolean> {
  constructor(property?: string) {
    super(1, property);
  }

  override decode(b: Uint8Array, offset = 0): boolean {
    return b[offset] !== 0;
  }

  override encode(src: boolean | number, b: Uint8Array, offset = 0): number {
    if (typeof src === 'boolean') {
      b[offset] = src ? 1 : 0;
    } else if (src === 0 || src === 1) {
      b[offset] = src;
    } else {
      throw new LayoutError(`expected a boolean, got ${describe(src)}`);
    }
    return 1;
  }
}

export const bool = (property?: string): Bool8 => new Bool8(property);

/** Unnamed padding: skipped on decode and encode (so it stays zero in a zeroed buffer). */
export const pad = (bytes: number): Layout<Uint8Array> => blob(bytes);

/** 8-byte `__bpf_md_ptr` member: the pointer as a bigint. */
export const ptr = (property: string): U64 => new U64(property);

/** `char name[size]`: decodes up to the first NUL (UTF-8); encodes a NUL-terminated string that
 * must leave room for the terminator. */
export class CharArray extends Layout<string> {
  constructor(size: number, property?: string) {
    super(size, property);
  }

  override decode(b: Uint8Array, offset = 0): string {
    const bytes = Buffer.from(b.buffer, b.byteOffset + offset, this.span);
    const nul = bytes.indexOf(0);
    return bytes.toString('utf8', 0, nul < 0 ? this.span : nul);
  }

  override encode(src: string, b: Uint8Array, offset = 0): number {
    if (typeof src !== 'string') {
      throw new LayoutError(`expected a string, got ${describe(src)}`);
    }
    const bytes = Buffer.from(src, 'utf8');
    if (bytes.length >= this.span) {
      throw new LayoutError(`${bytes.length} bytes do not fit char[${this.span}] with its NUL`);
    }
    const out = Buffer.from(b.buffer, b.byteOffset + offset, this.span);
    out.fill(0);
    bytes.copy(out);
    return this.span;
  }
}

export const chars = (size: number, property?: string): CharArray => new CharArray(size, property);

// ---------------------------------------------------------------------------------------------
// Aggregates

function checkFields(src: unknown, known: readonly string[]): Record<string, unknown> {
  if (src === null || typeof src !== 'object' || Array.isArray(src)) {
    throw new LayoutError(`expected an object, got ${describe(src)}`);
  }
  for (const key of Object.keys(src)) {
    if (!known.includes(key)) {
      throw new LayoutError(`unknown field '${key}' (fields: ${known.join(', ')})`);
    }
  }
  return src as Record<string, unknown>;
}

/** Runs `fn`, placing any error at member `where`: errors from nested members read
 * "sk_tuple.ipv4.dport: ..." or "service_port[1]: ...". Errors that are not LayoutErrors (e.g.
 * Node's range errors) become LayoutErrors with the original as cause. */
function within<R>(where: string, fn: () => R): R {
  try {
    return fn();
  } catch (e) {
    const inner = e as { path?: string; detail?: string; cause?: unknown };
    const nested = e instanceof LayoutError && inner.path !== undefined && inner.detail !== undefined;
    const path = nested ? where + (inner.path!.startsWith('[') ? '' : '.') + inner.path : where;
    const detail = nested ? inner.detail! : e instanceof Error ? e.message : String(e);
    const err = Object.assign(new LayoutError(`${path}: ${detail}`), { path, detail });
    const cause = e instanceof LayoutError ? inner.cause : e;
    if (cause !== undefined) (err as { cause?: unknown }).cause = cause;
    throw err;
  }
}

function propertiesOf(layouts: readonly Layout<unknown>[]): string[] {
  return layouts.flatMap((l) => (l.property === undefined ? [] : [l.property]));
}

/** A C struct: fields back to back (put padding in explicitly with pad()); unknown fields in the
 * value to encode are rejected. */
export class CStruct<T> extends Structure<T> {
  readonly names: string[];

  constructor(fields: Layout<any>[], property?: string) {
    super(fields, property);
    this.names = propertiesOf(fields);
  }

  override encode(src: T, b: Uint8Array, offset = 0): number {
    const value = checkFields(src, this.names);
    let off = offset;
    for (const f of this.fields as Layout<unknown>[]) {
      const v = f.property === undefined ? undefined : value[f.property];
      if (v !== undefined) within(f.property as string, () => f.encode(v, b, off));
      off += f.span;
    }
    return this.span;
  }
}

export function cstruct<T>(fields: Layout<any>[], property?: string): CStruct<T> {
  return new CStruct<T>(fields, property);
}

/** `T name[count]`: decodes all `count` elements; encodes the elements given (fewer is fine, the
 * rest is left as is: zero in a fresh buffer), more than `count` is an error. */
export class FixedArray<T> extends Sequence<T> {
  constructor(element: Layout<T>, count: number, property?: string) {
    super(element, count, property);
  }

  override encode(src: T[], b: Uint8Array, offset = 0): number {
    const count = this.count as number;
    if (!Array.isArray(src)) throw new LayoutError(`expected an array, got ${describe(src)}`);
    if (src.length > count) throw new LayoutError(`${src.length} elements given, the array holds ${count}`);
    src.forEach((v, i) => {
      if (v !== undefined) within(`[${i}]`, () => this.elementLayout.encode(v, b, offset + i * this.elementLayout.span));
    });
    return this.span;
  }
}

export function array<T>(element: Layout<T>, count: number, property?: string): FixedArray<T> {
  return new FixedArray<T>(element, count, property);
}

/** A C union of named members all starting at offset 0. Decoding yields every member (different
 * views of the same bytes); encoding writes the members present in the value in declaration
 * order, so when several overlap the later one wins. `size` is the union's sizeof (at least the
 * largest member). */
export class CUnion<T> extends Layout<T> {
  readonly members: Layout<any>[];
  readonly names: string[];

  constructor(members: Layout<any>[], size: number, property?: string) {
    super(size, property);
    for (const m of members) {
      if (m.property === undefined) throw new Error('CUnion: every member needs a name');
      if (m.span > size) throw new Error(`CUnion: member ${m.property} (${m.span} bytes) exceeds ${size}`);
    }
    this.members = members;
    this.names = propertiesOf(members);
  }

  override decode(b: Uint8Array, offset = 0): T {
    const out: Record<string, unknown> = {};
    for (const m of this.members) out[m.property as string] = m.decode(b, offset);
    return out as T;
  }

  override encode(src: T, b: Uint8Array, offset = 0): number {
    const value = checkFields(src, this.names);
    for (const m of this.members) {
      const v = value[m.property as string];
      if (v !== undefined) within(m.property as string, () => m.encode(v, b, offset));
    }
    return this.span;
  }
}

export function cunion<T>(members: Layout<any>[], size: number, property?: string): CUnion<T> {
  return new CUnion<T>(members, size, property);
}

/** Every named field of a layout, by C member path ("ipv4.daddr", "wp_addr.ip6"), with its offset
 * from the start of the layout and its size. Padding is left out. */
export function fieldOffsets(layout: Layout<unknown>): Record<string, { offset: number; size: number }> {
  const out: Record<string, { offset: number; size: number }> = {};
  const walk = (l: Layout<unknown>, prefix: string, base: number): void => {
    if (l instanceof CUnion) {
      for (const m of l.members) visit(m, prefix, base);
    } else if (l instanceof Structure) {
      let off = base;
      for (const f of l.fields as Layout<unknown>[]) {
        if (f.property !== undefined) visit(f, prefix, off);
        off += f.span;
      }
    }
  };
  const visit = (l: Layout<unknown>, prefix: string, off: number): void => {
    const path = prefix + (l.property as string);
    out[path] = { offset: off, size: l.span };
    walk(l, `${path}.`, off);
  };
  walk(layout, '', 0);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Codec

export interface Codec<T> {
  /** C name, used in error messages ("struct xdp_md"). */
  readonly name: string;
  /** sizeof in bytes. */
  readonly size: number;
  readonly layout: Layout<T>;
  /** A new zero-filled buffer of `size` bytes with the given fields written. */
  encode(value: Init<T>): Buffer;
  /** Writes the given fields at `offset` of an existing buffer (other bytes untouched). */
  encodeInto(value: Init<T>, buf: Uint8Array, offset?: number): void;
  /** Decodes a buffer of exactly `size` bytes. */
  decode(buf: Uint8Array): T;
  /** Decodes `size` bytes at `offset` of a larger buffer. */
  decodeAt(buf: Uint8Array, offset?: number): T;
  /** Field offsets by member path (see fieldOffsets). */
  offsets(): Record<string, { offset: number; size: number }>;
}

/** Size-checked encode/decode for a layout. Throws at once if the layout's span is not `size`. */
export function codec<T>(layout: Layout<T>, size: number, name: string): Codec<T> {
  if (layout.span !== size) {
    throw new Error(`${name}: layout spans ${layout.span} bytes, sizeof is ${size}`);
  }
  const encodeInto = (value: Init<T>, buf: Uint8Array, offset = 0): void => {
    if (offset < 0 || offset + size > buf.length) {
      throw new LayoutError(`${name}: ${size} bytes at offset ${offset} do not fit a ${buf.length}-byte buffer`);
    }
    try {
      layout.encode(value as T, buf, offset);
    } catch (e) {
      const err = new LayoutError(`${name}: ${e instanceof Error ? e.message : String(e)}`);
      if (!(e instanceof LayoutError)) (err as { cause?: unknown }).cause = e;
      else if (e.cause !== undefined) (err as { cause?: unknown }).cause = e.cause;
      throw err;
    }
  };
  const decodeAt = (buf: Uint8Array, offset = 0): T => {
    if (!(buf instanceof Uint8Array)) throw new LayoutError(`${name}: expected a Buffer, got ${describe(buf)}`);
    if (offset < 0 || offset + size > buf.length) {
      throw new LayoutError(`${name}: ${size} bytes at offset ${offset} do not fit a ${buf.length}-byte buffer`);
    }
    return layout.decode(buf, offset);
  };
  return {
    name,
    size,
    layout,
    encode(value) {
      const buf = Buffer.alloc(size);
      encodeInto(value, buf, 0);
      return buf;
    },
    encodeInto,
    decode(buf) {
      if (!(buf instanceof Uint8Array)) throw new LayoutError(`${name}: expected a Buffer, got ${describe(buf)}`);
      if (buf.length !== size) {
        throw new LayoutError(`${name}: expected ${size} bytes, got ${buf.length}`);
      }
      return layout.decode(buf, 0);
    },
    decodeAt,
    offsets: () => fieldOffsets(layout),
  };
}

/** Plain `__u32` / `__u64` map keys and values (km_manage's value, prog array slots). */
export const u32Codec: Codec<number> = codec(u32(), 4, '__u32');
export const u64Codec: Codec<bigint> = codec<bigint>(u64(), 8, '__u64');
export const encodeU32 = (v: number): Buffer => u32Codec.encode(v);
export const decodeU32 = (b: Uint8Array): number => u32Codec.decode(b);
export const encodeU64 = (v: bigint | number): Buffer => u64Codec.encode(v);
export const decodeU64 = (b: Uint8Array): bigint => u64Codec.decode(b);

// ---------------------------------------------------------------------------------------------
// Byte order, addresses, ports

function checkUint(what: string, v: number, bits: 16 | 32): void {
  if (!Number.isInteger(v) || v < 0 || v > (bits === 16 ? 0xffff : 0xffff_ffff)) {
    throw new LayoutError(`${what}: ${describe(v)} is not a u${bits}`);
  }
}

/** Swap the two bytes of a u16 (host <-> network order on a little-endian host). */
export function htons(v: number): number {
  checkUint('htons', v, 16);
  return ((v & 0xff) << 8) | (v >>> 8);
}
export const ntohs = htons;

/** Swap the four bytes of a u32 (host <-> network order on a little-endian host). */
export function htonl(v: number): number {
  checkUint('htonl', v, 32);
  return (((v & 0xff) << 24) | ((v & 0xff00) << 8) | ((v >>> 8) & 0xff00) | (v >>> 24)) >>> 0;
}
export const ntohl = htonl;

/** The 4 network-order bytes of a dotted IPv4 address. */
export function ip4Bytes(addr: string | number): Buffer {
  const out = Buffer.alloc(4);
  if (typeof addr === 'number') {
    checkUint('ip4', addr, 32);
    out.writeUInt32LE(addr);
    return out;
  }
  const parts = typeof addr === 'string' ? addr.split('.') : [];
  if (parts.length !== 4 || !parts.every((p) => /^(0|[1-9][0-9]{0,2})$/.test(p) && Number(p) <= 255)) {
    throw new LayoutError(`ip4: ${describe(addr)} is not a dotted IPv4 address`);
  }
  parts.forEach((p, i) => (out[i] = Number(p)));
  return out;
}

/** '192.168.1.1' -> the u32 C keeps in memory (network order): its little-endian bytes are
 * c0 a8 01 01, i.e. 0x0101a8c0. A number is taken as already stored and returned. */
export function ip4(addr: string | number): number {
  return ip4Bytes(addr).readUInt32LE(0);
}

/** Inverse of ip4(): the stored u32 as dotted text. */
export function ip4String(stored: number): string {
  return [...ip4Bytes(stored)].join('.');
}

/** The 16 network-order bytes of an IPv6 address (RFC 4291 text, '::' and a trailing dotted
 * IPv4 part allowed), or of stored words. */
export function ip6Bytes(addr: string | readonly number[]): Buffer {
  const out = Buffer.alloc(16);
  if (Array.isArray(addr)) {
    if (addr.length !== 4) throw new LayoutError(`ip6: expected 4 u32 words, got ${addr.length}`);
    addr.forEach((w, i) => {
      checkUint('ip6', w, 32);
      out.writeUInt32LE(w, i * 4);
    });
    return out;
  }
  const bad = (): LayoutError => new LayoutError(`ip6: ${describe(addr)} is not an IPv6 address`);
  if (typeof addr !== 'string') throw bad();
  const halves = addr.split('::');
  if (halves.length > 2) throw bad();
  const groups = (text: string): number[] => {
    if (text === '') return [];
    const parts = text.split(':');
    const words: number[] = [];
    parts.forEach((p, i) => {
      if (i === parts.length - 1 && p.includes('.')) {
        const v4 = ip4Bytes(p);
        words.push(v4.readUInt16BE(0), v4.readUInt16BE(2));
      } else if (/^[0-9a-fA-F]{1,4}$/.test(p)) {
        words.push(parseInt(p, 16));
      } else {
        throw bad();
      }
    });
    return words;
  };
  let words: number[];
  try {
    const head = groups(halves[0]);
    if (halves.length === 1) {
      words = head;
      if (words.length !== 8) throw bad();
    } else {
      const tail = groups(halves[1]);
      if (head.length + tail.length > 7) throw bad();
      words = [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
    }
  } catch {
    throw bad();
  }
  words.forEach((w, i) => out.writeUInt16BE(w, i * 2));
  return out;
}

/** 'fd00::1' -> the four u32 words C keeps in `__u32 ip6[4]` (network order bytes, each word
 * read as a little-endian u32). Words are returned unchanged. */
export function ip6(addr: string | readonly number[]): U32x4 {
  const b = ip6Bytes(addr);
  return [b.readUInt32LE(0), b.readUInt32LE(4), b.readUInt32LE(8), b.readUInt32LE(12)];
}

/** Inverse of ip6(): stored words (or 16 network-order bytes) as RFC 5952 text
 * ('fd00::1', '::ffff:10.0.0.1'). */
export function ip6String(stored: readonly number[] | Uint8Array): string {
  let b: Buffer;
  if (stored instanceof Uint8Array) {
    if (stored.length !== 16) throw new LayoutError(`ip6String: expected 16 bytes, got ${stored.length}`);
    b = Buffer.from(stored);
  } else {
    b = ip6Bytes(stored);
  }
  const words = Array.from({ length: 8 }, (_, i) => b.readUInt16BE(i * 2));
  if (words.slice(0, 5).every((w) => w === 0) && words[5] === 0xffff) {
    return `::ffff:${[...b.subarray(12)].join('.')}`;
  }
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (ws: number[]): string => ws.map((w) => w.toString(16)).join(':');
  if (best < 0) return hex(words);
  return `${hex(words.slice(0, best))}::${hex(words.slice(best + bestLen))}`;
}

/** 8080 -> the network-order port as C stores it in a `__u32 user_port` / `__be16` (htons):
 * 0x901f. */
export function port(hostPort: number): number {
  if (!Number.isInteger(hostPort) || hostPort < 0 || hostPort > 0xffff) {
    throw new LayoutError(`port: ${describe(hostPort)} is not a port number (0..65535)`);
  }
  return htons(hostPort);
}

/** Inverse of port(): the host port number from a stored value (only the low 16 bits count, as
 * in a `__u32 user_port`). */
export function portNumber(stored: number): number {
  checkUint('portNumber', stored, 32);
  return ntohs(stored & 0xffff);
}
