// bpfunit precommit's selection: which spec files rerun, from the record of the runs they passed,
// and what the recorder notes as a spec file's inputs.
import { expect } from 'chai';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InputRecorder } from '../../src/cli/record';
import { CLI } from '../loader/helpers';
import { RunRecord, select, update } from '../../src/cli/select';

describe('precommit: spec selection', () => {
  const root = '/repo';
  const specs = ['/repo/spec/a.spec.ts', '/repo/spec/b.spec.ts', '/repo/spec/pure.spec.ts'];
  const record: RunRecord = {
    version: 1,
    files: ['build/a.o', 'build/b.o', 'src/x.ts'],
    specs: {
      'spec/a.spec.ts': { passed: 100, inputs: [0, 2] },
      'spec/b.spec.ts': { passed: 100, inputs: [1, 2] },
      'spec/pure.spec.ts': { passed: 100, inputs: [2] },
    },
  };
  const times: Record<string, number> = {
    '/repo/spec/a.spec.ts': 50, '/repo/spec/b.spec.ts': 50, '/repo/spec/pure.spec.ts': 50,
    '/repo/build/a.o': 90, '/repo/build/b.o': 90, '/repo/src/x.ts': 10,
  };
  const mtimes = (changed: Record<string, number | undefined>) => (p: string) => (p in changed ? changed[p] : times[p]);

  it('runs nothing when no spec file and no input is newer than its pass', () => {
    expect(select(root, specs, record, mtimes({}))).to.deep.equal({ run: [], why: [] });
  });

  it('reruns only the spec files that used a rebuilt object', () => {
    expect(select(root, specs, record, mtimes({ '/repo/build/b.o': 150 }))).to.deep.equal({ run: ['/repo/spec/b.spec.ts'], why: ['build/b.o'] });
  });

  it('reruns every spec file that loaded a changed module', () => {
    expect(select(root, specs, record, mtimes({ '/repo/src/x.ts': 150 }))).to.deep.equal({ run: specs, why: ['src/x.ts'] });
  });

  it('reruns a changed spec file alone', () => {
    expect(select(root, specs, record, mtimes({ '/repo/spec/pure.spec.ts': 150 }))).to.deep.equal({ run: ['/repo/spec/pure.spec.ts'], why: ['spec/pure.spec.ts'] });
  });

  it('reruns a spec file whose input is gone, and a spec file with no record', () => {
    const more = [...specs, '/repo/spec/new.spec.ts'];
    const r = select(root, more, record, mtimes({ '/repo/build/a.o': undefined, '/repo/spec/new.spec.ts': 20 }));
    expect(r).to.deep.equal({ run: ['/repo/spec/a.spec.ts', '/repo/spec/new.spec.ts'], why: ['build/a.o', 'spec/new.spec.ts (not passed before)'] });
  });

  it('reruns every spec file when there is no record', () => {
    expect(select(root, specs, undefined, mtimes({})).run).to.deep.equal(specs);
  });

  describe('the record after a run', () => {
    let dir: string;
    before(() => {
      dir = realpathSync(mkdtempSync(join(tmpdir(), 'bpfunit-select-')));
      mkdirSync(join(dir, 'spec'));
      for (const f of ['a', 'b', 'pure']) writeFileSync(join(dir, 'spec', `${f}.spec.ts`), '');
    });
    after(() => rmSync(dir, { recursive: true, force: true }));

    it('gives passed spec files the start time and their inputs, drops failed and deleted ones, keeps the rest', () => {
      const before: RunRecord = { ...record, specs: { ...record.specs, 'spec/gone.spec.ts': { passed: 100, inputs: [0] } } };
      const passed = new Map([[join(dir, 'spec/a.spec.ts'), [join(dir, 'build/c.o'), join(dir, 'src/x.ts')]]]);
      const r = update(dir, before, 300, passed, [join(dir, 'spec/b.spec.ts')]);
      const named = Object.fromEntries(Object.entries(r.specs).map(([s, e]) => [s, { passed: e.passed, inputs: e.inputs.map((k) => r.files[k]) }]));
      expect(named).to.deep.equal({
        'spec/a.spec.ts': { passed: 300, inputs: ['build/c.o', 'src/x.ts'] },
        'spec/pure.spec.ts': { passed: 100, inputs: ['src/x.ts'] },
      });
    });
  });
});

