// CO-RE relocation records from .BTF.ext (uAPI struct bpf_core_relo; the block sits after
// func_info and line_info, at header offsets 24/28, when hdr_len is at least 32).
// Pure: no syscalls; every read is bounds-checked so malformed input ends in BtfError.

import { Btf, checkRange, readU32 } from '../btf/btf';
import { BtfError } from '../errors';

/** enum bpf_core_relo_kind (uAPI linux/bpf.h). */
export const enum CoreKind {
  FieldByteOffset = 0, FieldByteSize = 1, FieldExists = 2, FieldSigned = 3, FieldLshiftU64 = 4,
  FieldRshiftU64 = 5, TypeIdLocal = 6, TypeIdTarget = 7, TypeExists = 8, TypeSize = 9,
  EnumvalExists = 10, EnumvalValue = 11, TypeMatches = 12,
}

const KIND_NAMES = [
  'byte_off', 'byte_sz', 'field_exists', 'signed', 'lshift_u64', 'rshift_u64', 'local_type_id',
  'target_type_id', 'type_exists', 'type_size', 'enumval_exists', 'enumval_value', 'type_matches',
];

export function coreKindName(kind: CoreKind): string {
  return KIND_NAMES[kind] ?? `kind ${kind}`;
}

export interface CoreRelo {
  /** Instruction slot (bytes / 8) from the start of its ELF section. */
  insnOff: number;
  typeId: number;
  /** The access string, e.g. "0:1:2" (field path) or "0" (type relocations). */
  access: string;
  kind: CoreKind;
  /** Position among its section's CO-RE records, for messages (libbpf numbers them so). */
  index: number;
}

const HEADER_WITH_CORE = 32;
const RECORD_SIZE = 16;

/** Every CO-RE record of a .BTF.ext section, by ELF section name. */
export function parseCoreRelos(ext: Buffer, btf: Btf): Map<string, CoreRelo[]> {
  const out = new Map<string, CoreRelo[]>();
  const hdrLen = readU32(ext, 4, 'BTF.ext hdr_len');
  if (hdrLen < HEADER_WITH_CORE) return out;
  const off = readU32(ext, 24, 'BTF.ext core_relo_off');
  const len = readU32(ext, 28, 'BTF.ext core_relo_len');
  if (len === 0) return out;
  checkRange(hdrLen + off, len, ext.length, 'BTF.ext core_relo');
  const block = ext.subarray(hdrLen + off, hdrLen + off + len);
  const recSize = readU32(block, 0, 'core_relo rec_size');
  if (recSize < RECORD_SIZE) throw new BtfError(`core_relo rec_size ${recSize} is smaller than ${RECORD_SIZE}`);
  let pos = 4;
  while (pos < block.length) {
    const section = btf.stringAt(readU32(block, pos, 'core_relo sec_name_off'), 'core_relo section name');
    const count = readU32(block, pos + 4, 'core_relo num_info');
    pos += 8;
    checkRange(pos, count * recSize, block.length, `core_relo records for section ${section}`);
    const list = out.get(section) ?? [];
    out.set(section, list);
    for (let index = 0; index < count; index++, pos += recSize) {
      const insnBytes = block.readUInt32LE(pos);
      if (insnBytes % 8 !== 0) throw new BtfError(`core_relo in ${section}: insn_off ${insnBytes} is not a multiple of 8`);
      const typeId = block.readUInt32LE(pos + 4);
      btf.type(typeId); // a missing type fails here, naming the id
      // An unknown kind fails when its program is relocated, as under libbpf.
      const kind = block.readUInt32LE(pos + 12);
      list.push({
        insnOff: insnBytes / 8, typeId, access: btf.stringAt(block.readUInt32LE(pos + 8), 'core_relo access string'),
        kind: kind as CoreKind, index,
      });
    }
  }
  return out;
}
