// Parser for .BTF.ext: per-section func_info and line_info (CO-RE records: src/core/relos.ts).
// Pure: no syscalls; every read is bounds-checked so malformed input ends in BtfError.

import { BtfError } from '../errors';
import { Btf, BtfKind, checkRange, readU32 } from './btf';

/** insnOff counts INSTRUCTIONS (bytes/8) from the start of its ELF section. */
export interface FuncInfo { insnOff: number; typeId: number }
/** line = line_col >> 10, column = line_col & 0x3ff; file/text are the resolved strings. */
export interface LineInfo {
  insnOff: number; fileNameOff: number; lineOff: number; line: number; column: number;
  file: string; text: string;
}
export interface BtfExt {
  funcInfo: Map<string, FuncInfo[]>;
  lineInfo: Map<string, LineInfo[]>;
  funcInfoRecSize: number;
  lineInfoRecSize: number;
}

const MAGIC = 0xeb9f;
const HEADER_LEN = 24; // up to line_info_len; 32 adds core_relo_off/len (src/core/relos.ts)
const FUNC_INFO_SIZE = 8;
const LINE_INFO_SIZE = 16;
const INSN_SIZE = 8;

export function parseBtfExt(data: Buffer, btf: Btf): BtfExt {
  if (data.length < HEADER_LEN) throw new BtfError(`truncated BTF.ext header: ${data.length} bytes`);
  const magic = data.readUInt16LE(0);
  if (magic !== MAGIC) throw new BtfError(`bad BTF.ext magic 0x${magic.toString(16)}`);
  if (data[2] !== 1) throw new BtfError(`unsupported BTF.ext version ${data[2]}`);
  const hdrLen = data.readUInt32LE(4);
  if (hdrLen < HEADER_LEN) throw new BtfError(`BTF.ext hdr_len ${hdrLen} is shorter than ${HEADER_LEN}`);
  checkRange(0, hdrLen, data.length, 'BTF.ext header');

  const funcInfo = new Map<string, FuncInfo[]>();
  const lineInfo = new Map<string, LineInfo[]>();
  const funcInfoRecSize = parseBlock(data, hdrLen, 8, 'func_info', FUNC_INFO_SIZE, btf, (sec, buf, at) => {
    const insnOff = insnIndex(buf.readUInt32LE(at), 'func_info', sec);
    const typeId = buf.readUInt32LE(at + 4);
    const t = btf.type(typeId);
    if (t.kind !== BtfKind.Func) {
      throw new BtfError(`func_info in ${sec}: type id ${typeId} is not a FUNC`);
    }
    push(funcInfo, sec, { insnOff, typeId });
  });
  const lineInfoRecSize = parseBlock(data, hdrLen, 16, 'line_info', LINE_INFO_SIZE, btf, (sec, buf, at) => {
    const insnOff = insnIndex(buf.readUInt32LE(at), 'line_info', sec);
    const fileNameOff = buf.readUInt32LE(at + 4);
    const lineOff = buf.readUInt32LE(at + 8);
    const lineCol = buf.readUInt32LE(at + 12);
    push(lineInfo, sec, {
      insnOff, fileNameOff, lineOff, line: lineCol >>> 10, column: lineCol & 0x3ff,
      file: btf.stringAt(fileNameOff), text: btf.stringAt(lineOff),
    });
  });
  return { funcInfo, lineInfo, funcInfoRecSize, lineInfoRecSize };
}

function push<T>(map: Map<string, T[]>, key: string, value: T): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

function insnIndex(bytes: number, what: string, sec: string): number {
  if (bytes % INSN_SIZE !== 0) {
    throw new BtfError(`${what} in ${sec}: insn_off ${bytes} is not a multiple of ${INSN_SIZE}`);
  }
  return bytes / INSN_SIZE;
}

/**
 * Walks one info block: u32 rec_size, then {sec_name_off, num_info, records...} repeated.
 * `hdrField` is the header offset of the block's off/len pair. Returns the record size (the
 * known size when the block is absent). Records longer than we know are read by their prefix.
 */
function parseBlock(
  data: Buffer, hdrLen: number, hdrField: number, what: string, minRecSize: number, btf: Btf,
  onRecord: (section: string, buf: Buffer, at: number) => void,
): number {
  const off = readU32(data, hdrField, `BTF.ext ${what}_off`);
  const len = readU32(data, hdrField + 4, `BTF.ext ${what}_len`);
  if (len === 0) return minRecSize;
  checkRange(hdrLen + off, len, data.length, `BTF.ext ${what}`);
  const block = data.subarray(hdrLen + off, hdrLen + off + len);

  const recSize = readU32(block, 0, `${what} rec_size`);
  if (recSize < minRecSize) {
    throw new BtfError(`${what} rec_size ${recSize} is smaller than ${minRecSize}`);
  }
  let pos = 4;
  while (pos < block.length) {
    const secNameOff = readU32(block, pos, `${what} sec_name_off`);
    const numInfo = readU32(block, pos + 4, `${what} num_info`);
    const section = btf.stringAt(secNameOff, `${what} section name`);
    pos += 8;
    // Checked before the loop so a huge num_info fails at once instead of spinning.
    checkRange(pos, numInfo * recSize, block.length, `${what} records for section ${section}`);
    for (let i = 0; i < numInfo; i++, pos += recSize) onRecord(section, block, pos);
  }
  return recSize;
}
