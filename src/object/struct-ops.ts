// struct_ops maps as libbpf reads them: every variable of `.struct_ops` / `.struct_ops.link` is
// a map named after it, whose value is a kernel struct (tcp_congestion_ops...) the object
// initialised, with the function pointer members relocated to programs. Pure: the kernel's
// layout of the struct is applied in src/kernel/struct-ops.ts.
import { Btf, BtfKind } from '../btf/btf';
import type { ElfFile } from '../elf/elf';
import { LinkError } from '../errors';
import { MapSpec, MapType } from './maps';

const SECTIONS = ['.struct_ops', '.struct_ops.link'];
/** Map flag of `.struct_ops.link` maps: registered through a BPF link. */
export const BPF_F_LINK = 1 << 13;

export interface StructOpsMember {
  name: string;
  /** Byte offset and size in the object's struct. */
  offset: number;
  size: number;
  bitfield: boolean;
  /** The program a function pointer member is set to. */
  program?: string;
}

export interface StructOpsSpec {
  /** The kernel struct of that name (a `___flavour` suffix dropped). */
  struct: string;
  /** The variable's bytes as compiled (the object's layout of the struct). */
  data: Buffer;
  members: StructOpsMember[];
  /** Filled from the kernel's BTF when the object loads (src/kernel/struct-ops.ts): the map value
   * in the kernel's layout (non-pointer members copied, program slots 0 until registration). */
  value?: Buffer;
}

/** One map per struct_ops variable; value size and kernel type come from the kernel's BTF. */
export function structOpsMaps(elf: ElfFile, btf: Btf | undefined): MapSpec[] {
  const out: MapSpec[] = [];
  for (const secName of SECTIONS) {
    const sec = elf.sectionByName(secName);
    if (!sec) continue;
    const datasec = btf?.find(BtfKind.Datasec, secName);
    if (!btf || !datasec) throw new LinkError(`${secName}: struct_ops variables need the object's BTF (a DATASEC ${secName})`);
    const relocs = elf.relocations.get(sec.index) ?? [];
    for (const v of datasec.vars ?? []) {
      const variable = btf.type(v.type);
      const sym = elf.symbols.find((s) => s.section === sec.index && s.name === variable.name);
      const offset = sym?.value ?? v.offset;
      const st = btf.resolve(variable.type!);
      if (st.kind !== BtfKind.Struct) throw new LinkError(`${secName}: struct_ops variable ${variable.name} is not a struct`);
      const size = btf.sizeOf(st.id);
      if (offset + size > sec.data.length) throw new LinkError(`${secName}: struct_ops variable ${variable.name} lies outside the section`);
      const members = st.members!.map((m) => {
        const at = offset + m.bitOffset / 8;
        const fn = relocs.find((r) => r.offset === at);
        const member: StructOpsMember = { name: m.name, offset: Math.floor(m.bitOffset / 8), size: m.bitfieldSize ? 0 : btf.sizeOf(m.type), bitfield: m.bitfieldSize > 0 || m.bitOffset % 8 !== 0 };
        if (fn) {
          if (btf.resolve(m.type).kind !== BtfKind.Ptr) throw new LinkError(`${secName}: ${variable.name}.${m.name} is relocated but is not a function pointer`);
          member.program = fn.symbol.name;
        }
        return member;
      });
      out.push({
        name: variable.name,
        type: MapType.STRUCT_OPS,
        keySize: 4,
        valueSize: 0,
        maxEntries: 1,
        flags: secName === '.struct_ops.link' ? BPF_F_LINK : 0,
        needsBtf: false,
        structOps: { struct: st.name.replace(/___.*$/, ''), data: Buffer.from(sec.data.subarray(offset, offset + size)), members },
      });
    }
  }
  return out;
}

/** The struct_ops map member a program of a `struct_ops/` section is set to, or why it has none. */
export function structOpsUse(maps: MapSpec[], program: string): { map: string; member: string } | LinkError {
  for (const m of maps) {
    const member = m.structOps?.members.find((x) => x.program === program);
    if (member) return { map: m.name, member: member.name };
  }
  return new LinkError(`struct_ops program ${program} is not set in any struct_ops map (.struct_ops), so it has no kernel struct to attach to`);
}
