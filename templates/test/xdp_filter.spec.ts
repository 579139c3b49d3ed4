import assert from 'node:assert/strict';
import { useHarness } from 'bpfunit/mocha';

const XDP_DROP = 1;
const XDP_PASS = 2;

/** A minimal Ethernet frame carrying `etherType`. */
function frame(etherType: number): Buffer {
  const f = Buffer.alloc(60);
  f.writeUInt16BE(etherType, 12);
  return f;
}

describe('xdp_filter', () => {
  // Loaded once for this block; maps and globals are reset before every test.
  const h = useHarness('build/bpf/xdp_filter.o', ['xdp_filter']);
  const run = (etherType: number) => h().run('xdp_filter', { data: frame(etherType) }).retval;
  const verdicts = () => [0, 1].map((slot) => {
    const key = Buffer.alloc(4);
    key.writeUInt32LE(slot);
    return h().map('verdicts').lookup(key)!.readBigUInt64LE(0);
  });

  it('passes IPv4 and counts it', () => {
    assert.equal(run(0x0800), XDP_PASS);
    assert.deepEqual(verdicts(), [1n, 0n]);
  });

  it('drops an EtherType listed in blocked_protos, and only that one', () => {
    const ipv6 = Buffer.alloc(2);
    ipv6.writeUInt16BE(0x86dd); // the key is in network byte order, as the program reads it
    h().map('blocked_protos').update(ipv6, Buffer.from([1]));
    assert.equal(run(0x86dd), XDP_DROP);
    assert.equal(run(0x0800), XDP_PASS);
    assert.deepEqual(verdicts(), [1n, 1n]);
  });
});
