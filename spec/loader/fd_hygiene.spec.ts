// File descriptors: a Collection closes every fd it opened (BTF, maps, programs), after a
// successful load and after a load that fails half-way (verifier rejection, unknown section).
// The fds are checked one by one (spec/support/created.ts), not counted: anything else in the
// process may open or close files meanwhile.
import { expect } from 'chai';
import { Collection, InputError, ObjectSpec, VerifierError } from '../../src';
import { recordCreated, stillOpen } from '../support/created';
import { expectThrow, fixture } from './helpers';

describe('fd hygiene', () => {
  it('100 load + run + close cycles: each load opens BTF, 7 maps and 3 programs, and close() closes them', () => {
    const spec = ObjectSpec.fromFile(fixture('loader_maps'));
    const rec = recordCreated();
    try {
      for (let i = 0; i < 100; i++) {
        const coll = Collection.load(spec);
        if (i === 0) expect(stillOpen(rec.created).map((o) => o.kind).sort()).to.deep.equal(['btf', ...Array(7).fill('map'), ...Array(3).fill('prog')]);
        coll.program('maps_main').run({ data: Buffer.alloc(14) });
        coll.close();
      }
    } finally {
      rec.stop();
    }
    expect(rec.created).to.have.length(100 * 11);
    expect(stillOpen(rec.created)).to.deep.equal([]);
  });

  it('100 failed loads (verifier rejection after BTF and good_xdp were loaded) leak no fd', () => {
    const spec = ObjectSpec.fromFile(fixture('loader_data'));
    const bad = ObjectSpec.fromFile(fixture('loader_invalid'));
    const unknown = ObjectSpec.fromFile(fixture('loader_unknown'));
    const rec = recordCreated();
    try {
      for (let i = 0; i < 100; i++) expectThrow(() => Collection.load(bad), VerifierError);
      expect(rec.created.length, 'fds opened by the failed loads').to.be.at.least(200);
      expect(stillOpen(rec.created)).to.deep.equal([]);
      // a load that fails on an unknown section after known_xdp was loaded, too
      for (let i = 0; i < 20; i++) expectThrow(() => Collection.load(unknown), InputError);
      expect(stillOpen(rec.created)).to.deep.equal([]);
      // and the process can still load and run afterwards
      const coll = Collection.load(spec);
      try {
        expect(coll.program('read_globals').run({ data: Buffer.alloc(24) }).retval).to.equal(361);
      } finally {
        coll.close();
      }
    } finally {
      rec.stop();
    }
    expect(stillOpen(rec.created)).to.deep.equal([]);
  });
});
