// The generators: packets (spec asserts the header facts of RFC 791/8200/793/768 and the RFC 1071
// checksum on every generated packet) and BTF-described values (the codec reads back what was
// generated; one drives sendmsg_prog with any socket storage).
import { expect } from 'chai';
import fc from 'fast-check';
import { readValue } from '../../src/btf/value';
import { InputError } from '../../src/errors';
import { Harness } from '../../src/mock/harness';
import { ObjectSpec } from '../../src/object/object';
import { btfValue, globalValue, mapValue } from '../../src/property/btf';
import { Defect, GeneratedPacket, internetChecksum, layout, packet } from '../../src/property/packets';
import { AF_INET, AF_INET6, SK_PASS, decodeTlv } from '../../src/structs';
import { BtfKind } from '../../src/btf/btf';

/** The L4 segment's sum with its pseudo-header (0 when its checksum is right). */
function l4Sum(p: GeneratedPacket): number {
  const b = p.bytes;
  const { l4At } = layout(p.fields);
  const v4 = p.fields.l3 === 'ipv4';
  const len = b.length - l4At;
  const pseudo = Buffer.alloc(v4 ? 12 : 40);
  if (v4) {
    b.copy(pseudo, 0, 14 + 12, 14 + 20);
    pseudo[9] = b[14 + 9];
    pseudo.writeUInt16BE(len, 10);
  } else {
    b.copy(pseudo, 0, 14 + 8, 14 + 40);
    pseudo.writeUInt32BE(len, 32);
    pseudo[39] = b[14 + 6];
  }
  return internetChecksum(pseudo, b.subarray(l4At));
}

