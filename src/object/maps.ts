// Map definitions: BTF-defined maps from `.maps`, and data sections as 1-entry ARRAY maps.
import { Btf, BtfKind, BtfType } from '../btf/btf';
import { BtfError, LinkError } from '../errors';
import type { ElfFile, ElfSection } from '../elf/elf';
import type { StructOpsSpec } from './struct-ops';

export const MapType = {
  HASH: 1, ARRAY: 2, PROG_ARRAY: 3, PERF_EVENT_ARRAY: 4, PERCPU_HASH: 5, PERCPU_ARRAY: 6,
  STACK_TRACE: 7, CGROUP_ARRAY: 8, LRU_HASH: 9, LRU_PERCPU_HASH: 10, LPM_TRIE: 11,
  ARRAY_OF_MAPS: 12, HASH_OF_MAPS: 13, DEVMAP: 14, SOCKMAP: 15, CPUMAP: 16, XSKMAP: 17,
  SOCKHASH: 18, QUEUE: 22, STACK: 23, SK_STORAGE: 24, DEVMAP_HASH: 25, STRUCT_OPS: 26, RINGBUF: 27,
  INODE_STORAGE: 28, TASK_STORAGE: 29, BLOOM_FILTER: 30, CGRP_STORAGE: 32,
} as const;

export function mapTypeName(type: number): string {
  for (const [name, value] of Object.entries(MapType)) if (value === type) return name;
  return `type ${type}`;
}

/** Types libbpf creates without BTF key/value types even when the definition names them (the
 * kernel rejects or ignores them there). */
const NO_BTF_TYPES = new Set<number>([
  MapType.PERF_EVENT_ARRAY, MapType.STACK_TRACE, MapType.CGROUP_ARRAY, MapType.ARRAY_OF_MAPS, MapType.HASH_OF_MAPS,
  MapType.DEVMAP, MapType.DEVMAP_HASH, MapType.CPUMAP, MapType.XSKMAP, MapType.SOCKMAP, MapType.SOCKHASH,
  MapType.QUEUE, MapType.STACK,
]);

/** Storage maps the kernel creates only with BTF key/value types. */
const NEEDS_BTF = new Set<number>([MapType.SK_STORAGE, MapType.INODE_STORAGE, MapType.TASK_STORAGE, MapType.CGRP_STORAGE]);

export const BPF_F_NO_PREALLOC = 1;
export const BPF_F_RDONLY_PROG = 1 << 7;
export const BPF_F_MMAPABLE = 1 << 10;

export interface MapSpec {
  /** The C name (or the data section's name, e.g. ".rodata"). */
  name: string;
  type: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags: number;
  /** BTF type ids of key and value, when the definition named types (the map is created with
   * them, as libbpf does, except for the types libbpf creates without). A PERF_EVENT_ARRAY with
   * maxEntries 0 gets one entry per possible CPU when created. */
  btfKey?: number;
  btfValue?: number;
  /** The kernel refuses this map without BTF key/value types. */
  needsBtf: boolean;
  /** Prog array slots initialised in C (`.values = { [i] = &prog }`): filled once the programs load. */
  programSlots?: { index: number; program: string }[];
  /** A map of maps: the inner map definition (`__array(values, struct inner)`), created as a
   * template for the kernel and closed once the outer map exists, as libbpf does. */
  inner?: MapSpec;
  /** Map-of-maps slots initialised in C (`.values = { [i] = &other_map }`): filled with the fds. */
  mapSlots?: { index: number; map: string }[];
  /** A struct_ops map (a variable of `.struct_ops`): created with the kernel's value type
   * (`vmlinuxValueTypeId`, filled with valueSize when the object loads), as libbpf creates it;
   * nothing is registered. */
  structOps?: StructOpsSpec;
  vmlinuxValueTypeId?: number;
  /** A data section: its initial bytes, written to key 0 after creation. */
  data?: { section: string; contents: Buffer; freeze: boolean };
}

export function isDataSection(sec: ElfSection): boolean {
  return sec.name === '.data' || sec.name === '.bss' || sec.name === '.rodata' ||
    sec.name.startsWith('.data.') || sec.name.startsWith('.rodata.') || sec.name.startsWith('.bss.');
}

