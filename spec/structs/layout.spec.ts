import { expect } from 'chai';
import {
  LayoutError,
  codec,
  cstruct,
  cunion,
  decodeU32,
  decodeU64,
  encodeU32,
  encodeU64,
  fieldOffsets,
  htonl,
  htons,
  ip4,
  ip4Bytes,
  ip4String,
  ip6,
  ip6Bytes,
  ip6String,
  pad,
  port,
  portNumber,
  u16,
  u32,
  u64,
  u8,
} from '../../src/structs';

describe('structs/layout', () => {
  describe('u64', () => {
    it('keeps all 64 bits as a bigint', () => {
      const buf = encodeU64(0xfedc_ba98_7654_3210n);
      expect(buf.toString('hex')).to.equal('1032547698badcfe');
      expect(decodeU64(buf)).to.equal(0xfedc_ba98_7654_3210n);
      expect(decodeU64(Buffer.alloc(8, 0xff))).to.equal(2n ** 64n - 1n);
      expect(decodeU64(encodeU64(2 ** 53 - 1))).to.equal(2n ** 53n - 1n);
    });
    it('rejects negatives, overflows and unsafe numbers', () => {
      expect(() => encodeU64(-1n)).to.throw(LayoutError, /__u64: .*does not fit in 64 unsigned bits/);
      expect(() => encodeU64(2n ** 64n)).to.throw(LayoutError, /does not fit/);
      expect(() => encodeU64(2 ** 60)).to.throw(LayoutError, /safe integer/);
    });
  });

  describe('codec', () => {
    interface S { a: number; b: bigint; c: number }
    const s = codec(cstruct<S>([u8('a'), pad(7), u64('b'), u16('c'), pad(6)]), 24, 'struct s');
    it('encodes into a zeroed buffer of sizeof bytes, skipping fields not given', () => {
      expect(s.encode({ c: 0x0102 }).toString('hex')).to.equal('00'.repeat(16) + '0201' + '00'.repeat(6));
      expect(s.decode(s.encode({ a: 1, b: 2n, c: 3 }))).to.deep.equal({ a: 1, b: 2n, c: 3 });
    });
    it('encodeInto / decodeAt work inside a larger buffer and check the bounds', () => {
      const big = Buffer.alloc(40, 0xaa);
      s.encodeInto({ a: 9 }, big, 8);
      expect(big[8]).to.equal(9);
      expect(big[9]).to.equal(0xaa); // fields not given are left alone
      expect(s.decodeAt(big, 8).a).to.equal(9);
      expect(() => s.decodeAt(big, 20)).to.throw(LayoutError, /struct s: 24 bytes at offset 20 do not fit a 40-byte buffer/);
    });
    it('names the struct in size, field and range errors', () => {
      expect(() => s.decode(Buffer.alloc(23))).to.throw(LayoutError, /^struct s: expected 24 bytes, got 23$/);
      expect(() => s.decode('x' as never)).to.throw(LayoutError, /struct s: expected a Buffer/);
      expect(() => s.encode({ d: 1 } as never)).to.throw(LayoutError, /struct s: .*unknown field 'd' \(fields: a, b, c\)/);
      expect(() => s.encode({ a: 256 })).to.throw(LayoutError, /struct s: /);
    });
    it('refuses a layout whose span is not the declared size', () => {
      expect(() => codec(cstruct([u32('x')]), 8, 'struct bad')).to.throw(/struct bad: layout spans 4 bytes, sizeof is 8/);
    });
    it('fieldOffsets walks structs and unions by member path', () => {
      const l = cstruct([u32('x'), cunion([u32('p'), cstruct([u16('lo'), u16('hi')], 'q')], 4, 'u')]);
      expect(fieldOffsets(l)).to.deep.equal({
        x: { offset: 0, size: 4 }, u: { offset: 4, size: 4 }, 'u.p': { offset: 4, size: 4 },
        'u.q': { offset: 4, size: 4 }, 'u.q.lo': { offset: 4, size: 2 }, 'u.q.hi': { offset: 6, size: 2 },
      });
    });
    it('u32 helpers', () => {
      expect(encodeU32(929).toString('hex')).to.equal('a1030000');
      expect(decodeU32(Buffer.from('a1030000', 'hex'))).to.equal(929);
      expect(() => decodeU32(Buffer.alloc(8))).to.throw(/__u32: expected 4 bytes, got 8/);
    });
  });

  describe('addresses and ports', () => {
    it('ip4 gives the u32 whose little-endian bytes are the network-order address', () => {
      expect(ip4('192.168.1.1')).to.equal(0x0101a8c0);
      expect(ip4Bytes('192.168.1.1').toString('hex')).to.equal('c0a80101');
      expect(ip4('0.0.0.2')).to.equal(htonl(2));
      expect(ip4('255.255.255.255')).to.equal(0xffff_ffff);
      expect(ip4(0x0101a8c0)).to.equal(0x0101a8c0);
      expect(ip4String(0x0101a8c0)).to.equal('192.168.1.1');
    });
    it('ip4 rejects malformed text', () => {
      for (const bad of ['1.2.3', '1.2.3.4.5', '256.0.0.1', '01.2.3.4', '1.2.3.x', '', ' 1.2.3.4']) {
        expect(() => ip4(bad), bad).to.throw(LayoutError, /is not a dotted IPv4 address/);
      }
      expect(() => ip4(-1)).to.throw(LayoutError);
    });
    it('ip6 gives four u32 words of network-order bytes', () => {
      expect(ip6('fd00::1')).to.deep.equal([0x000000fd, 0, 0, 0x01000000]);
      expect(ip6Bytes('fd00::1').toString('hex')).to.equal('fd000000000000000000000000000001');
      expect(ip6('::2')).to.deep.equal([0, 0, 0, htonl(2)]);
      expect(ip6('::')).to.deep.equal([0, 0, 0, 0]);
      expect(ip6('::ffff:10.0.0.1')).to.deep.equal([0, 0, 0xffff0000, ip4('10.0.0.1')]);
      expect(ip6('2001:db8:0:0:1:0:0:1')).to.deep.equal(ip6('2001:db8::1:0:0:1'));
      expect(ip6(ip6('fd00::1'))).to.deep.equal(ip6('fd00::1'));
    });
    it('ip6String formats per RFC 5952', () => {
      expect(ip6String(ip6('fd00:0:0:0:0:0:0:1'))).to.equal('fd00::1');
      expect(ip6String(ip6('2001:db8:0:0:1:0:0:1'))).to.equal('2001:db8::1:0:0:1');
      expect(ip6String(ip6('2001:db8:0:1:1:1:1:1'))).to.equal('2001:db8:0:1:1:1:1:1');
      expect(ip6String(ip6('::'))).to.equal('::');
      expect(ip6String(ip6('::2'))).to.equal('::2');
      expect(ip6String(ip6('FD00::ABCD'))).to.equal('fd00::abcd');
      expect(ip6String(ip6('::ffff:10.0.0.1'))).to.equal('::ffff:10.0.0.1');
      expect(ip6String(ip6Bytes('fd00::1'))).to.equal('fd00::1');
    });
    it('ip6 rejects malformed text', () => {
      for (const bad of ['fd00::1::2', '1:2:3:4:5:6:7', '1:2:3:4:5:6:7:8:9', 'fd00::g', '12345::', '1:2:3:4:5:6:7::8', ':1::', 'fe80::1%eth0']) {
        expect(() => ip6(bad), bad).to.throw(LayoutError, /is not an IPv6 address/);
      }
      expect(() => ip6([1, 2, 3])).to.throw(LayoutError, /expected 4 u32 words/);
    });
    it('port is htons: the network-order port as stored', () => {
      expect(port(8080)).to.equal(0x901f);
      expect(port(929)).to.equal(htons(929));
      expect(port(53)).to.equal(0x3500);
      expect(portNumber(0x901f)).to.equal(8080);
      expect(portNumber(port(65535))).to.equal(65535);
      expect(() => port(65536)).to.throw(LayoutError, /not a port number/);
      expect(() => port(1.5)).to.throw(LayoutError);
    });
    it('htonl / htons swap bytes', () => {
      expect(htonl(0x01020304)).to.equal(0x04030201);
      expect(htonl(0x80000000)).to.equal(0x00000080);
      expect(htons(0x0102)).to.equal(0x0201);
    });
  });
});
