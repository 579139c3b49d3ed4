// The BTF a program is relocated against: the running kernel's vmlinux (with module BTF searched
// only when vmlinux has no candidate, as libbpf does) or a BTF file the user names (then no
// module is searched). Pure: callers hand in bytes; src/kernel/core-target.ts reads /sys.

import { Btf } from '../btf/btf';
import type { ModuleBtf } from '../btf/kernel-symbols';
import { parseElf } from '../elf/elf';
import { BtfError } from '../errors';
import { essentialName, kindsCompatible } from './types';

export interface Candidate { btf: Btf; id: number }

export type { ModuleBtf };

const byName = new WeakMap<Btf, Map<string, number[]>>();

/** Ids of named types from `firstId` on, by essential name (built once per BTF). */
function nameIndex(btf: Btf, firstId: number): Map<string, number[]> {
  let index = byName.get(btf);
  if (!index) {
    index = new Map();
    for (let id = firstId; id < btf.types.length; id++) {
      const name = btf.types[id].name;
      if (name === '') continue;
      const key = essentialName(name);
      const list = index.get(key);
      if (list) list.push(id);
      else index.set(key, [id]);
    }
    byName.set(btf, index);
  }
  return index;
}

export class CoreTarget {
  // Weak: the kernel's target lives as long as the process, the objects relocated against it do not.
  private readonly cache = new WeakMap<Btf, Map<number, Candidate[]>>();

  /** `modules` is asked for only when vmlinux has no candidate for a type. */
  constructor(
    readonly name: string,
    readonly main: Btf,
    private readonly modules: () => ModuleBtf[] = () => [],
  ) {}

  /** Parses a BTF file: raw BTF (like /sys/kernel/btf/vmlinux) or an ELF file with a .BTF
   * section (a vmlinux image or an object), as libbpf's btf_custom_path accepts. */
  static fromBytes(bytes: Buffer, name: string): CoreTarget {
    if (bytes.length >= 4 && bytes.readUInt32BE(0) === 0x7f454c46) {
      const sec = parseElf(bytes).sectionByName('.BTF');
      if (!sec) throw new BtfError(`${name}: ELF file without a .BTF section`);
      return new CoreTarget(name, Btf.parse(sec.data));
    }
    return new CoreTarget(name, Btf.parse(bytes));
  }

  /** Types in the target with the local type's essential name and a compatible kind. */
  candidates(local: Btf, localId: number): Candidate[] {
    let perBtf = this.cache.get(local);
    if (!perBtf) this.cache.set(local, (perBtf = new Map()));
    let found = perBtf.get(localId);
    if (found) return found;
    const lt = local.type(localId);
    const key = essentialName(lt.name);
    const pick = (btf: Btf, firstId: number) =>
      (nameIndex(btf, firstId).get(key) ?? []).filter((id) => kindsCompatible(btf.types[id], lt)).map((id) => ({ btf, id }));
    found = pick(this.main, 1);
    if (found.length === 0) found = this.modules().flatMap((m) => pick(m.btf, m.firstId));
    perBtf.set(localId, found);
    return found;
  }
}
