import { expect } from 'chai';
import {
  AF_INET,
  AF_INET6,
  LayoutError,
  TLV_ORG_DST_ADDR,
  TLV_PAYLOAD,
  decodeOriginalDst,
  decodeTlv,
  encodeOriginalDst,
  ip4,
  ip6,
} from '../../src/structs';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

describe('structs/tlv', () => {
  describe('encodeOriginalDst', () => {
    it('192.168.1.1:8080 is 01 00000006 c0a80101 1f90 fe 00000000 (KERNEL.md), then the payload', () => {
      const out = encodeOriginalDst({ ip4: '192.168.1.1' }, 8080, Buffer.from('GET /'));
      expect(out.subarray(0, 16).toString('hex')).to.equal('0100000006c0a801011f90fe00000000');
      expect(out.toString('hex')).to.equal('0100000006c0a801011f90fe00000000' + Buffer.from('GET /').toString('hex'));
    });
    it('is 16 bytes for IPv4 without a payload; a stored address gives the same bytes', () => {
      const a = encodeOriginalDst({ ip4: '192.168.1.1' }, 8080);
      expect(a.length).to.equal(16);
      expect(encodeOriginalDst({ ip4: ip4('192.168.1.1') }, 8080).equals(a)).to.equal(true);
    });
    it('IPv6: type 01, length 18, 16 address bytes, port, end marker: 28 bytes in all', () => {
      const out = encodeOriginalDst({ ip6: 'fd00::1' }, 8080);
      expect(out.length).to.equal(28);
      expect(out.toString('hex')).to.equal('0100000012' + 'fd000000000000000000000000000001' + '1f90' + 'fe00000000');
      expect(encodeOriginalDst({ ip6: ip6('fd00::1') }, 8080).equals(out)).to.equal(true);
    });
    it('rejects bad ports and addresses', () => {
      expect(() => encodeOriginalDst({ ip4: '1.2.3.4' }, 65536)).to.throw(LayoutError, /not a port number/);
      expect(() => encodeOriginalDst({ ip4: '1.2.3' }, 80)).to.throw(LayoutError, /ip4: "1.2.3" is not a dotted IPv4 address/);
      expect(() => encodeOriginalDst({ ip6: 'fd00:::1' }, 80)).to.throw(LayoutError, /not an IPv6 address/);
      expect(() => encodeOriginalDst({} as never, 80)).to.throw(LayoutError, /give \{ ip4 \} or \{ ip6 \}/);
    });
  });

  describe('decodeTlv', () => {
    it('splits the KERNEL.md example into the record, the end and the payload', () => {
      const d = decodeTlv(hex('01 00000006 c0a80101 1f90 fe 00000000 68656c6c6f'));
      expect(d.records).to.have.length(1);
      expect(d.records[0].type).to.equal(TLV_ORG_DST_ADDR);
      expect(d.records[0].length).to.equal(6);
      expect(d.records[0].value.toString('hex')).to.equal('c0a801011f90');
      expect(d.endAt).to.equal(16);
      expect(d.payload.toString()).to.equal('hello');
    });
    it('round trips IPv6 with endAt 28 and an empty payload', () => {
      const d = decodeTlv(encodeOriginalDst({ ip6: 'fd00::1' }, 15001));
      expect(d.endAt).to.equal(28);
      expect(d.payload.length).to.equal(0);
      expect(d.records[0].length).to.equal(18);
    });
    it('keeps unknown record types and several records in order', () => {
      const d = decodeTlv(hex('07 00000002 abcd 01 00000006 0a000001 0050 fe 00000000'));
      expect(d.records.map((r) => [r.type, r.value.toString('hex')])).to.deep.equal([[7, 'abcd'], [1, '0a0000010050']]);
      expect(d.endAt).to.equal(23);
    });
    it('accepts a bare end marker', () => {
      expect(decodeTlv(hex('fe 00000000'))).to.deep.include({ records: [], endAt: 5 });
    });
    it('reports a missing end marker', () => {
      expect(() => decodeTlv(hex('01 00000006 c0a80101 1f90'))).to.throw(LayoutError, /TLV: no end marker \(0xfe\) in 11 bytes/);
      expect(() => decodeTlv(Buffer.alloc(0))).to.throw(LayoutError, /no end marker/);
    });
    it('reports a truncated header, a truncated value and a non-empty end marker', () => {
      expect(() => decodeTlv(hex('01 00000006 c0a80101 1f90 fe 0000'))).to.throw(LayoutError, /record header at offset 11 truncated \(3 of 5 bytes\)/);
      expect(() => decodeTlv(hex('01 00000012 c0a80101 1f90 fe 00000000'))).to.throw(LayoutError, /type 0x01 at offset 0 declares 18 bytes, 11 left/);
      expect(() => decodeTlv(hex('fe 00000004 00000000'))).to.throw(LayoutError, /end marker at offset 0 has length 4, expected 0/);
      expect(TLV_PAYLOAD).to.equal(0xfe);
    });
  });

  describe('decodeOriginalDst', () => {
    it('reads back the address, the host port and the payload', () => {
      expect(decodeOriginalDst(encodeOriginalDst({ ip4: '192.168.1.1' }, 8080, Buffer.from('x')))).to.deep.equal({
        family: AF_INET, addr: '192.168.1.1', port: 8080, endAt: 16, payload: Buffer.from('x'),
      });
      const v6 = decodeOriginalDst(encodeOriginalDst({ ip6: 'fd00::1' }, 443));
      expect([v6.family, v6.addr, v6.port, v6.endAt]).to.deep.equal([AF_INET6, 'fd00::1', 443, 28]);
    });
    it('rejects a missing or odd-sized original destination', () => {
      expect(() => decodeOriginalDst(hex('fe 00000000'))).to.throw(LayoutError, /no original destination record/);
      expect(() => decodeOriginalDst(hex('01 00000002 abcd fe 00000000'))).to.throw(LayoutError, /original destination of 2 bytes/);
    });
  });
});
