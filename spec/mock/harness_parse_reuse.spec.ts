// Harness.load reuses the parse of an object file whose bytes have not changed (a spec process
// loads one harness object in many describe blocks), and parses again whenever the bytes differ:
// a rebuilt object at the same path is never loaded from the earlier parse.
import { expect } from 'chai';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { ElfError } from '../../src/errors';
import { Harness } from '../../src/mock/harness';
import { ObjectSpec } from '../../src/object/object';

describe('Harness.load: an object parse reused only for unchanged bytes', () => {
  let dir: string;
  before(() => (dir = mkdtempSync(path.join(tmpdir(), 'harness-parse-'))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  const loaded = <T>(file: string, use: (h: Harness) => T): T => {
    const h = Harness.load(file);
    try {
      return use(h);
    } finally {
      h.close();
    }
  };

  it('the same bytes at the same path load from the same parse', () => {
    const file = path.join(dir, 'a.o');
    copyFileSync('build/fixtures/btf_values.o', file);
    const first = loaded(file, (h) => h.collection.spec);
    expect(loaded(file, (h) => h.collection.spec)).to.equal(first);
  });

  it('other bytes at the same path are parsed again: the programs and globals are the new file\'s', () => {
    const file = path.join(dir, 'b.o');
    copyFileSync('build/fixtures/btf_values.o', file);
    expect(loaded(file, (h) => h.collection.spec.programs.map((p) => p.name))).to.deep.equal(['values_xdp']);
    copyFileSync('build/fixtures/bench_trivial.o', file);
    const names = loaded(file, (h) => {
      expect(h.run('bench_pass', { data: Buffer.alloc(14) }).retval).to.equal(2); // XDP_PASS
      return h.collection.spec.programs.map((p) => p.name);
    });
    expect(names).to.deep.equal(ObjectSpec.fromFile('build/fixtures/bench_trivial.o').programs.map((p) => p.name));
    expect(names).to.include('bench_pass');
  });

  it('a file that is no longer an object fails as an ELF error, not from the earlier parse', () => {
    const file = path.join(dir, 'c.o');
    copyFileSync('build/fixtures/btf_values.o', file);
    loaded(file, () => undefined);
    writeFileSync(file, 'not an ELF file');
    expect(() => Harness.load(file)).to.throw(ElfError, /^not an ELF object/);
  });

  it('ObjectSpec.fromFile still parses afresh: what a caller changes in its result stays its own', () => {
    const a = ObjectSpec.fromFile('build/fixtures/btf_values.o');
    expect(ObjectSpec.fromFile('build/fixtures/btf_values.o')).to.not.equal(a);
  });
});
