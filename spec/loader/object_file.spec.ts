// ObjectSpec.fromFile reads regular files only, and only up to a stated cap: a device, a FIFO, a
// directory or a huge sparse file is an InputError naming the path and what it is, at once. The
// odd files are opened in a child process with a deadline, so a read that blocks or never ends
// fails this spec instead of hanging the suite.
import { expect } from 'chai';
import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, ftruncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { ObjectSpec } from '../../src';
import { fixture, ROOT } from './helpers';
import { slowed } from '../support/slow';

const CAP = 256 * 1024 * 1024; // the cap README states

interface Outcome { path: string; error?: string; message?: string; programs?: string[] }

/** fromFile on each path in a fresh node, killed after `ms` (a blocked read, not a slow start on a
 * loaded machine): what each call threw or returned. */
function fromFileInChild(paths: string[], ms = 90_000): Outcome[] {
  const code = `
    const { ObjectSpec } = require('./src');
    const out = [];
    for (const p of ${JSON.stringify(paths)}) {
      try { out.push({ path: p, programs: ObjectSpec.fromFile(p).programs.map((x) => x.name) }); }
      catch (e) { out.push({ path: p, error: e.constructor.name, message: e.message }); }
    }
    console.log(JSON.stringify(out));`;
  const limit = slowed(ms);
  const r = spawnSync(process.execPath, ['-r', 'tsx/cjs', '-e', code], { cwd: ROOT, timeout: limit, encoding: 'utf8' });
  expect(r.signal, `fromFile did not return within ${limit} ms (killed): ${r.stderr}`).to.equal(null);
  expect(r.status, r.stderr).to.equal(0);
  return JSON.parse(r.stdout);
}

describe('ObjectSpec.fromFile: only regular files, bounded', function () {
  this.timeout(180_000);
  let dir: string;
  let fifo: string;
  let sparse: string;
  let outcomes: Map<string, Outcome>;

  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'bpfunit-objfile-'));
    fifo = path.join(dir, 'pipe.o');
    execFileSync('mkfifo', [fifo]);
    sparse = path.join(dir, 'sparse.o');
    const fd = openSync(sparse, 'w');
    ftruncateSync(fd, CAP + 1); // a hole: no disk used
    closeSync(fd);
    const paths = ['/dev/zero', fifo, dir, sparse, path.join(dir, 'missing.o'), fixture('loader_calls')];
    outcomes = new Map(fromFileInChild(paths).map((o) => [o.path, o]));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('refuses /dev/zero as a character device without reading it', () => {
    expect(outcomes.get('/dev/zero')).to.deep.equal({
      path: '/dev/zero', error: 'InputError', message: 'cannot read /dev/zero: it is a character device, not a regular file',
    });
  });

  it('refuses a FIFO with no writer at once instead of blocking', () => {
    expect(outcomes.get(fifo)).to.deep.include({ error: 'InputError', message: `cannot read ${fifo}: it is a FIFO, not a regular file` });
  });

  it('refuses a directory', () => {
    expect(outcomes.get(dir)).to.deep.include({ error: 'InputError', message: `cannot read ${dir}: it is a directory, not a regular file` });
  });

  it('refuses a file larger than the cap, naming its size and the cap', () => {
    expect(outcomes.get(sparse)).to.deep.include({
      error: 'InputError',
      message: `cannot read ${sparse}: it is ${CAP + 1} bytes, more than the ${CAP} bytes (256 MiB) bpfunit reads as an object`,
    });
  });

  it('reports a missing file as an InputError naming it', () => {
    const o = outcomes.get(path.join(dir, 'missing.o'))!;
    expect(o.error).to.equal('InputError');
    expect(o.message).to.match(new RegExp(`^cannot read ${path.join(dir, 'missing.o')}: ENOENT`));
  });

  it('reads a regular object whole: the same model as parsing its bytes', () => {
    const expected = ObjectSpec.parse(readFileSync(fixture('loader_calls'))).programs.map((p) => p.name);
    expect(expected.length).to.be.greaterThan(0);
    expect(outcomes.get(fixture('loader_calls'))!.programs).to.deep.equal(expected);
  });
});
