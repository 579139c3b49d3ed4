// Parser for the .BTF section (uAPI include/uapi/linux/btf.h, Documentation/bpf/btf.rst).
// Pure: no syscalls. Every read is bounds-checked so malformed input always ends in BtfError.

import { BtfError } from '../errors';
import { NulIndex } from '../elf/strings';

export const enum BtfKind {
  Unknown = 0, Int = 1, Ptr = 2, Array = 3, Struct = 4, Union = 5, Enum = 6, Fwd = 7, Typedef = 8,
  Volatile = 9, Const = 10, Restrict = 11, Func = 12, FuncProto = 13, Var = 14, Datasec = 15,
  Float = 16, DeclTag = 17, TypeTag = 18, Enum64 = 19,
}

const KIND_NAMES = [
  'UNKN', 'INT', 'PTR', 'ARRAY', 'STRUCT', 'UNION', 'ENUM', 'FWD', 'TYPEDEF', 'VOLATILE', 'CONST',
  'RESTRICT', 'FUNC', 'FUNC_PROTO', 'VAR', 'DATASEC', 'FLOAT', 'DECL_TAG', 'TYPE_TAG', 'ENUM64',
];

/** bpftool's spelling of a kind ("STRUCT", "FUNC_PROTO"), for messages. */
export function btfKindName(kind: BtfKind): string {
  return KIND_NAMES[kind] ?? `kind ${kind}`;
}

export interface BtfMember { name: string; type: number; bitOffset: number; bitfieldSize: number }
export interface BtfVarSecinfo { type: number; offset: number; size: number }
export interface BtfType {
  id: number;
  kind: BtfKind;
  name: string;
  /** info bit 31: bitfield encoding (Struct/Union), union forward (Fwd), signed values (Enum*). */
  kindFlag: boolean;
  size?: number;
  type?: number;
  members?: BtfMember[];
  array?: { type: number; indexType: number; nelems: number };
  vars?: BtfVarSecinfo[];
  params?: { name: string; type: number }[];
  linkage?: number;
  values?: { name: string; value: bigint }[];
  /** Int only: BTF_INT_ENCODING (1 signed, 2 char, 4 bool), bit offset and bit count. */
  int?: { encoding: number; offset: number; bits: number };
  /** DeclTag only: -1 for the declaration itself, else the member/param index. */
  componentIdx?: number;
}

/** BTF linkage values (Func uses the first three, Var the first two plus extern). */
export const BTF_LINKAGE_STATIC = 0;
export const BTF_LINKAGE_GLOBAL = 1;
export const BTF_LINKAGE_EXTERN = 2;

const MAGIC = 0xeb9f;
const HEADER_LEN = 24; // magic..str_len; a longer hdr_len is allowed (future fields)
const TYPE_HEADER = 12; // name_off, info, size/type

/** Checked little-endian u32 read; `what` names the field for the error message. */
export function readU32(buf: Buffer, off: number, what: string): number {
  if (off < 0 || off + 4 > buf.length) {
    throw new BtfError(`${what}: offset ${off} past the end (${buf.length} bytes)`);
  }
  return buf.readUInt32LE(off);
}

/** Checks that [off, off+len) lies inside a buffer of `total` bytes. */
export function checkRange(off: number, len: number, total: number, what: string): void {
  if (off > total || len > total - off) {
    throw new BtfError(`${what} (offset ${off}, ${len} bytes) runs past the end (${total} bytes)`);
  }
}

// Kinds that carry a type id in the size/type word rather than a byte size.
const TYPE_REF_KINDS = new Set<BtfKind>([
  BtfKind.Ptr, BtfKind.Typedef, BtfKind.Volatile, BtfKind.Const, BtfKind.Restrict, BtfKind.Func,
  BtfKind.FuncProto, BtfKind.Var, BtfKind.DeclTag, BtfKind.TypeTag,
]);
const SIZED_KINDS = new Set<BtfKind>([
  BtfKind.Int, BtfKind.Struct, BtfKind.Union, BtfKind.Enum, BtfKind.Enum64, BtfKind.Datasec,
  BtfKind.Float,
]);
// Modifiers resolve() looks through.
const MODIFIER_KINDS = new Set<BtfKind>([
  BtfKind.Typedef, BtfKind.Volatile, BtfKind.Const, BtfKind.Restrict, BtfKind.TypeTag,
]);

