// fast-check generators of Ethernet frames carrying IPv4/IPv6 and TCP/UDP, valid or with one
// named defect. Packets are generated as fields and built into bytes, so a failing packet
// shrinks field by field (shorter payload, lower ports, fewer defects).
import fc from 'fast-check';

export type L3 = 'ipv4' | 'ipv6';
export type L4 = 'tcp' | 'udp';
/** truncated: cut inside the headers; bad-version: IP version nibble wrong; bad-ihl: IPv4 header
 * length below 5 words; bad-length: the IP length field claims more than is there;
 * bad-checksum: the L4 checksum (or IPv4 header checksum) is wrong. */
export type Defect = 'truncated' | 'bad-version' | 'bad-ihl' | 'bad-length' | 'bad-checksum';

export interface PacketFields {
  l3: L3;
  l4: L4;
  srcMac: Buffer;
  dstMac: Buffer;
  /** 4 or 16 bytes, network order */
  src: Buffer;
  dst: Buffer;
  sport: number;
  dport: number;
  ttl: number;
  /** TCP only (UDP ignores them) */
  seq: number;
  tcpFlags: number;
  payload: Buffer;
}

export interface GeneratedPacket {
  fields: PacketFields;
  defect: Defect | undefined;
  bytes: Buffer;
}

export interface PacketOptions {
  l3?: L3[];
  l4?: L4[];
  maxPayload?: number;
  /** Fill IPv4 header and TCP/UDP checksums (default true); false leaves them 0. */
  checksums?: boolean;
  /** Defects to draw from; each packet has none or one of them. Default: none (valid only). */
  defects?: Defect[];
}

export const ETH_LEN = 14;
export const IPV4_LEN = 20;
export const IPV6_LEN = 40;
export const TCP_LEN = 20;
export const UDP_LEN = 8;
const ETH_P_IP = 0x0800;
const ETH_P_IPV6 = 0x86dd;
const IPPROTO_TCP = 6;
const IPPROTO_UDP = 17;

