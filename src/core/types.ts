// Type comparisons CO-RE relies on, following libbpf's documented rules (relo_core.c): essential
// names without a ___flavour suffix, kind compatibility, "compatible" types for type relocations
// and field matching, and the stricter "matches" relation of bpf_core_type_matches().
// Pure: no syscalls. Recursion is bounded as libbpf bounds it, so cyclic BTF ends in an error.

import { Btf, BtfKind, BtfType } from '../btf/btf';
import { LinkError } from '../errors';

const MAX_DEPTH = 32;

/** The name without its last `___flavour` suffix (X___Y with X and Y not underscores). */
export function essentialName(name: string): string {
  for (let i = name.length - 5; i >= 0; i--) {
    if (name[i] !== '_' && name.startsWith('___', i + 1) && name[i + 4] !== '_') return name.slice(0, i + 1);
  }
  return name;
}

export function isAnyEnum(t: BtfType): boolean {
  return t.kind === BtfKind.Enum || t.kind === BtfKind.Enum64;
}

export function isComposite(t: BtfType): boolean {
  return t.kind === BtfKind.Struct || t.kind === BtfKind.Union;
}

/** Same kind, or both enums of either width. */
export function kindsCompatible(a: BtfType, b: BtfType): boolean {
  return a.kind === b.kind || (isAnyEnum(a) && isAnyEnum(b));
}

/** BTF_INT_SIGNED in the int encoding. */
export function isSignedInt(t: BtfType): boolean {
  return t.kind === BtfKind.Int && (t.int!.encoding & 1) !== 0;
}

/** Size as libbpf resolves it (modifiers followed, arrays multiplied, 8-byte pointers). */
export function sizeOf(btf: Btf, id: number): number {
  try {
    return btf.sizeOf(id);
  } catch (e) {
    throw new LinkError(`CO-RE: ${(e as Error).message}`);
  }
}

/** Compatibility for type-based relocations (exists, size, target id): same essential name is
 * the caller's job; here kinds must agree, ints have no bit offset, pointers, arrays and
 * function prototypes are compared through what they point at. */
export function typesCompatible(local: Btf, localId: number, target: Btf, targetId: number, level = MAX_DEPTH): boolean {
  if (!kindsCompatible(local.type(localId), target.type(targetId))) return false;
  for (let depth = 0; ; depth++) {
    if (depth >= MAX_DEPTH) throw new LinkError(`CO-RE: type [${localId}] nests too deeply to compare`);
    const l = local.resolve(localId);
    const t = target.resolve(targetId);
    if (!kindsCompatible(l, t)) return false;
    switch (l.kind) {
      case BtfKind.Unknown: case BtfKind.Struct: case BtfKind.Union: case BtfKind.Enum:
      case BtfKind.Enum64: case BtfKind.Fwd:
        return true;
      case BtfKind.Int:
        return l.int!.offset === 0 && t.int!.offset === 0;
      case BtfKind.Ptr:
        localId = l.type!;
        targetId = t.type!;
        break;
      case BtfKind.Array:
        localId = l.array!.type;
        targetId = t.array!.type;
        break;
      case BtfKind.FuncProto: {
        if (l.params!.length !== t.params!.length) return false;
        for (let i = 0; i < l.params!.length; i++) {
          if (level <= 0) throw new LinkError('CO-RE: function prototypes nest too deeply to compare');
          if (!typesCompatible(local, local.resolve(l.params![i].type).id, target, target.resolve(t.params![i].type).id, level - 1)) return false;
        }
        localId = l.type!;
        targetId = t.type!;
        break;
      }
      default:
        return false;
    }
  }
}

