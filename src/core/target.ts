// The BTF a program is relocated against: the running kernel's vmlinux (with module BTF searched
// only when vmlinux has no candidate, as libbpf does) or a BTF file the user names (then no
// module is searched). Pure: callers hand in bytes; src/kernel/core-target.ts reads /sys.

import { Btf } from '../btf/btf';
import { parseElf } from '../elf/elf';
import { BtfError } from '../errors';
import { essentialName, kindsCompatible } from './types';

export interface Candidate { btf: Btf; id: number }

/** A module's BTF joined to vmlinux's (see joinSplitBtf); its own types start at `firstId`. */
export interface ModuleBtf { name: string; btf: Btf; firstId: number }

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

/** vmlinux's BTF followed by a module's split BTF as one BTF: the module numbers its types after
 * vmlinux's and its string offsets after vmlinux's strings, so appending both sections keeps
 * every id and offset valid. The module's own types start at the vmlinux BTF's type count. */
export function joinSplitBtf(base: Buffer, split: Buffer, name: string): Buffer {
  const sections = (b: Buffer, what: string) => {
    if (b.length < 24 || b.readUInt16LE(0) !== 0xeb9f) throw new BtfError(`${what}: not BTF`);
    const hdr = b.readUInt32LE(4);
    const [typeOff, typeLen, strOff, strLen] = [8, 12, 16, 20].map((o) => b.readUInt32LE(o));
    if (hdr + Math.max(typeOff + typeLen, strOff + strLen) > b.length) throw new BtfError(`${what}: sections run past the end`);
    return { types: b.subarray(hdr + typeOff, hdr + typeOff + typeLen), strs: b.subarray(hdr + strOff, hdr + strOff + strLen) };
  };
  const a = sections(base, 'vmlinux BTF');
  const m = sections(split, `${name} BTF`);
  const header = Buffer.alloc(24);
  header.writeUInt16LE(0xeb9f, 0);
  header[2] = 1;
  header.writeUInt32LE(24, 4);
  header.writeUInt32LE(a.types.length + m.types.length, 12);
  header.writeUInt32LE(a.types.length + m.types.length, 16);
  header.writeUInt32LE(a.strs.length + m.strs.length, 20);
  return Buffer.concat([header, a.types, m.types, a.strs, m.strs]);
}
