// Access specs: a CO-RE access string ("0:1:2") turned into the path it names in the local BTF
// (named members and array indices, anonymous members folded into the bit offset), and the
// same path looked up in a candidate target type by member names, as libbpf documents it.
// Pure: no syscalls.

import { Btf, BtfKind } from '../btf/btf';
import { LinkError } from '../errors';
import { CoreKind, CoreRelo } from './relos';
import { essentialName, fieldsCompatible, isAnyEnum, isComposite, sizeOf } from './types';

/** One step of the path: a named member (`name` set, `typeId` is the struct/union) or an array
 * index (`typeId` is the element type). For enum relocations: the enumerator. */
export interface Accessor { typeId: number; idx: number; name?: string }

export interface AccessSpec {
  btf: Btf;
  rootId: number;
  accessors: Accessor[];
  /** Raw indices; a target spec's list includes the anonymous members it went through. */
  raw: number[];
  bitOffset: number;
}

const MAX_SPEC_LEN = 64;

export function isFieldKind(kind: CoreKind): boolean {
  return kind <= CoreKind.FieldRshiftU64;
}

export function isTypeKind(kind: CoreKind): boolean {
  return (kind >= CoreKind.TypeIdLocal && kind <= CoreKind.TypeSize) || kind === CoreKind.TypeMatches;
}

export function isEnumvalKind(kind: CoreKind): boolean {
  return kind === CoreKind.EnumvalExists || kind === CoreKind.EnumvalValue;
}

/** A flexible array: the last member of its struct, declared with no elements. */
function isFlexArray(btf: Btf, parent: Accessor | undefined, nelems: number): boolean {
  if (!parent?.name || nelems > 0) return false;
  return parent.idx === btf.type(parent.typeId).members!.length - 1;
}

/** Parses the local side of a relocation; a malformed access string is a LinkError. */
export function parseLocalSpec(btf: Btf, relo: CoreRelo): AccessSpec {
  const bad = (why: string) => new LinkError(`CO-RE relocation #${relo.index}: access string '${relo.access}' on type [${relo.typeId}]: ${why}`);
  const spec: AccessSpec = { btf, rootId: relo.typeId, accessors: [], raw: [], bitOffset: 0 };
  if (relo.access === '' || relo.access.startsWith(':')) throw bad('empty or malformed');
  if (isTypeKind(relo.kind)) {
    if (relo.access !== '0') throw bad('type relocations take "0"');
    return spec;
  }
  for (const part of relo.access.split(':')) {
    if (!/^\d+$/.test(part)) throw bad(`'${part}' is not an index`);
    if (spec.raw.length === MAX_SPEC_LEN) throw bad('too long');
    spec.raw.push(Number(part));
  }
  let t = btf.resolve(relo.typeId);
  let id = t.id;
  spec.accessors.push({ typeId: id, idx: spec.raw[0] });
  if (isEnumvalKind(relo.kind)) {
    if (!isAnyEnum(t) || spec.raw.length > 1 || spec.raw[0] >= t.values!.length) throw bad('not an enumerator');
    spec.accessors[0].name = t.values![spec.raw[0]].name;
    return spec;
  }
  if (!isFieldKind(relo.kind)) throw bad(`unknown relocation kind ${relo.kind}`);
  spec.bitOffset = spec.raw[0] * sizeOf(btf, id) * 8;
  for (const idx of spec.raw.slice(1)) {
    t = btf.resolve(id);
    id = t.id;
    if (isComposite(t)) {
      const m = t.members![idx];
      if (!m) throw bad(`${t.name || 'anonymous'} has no member ${idx}`);
      spec.bitOffset += m.bitOffset;
      if (m.name) spec.accessors.push({ typeId: id, idx, name: m.name });
      id = m.type;
    } else if (t.kind === BtfKind.Array) {
      const elem = btf.resolve(t.array!.type);
      id = elem.id;
      if (!isFlexArray(btf, spec.accessors[spec.accessors.length - 1], t.array!.nelems) && idx >= t.array!.nelems) {
        throw bad(`index ${idx} is past the array's ${t.array!.nelems} elements`);
      }
      spec.accessors.push({ typeId: id, idx });
      spec.bitOffset += idx * sizeOf(btf, id) * 8;
    } else {
      throw bad(`steps into type [${id}], which is neither a struct, a union nor an array`);
    }
  }
  return spec;
}

/** Finds `local`'s member by name in the target type, through anonymous members; pushes the
 * target accessor and returns the member's type id, or undefined when there is none or its
 * type is incompatible. */
function matchMember(local: AccessSpec, acc: Accessor, target: Btf, targetId: number, out: AccessSpec): number | undefined {
  const t = target.resolve(targetId);
  if (!isComposite(t)) return undefined;
  const localMember = local.btf.type(acc.typeId).members![acc.idx];
  for (let i = 0; i < t.members!.length; i++) {
    const m = t.members![i];
    if (out.raw.length === MAX_SPEC_LEN) throw new LinkError(`CO-RE: type [${targetId}] nests too deeply`);
    out.bitOffset += m.bitOffset;
    out.raw.push(i);
    if (m.name === '') {
      const found = matchMember(local, acc, target, m.type, out);
      if (found !== undefined) return found;
    } else if (m.name === localMember.name) {
      if (!fieldsCompatible(local.btf, localMember.type, target, m.type)) return undefined;
      out.accessors.push({ typeId: t.id, idx: i, name: m.name });
      return m.type;
    }
    out.bitOffset -= m.bitOffset;
    out.raw.pop();
  }
  return undefined;
}

/** The local field or enumerator path looked up in candidate `targetId`; undefined: no match. */
export function matchFieldOrEnum(local: AccessSpec, kind: CoreKind, target: Btf, targetId: number): AccessSpec | undefined {
  const out: AccessSpec = { btf: target, rootId: targetId, accessors: [], raw: [], bitOffset: 0 };
  if (isEnumvalKind(kind)) {
    const t = target.resolve(targetId);
    if (!isAnyEnum(t)) return undefined;
    const want = essentialName(local.accessors[0].name!);
    const i = t.values!.findIndex((v) => essentialName(v.name) === want);
    if (i < 0) return undefined;
    out.accessors.push({ typeId: t.id, idx: i, name: t.values![i].name });
    out.raw.push(i);
    return out;
  }
  let id = targetId;
  for (let k = 0; k < local.accessors.length; k++) {
    const acc = local.accessors[k];
    const t = target.resolve(id);
    id = t.id;
    if (acc.name !== undefined) {
      const next = matchMember(local, acc, target, id, out);
      if (next === undefined) return undefined;
      id = next;
      continue;
    }
    if (k > 0) {
      if (t.kind !== BtfKind.Array) return undefined;
      if (!isFlexArray(target, out.accessors[out.accessors.length - 1], t.array!.nelems) && acc.idx >= t.array!.nelems) return undefined;
      id = target.resolve(t.array!.type).id;
    }
    if (out.raw.length === MAX_SPEC_LEN) throw new LinkError(`CO-RE: type [${targetId}] nests too deeply`);
    out.accessors.push({ typeId: id, idx: acc.idx });
    out.raw.push(acc.idx);
    out.bitOffset += acc.idx * sizeOf(target, id) * 8;
  }
  return out;
}
