// struct_ops against the running kernel, as libbpf prepares them at load: each map gets the
// kernel's value type (struct bpf_struct_ops_<name>) and a value in the kernel's layout, with the
// object's non-pointer members copied by name; each program gets the kernel struct's BTF id
// (attach_btf_id) and its member's index (expected_attach_type). Nothing is registered: libbpf
// writes the value only when the map is attached.
import { Btf, BtfKind } from '../btf/btf';
import { LinkError } from '../errors';
import type { MapSpec } from '../object/maps';
import type { ProgramSpec } from '../object/object';

interface Resolved {
  structId: number;
  memberIndex: Map<string, number>;
}

/** Maps and programs with their struct_ops parts resolved against `kernel` (vmlinux BTF). */
export function resolveStructOps(kernel: Btf, maps: MapSpec[], programs: ProgramSpec[]): { maps: MapSpec[]; programs: ProgramSpec[] } {
  const resolved = new Map<string, Resolved>();
  const outMaps = maps.map((m) => {
    if (!m.structOps) return m;
    const { map, value, vtypeId, res } = kernelValue(kernel, m);
    resolved.set(m.name, res);
    return { ...map, valueSize: value.length, vmlinuxValueTypeId: vtypeId, structOps: { ...m.structOps, value } };
  });
  const outPrograms = programs.map((p) => {
    if (!p.structOps) return p;
    const res = resolved.get(p.structOps.map)!;
    return { ...p, kind: { ...p.kind!, attachType: res.memberIndex.get(p.structOps.member)! }, attachBtfId: res.structId };
  });
  return { maps: outMaps, programs: outPrograms };
}

function kernelValue(kernel: Btf, m: MapSpec) {
  const so = m.structOps!;
  const what = `struct_ops map ${m.name} (struct ${so.struct})`;
  const st = kernel.find(BtfKind.Struct, so.struct);
  const vtype = kernel.find(BtfKind.Struct, `bpf_struct_ops_${so.struct}`);
  // libbpf 1.1 looks struct_ops types up in vmlinux only (1.4 searches modules too).
  if (!st || !vtype) throw new LinkError(`${what}: vmlinux BTF has no struct_ops type ${so.struct} (struct ${so.struct} and struct bpf_struct_ops_${so.struct}); module BTF is not searched for struct_ops types, as libbpf 1.1 does not search it`);
  const dataMember = vtype.members!.find((x) => x.name === 'data');
  if (!dataMember) throw new LinkError(`${what}: the kernel's bpf_struct_ops_${so.struct} has no data member`);
  const dataAt = dataMember.bitOffset / 8;
  const value = Buffer.alloc(kernel.sizeOf(vtype.id));
  const memberIndex = new Map<string, number>();
  for (const local of so.members) {
    const index = st.members!.findIndex((x) => x.name === local.name);
    const bytes = so.data.subarray(local.offset, local.offset + local.size);
    const set = local.program !== undefined || bytes.some((b) => b !== 0);
    if (index < 0) {
      // As libbpf: a member the kernel lacks is fine while the object leaves it zero.
      if (set) throw new LinkError(`${what}: the kernel's struct has no member ${local.name}, which the object sets`);
      continue;
    }
    const km = st.members![index];
    if (local.bitfield || km.bitfieldSize > 0 || km.bitOffset % 8 !== 0) throw new LinkError(`${what}: bitfield member ${local.name} is not supported`);
    const kt = kernel.resolve(km.type);
    const isFunc = kt.kind === BtfKind.Ptr && kernel.resolve(kt.type!).kind === BtfKind.FuncProto;
    if (isFunc) {
      if (local.program !== undefined) memberIndex.set(local.name, index);
      continue; // the program's fd goes here only when the map is registered
    }
    if (local.program !== undefined) throw new LinkError(`${what}: member ${local.name} is set to program ${local.program} but is not a function pointer in the kernel`);
    const size = kernel.sizeOf(km.type);
    if (size !== local.size) throw new LinkError(`${what}: member ${local.name} is ${local.size} bytes in the object and ${size} in the kernel`);
    bytes.copy(value, dataAt + km.bitOffset / 8);
  }
  return { map: m, value, vtypeId: vtype.id, res: { structId: st.id, memberIndex } };
}