export function dataSectionMaps(elf: ElfFile): MapSpec[] {
  return elf.sections
    .filter((s) => isDataSection(s) && s.size > 0)
    .map((s) => {
      const readOnly = s.name.startsWith('.rodata');
      return {
        name: s.name,
        type: MapType.ARRAY,
        keySize: 4,
        valueSize: s.size,
        maxEntries: 1,
        // Mmapable as libbpf makes them: globals are then read and written as memory.
        flags: (readOnly ? BPF_F_RDONLY_PROG : 0) | BPF_F_MMAPABLE,
        needsBtf: false,
        data: { section: s.name, contents: Buffer.from(s.data), freeze: readOnly },
      };
    });
}

/** `__uint(name, N)` is encoded as a pointer to an array of N elements. */
function uintField(btf: Btf, map: string, field: string, id: number): number {
  const ptr = btf.resolve(id);
  if (ptr.kind !== BtfKind.Ptr) throw new LinkError(`map ${map}: field ${field} is not a __uint() pointer`);
  const arr = btf.resolve(ptr.type!);
  if (arr.kind !== BtfKind.Array || !arr.array) throw new LinkError(`map ${map}: field ${field} is not a __uint() pointer to an array`);
  return arr.array.nelems;
}

/** `__type(name, T)` is encoded as a pointer to T. */
function typeField(btf: Btf, map: string, field: string, id: number): number {
  const ptr = btf.resolve(id);
  if (ptr.kind !== BtfKind.Ptr || ptr.type === undefined) throw new LinkError(`map ${map}: field ${field} is not a __type() pointer`);
  return ptr.type;
}

function mapFromStruct(btf: Btf, name: string, def: BtfType, inner = false): MapSpec {
  const spec: MapSpec = { name, type: 0, keySize: 0, valueSize: 0, maxEntries: 0, flags: 0, needsBtf: false };
  let keyType: number | undefined;
  let valueType: number | undefined;
  let values: number | undefined;
  for (const m of def.members ?? []) {
    switch (m.name) {
      case 'type': spec.type = uintField(btf, name, m.name, m.type); break;
      case 'max_entries': spec.maxEntries = uintField(btf, name, m.name, m.type); break;
      case 'map_flags': spec.flags = uintField(btf, name, m.name, m.type); break;
      case 'key_size': spec.keySize = uintField(btf, name, m.name, m.type); break;
      case 'value_size': spec.valueSize = uintField(btf, name, m.name, m.type); break;
      case 'key': keyType = typeField(btf, name, m.name, m.type); break;
      case 'value': valueType = typeField(btf, name, m.name, m.type); break;
      case 'values': values = m.type; break;
      case 'pinning': case 'numa_node': case 'map_extra': break;
      default: throw new LinkError(`map ${name}: unknown field '${m.name}' in its definition`);
    }
  }
  // The kernel takes key and value sizes as u32; BTF arrays can multiply past that.
  const sizeOf = (id: number, what: string) => {
    const size = btf.sizeOf(id);
    if (size > 0xffffffff) throw new LinkError(`map ${name}: its ${what} type is ${size} bytes, more than a u32 can say`);
    return size;
  };
  try {
    if (keyType !== undefined) {
      spec.keySize = sizeOf(keyType, 'key');
      spec.btfKey = keyType;
    }
    if (valueType !== undefined) {
      spec.valueSize = sizeOf(valueType, 'value');
      spec.btfValue = valueType;
    }
  } catch (e) {
    if (e instanceof BtfError) throw new LinkError(`map ${name}: ${e.message}`);
    throw e;
  }
  if (values !== undefined) {
    if (spec.type === MapType.ARRAY_OF_MAPS || spec.type === MapType.HASH_OF_MAPS) {
      if (inner) throw new LinkError(`map ${name}: an inner map cannot hold maps itself`);
      spec.inner = innerMap(btf, name, values);
    } else if (spec.type !== MapType.PROG_ARRAY) {
      throw new LinkError(`map ${name}: only prog arrays and maps of maps take __array(values, ...)`);
    }
    // Both hold fds: 4-byte values whatever __array() names.
    spec.keySize ||= 4;
    spec.valueSize ||= 4;
  }
  if (spec.type === 0) throw new LinkError(`map ${name}: its definition has no type`);
  if (NO_BTF_TYPES.has(spec.type)) {
    delete spec.btfKey;
    delete spec.btfValue;
  }
  spec.needsBtf = NEEDS_BTF.has(spec.type);
  if (spec.needsBtf && (spec.btfKey === undefined || spec.btfValue === undefined)) {
    throw new LinkError(`map ${name}: ${mapTypeName(spec.type)} maps need __type(key) and __type(value)`);
  }
  return spec;
}

