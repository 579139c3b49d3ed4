// Expected CO-RE values come from bpftool's JSON dump of a BTF file, never from bpfunit's own
// parser: type ids, member bit offsets and bitfield sizes, enum values, sizes.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { ROOT } from '../loader/helpers';

export interface DumpMember { name: string; type_id: number; bits_offset: number; bitfield_size?: number }
export interface DumpType {
  id: number;
  kind: string;
  name: string;
  size?: number;
  type_id?: number;
  nr_elems?: number;
  encoding?: string;
  members?: DumpMember[];
  values?: { name: string; val: number }[];
}

const cache = new Map<string, Map<number, DumpType>>();

export function bpftoolTypes(file: string): Map<number, DumpType> {
  let types = cache.get(file);
  if (!types) {
    const out = execFileSync('bpftool', ['-j', 'btf', 'dump', 'file', file], { maxBuffer: 1 << 28 }).toString();
    types = new Map((JSON.parse(out) as { types: DumpType[] }).types.map((t) => [t.id, t]));
    cache.set(file, types);
  }
  return types;
}

export const ALT_BTF = path.join(ROOT, 'build', 'core_btf', 'alt.btf');
export const AMBIG_BTF = path.join(ROOT, 'build', 'core_btf', 'ambig.btf');
export const VMLINUX = '/sys/kernel/btf/vmlinux';

export function named(types: Map<number, DumpType>, kind: string, name: string): DumpType {
  const found = [...types.values()].filter((t) => t.kind === kind && t.name === name);
  if (found.length !== 1) throw new Error(`${found.length} ${kind} '${name}' in the dump`);
  return found[0];
}

const MODIFIERS = new Set(['TYPEDEF', 'CONST', 'VOLATILE', 'RESTRICT', 'TYPE_TAG']);

function strip(types: Map<number, DumpType>, id: number): DumpType {
  let t = types.get(id)!;
  while (MODIFIERS.has(t.kind)) t = types.get(t.type_id!)!;
  return t;
}

export function byteSize(types: Map<number, DumpType>, id: number): number {
  const t = strip(types, id);
  if (t.kind === 'ARRAY') return t.nr_elems! * byteSize(types, t.type_id!);
  if (t.kind === 'PTR') return 8;
  return t.size!;
}

/** A member found by name, through anonymous struct/union members, with its absolute offset. */
export function member(types: Map<number, DumpType>, struct: DumpType, name: string, base = 0): (DumpMember & { bit: number; type: DumpType }) | undefined {
  for (const m of struct.members ?? []) {
    if (m.name === name) return { ...m, bit: base + m.bits_offset, type: strip(types, m.type_id) };
    if (m.name === '(anon)' || m.name === '') {
      const inner = member(types, strip(types, m.type_id), name, base + m.bits_offset);
      if (inner) return inner;
    }
  }
  return undefined;
}

export function field(types: Map<number, DumpType>, structName: string, name: string) {
  const m = member(types, named(types, 'STRUCT', structName), name);
  if (!m) throw new Error(`no member ${name} in ${structName}`);
  return m;
}

export function enumValue(types: Map<number, DumpType>, enumName: string, name: string): number {
  const v = named(types, 'ENUM', enumName).values!.find((x) => x.name === name);
  if (!v) throw new Error(`no enumerator ${name} in ${enumName}`);
  return v.val;
}

/** A copy of an object with every CO-RE record of kind `from` rewritten to kind `to` (clang 14
 * cannot emit TYPE_MATCHES; libbpf and bpfunit read the records alike). */
export function rewriteCoreKinds(obj: string, out: string, from: number, to: number): number {
  const ext = path.join(path.dirname(out), 'btf_ext.bin');
  execFileSync('llvm-objcopy', [`--dump-section=.BTF.ext=${ext}`, obj, '/dev/null']);
  const b = readFileSync(ext);
  const hdrLen = b.readUInt32LE(4);
  const start = hdrLen + b.readUInt32LE(24);
  const end = start + b.readUInt32LE(28);
  const recSize = b.readUInt32LE(start);
  let changed = 0;
  for (let pos = start + 4; pos < end;) {
    const n = b.readUInt32LE(pos + 4);
    pos += 8;
    for (let i = 0; i < n; i++, pos += recSize) {
      if (b.readUInt32LE(pos + 12) === from) {
        b.writeUInt32LE(to, pos + 12);
        changed++;
      }
    }
  }
  writeFileSync(ext, b);
  execFileSync('llvm-objcopy', [`--update-section=.BTF.ext=${ext}`, obj, out]);
  return changed;
}

/** Per-kind size of what follows a type record's 12 bytes (uAPI btf.h), for walking raw BTF. */
function extraBytes(kind: number, vlen: number): number {
  switch (kind) {
    case 1: case 14: case 17: return 4; // INT, VAR, DECL_TAG
    case 3: return 12; // ARRAY
    case 4: case 5: case 15: case 19: return vlen * 12; // STRUCT, UNION, DATASEC, ENUM64
    case 6: case 13: return vlen * 8; // ENUM, FUNC_PROTO
    default: return 0;
  }
}

/** A copy of raw BTF with one member of one struct changed: renamed to the tail of its own name
 * (`dropPrefix` characters skipped: "__state" -> "state" needs no new string) and/or moved. */
export function editMember(btf: Buffer, struct: string, name: string, change: { dropPrefix?: number; bitOffset?: number }): Buffer {
  const out = Buffer.from(btf);
  const hdr = out.readUInt32LE(4);
  const typesAt = hdr + out.readUInt32LE(8);
  const typesEnd = typesAt + out.readUInt32LE(12);
  const strsAt = hdr + out.readUInt32LE(16);
  const str = (off: number) => out.toString('latin1', strsAt + off, out.indexOf(0, strsAt + off));
  for (let pos = typesAt; pos < typesEnd;) {
    const info = out.readUInt32LE(pos + 4);
    const kind = (info >>> 24) & 0x1f;
    const vlen = info & 0xffff;
    if (kind === 4 && str(out.readUInt32LE(pos)) === struct) {
      for (let i = 0; i < vlen; i++) {
        const m = pos + 12 + i * 12;
        if (str(out.readUInt32LE(m)) !== name) continue;
        if (change.dropPrefix) out.writeUInt32LE(out.readUInt32LE(m) + change.dropPrefix, m);
        if (change.bitOffset !== undefined) out.writeUInt32LE(change.bitOffset, m + 8);
        return out;
      }
    }
    pos += 12 + extraBytes(kind, vlen);
  }
  throw new Error(`no member ${name} in struct ${struct}`);
}
