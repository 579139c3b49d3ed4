// Kmesh's metadata TLV, the bytes sendmsg prepends to the first message of a socket that goes
// through a waypoint: records of { u8 type; __be32 length; u8 value[length] } ending with the
// end marker { TLV_PAYLOAD, length 0 }, then the original payload.
//   192.168.1.1:8080 -> 01 00000006 c0a80101 1f90 fe 00000000 <payload>

import { LayoutError, ip4Bytes, ip4String, ip6Bytes, ip6String } from './layout';
import {
  AF_INET,
  AF_INET6,
  TLV_HEADER_SIZE,
  TLV_IP4_VALUE_LEN,
  TLV_IP6_VALUE_LEN,
  TLV_ORG_DST_ADDR,
  TLV_PAYLOAD,
} from './kmesh';

/** An address as text or as stored (ip4() number / ip6() words). */
export type TlvAddress = { ip4: string | number } | { ip6: string | readonly number[] };

export interface TlvRecord {
  type: number;
  /** the length field (big-endian on the wire) */
  length: number;
  value: Buffer;
}

export interface DecodedTlv {
  /** the records before the end marker, in order */
  records: TlvRecord[];
  /** offset just past the end marker's 5 bytes: where the payload starts (16 for IPv4, 28 for IPv6) */
  endAt: number;
  /** the bytes after the end marker (a view into the input) */
  payload: Buffer;
}

function header(type: number, length: number): Buffer {
  const h = Buffer.alloc(TLV_HEADER_SIZE);
  h[0] = type;
  h.writeUInt32BE(length, 1);
  return h;
}

/** The original-destination TLV and end marker sendmsg prepends (16 bytes for IPv4, 28 for
 * IPv6), followed by `payload` if given. `port` is the host port number (8080). */
export function encodeOriginalDst(addr: TlvAddress, port: number, payload?: Uint8Array): Buffer {
  if (!Number.isInteger(port) || port < 0 || port > 0xffff) {
    throw new LayoutError(`TLV original dst: ${String(port)} is not a port number (0..65535)`);
  }
  let ip: Buffer;
  if (addr && 'ip4' in addr && addr.ip4 !== undefined) {
    ip = ip4Bytes(addr.ip4);
  } else if (addr && 'ip6' in addr && addr.ip6 !== undefined) {
    ip = ip6Bytes(addr.ip6);
  } else {
    throw new LayoutError('TLV original dst: give { ip4 } or { ip6 }');
  }
  const p = Buffer.alloc(2);
  p.writeUInt16BE(port);
  const parts = [header(TLV_ORG_DST_ADDR, ip.length + 2), ip, p, header(TLV_PAYLOAD, 0)];
  if (payload) parts.push(Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength));
  return Buffer.concat(parts);
}

/** Splits a message into its TLV records, the end marker and the payload. Throws a LayoutError
 * on a truncated header or value, a missing end marker, or an end marker with a non-zero length. */
export function decodeTlv(buf: Uint8Array): DecodedTlv {
  if (!(buf instanceof Uint8Array)) throw new LayoutError('TLV: expected a Buffer');
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  const records: TlvRecord[] = [];
  let off = 0;
  for (;;) {
    if (off === b.length) {
      throw new LayoutError(`TLV: no end marker (0x${TLV_PAYLOAD.toString(16)}) in ${b.length} bytes`);
    }
    if (off + TLV_HEADER_SIZE > b.length) {
      throw new LayoutError(
        `TLV: record header at offset ${off} truncated (${b.length - off} of ${TLV_HEADER_SIZE} bytes)`,
      );
    }
    const type = b[off];
    const length = b.readUInt32BE(off + 1);
    if (type === TLV_PAYLOAD) {
      if (length !== 0) throw new LayoutError(`TLV: end marker at offset ${off} has length ${length}, expected 0`);
      const endAt = off + TLV_HEADER_SIZE;
      return { records, endAt, payload: b.subarray(endAt) };
    }
    const start = off + TLV_HEADER_SIZE;
    if (length > b.length - start) {
      throw new LayoutError(
        `TLV: record type 0x${type.toString(16).padStart(2, '0')} at offset ${off} declares ${length} bytes, ` +
          `${b.length - start} left`,
      );
    }
    records.push({ type, length, value: b.subarray(start, start + length) });
    off = start + length;
  }
}

export interface OriginalDst {
  family: typeof AF_INET | typeof AF_INET6;
  /** dotted IPv4 or RFC 5952 IPv6 text */
  addr: string;
  /** host port number */
  port: number;
  endAt: number;
  payload: Buffer;
}

/** decodeTlv, then the original destination from its TLV_ORG_DST_ADDR record (the first one). */
export function decodeOriginalDst(buf: Uint8Array): OriginalDst {
  const { records, endAt, payload } = decodeTlv(buf);
  const rec = records.find((r) => r.type === TLV_ORG_DST_ADDR);
  if (!rec) throw new LayoutError('TLV: no original destination record (type 0x01)');
  if (rec.length === TLV_IP4_VALUE_LEN) {
    return { family: AF_INET, addr: ip4String(rec.value.readUInt32LE(0)), port: rec.value.readUInt16BE(4), endAt, payload };
  }
  if (rec.length === TLV_IP6_VALUE_LEN) {
    return { family: AF_INET6, addr: ip6String(rec.value.subarray(0, 16)), port: rec.value.readUInt16BE(16), endAt, payload };
  }
  throw new LayoutError(`TLV: original destination of ${rec.length} bytes, expected ${TLV_IP4_VALUE_LEN} or ${TLV_IP6_VALUE_LEN}`);
}