/** Compatibility of a local field's type with a target field's type of the same name. */
export function fieldsCompatible(local: Btf, localId: number, target: Btf, targetId: number): boolean {
  for (let depth = 0; ; depth++) {
    if (depth >= MAX_DEPTH) throw new LinkError(`CO-RE: field type [${localId}] nests too deeply to compare`);
    const l = local.resolve(localId);
    const t = target.resolve(targetId);
    if (isComposite(l) && isComposite(t)) return true;
    if (!kindsCompatible(l, t)) return false;
    switch (l.kind) {
      case BtfKind.Ptr: case BtfKind.Float:
        return true;
      case BtfKind.Fwd: case BtfKind.Enum: case BtfKind.Enum64: {
        const a = essentialName(l.name);
        const b = essentialName(t.name);
        return a === '' || b === '' || a === b;
      }
      case BtfKind.Int:
        return l.int!.offset === 0 && t.int!.offset === 0;
      case BtfKind.Array:
        localId = l.array!.type;
        targetId = t.array!.type;
        break;
      default:
        return false;
    }
  }
}

function namesMatch(local: string, target: string): boolean {
  if (target === '') return local === '';
  return essentialName(local) === essentialName(target);
}

/** bpf_core_type_matches(): names, kinds, int size and signedness, array lengths, every local
 * member or enumerator present in the target, function prototypes argument by argument. */
export function typesMatch(local: Btf, localId: number, target: Btf, targetId: number, behindPtr = false, level = MAX_DEPTH): boolean {
  if (level <= 0) throw new LinkError('CO-RE: types nest too deeply to match');
  for (let depth = 0; ; depth++) {
    if (depth >= MAX_DEPTH) throw new LinkError(`CO-RE: type [${localId}] nests too deeply to match`);
    const l = local.resolve(localId);
    const t = target.resolve(targetId);
    if (!namesMatch(l.name, t.name)) return false;
    switch (l.kind) {
      case BtfKind.Unknown:
        return t.kind === BtfKind.Unknown;
      case BtfKind.Fwd:
        if (behindPtr && t.kind !== BtfKind.Fwd) {
          // A forward declaration's kind_flag says union (1) or struct (0).
          return (t.kind === BtfKind.Struct && !l.kindFlag) || (t.kind === BtfKind.Union && l.kindFlag);
        }
        return t.kind === BtfKind.Fwd && l.kindFlag === t.kindFlag;
      case BtfKind.Enum: case BtfKind.Enum64:
        if (!isAnyEnum(t) || l.size !== t.size || l.values!.length > t.values!.length) return false;
        return l.values!.every((lv) => t.values!.some((tv) => namesMatch(lv.name, tv.name)));
      case BtfKind.Struct: case BtfKind.Union:
        if (behindPtr) {
          if (l.kind === t.kind) return true;
          return t.kind === BtfKind.Fwd && (l.kind === BtfKind.Union) === t.kindFlag;
        }
        if (l.kind !== t.kind || l.members!.length > t.members!.length) return false;
        return l.members!.every((lm) => t.members!.some((tm) =>
          namesMatch(lm.name, tm.name) && typesMatch(local, lm.type, target, tm.type, behindPtr, level - 1)));
      case BtfKind.Int:
        return t.kind === BtfKind.Int && l.size === t.size && (l.int!.encoding & 1) === (t.int!.encoding & 1);
      case BtfKind.Ptr:
        if (t.kind !== BtfKind.Ptr) return false;
        behindPtr = true;
        localId = l.type!;
        targetId = t.type!;
        break;
      case BtfKind.Array:
        if (t.kind !== BtfKind.Array || l.array!.nelems !== t.array!.nelems) return false;
        localId = l.array!.type;
        targetId = t.array!.type;
        break;
      case BtfKind.FuncProto:
        if (t.kind !== BtfKind.FuncProto || l.params!.length !== t.params!.length) return false;
        for (let i = 0; i < l.params!.length; i++) {
          if (!typesMatch(local, l.params![i].type, target, t.params![i].type, behindPtr, level - 1)) return false;
        }
        localId = l.type!;
        targetId = t.type!;
        break;
      default:
        return false;
    }
  }
}