describe('precommit: the input recorder', () => {
  let root: string;
  let outside: string;
  before(() => {
    root = realpathSync(mkdtempSync(join(tmpdir(), 'bpfunit-record-')));
    outside = realpathSync(mkdtempSync(join(tmpdir(), 'bpfunit-outside-')));
    mkdirSync(join(root, 'build'));
    mkdirSync(join(root, 'inc'));
    for (const f of ['build/x.o', 'build/y.o', 'inc/h.h', 'helper.ts']) writeFileSync(join(root, f), f);
    writeFileSync(join(outside, 'z.o'), 'z');
  });
  after(() => {
    rmSync(root, { recursive: true, force: true });
    rmSync(outside, { recursive: true, force: true });
  });

  it('notes, per spec file, the repository files read or handed to a child, not modules or outside files', () => {
    const original = fs.readFileSync;
    const rec = new InputRecorder(root);
    rec.install();
    try {
      rec.current = '/one.spec.ts';
      expect(readFileSync(join(root, 'build/x.o'), 'utf8')).to.equal('build/x.o'); // the read itself is unchanged
      readFileSync(join(outside, 'z.o'));
      readFileSync(join(root, 'helper.ts'));
      execFileSync('true', [join(root, 'build/y.o'), `-I${join(root, 'inc')}`, join(root, 'build/missing.o')]);
      rec.current = '/two.spec.ts';
      fs.readFileSync(join(root, 'build/x.o'));
      rec.current = undefined;
      readFileSync(join(root, 'build/y.o'));
    } finally {
      rec.uninstall();
    }
    expect(fs.readFileSync).to.equal(original);
    expect([...rec.of('/one.spec.ts')].sort()).to.deep.equal(['build/x.o', 'build/y.o', 'inc', 'inc/h.h'].map((f) => join(root, f)));
    expect([...rec.of('/two.spec.ts')]).to.deep.equal([join(root, 'build/x.o')]);
  });
});

describe('bpfunit precommit in a repository', function () {
  this.timeout(180000); // nine CLI runs, each starting node and mocha: slow on a loaded machine
  let dir: string;
  const precommit = () => {
    const r = spawnSync(CLI, ['precommit', '--no-build'], { cwd: dir, encoding: 'utf8' });
    return { status: r.status, out: r.stdout, ran: /(\d+) of (\d+) spec files/.exec(r.stdout)?.slice(1).join(' of ') };
  };
  before(() => {
    dir = realpathSync(mkdtempSync(join(tmpdir(), 'bpfunit-precommit-')));
    mkdirSync(join(dir, 'test'));
    mkdirSync(join(dir, 'build'));
    writeFileSync(join(dir, 'bpfunit.config.json'), JSON.stringify({ sources: [], specs: ['test/*.spec.js'] }));
    writeFileSync(join(dir, 'build/p.o'), 'ok');
    // One spec file reads an object in a hook, one reads nothing.
    writeFileSync(join(dir, 'test/obj.spec.js'), `const fs = require('node:fs');
describe('obj', () => {
  let text;
  before(() => { text = fs.readFileSync(__dirname + '/../build/p.o', 'utf8'); });
  it('holds ok', () => { if (text !== 'ok') throw new Error('object holds ' + text); });
});
`);
    writeFileSync(join(dir, 'test/pure.spec.js'), `const { two } = require('./two');
describe('pure', () => { it('adds', () => { if (1 + 1 !== two) throw new Error('1 + 1'); }); });
`);
    writeFileSync(join(dir, 'test/two.js'), 'exports.two = 2;\n');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('runs every spec file first, then only those whose inputs changed (a module: those requiring it), and a failed one until it passes', () => {
    const first = precommit();
    expect([first.status, first.ran]).to.deep.equal([0, '2 of 2']);
    expect(first.out).to.match(/2 passing/);
    expect(precommit()).to.deep.equal({ status: 0, out: '', ran: undefined });

    writeFileSync(join(dir, 'build/p.o'), 'broken');
    const broken = precommit();
    expect([broken.status, broken.ran]).to.deep.equal([1, '1 of 2']);
    expect(broken.out).to.match(/object holds broken/);
    const again = precommit(); // failed: reruns though nothing changed
    expect([again.status, again.ran]).to.deep.equal([1, '1 of 2']);

    writeFileSync(join(dir, 'build/p.o'), 'ok');
    const fixed = precommit();
    expect([fixed.status, fixed.ran]).to.deep.equal([0, '1 of 2']);
    expect(fixed.out).to.match(/1 passing/);
    expect(precommit()).to.deep.equal({ status: 0, out: '', ran: undefined });

    writeFileSync(join(dir, 'test/pure.spec.js'), readFileSync(join(dir, 'test/pure.spec.js'), 'utf8') + '// edited\n');
    expect(precommit().ran).to.equal('1 of 2');
    // a module only one spec file requires reruns only that one
    writeFileSync(join(dir, 'test/two.js'), 'exports.two = 3;\n');
    const module = precommit();
    expect([module.status, module.ran]).to.deep.equal([1, '1 of 2']);
    expect(module.out).to.match(/Error: 1 \+ 1/);
  });
});
