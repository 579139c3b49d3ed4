// Reads and writes C values described by BTF as plain JavaScript: integers up to 32 bits as
// numbers, 64-bit ones and pointers as bigints, structs and unions as objects, arrays as arrays,
// char arrays as strings. Writes are partial: fields left out keep their bytes.
import { InputError } from '../errors';
import { Btf, BtfKind, BtfType } from './btf';

export type CValue = number | bigint | string | CValue[] | { [field: string]: CValue };

function isCharArray(btf: Btf, t: BtfType): boolean {
  if (t.kind !== BtfKind.Array || !t.array) return false;
  const elem = btf.resolve(t.array.type);
  // clang describes `char` as a 1-byte signed int named "char", rarely with the CHAR encoding.
  return elem.kind === BtfKind.Int && elem.size === 1 && (elem.name === 'char' || ((elem.int?.encoding ?? 0) & 2) !== 0);
}

function isAggregate(btf: Btf, id: number): boolean {
  const k = btf.resolve(id).kind;
  return k === BtfKind.Struct || k === BtfKind.Union;
}

/** What C allows in an integer type: its signedness and its range (also as numbers, exact up
 * to 53 bits, so ordinary values are checked and written without BigInt arithmetic). */
interface IntShape {
  name: string;
  signed: boolean;
  min: bigint;
  max: bigint;
  minNumber: number;
  maxNumber: number;
}

function shape(name: string, bits: number, signed: boolean): IntShape {
  const b = BigInt(bits);
  const [min, max] = signed ? [-(1n << (b - 1n)), (1n << (b - 1n)) - 1n] : [0n, (1n << b) - 1n];
  return { name, signed, min, max, minNumber: Number(min), maxNumber: Number(max) };
}

const BTF_INT_SIGNED = 1;
const BTF_INT_BOOL = 4;

const shapes = new WeakMap<Btf, Map<number, IntShape | undefined>>();

/** The integer shape of an INT, ENUM, ENUM64 or PTR type; undefined for other kinds. */
function intShape(btf: Btf, t: BtfType): IntShape | undefined {
  let cache = shapes.get(btf);
  if (!cache) shapes.set(btf, (cache = new Map()));
  if (cache.has(t.id)) return cache.get(t.id);
  const s = computeShape(btf, t);
  cache.set(t.id, s);
  return s;
}

function computeShape(btf: Btf, t: BtfType): IntShape | undefined {
  switch (t.kind) {
    case BtfKind.Int: {
      const enc = t.int?.encoding ?? 0;
      if (enc & BTF_INT_BOOL) return shape(t.name, 1, false);
      return shape(t.name, t.size! * 8, (enc & BTF_INT_SIGNED) !== 0);
    }
    case BtfKind.Enum:
    case BtfKind.Enum64: {
      // kind_flag marks a signed enum (clang 15+, with ENUM64). Older producers left ENUM's flag 0
      // and wrote negative enumerators as their two's complement: an enumerator with the top bit
      // set is read as one, as C gives an enum with a negative enumerator a signed type.
      const bits = t.size! * 8;
      const top = 1n << BigInt(bits - 1);
      const signed = t.kindFlag || (t.kind === BtfKind.Enum && (t.values ?? []).some((v) => v.value >= top));
      return shape(`enum ${t.name || '(anonymous)'}`, bits, signed);
    }
    case BtfKind.Ptr:
      return shape('pointer', btf.sizeOf(t.id) * 8, false);
    default:
      return undefined;
  }
}

function readInt(buf: Buffer, at: number, size: number, signed: boolean): number | bigint {
  switch (size) {
    case 1: return signed ? buf.readInt8(at) : buf.readUInt8(at);
    case 2: return signed ? buf.readInt16LE(at) : buf.readUInt16LE(at);
    case 4: return signed ? buf.readInt32LE(at) : buf.readUInt32LE(at);
    case 8: return signed ? buf.readBigInt64LE(at) : buf.readBigUInt64LE(at);
    default: {
      const raw = BigInt('0x' + (Buffer.from(buf.subarray(at, at + size)).reverse().toString('hex') || '0'));
      return signed ? BigInt.asIntN(size * 8, raw) : raw;
    }
  }
}

function rangeOf(s: IntShape): string {
  return `${s.name} holds ${s.min}..${s.max}`;
}

/** A struct's or union's field names as a write accepts them (an anonymous member's own fields
 * in its place), and per member the names of an anonymous one's fields. Kept per type. */
