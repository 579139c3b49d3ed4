// ObjectSpec.fromFile reuses the parse of a path whose bytes have not changed (harness objects are
// loaded in many describe blocks of one process), and parses again whenever the bytes differ:
// a rebuilt object at the same path is never answered from the earlier parse.
import { expect } from 'chai';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { ElfError } from '../../src/errors';
import { ObjectSpec } from '../../src/object/object';

describe('ObjectSpec.fromFile: parses reused only for unchanged bytes', () => {
  let dir: string;
  before(() => (dir = mkdtempSync(path.join(tmpdir(), 'objcache-'))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('the same bytes at the same path give the same parse', () => {
    const file = path.join(dir, 'a.o');
    copyFileSync('build/fixtures/btf_values.o', file);
    expect(ObjectSpec.fromFile(file)).to.equal(ObjectSpec.fromFile(file));
  });

  it('other bytes at the same path are parsed again: the programs are the new file\'s', () => {
    const file = path.join(dir, 'b.o');
    copyFileSync('build/fixtures/btf_values.o', file);
    const first = ObjectSpec.fromFile(file);
    copyFileSync('build/bpf/sendmsg.o', file);
    const second = ObjectSpec.fromFile(file);
    expect(second).to.not.equal(first);
    expect(second.programs.map((p) => p.name)).to.deep.equal(ObjectSpec.parse(readFileSync('build/bpf/sendmsg.o')).programs.map((p) => p.name));
    expect(second.programs.map((p) => p.name)).to.not.deep.equal(first.programs.map((p) => p.name));
  });

  it('a file that became unreadable as an object fails as before, not from the earlier parse', () => {
    const file = path.join(dir, 'c.o');
    copyFileSync('build/fixtures/btf_values.o', file);
    ObjectSpec.fromFile(file);
    writeFileSync(file, 'not an ELF file');
    expect(() => ObjectSpec.fromFile(file)).to.throw(ElfError, /^not an ELF object/);
  });
});
