// Collection.defaultHook is process-wide: `bpfunit mutate` and `bpfunit coverage` install their hook
// from the CLI's copy of bpfunit (dist/), while the specs they run may load programs through another
// copy (this repository's specs import src/ through tsx). A hook per module copy reached no load at
// all: every mutant "survived" and coverage saw no program.
import { expect } from 'chai';
import * as path from 'node:path';
import { Collection, ObjectSpec } from '../../src';
import type { CollectionHook } from '../../src/kernel/collection';

describe('Collection.defaultHook across copies of bpfunit', () => {
  it('a hook set through dist/ applies to a load through src/, and clearing it there clears it here', () => {
    const dist = require(path.resolve('dist/kernel/collection')) as typeof import('../../src/kernel/collection');
    expect(dist.Collection).to.not.equal(Collection); // two module instances, as under the CLI
    const seen: string[][] = [];
    const hook: CollectionHook = {
      prepare: (_spec, programs) => {
        seen.push(programs.map((p) => p.name));
        return { maps: [], programs };
      },
    };
    dist.Collection.defaultHook = hook;
    try {
      const coll = Collection.load(ObjectSpec.fromFile('build/fixtures/bench_trivial.o'), { programs: ['bench_pass'] });
      coll.close();
      expect(seen).to.deep.equal([['bench_pass']]);
      expect(Collection.defaultHook).to.equal(hook);
    } finally {
      dist.Collection.defaultHook = undefined;
    }
    expect(Collection.defaultHook).to.equal(undefined);
  });
});