interface FieldNames {
  known: Set<string>;
  inner: (string[] | undefined)[];
}

const fieldNameCache = new WeakMap<Btf, Map<number, FieldNames>>();

function fieldNames(btf: Btf, t: BtfType): FieldNames {
  let cache = fieldNameCache.get(btf);
  if (!cache) fieldNameCache.set(btf, (cache = new Map()));
  let f = cache.get(t.id);
  if (!f) {
    f = { known: new Set(), inner: [] };
    for (const m of t.members ?? []) {
      const names = m.name === '' ? (btf.resolve(m.type).members ?? []).map((x) => x.name) : undefined;
      f.inner.push(names);
      for (const n of names ?? [m.name]) f.known.add(n);
    }
    cache.set(t.id, f);
  }
  return f;
}

function writeInt(buf: Buffer, at: number, size: number, s: IntShape, value: CValue, what: string): void {
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) throw new InputError(`${what}: ${value} is not an integer (${rangeOf(s)})`);
    if (size <= 4) {
      if (value < s.minNumber || value > s.maxNumber) throw new InputError(`${what}: ${value} is out of range (${rangeOf(s)})`);
      buf.writeUIntLE(value < 0 ? value + 2 ** (size * 8) : value, at, size);
      return;
    }
  } else if (typeof value !== 'bigint') {
    throw new InputError(`${what}: expected an integer, got ${Array.isArray(value) ? 'an array' : typeof value} (${rangeOf(s)})`);
  }
  let v = BigInt(value);
  if (v < s.min || v > s.max) throw new InputError(`${what}: ${value} is out of range (${rangeOf(s)})`);
  v = BigInt.asUintN(size * 8, v);
  for (let k = 0; k < size; k++) {
    buf[at + k] = Number(v & 0xffn);
    v >>= 8n;
  }
}

/** Decodes the value at `at` in `buf`. */
type Reader = (buf: Buffer, at: number) => CValue;

// One reader per type, built on first use and kept with its (immutable) Btf: reading a global is
// then a walk over prepared closures, not a BTF resolution per field and per array element (a
// mock's recording array holds thousands of them, read after every test).
const readers = new WeakMap<Btf, Map<number, Reader>>();

export function readValue(btf: Btf, typeId: number, buf: Buffer, at = 0): CValue {
  return readerOf(btf, typeId)(buf, at);
}

function readerOf(btf: Btf, typeId: number): Reader {
  let cache = readers.get(btf);
  if (!cache) readers.set(btf, (cache = new Map()));
  let r = cache.get(typeId);
  if (!r) cache.set(typeId, (r = compileReader(btf, typeId)));
  return r;
}

function compileReader(btf: Btf, typeId: number): Reader {
  const t = btf.resolve(typeId);
  switch (t.kind) {
    case BtfKind.Int:
    case BtfKind.Enum:
    case BtfKind.Enum64: {
      const size = t.size!;
      const signed = intShape(btf, t)!.signed;
      return (buf, at) => readInt(buf, at, size, signed);
    }
    case BtfKind.Ptr:
      return (buf, at) => buf.readBigUInt64LE(at);
    case BtfKind.Array: {
      const { type, nelems } = t.array!;
      const size = btf.sizeOf(type);
      if (isCharArray(btf, t)) {
        return (buf, at) => {
          const end = buf.indexOf(0, at);
          return buf.toString('latin1', at, end < 0 || end > at + nelems ? at + nelems : end);
        };
      }
      const elem = readerOf(btf, type);
      const e = btf.resolve(type);
      if (e.kind === BtfKind.Int && e.size === 1 && !intShape(btf, e)!.signed) {
        // Byte arrays (recorded packet and ring buffer data) straight from the buffer; one out of
        // bounds reads element by element, to fail as any other read does.
        return (buf, at) => {
          if (at < 0 || at + nelems > buf.length) return Array.from({ length: nelems }, (_, k) => elem(buf, at + k));
          const out: number[] = new Array(nelems);
          for (let k = 0; k < nelems; k++) out[k] = buf[at + k];
          return out;
        };
      }
      return (buf, at) => {
        const out: CValue[] = new Array(nelems);
        for (let k = 0; k < nelems; k++) out[k] = elem(buf, at + k * size);
        return out;
      };
    }
    case BtfKind.Struct:
    case BtfKind.Union: {
      type Field = (buf: Buffer, at: number, out: { [field: string]: CValue }) => void;
      const fields: Field[] = [];
      for (const m of t.members ?? []) {
        const off = Math.floor(m.bitOffset / 8);
        const anonymous = m.name === '';
        if (anonymous && !isAggregate(btf, m.type)) continue; // padding such as `__u64 :64`
        const name = m.name;
        if (m.bitfieldSize) {
          const word = Math.floor(m.bitOffset / 32) * 4;
          const shift = m.bitOffset % 32;
          const mask = (1 << m.bitfieldSize) - 1;
          fields.push((buf, at, out) => (out[name] = ((readInt(buf, at + word, 4, false) as number) >>> shift) & mask));
        } else if (anonymous) {
          const inner = readerOf(btf, m.type);
          fields.push((buf, at, out) => Object.assign(out, inner(buf, at + off) as object));
        } else {
          const field = readerOf(btf, m.type);
          fields.push((buf, at, out) => (out[name] = field(buf, at + off)));
        }
      }
      return (buf, at) => {
        const out: { [field: string]: CValue } = {};
        for (const f of fields) f(buf, at, out);
        return out;
      };
    }
    default: {
      const size = btf.sizeOf(typeId);
      return (buf, at) => buf.subarray(at, at + size).toString('hex');
    }
  }
}

