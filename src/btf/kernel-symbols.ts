// Where a typed `__ksym` or a kfunc lives in the kernel's BTF, the way libbpf looks: vmlinux
// first, then each module's split BTF (its own types only, whose ids continue vmlinux's), and
// the fd_array slots the module BTFs of kfunc calls take, and whether the object's declaration
// of one fits the kernel's. Pure: the BTF is handed in.
import { typesCompatible } from '../core/types';
import { LinkError } from '../errors';
import { Btf, BtfKind } from './btf';
import { spellType } from './spell';

/** A module's split BTF parsed on top of vmlinux's; its own types start at `firstId`. */
export interface ModuleBtf { name: string; btf: Btf; firstId: number }

/** Where a symbol was found: its type id, and the module whose BTF holds it (none: vmlinux). */
export interface SymbolSite<M extends ModuleBtf = ModuleBtf> { id: number; module?: M }

const indexes = new WeakMap<Btf, Map<string, number>>();

/** The first id of each named FUNC, VAR and TYPEDEF from `firstId` on, keyed "kind:name". */
function namedIds(btf: Btf, firstId: number): Map<string, number> {
  let index = indexes.get(btf);
  if (!index) {
    index = new Map();
    for (let id = firstId; id < btf.types.length; id++) {
      const t = btf.types[id];
      if (t.kind !== BtfKind.Func && t.kind !== BtfKind.Var && t.kind !== BtfKind.Typedef) continue;
      const key = `${t.kind}:${t.name}`;
      if (!index.has(key)) index.set(key, id);
    }
    indexes.set(btf, index);
  }
  return index;
}

/** The FUNC (kfunc, attach target), VAR (typed ksym) or TYPEDEF (tp_btf/ target) `name`: in
 * vmlinux, else in the first module that has it (modules are asked for only then, as libbpf
 * loads them only on a miss). */
export function findKernelSymbol<M extends ModuleBtf>(
  vmlinux: Btf, modules: () => M[], kind: BtfKind.Func | BtfKind.Var | BtfKind.Typedef, name: string,
): SymbolSite<M> | undefined {
  const key = `${kind}:${name}`;
  const id = namedIds(vmlinux, 1).get(key);
  if (id !== undefined) return { id };
  for (const module of modules()) {
    const own = namedIds(module.btf, module.firstId).get(key);
    if (own !== undefined) return { id: own, module };
  }
  return undefined;
}

/** A local declaration next to the kernel's, both written in C. */
export interface TypeMismatch { local: string; kernel: string }

/**
 * Whether the object's declaration of a typed `__ksym` (its VAR's type) or kfunc (its FUNC's
 * prototype), `localType` in `local`, fits the kernel's VAR or FUNC `kernelId` in `kernel`, by
 * the rules libbpf applies before it resolves either: CO-RE type compatibility (modifiers and
 * typedefs skipped, ints of any size, struct/union/enum names and members not compared, pointers,
 * arrays and prototypes compared through what they hold). undefined when it fits. libbpf counts
 * types nested too deeply to compare as not fitting, and so does this.
 */
export function typeMismatch(local: Btf, localType: number, kernel: Btf, kernelId: number): TypeMismatch | undefined {
  const kernelType = kernel.type(kernelId).type!;
  let fits: boolean;
  try {
    fits = typesCompatible(local, local.resolve(localType).id, kernel, kernel.resolve(kernelType).id);
  } catch (e) {
    if (!(e instanceof LinkError)) throw e;
    fits = false;
  }
  return fits ? undefined : { local: spellType(local, localType), kernel: spellType(kernel, kernelType) };
}

/** The fd_array index of each module BTF that kfunc calls name (their `off`), as libbpf numbers
 * them for an object: index 0 is left unused, then one per module in the order of the object's
 * kfunc externs sorted by name. `site` says where each kfunc is (undefined: nowhere). */
export function fdArraySlots<M extends ModuleBtf>(kfuncs: Iterable<string>, site: (name: string) => SymbolSite<M> | undefined): Map<M, number> {
  const slots = new Map<M, number>();
  for (const name of [...new Set(kfuncs)].sort(byBytes)) {
    const m = site(name)?.module;
    if (m && !slots.has(m)) slots.set(m, slots.size + 1);
  }
  return slots;
}

/** strcmp order (libbpf sorts externs with it), not the locale's. */
function byBytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/** The fd_array to load with: slot k holds the fd of the module given slot k; undefined when
 * no kfunc is in a module (vmlinux kfuncs need none). */
export function fdArray<M extends ModuleBtf>(slots: Map<M, number>, fdOf: (m: M) => number): number[] | undefined {
  if (slots.size === 0) return undefined;
  const out = new Array<number>(slots.size + 1).fill(0);
  for (const [m, slot] of slots) out[slot] = fdOf(m);
  return out;
}