/** RFC 1071: the one's complement of the one's complement sum of 16-bit big-endian words. */
export function internetChecksum(...parts: Buffer[]): number {
  let sum = 0;
  for (const b of parts) {
    for (let k = 0; k + 1 < b.length; k += 2) sum += b.readUInt16BE(k);
    if (b.length % 2) sum += b[b.length - 1] << 8;
  }
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

function pseudoHeader(f: PacketFields, l4Len: number): Buffer {
  const proto = f.l4 === 'tcp' ? IPPROTO_TCP : IPPROTO_UDP;
  if (f.l3 === 'ipv4') {
    const p = Buffer.alloc(12);
    f.src.copy(p, 0);
    f.dst.copy(p, 4);
    p[9] = proto;
    p.writeUInt16BE(l4Len, 10);
    return p;
  }
  const p = Buffer.alloc(40);
  f.src.copy(p, 0);
  f.dst.copy(p, 16);
  p.writeUInt32BE(l4Len, 32);
  p[39] = proto;
  return p;
}

/** Header offsets of a built packet. */
export function layout(f: Pick<PacketFields, 'l3' | 'l4'>) {
  const l4At = ETH_LEN + (f.l3 === 'ipv4' ? IPV4_LEN : IPV6_LEN);
  return { l3At: ETH_LEN, l4At, payloadAt: l4At + (f.l4 === 'tcp' ? TCP_LEN : UDP_LEN) };
}

/** A well-formed frame from its fields. */
export function buildPacket(f: PacketFields, checksums = true): Buffer {
  const { l4At, payloadAt } = layout(f);
  const out = Buffer.alloc(payloadAt + f.payload.length);
  f.dstMac.copy(out, 0);
  f.srcMac.copy(out, 6);
  out.writeUInt16BE(f.l3 === 'ipv4' ? ETH_P_IP : ETH_P_IPV6, 12);
  const l4Len = out.length - l4At;
  const proto = f.l4 === 'tcp' ? IPPROTO_TCP : IPPROTO_UDP;
  if (f.l3 === 'ipv4') {
    const ip = out.subarray(ETH_LEN, l4At);
    ip[0] = 0x45;
    ip.writeUInt16BE(IPV4_LEN + l4Len, 2);
    ip.writeUInt16BE(0x4000, 6); // don't fragment
    ip[8] = f.ttl;
    ip[9] = proto;
    f.src.copy(ip, 12);
    f.dst.copy(ip, 16);
    if (checksums) ip.writeUInt16BE(internetChecksum(ip), 10);
  } else {
    const ip = out.subarray(ETH_LEN, l4At);
    ip.writeUInt32BE(0x60000000, 0);
    ip.writeUInt16BE(l4Len, 4);
    ip[6] = proto;
    ip[7] = f.ttl;
    f.src.copy(ip, 8);
    f.dst.copy(ip, 24);
  }
  const l4 = out.subarray(l4At);
  l4.writeUInt16BE(f.sport, 0);
  l4.writeUInt16BE(f.dport, 2);
  f.payload.copy(out, payloadAt);
  if (f.l4 === 'tcp') {
    l4.writeUInt32BE(f.seq >>> 0, 4);
    l4[12] = (TCP_LEN / 4) << 4;
    l4[13] = f.tcpFlags;
    l4.writeUInt16BE(0xffff, 14); // window
    if (checksums) l4.writeUInt16BE(internetChecksum(pseudoHeader(f, l4Len), l4), 16);
  } else {
    l4.writeUInt16BE(l4Len, 4);
    // UDP sends a computed 0 as 0xffff: 0 means "no checksum".
    if (checksums) l4.writeUInt16BE(internetChecksum(pseudoHeader(f, l4Len), l4) || 0xffff, 6);
  }
  return out;
}

/** The frame with one defect; `pick` (any non-negative integer) chooses where or how. */
export function breakPacket(bytes: Buffer, f: PacketFields, defect: Defect, pick: number): Buffer {
  const out = Buffer.from(bytes);
  const { l4At, payloadAt } = layout(f);
  switch (defect) {
    case 'truncated':
      return out.subarray(0, ETH_LEN + (pick % (payloadAt - ETH_LEN)));
    case 'bad-version': {
      const wrong = [0, 1, 2, 3, 5, 7, 8, 9, 10, 11, 12, 13, 14, 15][pick % 14]; // neither 4 nor 6
      out[ETH_LEN] = (wrong << 4) | (out[ETH_LEN] & 0x0f);
      return out;
    }
    case 'bad-ihl':
      if (f.l3 === 'ipv4') out[ETH_LEN] = 0x40 | (pick % 5);
      else out[ETH_LEN] = 0x40 | (out[ETH_LEN] & 0x0f); // IPv6 has no IHL: a v4 nibble on a v6 header
      return out;
    case 'bad-length': {
      const at = f.l3 === 'ipv4' ? ETH_LEN + 2 : ETH_LEN + 4;
      const claimed = out.readUInt16BE(at) + 1 + (pick % 1000);
      out.writeUInt16BE(Math.min(claimed, 0xffff), at);
      return out;
    }
    case 'bad-checksum': {
      const at = f.l4 === 'tcp' ? l4At + 16 : l4At + 6;
      const good = out.readUInt16BE(at);
      let bad = (good + 1 + (pick % 0xfffe)) & 0xffff;
      // 0 and 0xffff both stand for a zero sum in one's complement (and 0 is "none" in UDP)
      if (bad === 0 || bad === 0xffff) bad = good === 0x1234 ? 0x4321 : 0x1234;
      out.writeUInt16BE(bad, at);
      return out;
    }
  }
  return out;
}

const bytesOf = (n: number) => fc.uint8Array({ minLength: n, maxLength: n }).map((a) => Buffer.from(a));

/** Frames with random addresses, ports and payload; valid unless `defects` are given. */
export function packet(opts: PacketOptions = {}): fc.Arbitrary<GeneratedPacket> {
  const l3s = opts.l3 ?? ['ipv4', 'ipv6'];
  const l4s = opts.l4 ?? ['tcp', 'udp'];
  const checksums = opts.checksums ?? true;
  const defects = opts.defects ?? [];
  return fc
    .constantFrom(...l3s)
    .chain((l3) => {
      const addr = bytesOf(l3 === 'ipv4' ? 4 : 16);
      return fc.record({
        fields: fc.record({
          l3: fc.constant(l3),
          l4: fc.constantFrom(...l4s),
          srcMac: bytesOf(6),
          dstMac: bytesOf(6),
          src: addr,
          dst: addr,
          sport: fc.integer({ min: 1, max: 0xffff }),
          dport: fc.integer({ min: 1, max: 0xffff }),
          ttl: fc.integer({ min: 1, max: 255 }),
          seq: fc.nat(),
          tcpFlags: fc.constantFrom(0x02, 0x10, 0x12, 0x18, 0x11, 0x04),
          payload: fc.uint8Array({ maxLength: opts.maxPayload ?? 256 }).map((a) => Buffer.from(a)),
        }),
        defect: defects.length ? fc.option(fc.constantFrom(...defects), { nil: undefined }) : fc.constant(undefined),
        pick: fc.nat(),
      });
    })
    .map(({ fields, defect, pick }) => {
      const good = buildPacket(fields, checksums);
      return { fields, defect, bytes: defect ? breakPacket(good, fields, defect, pick) : good };
    });
}
