// Out-of-range options and arguments of the wrong type end in an InputError that names the
// argument and what it accepts, before any syscall; a Uint8Array is accepted wherever a Buffer is.
import { expect } from 'chai';
import { BpfMap, Collection, InputError, MapType, ObjectSpec, UpdateFlags } from '../../src';
import { repeatCount } from '../../src/cli/args';
import { bpfunit } from '../cli/run_cli';
import { expectThrow, fixture, u32, u64 } from './helpers';

const U32_RANGE = /from 0 to 4294967295/;

describe('argument validation', () => {
  let coll: Collection;
  let hash: BpfMap;
  const packet = Buffer.alloc(14, 0x11);
  before(() => {
    coll = Collection.load(ObjectSpec.fromFile(fixture('io_runs')), { programs: ['io_pass', 'io_bump'] });
    hash = BpfMap.create({ name: 'io_hash', type: MapType.HASH, keySize: 4, valueSize: 8, maxEntries: 64, flags: 0, needsBtf: false });
  });
  after(() => {
    coll?.close();
    hash?.close();
  });

  describe('program.run options', () => {
    const run = (opts: object) => coll.program('io_pass').run({ data: packet, ...opts });
    const cases: [string, object, RegExp][] = [
      ['repeat 2^32', { repeat: 2 ** 32 }, /io_pass: repeat must be an integer from 1 to 4294967295, got 4294967296/],
      ['repeat -1', { repeat: -1 }, /repeat must be an integer from 1 to 4294967295, got -1/],
      ['repeat 0', { repeat: 0 }, /repeat must be an integer from 1/],
      ['repeat 1.5', { repeat: 1.5 }, /repeat must be an integer/],
      ['repeat NaN', { repeat: NaN }, /repeat must be an integer .* got NaN/],
      ['repeat as a string', { repeat: '3' }, /repeat must be an integer .* got the string '3'/],
      ['flags -1', { flags: -1 }, /flags must be an integer from 0 to 4294967295, got -1/],
      ['flags 2^32', { flags: 2 ** 32 }, /flags must be an integer/],
      ['cpu -1', { cpu: -1 }, /cpu must be an integer from 0 to 4294967295, got -1/],
      ['dataOutSize -1', { dataOutSize: -1 }, /dataOutSize must be an integer from 0 to 16777216, got -1/],
      ['dataOutSize 2^32', { dataOutSize: 2 ** 32 }, /dataOutSize must be an integer from 0 to 16777216, got 4294967296/],
      ['ctxOutSize -1', { ctxOutSize: -1 }, /ctxOutSize must be an integer from 0 to 16777216/],
      ['data as an array', { data: [1, 2, 3] }, /data must be a Buffer or Uint8Array, got an array of 3/],
      ['data as a string', { data: 'x'.repeat(20) }, /data must be a Buffer or Uint8Array, got the string/],
      ['ctx as a number', { ctx: 24 }, /ctx must be a Buffer or Uint8Array, got 24/],
    ];
    for (const [name, opts, re] of cases) {
      it(`${name}: InputError`, () => {
        expectThrow(() => run(opts), InputError, re);
      });
    }

    it('takes a Uint8Array (a view into a larger buffer) as data, with the same result as a Buffer', () => {
      const backing = new Uint8Array(40).map((_, i) => i);
      const view = backing.subarray(10, 30);
      const r = coll.program('io_bump').run({ data: view });
      expect([...r.data]).to.deep.equal([11, ...Array.from({ length: 19 }, (_, i) => 11 + i)]);
      expect(r.retval).to.equal(11);
      expect(backing[10], 'the caller\'s bytes are not changed').to.equal(10);
    });
  });

  describe('map methods', () => {
    it('flags -1 and 1.5 on update and updateBatch: InputError naming flags and the u32 range', () => {
      expectThrow(() => hash.update(u32(1), u64(1), -1), InputError, U32_RANGE);
      expectThrow(() => hash.update(u32(1), u64(1), 1.5), InputError, /io_hash: flags must be an integer .* got 1.5/);
      expectThrow(() => hash.updateBatch([[u32(1), u64(1)]], -1), InputError, U32_RANGE);
      expect(hash.lookup(u32(1))).to.equal(undefined);
    });

    it('keys and values that are not bytes: InputError, not a TypeError', () => {
      const bad = 'abcd' as unknown as Buffer;
      expectThrow(() => hash.update(bad, u64(1)), InputError, /io_hash: key must be a Buffer or Uint8Array, got the string 'abcd'/);
      expectThrow(() => hash.update(u32(1), [1, 2, 3, 4, 5, 6, 7, 8] as unknown as Buffer), InputError, /value must be a Buffer or Uint8Array, got an array of 8/);
      expectThrow(() => hash.lookup(bad), InputError, /key must be a Buffer/);
      expectThrow(() => hash.delete(bad), InputError, /key must be a Buffer/);
      expectThrow(() => hash.updateBatch('nope' as unknown as [Buffer, Buffer][]), InputError, /updateBatch takes an array of \[key, value\] pairs/);
      expectThrow(() => hash.updateBatch([[u32(1)]] as unknown as [Buffer, Buffer][]), InputError, /entry 0 is not a \[key, value\] pair/);
    });

    it('a list longer than any batch (length 2^32 - 1): InputError at once', () => {
      const huge: [Buffer, Buffer][] = [];
      huge.length = 2 ** 32 - 1;
      expectThrow(() => hash.updateBatch(huge), InputError, /at most 16777216 entries/);
    });

    it('a hand-built map spec with flags -1 or 1.5, or a negative size: InputError before any syscall', () => {
      const spec = { name: 'io_bad', type: MapType.HASH, keySize: 4, valueSize: 8, maxEntries: 4, flags: 0, needsBtf: false };
      expectThrow(() => BpfMap.create({ ...spec, flags: -1 }), InputError, /map io_bad: flags must be an integer from 0 to 4294967295, got -1/);
      expectThrow(() => BpfMap.create({ ...spec, flags: 1.5 }), InputError, /flags must be an integer .* got 1.5/);
      expectThrow(() => BpfMap.create({ ...spec, keySize: -4 }), InputError, /keySize must be an integer/);
      expectThrow(() => BpfMap.create({ ...spec, maxEntries: 2 ** 32 }), InputError, /maxEntries must be an integer/);
    });

    it('accepts Uint8Array keys and values in update, lookup, delete and updateBatch', () => {
      const key = new Uint8Array([5, 0, 0, 0]);
      hash.update(key, new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]), UpdateFlags.ANY);
      expect(hash.lookup(key)?.toString('hex')).to.equal('0102030405060708');
      hash.updateBatch([[new Uint8Array([6, 0, 0, 0]), new Uint8Array(8).fill(9)]]);
      expect(hash.lookup(u32(6))?.toString('hex')).to.equal('09'.repeat(8));
      expect([hash.delete(key), hash.delete(new Uint8Array([6, 0, 0, 0]))]).to.deep.equal([true, true]);
    });
  });

  describe('globals', () => {
    it('writeGlobal takes a Uint8Array, and refuses a string or a number with InputError', () => {
      coll.writeGlobal('runs', new Uint8Array([7, 0, 0, 0]));
      expect(coll.readGlobal('runs').readUInt32LE(0)).to.equal(7);
      expectThrow(() => coll.writeGlobal('runs', 'abcd' as unknown as Buffer), InputError, /global runs must be a Buffer or Uint8Array, got the string 'abcd'/);
      expectThrow(() => coll.writeGlobal('runs', 1.5 as unknown as Buffer), InputError, /got 1.5/);
      expect(coll.readGlobal('runs').readUInt32LE(0)).to.equal(7);
    });
  });

  describe('command line', () => {
    it('--repeat 4294967296 is bad usage (exit 2), not an internal error', async () => {
      expect(() => repeatCount('4294967296')).to.throw(/--repeat needs a positive integer, got '4294967296' \(from 1 to 4294967295\)/);
      expect(repeatCount('4294967295')).to.equal(4294967295);
      const r = await bpfunit(['run', fixture('io_runs'), '--prog', 'io_pass', '--data', '00'.repeat(14), '--repeat', '4294967296']);
      expect(r.status).to.equal(2);
      expect(r.stderr).to.match(/^bpfunit: --repeat needs a positive integer/);
      expect(r.stderr).to.not.match(/internal error/);
    });
  });
});
