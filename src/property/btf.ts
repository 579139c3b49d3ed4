// fast-check generators for any BTF-described C value (a global's type, a map's value type):
// values as the BTF value codec (src/btf/value.ts) reads and writes them, plus their bytes.
import fc from 'fast-check';
import { Btf, BtfKind, btfKindName } from '../btf/btf';
import { CValue, writeValue } from '../btf/value';
import { InputError } from '../errors';
import type { ObjectSpec } from '../object/object';

export interface GeneratedValue {
  value: CValue;
  /** The value encoded at its type's size; fields not generated (bitfields, padding) are 0. */
  bytes: Buffer;
}

/** Every value of the type: integers over their whole range (_Bool as 0 and 1), enums over their enumerators, char
 * arrays as printable strings, pointers as 0 (an address from a test means nothing), unions as
 * one member. Bitfields and floats are left out (0). */
export function cValue(btf: Btf, typeId: number): fc.Arbitrary<CValue> | undefined {
  const t = btf.resolve(typeId);
  switch (t.kind) {
    case BtfKind.Int: {
      const size = t.size!;
      const encoding = t.int?.encoding ?? 0;
      if (encoding & 4) return fc.integer({ min: 0, max: 1 }); // _Bool holds only 0 and 1
      const signed = (encoding & 1) !== 0;
      if (size > 4) {
        const bits = BigInt(size * 8);
        return signed ? fc.bigInt({ min: -(1n << (bits - 1n)), max: (1n << (bits - 1n)) - 1n }) : fc.bigInt({ min: 0n, max: (1n << bits) - 1n });
      }
      const bits = size * 8;
      return signed ? fc.integer({ min: -(2 ** (bits - 1)), max: 2 ** (bits - 1) - 1 }) : fc.integer({ min: 0, max: 2 ** bits - 1 });
    }
    case BtfKind.Enum:
    case BtfKind.Enum64: {
      const values = (t.values ?? []).map((v) => (t.size! > 4 ? v.value : Number(v.value)));
      return values.length ? fc.constantFrom(...values) : fc.constant(0);
    }
    case BtfKind.Ptr:
      return fc.constant(0n);
    case BtfKind.Array: {
      const { type, nelems } = t.array!;
      const elem = btf.resolve(type);
      if (elem.kind === BtfKind.Int && elem.size === 1 && elem.name === 'char') {
        return fc.string({ unit: 'grapheme-ascii', maxLength: Math.max(0, nelems - 1) });
      }
      const inner = cValue(btf, type);
      return inner ? fc.array(inner, { minLength: nelems, maxLength: nelems }) : undefined;
    }
    case BtfKind.Struct:
      return structValue(btf, typeId);
    case BtfKind.Union: {
      const options = (t.members ?? [])
        .filter((m) => m.name !== '' && !m.bitfieldSize)
        .map((m) => ({ name: m.name, arb: cValue(btf, m.type) }))
        .filter((o): o is { name: string; arb: fc.Arbitrary<CValue> } => o.arb !== undefined);
      return options.length ? fc.oneof(...options.map((o) => o.arb.map((v) => ({ [o.name]: v })))) : undefined;
    }
    default:
      return undefined;
  }
}

/** A struct's fields; those of anonymous struct/union members are merged into the parent's, as
 * the codec addresses them. */
function structValue(btf: Btf, typeId: number): fc.Arbitrary<CValue> {
  const parts: fc.Arbitrary<CValue>[] = [];
  for (const m of btf.resolve(typeId).members ?? []) {
    if (m.bitfieldSize) continue;
    const arb = cValue(btf, m.type);
    if (!arb) continue;
    parts.push(m.name === '' ? arb : arb.map((v) => ({ [m.name]: v })));
  }
  return fc.tuple(...parts).map((vs) => Object.assign({}, ...vs) as CValue);
}

/** Values of a BTF type with their encoded bytes. */
export function btfValue(btf: Btf, typeId: number): fc.Arbitrary<GeneratedValue> {
  const arb = cValue(btf, typeId);
  if (!arb) throw new InputError(`type id ${typeId} (${btfKindName(btf.type(typeId).kind)}): no generator for this BTF type`);
  const size = btf.sizeOf(typeId);
  return arb.map((value) => {
    const bytes = Buffer.alloc(size);
    writeValue(btf, typeId, bytes, 0, value, 'generated value');
    return { value, bytes };
  });
}

/** Values of a global variable's type (found in the object's data sections). */
export function globalValue(spec: ObjectSpec, name: string): fc.Arbitrary<GeneratedValue> {
  const btf = spec.btf;
  for (const sec of btf?.types ?? []) {
    if (sec.kind !== BtfKind.Datasec) continue;
    for (const v of sec.vars ?? []) {
      const variable = btf!.type(v.type);
      if (variable.name === name) return btfValue(btf!, variable.type!);
    }
  }
  throw new InputError(`no global variable named '${name}' in the BTF of ${spec.name}`);
}

/** Values of a BTF-defined map's value type. */
export function mapValue(spec: ObjectSpec, mapName: string): fc.Arbitrary<GeneratedValue> {
  const m = spec.map(mapName);
  if (m.btfValue === undefined || !spec.btf) throw new InputError(`map ${mapName} of ${spec.name} has no BTF value type`);
  return btfValue(spec.btf, m.btfValue);
}
