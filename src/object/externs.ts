// Extern symbols (SHN_UNDEF in the ELF): what the BTF says each one is, so that an error can name
// the feature a program needs (a kconfig value, a kernel symbol, a kernel function).
import { Btf, BtfKind, btfKindName } from '../btf/btf';
import { BtfError } from '../errors';

/** "the kconfig extern 'X'", "the kernel symbol (__ksym) 'X'", "the kfunc 'X'" or, without BTF
 * that says, "the extern symbol 'X'". */
export function describeExtern(btf: Btf | undefined, name: string): string {
  if (btf) {
    for (const t of btf.types) {
      if (t.kind === BtfKind.Func && t.name === name) return `the kfunc '${name}' (an extern function)`;
      if (t.kind !== BtfKind.Datasec || (t.name !== '.kconfig' && t.name !== '.ksyms')) continue;
      if (!(t.vars ?? []).some((v) => btf.type(v.type).name === name)) continue;
      return t.name === '.kconfig' ? `the kconfig extern '${name}' (__kconfig)` : `the kernel symbol '${name}' (__ksym)`;
    }
  }
  return `the extern symbol '${name}'`;
}

const HEADER_LEN = 24;
const TYPE_HEADER = 12;
const VAR_GLOBAL_ALLOCATED = 1;
const FUNC_GLOBAL = 1;
const KIND_VAR = 14;
const KIND_INT = 1;

/** Alignment of a kconfig extern's type, as the C compiler would lay it out. */
function alignOf(btf: Btf, id: number): number {
  const t = btf.resolve(id);
  if (t.kind === BtfKind.Array) return alignOf(btf, t.array!.type);
  if (t.kind === BtfKind.Ptr) return 8;
  return Math.min(t.size ?? 1, 8) || 1;
}

export interface KconfigSlot {
  name: string;
  /** BTF id of the VAR. */
  varId: number;
  offset: number;
  size: number;
}

/** Where each `__kconfig` extern lives in the .kconfig map: libbpf's layout (alignment
 * descending, then size ascending, then name), so relocated offsets match libbpf's. */
