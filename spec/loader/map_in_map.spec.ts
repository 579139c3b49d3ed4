// Maps of maps: the inner definition from __array(values, struct ...) becomes a template the
// outer map is created with, and `.values` slots hold the fds of the maps they name.
import { expect } from 'chai';
import { Collection, MapType, ObjectSpec } from '../../src';
import { fixture, u32 } from './helpers';

describe('maps of maps (ext_map_in_map)', () => {
  it('parses the inner definition and the initialised slots', () => {
    const spec = ObjectSpec.fromFile(fixture('ext_map_in_map'));
    const outer = spec.map('outer_array');
    expect([outer.type, outer.keySize, outer.valueSize, outer.maxEntries]).to.deep.equal([MapType.ARRAY_OF_MAPS, 4, 4, 4]);
    expect(outer.inner).to.deep.include({ name: 'outer_array.inner', type: MapType.ARRAY, keySize: 4, valueSize: 8, maxEntries: 1 });
    expect(outer.mapSlots).to.deep.equal([{ index: 0, map: 'inner_a' }, { index: 2, map: 'inner_b' }]);
    expect(spec.map('outer_hash').inner?.type).to.equal(MapType.ARRAY);
  });

  it('a program reaches an inner map through its slot, and userspace sees what it wrote there', () => {
    const coll = Collection.load(ObjectSpec.fromFile(fixture('ext_map_in_map')), { programs: ['mim_count'] });
    try {
      coll.map('inner_b').update(u32(0), Buffer.from('0500000000000000', 'hex'));
      expect(coll.program('mim_count').run({ data: Buffer.alloc(14) }).retval).to.equal(1006);
      expect(coll.map('inner_b').lookup(u32(0))!.readBigUInt64LE(0)).to.equal(6n);
      expect(coll.map('inner_a').lookup(u32(0))!.readBigUInt64LE(0)).to.equal(0n);
    } finally {
      coll.close();
    }
  });
});