describe('property generators', () => {
  describe('packets', () => {
    it('internetChecksum gives the well-known sum of a sample IPv4 header (0xb861)', () => {
      expect(internetChecksum(Buffer.from('450000730000400040110000c0a80001c0a800c7', 'hex'))).to.equal(0xb861);
    });

    it('valid packets: EtherType, version, lengths, protocol and both checksums hold', () => {
      fc.assert(fc.property(packet(), (p) => {
        const b = p.bytes;
        const v4 = p.fields.l3 === 'ipv4';
        const { l4At, payloadAt } = layout(p.fields);
        expect(b.length).to.equal(payloadAt + p.fields.payload.length);
        expect(b.readUInt16BE(12)).to.equal(v4 ? 0x0800 : 0x86dd);
        expect(b[14] >> 4).to.equal(v4 ? 4 : 6);
        if (v4) {
          expect(b[14] & 0xf).to.equal(5);
          expect(b.readUInt16BE(16)).to.equal(b.length - 14);
          expect(internetChecksum(b.subarray(14, 34))).to.equal(0);
        } else {
          expect(b.readUInt16BE(18)).to.equal(b.length - 54);
        }
        expect(b[v4 ? 23 : 20]).to.equal(p.fields.l4 === 'tcp' ? 6 : 17);
        expect(b.readUInt16BE(l4At)).to.equal(p.fields.sport);
        if (p.fields.l4 === 'udp') expect(b.readUInt16BE(l4At + 4)).to.equal(b.length - l4At);
        else expect(b[l4At + 12] >> 4).to.equal(5);
        expect(l4Sum(p)).to.equal(0);
        expect(b.subarray(payloadAt).equals(p.fields.payload)).to.equal(true);
      }), { numRuns: 300 });
    });

    it('checksums: false leaves every checksum field 0', () => {
      fc.assert(fc.property(packet({ checksums: false, l3: ['ipv4'] }), (p) => {
        const { l4At } = layout(p.fields);
        expect(p.bytes.readUInt16BE(24)).to.equal(0);
        expect(p.bytes.readUInt16BE(l4At + (p.fields.l4 === 'tcp' ? 16 : 6))).to.equal(0);
      }), { numRuns: 100 });
    });

    const broken: Record<Defect, (p: GeneratedPacket) => boolean> = {
      truncated: (p) => p.bytes.length < layout(p.fields).payloadAt,
      'bad-version': (p) => ![4, 6].includes(p.bytes[14] >> 4),
      'bad-ihl': (p) => (p.fields.l3 === 'ipv4' ? (p.bytes[14] & 0xf) < 5 : p.bytes[14] >> 4 === 4),
      'bad-length': (p) => p.fields.l3 === 'ipv4' ? p.bytes.readUInt16BE(16) > p.bytes.length - 14 : p.bytes.readUInt16BE(18) > p.bytes.length - 54,
      'bad-checksum': (p) => l4Sum(p) !== 0,
    };
    for (const defect of Object.keys(broken) as Defect[]) {
      it(`defect ${defect}: the packet is broken the way it names`, () => {
        let seen = 0;
        fc.assert(fc.property(packet({ defects: [defect] }), (p) => {
          if (p.defect === undefined) return;
          seen++;
          expect(p.defect).to.equal(defect);
          expect(broken[defect](p), p.bytes.toString('hex')).to.equal(true);
        }), { numRuns: 200 });
        expect(seen).to.be.greaterThan(0);
      });
    }
  });

  describe('BTF-described values', () => {
    const shapes = ObjectSpec.fromFile('build/fixtures/btf_shapes.o');

    it('a global struct: the codec reads back every generated value from its bytes', () => {
      const btf = shapes.btf!;
      fc.assert(fc.property(globalValue(shapes, 'last_key'), ({ value, bytes }) => {
        expect(bytes.length).to.equal(16);
        expect(readValue(btf, btf.find(BtfKind.Struct, 'flow_key')!.id, bytes)).to.deep.equal(value);
      }), { numRuns: 200 });
    });

    it('a map value with bitfields: fields generated in range, bitfields left 0', () => {
      fc.assert(fc.property(mapValue(shapes, 'flows'), ({ value, bytes }) => {
        expect(bytes.length).to.equal(24);
        const v = value as { packets: bigint; bytes: bigint };
        expect(Object.keys(v)).to.deep.equal(['packets', 'bytes']);
        expect(bytes.readBigUInt64LE(0)).to.equal(v.packets);
        expect(bytes.readUInt32LE(16)).to.equal(0);
      }), { numRuns: 100 });
    });

    it('an array global: every element in its type range', () => {
      fc.assert(fc.property(globalValue(shapes, 'seen_flags'), ({ value }) => {
        expect(value).to.have.length(4);
        for (const x of value as number[]) expect(x).to.be.within(0, 0xffffffff);
      }), { numRuns: 100 });
    });

    it('unknown names are InputErrors', () => {
      expect(() => globalValue(shapes, 'nope')).to.throw(InputError, "no global variable named 'nope'");
      expect(() => mapValue(shapes, 'nope')).to.throw(InputError, "no map named 'nope'");
      const func = shapes.btf!.types.find((t) => t.kind === BtfKind.Func)!;
      expect(() => btfValue(shapes.btf!, func.id)).to.throw(InputError, `type id ${func.id} (FUNC): no generator`);
    });

    describe('sendmsg_prog with any socket storage', () => {
      let h: Harness;
      before(() => {
        h = Harness.load('build/mocks/sendmsg_harness.o', ['xdp_sendmsg']);
      });
      after(() => h?.close());

      it('returns SK_PASS and leaves the message unchanged or behind a TLV that decodes', () => {
        const message = Buffer.from('GET / HTTP/1.1\r\n\r\n');
        const spec = h.collection.spec;
        fc.assert(fc.property(mapValue(spec, 'km_sockstorage'), fc.constantFrom(AF_INET, AF_INET6), ({ bytes }, family) => {
          h.reset();
          h.mocks.setMsgSocket({ sk: 1n, family });
          h.mocks.setStorage(1n, bytes, 'km_sockstorage');
          const out = h.run('xdp_sendmsg', { data: message }).data;
          expect(h.mocks.retval()).to.equal(SK_PASS);
          if (!out.equals(message)) expect(decodeTlv(out).payload.equals(message)).to.equal(true);
        }), { numRuns: 200 });
      });
    });
  });
});