export class Btf {
  private readonly strCache = new Map<number, string>();
  private nuls?: NulIndex;

  private constructor(
    readonly types: BtfType[],
    private readonly typeSection: Buffer,
    private readonly strSection: Buffer,
    /** Byte offset of each type's record inside typeSection (index == id; [0] unused). */
    private readonly recordOffsets: number[],
  ) {}

  /** With `base`: split BTF (a kernel module's), whose type ids and string offsets continue
   * base's; the result holds base's types too (and is not meant for forKernel). */
  static parse(data: Buffer, base?: Btf): Btf {
    if (data.length < 4) throw new BtfError(`truncated BTF header: ${data.length} bytes`);
    const magic = data.readUInt16LE(0);
    if (magic !== MAGIC) {
      const hint = magic === 0x9feb ? ' (big-endian BTF is not supported)' : '';
      throw new BtfError(`bad BTF magic 0x${magic.toString(16)}${hint}`);
    }
    if (data[2] !== 1) throw new BtfError(`unsupported BTF version ${data[2]}`);
    if (data.length < HEADER_LEN) throw new BtfError(`truncated BTF header: ${data.length} bytes`);
    const hdrLen = data.readUInt32LE(4);
    if (hdrLen < HEADER_LEN) throw new BtfError(`BTF hdr_len ${hdrLen} is shorter than ${HEADER_LEN}`);
    checkRange(0, hdrLen, data.length, 'BTF header');
    const [typeOff, typeLen, strOff, strLen] = [8, 12, 16, 20].map((o) => data.readUInt32LE(o));
    // Section offsets count from the end of the header.
    checkRange(hdrLen + typeOff, typeLen, data.length, 'BTF type section');
    checkRange(hdrLen + strOff, strLen, data.length, 'BTF string section');
    const typeSection = data.subarray(hdrLen + typeOff, hdrLen + typeOff + typeLen);
    const strSection = data.subarray(hdrLen + strOff, hdrLen + strOff + strLen);
    // Offset 0 must be the empty string: name_off 0 means "anonymous". Split BTF's strings
    // continue its base's, whose offset 0 is that string, so they start with a name.
    if (!base && (strLen === 0 || strSection[0] !== 0)) {
      throw new BtfError('BTF string section must start with a NUL byte');
    }

    const types: BtfType[] = base ? [...base.types] : [{ id: 0, kind: BtfKind.Unknown, name: '', kindFlag: false }];
    const strs = base ? Buffer.concat([base.strSection, strSection]) : strSection;
    const btf = new Btf(types, typeSection, strs, base ? new Array<number>(types.length).fill(-1) : [0]);
    let off = 0;
    while (off < typeSection.length) {
      btf.recordOffsets.push(off);
      off = btf.parseType(types.length, off);
    }
    btf.checkReferences();
    return btf;
  }

