// Property: for every message on a socket whose connect went to a waypoint, sendmsg_prog
// (re-hosted, build/mocks/sendmsg_harness.o) leaves a TLV that decodes back to the original
// destination, followed by the message unchanged. Then the same property, from generated inputs
// alone, finds the bug planted in spec/fixtures/sendmsg_planted.c and shrinks it to the shortest
// message that shows it.
import { expect } from 'chai';
import fc from 'fast-check';
import { Harness } from '../../src/mock/harness';
import { assertProperty, replayable } from '../../src/property/run';
import { AF_INET, AF_INET6, decodeOriginalDst, encodeSockStorageData, ip4String, ip6String } from '../../src/structs';

const SK = 0x5eedn;
/** The XDP re-hosting needs an Ethernet header's worth of data: shorter messages cannot be sent. */
const MIN_MESSAGE = 14;
/** Bytes prepended: type 1 + length 4 + address + port 2, then the end marker 1 + 4. */
const TLV_SIZE = { ipv4: 1 + 4 + 4 + 2 + 5, ipv6: 1 + 4 + 16 + 2 + 5 };

interface Send {
  family: 'ipv4' | 'ipv6';
  ip: Buffer;
  port: number;
  message: Buffer;
}

// Messages up to 300 bytes: the planted bug recurs every 256 bytes, and fast-check's integer
// shrinker (which bisects towards the minimum) stops in the first window it enters, so a range
// holding one window lets it reach the shortest failing message.
const sends = fc.constantFrom<'ipv4' | 'ipv6'>('ipv4', 'ipv6').chain((family) =>
  fc.record({
    family: fc.constant(family),
    ip: fc.uint8Array({ minLength: family === 'ipv4' ? 4 : 16, maxLength: family === 'ipv4' ? 4 : 16 }).map((a) => Buffer.from(a)),
    port: fc.integer({ min: 1, max: 0xffff }),
    // the length drawn first (uniformly, not fast-check's small-size bias), then the bytes
    message: fc
      .integer({ min: MIN_MESSAGE, max: 300 })
      .chain((n) => fc.uint8Array({ minLength: n, maxLength: n }))
      .map((a) => Buffer.from(a)),
  }),
);

/** Sends one message and returns what the TLV says, or the reason it does not decode. */
function send(h: Harness, s: Send) {
  h.reset();
  h.mocks.setMsgSocket({ sk: SK, family: s.family === 'ipv4' ? AF_INET : AF_INET6 });
  const daddr = s.family === 'ipv4' ? s.ip.readUInt32LE(0) : [0, 4, 8, 12].map((k) => s.ip.readUInt32LE(k));
  const sk_tuple = s.family === 'ipv4' ? { ipv4: { daddr, dport: s.port } } : { ipv6: { daddr, dport: s.port } };
  h.mocks.setStorage(SK, encodeSockStorageData({ via_waypoint: true, has_set_ip: true, sk_tuple: sk_tuple as never }), 'km_sockstorage');
  return h.run('xdp_sendmsg', { data: s.message }).data;
}

/** The property: the TLV names the destination (address, port in host order) and the message follows. */
function decodesBack(h: Harness) {
  return fc.property(sends, (s) => {
    const out = send(h, s);
    const dst = decodeOriginalDst(out);
    expect(dst.family).to.equal(s.family === 'ipv4' ? AF_INET : AF_INET6);
    expect(dst.addr).to.equal(s.family === 'ipv4' ? ip4String(s.ip.readUInt32LE(0)) : ip6String(s.ip));
    // storage keeps the port as the socket saw it (network order); the TLV carries those bytes
    const wire = Buffer.alloc(2);
    wire.writeUInt16LE(s.port);
    expect(dst.port).to.equal(wire.readUInt16BE(0));
    expect(dst.payload.equals(s.message)).to.equal(true, 'the message after the TLV is unchanged');
  });
}

describe('property: sendmsg prepends a TLV that decodes back to the destination', () => {
  let good: Harness;
  let planted: Harness;
  before(() => {
    good = Harness.load('build/mocks/sendmsg_harness.o', ['xdp_sendmsg']);
    planted = Harness.load('build/fixtures/sendmsg_planted.o', ['xdp_sendmsg']);
  });
  after(() => {
    good?.close();
    planted?.close();
  });

  it('holds for 300 generated messages of both families (bpf/sendmsg.c)', () => {
    assertProperty(decodesBack(good), { numRuns: 300 });
  });

  it('finds the planted bug (room kept in a __u8) and shrinks to the shortest message showing it', () => {
    const details = fc.check(decodesBack(planted), { numRuns: 300, seed: 16 });
    expect(details.failed, 'the planted bug was not found').to.equal(true);
    const [s] = details.counterexample!;
    // The first write sees (TLV + message) mod 256 bytes of room: 0 when the total is 256, the
    // first total above every write's length that wraps. Shorter messages all decode.
    const shortest = 256 - TLV_SIZE[s.family];
    expect(s.message.length).to.equal(shortest);
    // The kernel agrees: one byte shorter decodes, on the planted copy too.
    const shorter = { ...s, message: s.message.subarray(1) };
    expect(decodeOriginalDst(send(planted, shorter)).payload.equals(shorter.message)).to.equal(true);
    expect(() => decodeOriginalDst(send(planted, s))).to.throw();
  });

  it('a failure names its seed; BPFUNIT_SEED replays the same counterexample', () => {
    let message = '';
    try {
      assertProperty(decodesBack(planted), { numRuns: 300, seed: 16 });
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).to.match(/replay: BPFUNIT_SEED=16 BPFUNIT_PATH=[\d:]+/);
    const path = /BPFUNIT_PATH=([\d:]+)/.exec(message)![1];
    process.env.BPFUNIT_SEED = '16';
    process.env.BPFUNIT_PATH = path;
    try {
      // a different seed in the code: the environment wins, and the path goes straight to it
      const replay = fc.check(decodesBack(planted), replayable({ seed: 1, numRuns: 300 }));
      expect(replay.failed).to.equal(true);
      expect(replay.counterexample![0].message.length).to.equal(256 - TLV_SIZE[replay.counterexample![0].family]);
    } finally {
      delete process.env.BPFUNIT_SEED;
      delete process.env.BPFUNIT_PATH;
    }
  });
});
