// BTF types written as C declares them, for messages that put a local declaration next to the
// kernel's ("void *(void *, u64)" against "void *(void *)"). Pure.
import { Btf, BtfKind } from './btf';

/** Deeper than this, the rest of a type is written "...": messages stay short on any BTF. */
const MAX_DEPTH = 8;

const QUALIFIERS: Partial<Record<BtfKind, string>> = {
  [BtfKind.Const]: 'const', [BtfKind.Volatile]: 'volatile', [BtfKind.Restrict]: 'restrict',
};

const TAGS: Partial<Record<BtfKind, string>> = {
  [BtfKind.Struct]: 'struct', [BtfKind.Union]: 'union', [BtfKind.Enum]: 'enum', [BtfKind.Enum64]: 'enum',
};

/** Type `id` of `btf` in C syntax, e.g. "const int *", "struct rq", "void *(*)(void *)". */
export function spellType(btf: Btf, id: number): string {
  return spell(btf, id, '', 0);
}

/** The type as the base of the declarator `inner` (what C wraps around the name). */
function spell(btf: Btf, id: number, inner: string, depth: number): string {
  if (depth > MAX_DEPTH) return join('...', inner);
  const t = btf.type(id);
  const next = (of: number, around: string) => spell(btf, of, around, depth + 1);
  const qualifier = QUALIFIERS[t.kind];
  if (qualifier) {
    // A qualified pointer reads "T *const"; anything else "const T".
    return btf.type(t.type!).kind === BtfKind.Ptr ? next(t.type!, join(qualifier, inner)) : join(`${qualifier} ${next(t.type!, '')}`, inner);
  }
  switch (t.kind) {
    case BtfKind.Unknown:
      return join('void', inner);
    case BtfKind.Ptr: {
      const to = btf.type(t.type!).kind;
      return next(t.type!, to === BtfKind.FuncProto || to === BtfKind.Array ? `(*${inner})` : `*${inner}`);
    }
    case BtfKind.Array:
      return next(t.array!.type, `${inner}[${t.array!.nelems}]`);
    case BtfKind.FuncProto: {
      const params = t.params!.map((p) => (p.type === 0 && p.name === '' ? '...' : next(p.type, '')));
      return next(t.type!, `${inner}(${params.length ? params.join(', ') : 'void'})`);
    }
    // Marked, so that a message comparing one with its definition shows the difference.
    case BtfKind.Fwd:
      return join(`${t.kindFlag ? 'union' : 'struct'} ${t.name} /* declared only */`, inner);
    case BtfKind.Int:
      return join(t.int!.offset ? `${t.name} /* from bit ${t.int!.offset} */` : t.name, inner);
    case BtfKind.TypeTag:
      return next(t.type!, inner); // a tag changes nothing the reader compares
    default: {
      const tag = TAGS[t.kind];
      return join(tag ? `${tag} ${t.name || '(anon)'}` : t.name, inner);
    }
  }
}

function join(base: string, inner: string): string {
  if (inner === '') return base;
  return inner.startsWith('[') ? base + inner : `${base} ${inner}`;
}