  /** Decodes the record at `off` as type `id`, appends it and returns the next record's offset. */
  private parseType(id: number, off: number): number {
    const buf = this.typeSection;
    const where = `type id ${id}`;
    if (off + TYPE_HEADER > buf.length) {
      throw new BtfError(`${where}: type record past the end of the type section`);
    }
    const nameOff = buf.readUInt32LE(off);
    const info = buf.readUInt32LE(off + 4);
    const sizeOrType = buf.readUInt32LE(off + 8);
    const vlen = info & 0xffff;
    const kind = ((info >>> 24) & 0x1f) as BtfKind;
    const kindFlag = info >>> 31 === 1;

    // Size of the kind-specific data that follows the common 12 bytes.
    let extra: number;
    switch (kind) {
      case BtfKind.Int: case BtfKind.Var: case BtfKind.DeclTag: extra = 4; break;
      case BtfKind.Array: extra = 12; break;
      case BtfKind.Struct: case BtfKind.Union: case BtfKind.Datasec: case BtfKind.Enum64:
        extra = vlen * 12; break;
      case BtfKind.Enum: case BtfKind.FuncProto: extra = vlen * 8; break;
      case BtfKind.Ptr: case BtfKind.Fwd: case BtfKind.Typedef: case BtfKind.Volatile:
      case BtfKind.Const: case BtfKind.Restrict: case BtfKind.Func: case BtfKind.Float:
      case BtfKind.TypeTag:
        extra = 0; break;
      default:
        throw new BtfError(`unknown kind ${kind} at type id ${id}`);
    }
    const data = off + TYPE_HEADER;
    const end = data + extra;
    if (end > buf.length) {
      throw new BtfError(`${where} (${btfKindName(kind)}): type record past the end of the type section`);
    }
    const u32 = (i: number) => buf.readUInt32LE(data + i * 4);
    const str = (o: number) => this.stringAt(o, where);

    const t: BtfType = { id, kind, name: str(nameOff), kindFlag };
    if (TYPE_REF_KINDS.has(kind)) t.type = sizeOrType;
    if (SIZED_KINDS.has(kind)) t.size = sizeOrType;

    switch (kind) {
      case BtfKind.Int: {
        const v = u32(0);
        t.int = { encoding: (v >>> 24) & 0x0f, offset: (v >>> 16) & 0xff, bits: v & 0xff };
        break;
      }
      case BtfKind.Array:
        t.array = { type: u32(0), indexType: u32(1), nelems: u32(2) };
        break;
      case BtfKind.Struct: case BtfKind.Union:
        t.members = [];
        for (let i = 0; i < vlen; i++) {
          const raw = u32(i * 3 + 2);
          // With kind_flag the offset word packs the bitfield size into its top 8 bits.
          t.members.push({
            name: str(u32(i * 3)),
            type: u32(i * 3 + 1),
            bitOffset: kindFlag ? raw & 0xffffff : raw,
            bitfieldSize: kindFlag ? raw >>> 24 : 0,
          });
        }
        break;
      case BtfKind.Enum:
        t.values = [];
        for (let i = 0; i < vlen; i++) {
          const raw = buf.readInt32LE(data + i * 8 + 4);
          t.values.push({ name: str(u32(i * 2)), value: BigInt(kindFlag ? raw : raw >>> 0) });
        }
        break;
      case BtfKind.Enum64:
        t.values = [];
        for (let i = 0; i < vlen; i++) {
          const v = (BigInt(u32(i * 3 + 2)) << 32n) | BigInt(u32(i * 3 + 1));
          t.values.push({ name: str(u32(i * 3)), value: kindFlag ? BigInt.asIntN(64, v) : v });
        }
        break;
      case BtfKind.FuncProto:
        t.params = [];
        for (let i = 0; i < vlen; i++) t.params.push({ name: str(u32(i * 2)), type: u32(i * 2 + 1) });
        break;
      case BtfKind.Func:
        t.linkage = vlen; // FUNC keeps its linkage in vlen
        break;
      case BtfKind.Var:
        t.linkage = u32(0);
        break;
      case BtfKind.Datasec:
        t.vars = [];
        for (let i = 0; i < vlen; i++) {
          t.vars.push({ type: u32(i * 3), offset: u32(i * 3 + 1), size: u32(i * 3 + 2) });
        }
        break;
      case BtfKind.DeclTag:
        t.componentIdx = buf.readInt32LE(data);
        break;
    }
    this.types.push(t);
    return end;
  }

  /** Type ids can point forward, so they are checked once every type is known. */
  private checkReferences(): void {
    const check = (t: BtfType, ref: number, what: string) => {
      if (ref >= this.types.length) {
        throw new BtfError(
          `type id ${t.id} (${btfKindName(t.kind)}): ${what} refers to missing type id ${ref}`,
        );
      }
    };
    for (const t of this.types) {
      if (t.type !== undefined) check(t, t.type, 'type');
      if (t.array) {
        check(t, t.array.type, 'element type');
        check(t, t.array.indexType, 'index type');
      }
      t.members?.forEach((m) => check(t, m.type, `member '${m.name}'`));
      t.params?.forEach((p, i) => check(t, p.type, `parameter ${i}`));
      t.vars?.forEach((v, i) => check(t, v.type, `variable ${i}`));
    }
  }

  type(id: number): BtfType {
    const t = Number.isInteger(id) ? this.types[id] : undefined;
    if (!t) throw new BtfError(`no BTF type id ${id} (there are ${this.types.length})`);
    return t;
  }

  stringAt(offset: number, context?: string): string {
    const cached = this.strCache.get(offset);
    if (cached !== undefined) return cached;
    const buf = this.strSection;
    const prefix = context ? `${context}: ` : '';
    if (!Number.isInteger(offset) || offset < 0 || offset >= buf.length) {
      throw new BtfError(`${prefix}string offset ${offset} out of range (string section is ${buf.length} bytes)`);
    }
    this.nuls ??= new NulIndex(buf);
    const end = this.nuls.end(offset);
    if (end < 0) throw new BtfError(`${prefix}string at offset ${offset} is not NUL-terminated`);
    const s = buf.toString('utf8', offset, end);
    this.strCache.set(offset, s);
    return s;
  }