export function writeValue(btf: Btf, typeId: number, buf: Buffer, at: number, value: CValue, what: string): void {
  const t = btf.resolve(typeId);
  switch (t.kind) {
    case BtfKind.Int:
    case BtfKind.Enum:
    case BtfKind.Enum64:
    case BtfKind.Ptr:
      return writeInt(buf, at, btf.sizeOf(typeId), intShape(btf, t)!, value, what);
    case BtfKind.Array: {
      const { type, nelems } = t.array!;
      const size = btf.sizeOf(type);
      if (typeof value === 'string' && isCharArray(btf, t)) {
        if (value.length >= nelems) throw new InputError(`${what}: '${value}' does not fit in char[${nelems}]`);
        buf.fill(0, at, at + nelems);
        buf.write(value, at, 'latin1');
        return;
      }
      if (!Array.isArray(value)) throw new InputError(`${what}: expected an array`);
      if (value.length > nelems) throw new InputError(`${what}: ${value.length} elements do not fit in [${nelems}]`);
      const e = btf.resolve(type);
      const bytes = e.kind === BtfKind.Int && e.size === 1 ? intShape(btf, e) : undefined;
      for (let k = 0; k < value.length; k++) {
        if (!(k in value)) continue; // a hole: that element keeps its bytes
        const v = value[k];
        // Byte arrays (storage and packet data) element by element without the general path,
        // which still checks (and reports) any element that is not a plain in-range number.
        if (bytes && at + k < buf.length && typeof v === 'number' && Number.isInteger(v) && v >= bytes.minNumber && v <= bytes.maxNumber) buf[at + k] = v;
        else writeValue(btf, type, buf, at + k * size, v, `${what}[${k}]`);
      }
      return;
    }
    case BtfKind.Struct:
    case BtfKind.Union: {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new InputError(`${what}: expected an object`);
      const { known, inner } = fieldNames(btf, t);
      const fields = value as { [field: string]: CValue };
      const members = t.members ?? [];
      for (let i = 0; i < members.length; i++) {
        const m = members[i];
        const off = at + Math.floor(m.bitOffset / 8);
        const names = inner[i];
        if (names) {
          // Anonymous struct/union: its fields are addressed as if they were this one's.
          let sub: { [field: string]: CValue } | undefined;
          for (const k of Object.keys(fields)) if (names.includes(k)) (sub ??= {})[k] = fields[k];
          if (sub) writeValue(btf, m.type, buf, off, sub, what);
          continue;
        }
        if (!(m.name in fields)) continue;
        if (m.bitfieldSize) throw new InputError(`${what}.${m.name}: writing bitfields is not supported`);
        writeValue(btf, m.type, buf, off, fields[m.name], `${what}.${m.name}`);
      }
      for (const k of Object.keys(fields)) {
        if (!known.has(k)) throw new InputError(`${what}: no field '${k}' (fields: ${[...known].join(', ')})`);
      }
      return;
    }
    default:
      throw new InputError(`${what}: cannot write a value of BTF kind ${t.kind}`);
  }
}
