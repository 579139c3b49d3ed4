// File descriptors: a Collection closes every fd it opened (BTF, maps, programs), after a
// successful load and after a load that fails half-way (verifier rejection, unknown section).
import { expect } from 'chai';
import { Collection, InputError, ObjectSpec, VerifierError } from '../../src';
import { expectThrow, fixture, openFdCount } from './helpers';

describe('fd hygiene', () => {
  it('100 load + run + close cycles leave the number of open fds unchanged', () => {
    const spec = ObjectSpec.fromFile(fixture('loader_maps')); // BTF, 7 maps, 3 programs
    Collection.load(spec).close(); // warm-up: lazily opened process-wide fds (libc, sysfs) settle
    const before = openFdCount();
    for (let i = 0; i < 100; i++) {
      const coll = Collection.load(spec);
      if (i === 0) expect(openFdCount()).to.equal(before + 1 + 7 + 3);
      coll.program('maps_main').run({ data: Buffer.alloc(14) });
      coll.close();
    }
    expect(openFdCount()).to.equal(before);
  });

  it('100 failed loads (verifier rejection after BTF and good_xdp were loaded) leak no fd', () => {
    const spec = ObjectSpec.fromFile(fixture('loader_data'));
    const bad = ObjectSpec.fromFile(fixture('loader_invalid'));
    expectThrow(() => Collection.load(bad), VerifierError);
    const before = openFdCount();
    for (let i = 0; i < 100; i++) expectThrow(() => Collection.load(bad), VerifierError);
    expect(openFdCount()).to.equal(before);
    // a load that fails on an unknown section after known_xdp was loaded, too
    const unknown = ObjectSpec.fromFile(fixture('loader_unknown'));
    for (let i = 0; i < 20; i++) expectThrow(() => Collection.load(unknown), InputError);
    expect(openFdCount()).to.equal(before);
    // and the process can still load and run afterwards
    const coll = Collection.load(spec);
    try {
      expect(coll.program('read_globals').run({ data: Buffer.alloc(24) }).retval).to.equal(361);
    } finally {
      coll.close();
    }
    expect(openFdCount()).to.equal(before);
  });
});