/** `__array(values, struct inner)`: a zero-length array of pointers to the inner definition. */
function innerMap(btf: Btf, outer: string, arrayType: number): MapSpec {
  const arr = btf.resolve(arrayType);
  const ptr = arr.kind === BtfKind.Array && arr.array!.nelems === 0 ? btf.resolve(arr.array!.type) : undefined;
  const def = ptr?.kind === BtfKind.Ptr ? btf.resolve(ptr.type!) : undefined;
  if (!def || def.kind !== BtfKind.Struct) throw new LinkError(`map ${outer}: its values are not __array(values, struct ...)`);
  return mapFromStruct(btf, `${outer}.inner`, def, true);
}

/** The maps declared in `.maps`, in the order of their symbols, with their byte offsets there. */
export function btfMaps(elf: ElfFile, btf: Btf | undefined): { spec: MapSpec; offset: number }[] {
  const sec = elf.sectionByName('.maps');
  if (!sec) return [];
  if (!btf) throw new LinkError('the object has a .maps section but no .BTF section to describe it');
  const datasec = btf.find(BtfKind.Datasec, '.maps');
  if (!datasec) throw new LinkError('the .BTF section has no DATASEC for .maps');
  const out: { spec: MapSpec; offset: number }[] = [];
  for (const v of datasec.vars ?? []) {
    const variable = btf.type(v.type);
    if (variable.kind !== BtfKind.Var) throw new LinkError(`.maps entry ${v.type} is not a variable`);
    const sym = elf.symbolIn(sec.index, variable.name);
    if (!sym) throw new LinkError(`map ${variable.name} has no symbol in .maps`);
    const def = btf.resolve(variable.type!);
    if (def.kind !== BtfKind.Struct) throw new LinkError(`map ${variable.name}: its definition is not a struct`);
    const spec = mapFromStruct(btf, variable.name, def);
    const values = def.members?.find((m) => m.name === 'values');
    // The symbol, not the struct, has the size: `values[]` is a flexible array.
    if (values) {
      const slots = valueSlots(elf, sec, sym.value, values.bitOffset / 8, sym.size, spec);
      if (spec.inner) spec.mapSlots = slots.map(({ index, name }) => ({ index, map: name }));
      else spec.programSlots = slots.map(({ index, name }) => ({ index, program: name }));
    }
    out.push({ spec, offset: sym.value });
  }
  for (const { spec } of out) {
    for (const slot of spec.mapSlots ?? []) {
      if (!out.some((o) => o.spec.name === slot.map)) throw new LinkError(`map ${spec.name}: .values[${slot.index}] names ${slot.map}, which is not a map in .maps`);
    }
  }
  return out.sort((a, b) => a.offset - b.offset);
}

/** `.values = { [i] = &prog_or_map }` in a definition becomes relocations inside .maps. */
function valueSlots(elf: ElfFile, maps: ElfSection, mapOffset: number, valuesOffset: number, size: number, map: MapSpec) {
  const slots: { index: number; name: string }[] = [];
  const name = map.name;
  for (const r of elf.relocations.get(maps.index) ?? []) {
    if (r.offset < mapOffset || r.offset >= mapOffset + size) continue;
    const index = (r.offset - mapOffset - valuesOffset) / 8;
    if (!Number.isInteger(index) || index < 0) throw new LinkError(`map ${name}: a relocation at .maps+${r.offset} is not inside its values`);
    // Slots are filled with u32 keys after loading; past max_entries the kernel has no such slot.
    if (index >= map.maxEntries) throw new LinkError(`map ${name}: .values[${index}] is past its max_entries ${map.maxEntries}`);
    slots.push({ index, name: r.symbol.name });
  }
  return slots;
}