  resolve(id: number): BtfType {
    let t = this.type(id);
    // A bound on the steps turns a reference cycle (only possible in corrupt BTF) into an error.
    for (let steps = 0; MODIFIER_KINDS.has(t.kind); steps++) {
      if (steps > this.types.length) throw new BtfError(`type id ${id}: modifier chain loops`);
      t = this.type(t.type!);
    }
    return t;
  }

  sizeOf(id: number): number {
    // Iterative, with a step bound, so a long or cyclic array chain cannot blow the stack or hang.
    let count = 1;
    let cur = id;
    for (let steps = 0; steps <= this.types.length; steps++) {
      const t = this.resolve(cur);
      switch (t.kind) {
        case BtfKind.Ptr:
          return count * 8; // BPF is a 64-bit target
        case BtfKind.Array:
          count *= t.array!.nelems;
          cur = t.array!.type;
          break;
        case BtfKind.Var:
          cur = t.type!;
          break;
        default:
          if (t.size !== undefined) return count * t.size;
          throw new BtfError(`type id ${id}: ${btfKindName(t.kind)} '${t.name}' (id ${t.id}) has no size`);
      }
    }
    throw new BtfError(`type id ${id}: size depends on itself`);
  }

  /** Where type `id`'s record starts in the type section (and so in forKernel's output, after
   * its 24-byte header): for fix-ups of the kernel's copy. */
  recordOffset(id: number): number {
    this.type(id);
    return this.recordOffsets[id];
  }

  find(kind: BtfKind, name: string): BtfType | undefined {
    return this.types.find((t) => t.kind === kind && t.name === name);
  }

  /**
   * Bytes for BPF_BTF_LOAD. clang leaves DATASEC sizes and VAR offsets 0 in .o files: each
   * DATASEC's size becomes sectionSizes.get(name) and each secinfo's offset varOffset(section,
   * variable) (either left as is when undefined), then secinfos are sorted by offset. No type is
   * dropped or renumbered, and VAR/FUNC linkage is passed through untouched. The parsed object is
   * not mutated.
   */
  forKernel(
    sectionSizes: Map<string, number>,
    varOffset: (section: string, variable: string) => number | undefined,
  ): Buffer {
    const types = this.typeSection;
    const strs = this.strSection;
    // A fresh 24-byte header with types then strings: the kernel rejects gaps and unknown
    // non-zero header fields, so we do not reuse the original layout.
    const out = Buffer.alloc(HEADER_LEN + types.length + strs.length);
    out.writeUInt16LE(MAGIC, 0);
    out[2] = 1; // version
    out[3] = 0; // flags
    out.writeUInt32LE(HEADER_LEN, 4);
    out.writeUInt32LE(0, 8);
    out.writeUInt32LE(types.length, 12);
    out.writeUInt32LE(types.length, 16);
    out.writeUInt32LE(strs.length, 20);
    types.copy(out, HEADER_LEN);
    strs.copy(out, HEADER_LEN + types.length);

    // Record sizes never change, so DATASECs are patched in place.
    const u32 = (v: number, what: string) => {
      if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new BtfError(`${what} ${v} is not a u32`);
      return v;
    };
    for (const t of this.types) {
      if (t.kind !== BtfKind.Datasec) continue;
      const rec = HEADER_LEN + this.recordOffsets[t.id];
      const size = sectionSizes.get(t.name);
      if (size !== undefined) out.writeUInt32LE(u32(size, `size of section ${t.name}`), rec + 8);
      const vars = t.vars!.map((v) => {
        const offset = varOffset(t.name, this.types[v.type].name);
        return { ...v, offset: offset === undefined ? v.offset : u32(offset, `offset of ${t.name}`) };
      });
      vars.sort((a, b) => a.offset - b.offset); // stable, so equal offsets keep clang's order
      vars.forEach((v, i) => {
        const at = rec + TYPE_HEADER + i * 12;
        out.writeUInt32LE(v.type, at);
        out.writeUInt32LE(v.offset, at + 4);
        out.writeUInt32LE(v.size, at + 8);
      });
    }
    return out;
  }
}
