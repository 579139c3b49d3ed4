// Global variables of an object's data sections, found by name through its BTF and symbols, and
// the values a load gives the read-only ones (.rodata, .rodata.*) before their maps are created
// and frozen: what a libbpf skeleton writes between open and load. No syscalls.
import { BtfKind } from '../btf/btf';
import { CValue, writeValue } from '../btf/value';
import { InputError } from '../errors';
import type { MapSpec } from './maps';
import type { ObjectSpec } from './object';

export interface GlobalLocation {
  /** The data section (and map) that holds it: ".data", ".bss", ".rodata", ".rodata.cfg"... */
  section: string;
  offset: number;
  size: number;
  /** BTF id of the variable's type. */
  typeId: number;
  /** In a section frozen once loaded (.rodata, .rodata.*): programs and the verifier see it as a
   * constant, userspace cannot write it any more. */
  readOnly: boolean;
}

const found = new WeakMap<ObjectSpec, Map<string, GlobalLocation>>();

/** Every global of the object's data sections (not .kconfig's externs), in section order; kept
 * per spec (its sections do not change). */
export function objectGlobals(spec: ObjectSpec): Map<string, GlobalLocation> {
  let out = found.get(spec);
  if (!out) found.set(spec, (out = locateAll(spec)));
  return out;
}

function locateAll(spec: ObjectSpec): Map<string, GlobalLocation> {
  const out = new Map<string, GlobalLocation>();
  const btf = spec.btf;
  if (!btf) return out;
  for (const m of spec.maps) {
    const sec = m.data && spec.elf.sectionByName(m.name);
    if (!sec) continue; // .kconfig: externs, not globals
    for (const v of btf.find(BtfKind.Datasec, m.name)?.vars ?? []) {
      const variable = btf.type(v.type);
      // The symbol, not the DATASEC entry, gives the offset: clang may leave the latter 0.
      const sym = spec.elf.symbols.find((s) => s.section === sec.index && s.name === variable.name);
      if (!sym || out.has(variable.name)) continue;
      out.set(variable.name, { section: m.name, offset: sym.value, size: btf.sizeOf(v.type), typeId: variable.type!, readOnly: m.data!.freeze });
    }
  }
  return out;
}

/** `maps` with `values` encoded through the object's BTF into copies of the read-only sections'
 * initial bytes. Every name must be a .rodata / .rodata.* global; a value is checked as
 * Harness.set checks it (partial for structs), and nothing is written unless all fit. */
export function withRodata(spec: ObjectSpec, maps: MapSpec[], values: Record<string, CValue> | undefined): MapSpec[] {
  const names = Object.keys(values ?? {});
  if (names.length === 0) return maps;
  if (!spec.btf) throw new InputError(`rodata: ${spec.name} has no BTF, so its globals cannot be found by name`);
  const globals = objectGlobals(spec);
  const readOnly = [...globals].filter(([, g]) => g.readOnly).map(([n]) => n);
  const contents = new Map<string, Buffer>();
  for (const name of names) {
    const g = globals.get(name);
    if (!g?.readOnly) {
      const where = g ? `'${name}' is in ${g.section}, writable once loaded (set it then)` : `no global named '${name}'`;
      throw new InputError(`rodata: ${where}; the read-only globals of ${spec.name} are: ${readOnly.join(', ') || 'none'}`);
    }
    let bytes = contents.get(g.section);
    if (!bytes) contents.set(g.section, (bytes = Buffer.from(maps.find((m) => m.name === g.section)!.data!.contents)));
    writeValue(spec.btf, g.typeId, bytes, g.offset, values![name], `rodata ${name}`);
  }
  return maps.map((m) => (contents.has(m.name) ? { ...m, data: { ...m.data!, contents: contents.get(m.name)! } } : m));
}