export function kconfigLayout(btf: Btf): { slots: KconfigSlot[]; size: number } {
  const sec = btf.find(BtfKind.Datasec, '.kconfig');
  const vars = (sec?.vars ?? []).map((v) => {
    const t = btf.type(v.type);
    return { name: t.name, varId: t.id, size: btf.sizeOf(t.type!), align: alignOf(btf, t.type!) };
  });
  vars.sort((a, b) => b.align - a.align || a.size - b.size || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  let end = 0;
  const slots = vars.map((v) => {
    const offset = Math.ceil(end / v.align) * v.align;
    end = offset + v.size;
    return { name: v.name, varId: v.varId, offset, size: v.size };
  });
  return { slots, size: end };
}

/**
 * The kernel accepts no extern VAR or FUNC in BTF and only VARs in a DATASEC. As libbpf does:
 * kconfig externs become allocated variables at their .kconfig offsets; each .ksyms entry a
 * 4-byte allocated int (a kfunc's entry points at an added int VAR "dummy_ksym", the kfunc itself
 * becomes a global FUNC with every parameter named). `bytes` is Btf.forKernel's output.
 */
export function btfWithExterns(btf: Btf, bytes: Buffer): Buffer {
  const kconfig = btf.find(BtfKind.Datasec, '.kconfig');
  const ksyms = btf.find(BtfKind.Datasec, '.ksyms');
  if (!kconfig && !ksyms) return bytes;
  const typeLen = bytes.readUInt32LE(12);
  const strLen = bytes.readUInt32LE(20);
  const added: Buffer[] = [];
  const addedStrs: string[] = [];
  let nextId = btf.types.length;
  const out = Buffer.from(bytes);
  const rec = (id: number) => HEADER_LEN + btf.recordOffset(id);
  const makeAllocated = (varId: number) => out.writeUInt32LE(VAR_GLOBAL_ALLOCATED, rec(varId) + TYPE_HEADER);
  const writeSecinfos = (secId: number, size: number, entries: { type: number; offset: number; size: number }[]) => {
    out.writeUInt32LE(size, rec(secId) + 8);
    [...entries].sort((a, b) => a.offset - b.offset).forEach((e, i) => {
      const at = rec(secId) + TYPE_HEADER + i * 12;
      out.writeUInt32LE(e.type, at);
      out.writeUInt32LE(e.offset, at + 4);
      out.writeUInt32LE(e.size, at + 8);
    });
  };

  if (kconfig) {
    const { slots, size } = kconfigLayout(btf);
    for (const s of slots) makeAllocated(s.varId);
    writeSecinfos(kconfig.id, size, slots.map((s) => ({ type: s.varId, offset: s.offset, size: s.size })));
  }
  if (ksyms) {
    let intId = btf.types.find((t) => t.kind === BtfKind.Int && t.int?.bits === 32)?.id;
    const newString = (s: string) => {
      const off = strLen + addedStrs.reduce((n, x) => n + x.length + 1, 0);
      addedStrs.push(s);
      return off;
    };
    const newType = (nameOff: number, kind: number, sizeOrType: number, extra: number) => {
      const r = Buffer.alloc(TYPE_HEADER + 4);
      r.writeUInt32LE(nameOff, 0);
      r.writeUInt32LE(kind << 24, 4);
      r.writeUInt32LE(sizeOrType, 8);
      r.writeUInt32LE(extra, 12);
      added.push(r);
      return nextId++;
    };
    if (intId === undefined) intId = newType(newString('int'), KIND_INT, 4, (1 << 24) | 32);
    let dummy: { id: number; nameOff: number } | undefined;
    const entries = ksyms.vars!.map((v, i) => {
      const t = btf.type(v.type);
      if (t.kind === BtfKind.Func) {
        if (!dummy) {
          const nameOff = newString('dummy_ksym');
          dummy = { id: newType(nameOff, KIND_VAR, intId!, VAR_GLOBAL_ALLOCATED), nameOff };
        }
        const info = out.readUInt32LE(rec(t.id) + 4);
        out.writeUInt32LE(((info & ~0xffff) | FUNC_GLOBAL) >>> 0, rec(t.id) + 4);
        const proto = btf.type(t.type!);
        if (proto.kind !== BtfKind.FuncProto) {
          throw new BtfError(`.ksyms: kfunc '${t.name}' (BTF type ${t.id}) has type ${proto.id}, a ${btfKindName(proto.kind)}, not a FUNC_PROTO`);
        }
        proto.params!.forEach((p, k) => {
          if (p.type !== 0 && p.name === '') out.writeUInt32LE(dummy!.nameOff, rec(proto.id) + TYPE_HEADER + k * 8);
        });
        return { type: dummy.id, offset: i * 4, size: 4 };
      }
      makeAllocated(t.id);
      out.writeUInt32LE(intId!, rec(t.id) + 8);
      return { type: t.id, offset: i * 4, size: 4 };
    });
    writeSecinfos(ksyms.id, entries.length * 4, entries);
  }
  if (added.length === 0) return out;
  const types = Buffer.concat([out.subarray(HEADER_LEN, HEADER_LEN + typeLen), ...added]);
  const strs = Buffer.concat([out.subarray(HEADER_LEN + typeLen, HEADER_LEN + typeLen + strLen), Buffer.from(addedStrs.map((s) => s + '\0').join(''), 'latin1')]);
  const header = Buffer.from(out.subarray(0, HEADER_LEN));
  header.writeUInt32LE(types.length, 12);
  header.writeUInt32LE(types.length, 16);
  header.writeUInt32LE(strs.length, 20);
  return Buffer.concat([header, types, strs]);
}
