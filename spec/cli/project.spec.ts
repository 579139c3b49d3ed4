// A user's repository: bpfunit.config.json, `bpfunit build` (flags, incremental, outside-tree
// sources), `init` (never overwrites), `install-hook` (chains the existing hook), and coverage
// reporting files outside the root.
import { expect } from 'chai';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { build, dependencies, harnessIncludes, targets } from '../../src/cli/build';
import { installHook } from '../../src/cli/hook';
import { mochaCommand, splitMochaArgs } from '../../src/cli/mocha';
import { init, TEMPLATES } from '../../src/cli/init';
import { cflags, ConfigError, loadConfig, MOCK_INCLUDE, pathArg } from '../../src/config';
import { DEFAULT_CONFIG, reported } from '../../src/coverage/config';
import { Harness } from '../../src/mock/harness';

function tempDir(name: string): string {
  return mkdtempSync(path.join(tmpdir(), `bpfunit-${name}-`));
}

function write(file: string, text: string): void {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, text);
}

function configError(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).to.be.instanceOf(ConfigError);
    return (e as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('bpfunit.config.json', () => {
  let dir: string;
  beforeEach(() => {
    dir = tempDir('config');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('is found from a subdirectory, and a "bpfunit" key in package.json works the same', () => {
    write(path.join(dir, 'bpfunit.config.json'), JSON.stringify({ sources: ['progs/*.c'], defines: { DEBUG: true, LEVEL: 3 } }));
    mkdirSync(path.join(dir, 'a', 'b'), { recursive: true });
    const c = loadConfig(path.join(dir, 'a', 'b'));
    expect([c.root, c.file, c.sources, c.outDir]).to.deep.equal([dir, path.join(dir, 'bpfunit.config.json'), ['progs/*.c'], 'build/bpf']);
    rmSync(path.join(dir, 'bpfunit.config.json'));
    write(path.join(dir, 'package.json'), JSON.stringify({ name: 'x', bpfunit: { harnesses: ['h/*.c'] } }));
    const p = loadConfig(path.join(dir, 'a'));
    expect([p.root, p.harnesses, p.sources]).to.deep.equal([dir, ['h/*.c'], ['bpf/*.c']]);
  });

  it('rejects a wrong key or value with an error naming it', () => {
    const file = path.join(dir, 'bpfunit.config.json');
    const cases: [unknown, RegExp][] = [
      [{ source: ['x.c'] }, /unknown key "source"/],
      [{ sources: 'bpf/*.c' }, /"sources" must be an array of non-empty strings/],
      [{ include: [''] }, /"include" must be an array/],
      [{ defines: { 'A-B': 1 } }, /"defines": 'A-B' is not a C identifier/],
      [{ defines: { A: false } }, /"defines.A" must be a string, a number or true/],
      [{ outDir: 3 }, /"outDir" must be a non-empty string/],
      [{ coverage: [] }, /"coverage" must be an object/],
      [[], /must hold a JSON object/],
    ];
    for (const [raw, re] of cases) {
      write(file, JSON.stringify(raw));
      expect(configError(() => loadConfig(dir)), JSON.stringify(raw)).to.match(re).and.to.include(file);
    }
    write(file, '{ "sources": [');
    expect(configError(() => loadConfig(dir))).to.match(/not valid JSON/);
    expect(configError(() => loadConfig(dir, 'missing.json'))).to.equal('missing.json: no such configuration file');
  });

  it('cflags: base flags, configured includes, the mock headers, defines, then the user\'s flags', () => {
    write(path.join(dir, 'bpfunit.config.json'), JSON.stringify({ include: ['inc', '/opt/other'], defines: { DEBUG: true, LEVEL: 3 }, cflags: ['-O1'] }));
    const flags = cflags(loadConfig(dir));
    expect(flags.slice(0, 4)).to.deep.equal(['-g', '-O2', '-target', 'bpf']);
    expect(flags.slice(6)).to.deep.equal(['-Iinc', '-I/opt/other', `-I${MOCK_INCLUDE}`, '-DDEBUG', '-DLEVEL=3', '-Wall', '-Wno-unused-function', '-O1']);
    expect(existsSync(path.join(MOCK_INCLUDE, 'mock', 'all.h'))).to.equal(true);
  });

  it('paths on a command line are relative inside the directory, absolute outside it', () => {
    expect(pathArg('/r/bpf/x.c', '/r')).to.equal('bpf/x.c');
    expect(pathArg('/elsewhere/x.c', '/r')).to.equal('/elsewhere/x.c');
  });
});

describe('bpfunit build', function () {
  this.timeout(60000);
  let dir: string;
  let sibling: string;
  const objects = () => targets(loadConfig(dir)).map((t) => path.relative(dir, t.object));
  // Sets a file's times `seconds` from now. Objects are stamped "now" rather than inputs aged, since
  // their inputs include the package's own headers, as new as the checkout (a fresh clone in CI).
  const stamp = (files: string[], seconds: number) => {
    const t = new Date(Date.now() + seconds * 1000);
    for (const f of files) utimesSync(f, t, t);
  };

  // A fresh project for every test, so each passes alone and in any order.
  beforeEach(() => {
    dir = tempDir('build');
    sibling = tempDir('sibling');
    write(path.join(dir, 'inc', 'verdict.h'), '#define VERDICT XDP_PASS\n');
    write(path.join(dir, 'bpf', 'pass.c'), [
      '#include <linux/bpf.h>', '#include <bpf/bpf_helpers.h>', '#include "verdict.h"',
      'SEC("xdp") int pass(struct xdp_md *ctx) { return VERDICT + EXTRA; }', 'char LICENSE[] SEC("license") = "GPL";', '',
    ].join('\n'));
    write(path.join(sibling, 'far.c'), [
      '#include <linux/bpf.h>', '#include <bpf/bpf_helpers.h>',
      'static __always_inline int far_verdict(struct xdp_md *ctx) { return ctx->data_end - ctx->data > 20 ? XDP_DROP : XDP_PASS; }',
      'SEC("xdp") int far(struct xdp_md *ctx) { return far_verdict(ctx); }', 'char LICENSE[] SEC("license") = "GPL";', '',
    ].join('\n'));
    // A harness including a program from the sibling checkout, found through the sources' directories.
    write(path.join(dir, 'test', 'far_harness.c'), [
      '#include <mock/all.h>', '#include "far.c"',
      'MOCK_ENTRY("xdp") int xdp_far(struct xdp_md *xdp) { mock_retval = far(xdp); return XDP_PASS; }', '',
    ].join('\n'));
    write(path.join(dir, 'bpfunit.config.json'), JSON.stringify({
      sources: ['bpf/*.c', path.join(sibling, '*.c')], harnesses: ['test/*.c'], include: ['inc'], defines: { EXTRA: 0 },
    }));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
    rmSync(sibling, { recursive: true, force: true });
  });

  it('compiles sources (here and outside the repository) and harnesses into objects that run', () => {
    const r = build(loadConfig(dir));
    expect([r.built.length, r.failed.length, r.upToDate]).to.deep.equal([3, 0, 0]);
    expect(objects()).to.deep.equal(['build/bpf/pass.o', 'build/bpf/far.o', 'build/bpf/far_harness.o']);
    const h = Harness.load(path.join(dir, 'build/bpf/far_harness.o'));
    try {
      h.run('xdp_far', { data: Buffer.alloc(64) });
      expect(h.mocks.retval()).to.equal(1); // XDP_DROP: the sibling's program ran
      h.run('xdp_far', { data: Buffer.alloc(14) });
      expect(h.mocks.retval()).to.equal(2);
    } finally {
      h.close();
    }
  });

  it('rebuilds nothing when nothing changed, then only what includes a changed header', () => {
    const config = loadConfig(dir);
    expect(build(config).built).to.have.length(3);
    stamp(targets(config).map((t) => t.source).concat(path.join(dir, 'inc/verdict.h')), -60);
    stamp(targets(config).map((t) => t.object), 0);
    expect(build(config).built).to.deep.equal([]);
    writeFileSync(path.join(dir, 'inc', 'verdict.h'), '#define VERDICT XDP_TX\n');
    stamp([path.join(dir, 'inc/verdict.h')], 60); // edited after the build, whatever the clock's grain
    const r = build(config);
    expect(r.built.map((t) => path.basename(t.object))).to.deep.equal(['pass.o']);
    const h = Harness.load(path.join(dir, 'build/bpf/pass.o'));
    try {
      expect(h.run('pass', { data: Buffer.alloc(14) }).retval).to.equal(3); // XDP_TX from the new header
    } finally {
      h.close();
    }
  });

  it('rebuilds everything when the configured flags change', () => {
    const file = path.join(dir, 'bpfunit.config.json');
    const raw = JSON.parse(readFileSync(file, 'utf8'));
    expect(build(loadConfig(dir)).built).to.have.length(3);
    expect(build(loadConfig(dir)).built).to.deep.equal([]);
    writeFileSync(file, JSON.stringify({ ...raw, defines: { EXTRA: 1 } }));
    expect(build(loadConfig(dir)).built).to.have.length(3);
    const h = Harness.load(path.join(dir, 'build/bpf/pass.o'));
    try {
      expect(h.run('pass', { data: Buffer.alloc(14) }).retval).to.equal(3); // XDP_PASS + EXTRA
    } finally {
      h.close();
    }
  });

  it('a clang error fails that target, leaves others alone and writes no object', () => {
    const bad = path.join(dir, 'bpf', 'broken.c');
    write(bad, 'int broken(void) { return undeclared; }\n');
    try {
      const r = build(loadConfig(dir));
      expect(r.failed.map((t) => path.basename(t.source))).to.deep.equal(['broken.c']);
      expect(existsSync(path.join(dir, 'build/bpf/broken.o'))).to.equal(false);
    } finally {
      rmSync(bad);
    }
  });

  it('cflags --harness adds the sources\' directories, relative inside the repository', () => {
    expect(harnessIncludes(loadConfig(dir), dir)).to.deep.equal(['-Ibpf', `-I${sibling}`]);
  });

  it('two inputs that would write the same object are a configuration error', () => {
    write(path.join(dir, 'test', 'pass.c'), '');
    try {
      expect(configError(() => targets(loadConfig(dir)))).to.match(/both build .*build\/bpf\/pass\.o: rename one/);
    } finally {
      rmSync(path.join(dir, 'test', 'pass.c'));
    }
  });

  it('reads clang dependency files, escaped spaces included', () => {
    const d = path.join(dir, 'x.d');
    writeFileSync(d, 'build/x.o: a.c inc/my\\ header.h \\\n  /usr/include/linux/bpf.h\ninc/my\\ header.h:\n');
    expect(dependencies(d)).to.deep.equal(['a.c', 'inc/my header.h', '/usr/include/linux/bpf.h']);
  });
});

describe('bpfunit init', () => {
  it('writes the templates and npm scripts, keeping every file and script already there', () => {
    const dir = tempDir('init');
    try {
      write(path.join(dir, 'bpf', 'xdp_filter.c'), '/* mine */\n');
      write(path.join(dir, 'package.json'), JSON.stringify({ name: 'mine', scripts: { test: 'jest', 'bpf:build': 'make bpf' } }, null, 4));
      const lines = init(dir);
      expect(readFileSync(path.join(dir, 'bpf', 'xdp_filter.c'), 'utf8')).to.equal('/* mine */\n');
      expect(lines).to.include('kept    bpf/xdp_filter.c (exists)');
      for (const f of ['bpfunit.config.json', 'bpf/msg_guard.c', 'test/harness/msg_guard_harness.c', 'test/msg_guard.spec.ts']) {
        expect(readFileSync(path.join(dir, f), 'utf8'), f).to.equal(readFileSync(path.join(TEMPLATES, f), 'utf8'));
      }
      const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8'));
      expect(pkg.scripts).to.deep.equal({ test: 'jest', 'bpf:build': 'make bpf', 'bpf:test': 'bpfunit test', 'bpf:coverage': 'bpfunit coverage' });
      expect(init(dir).filter((l) => l.startsWith('created') || l.startsWith('added'))).to.deep.equal([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('bpfunit install-hook', () => {
  it('moves an existing hook aside and runs it before the check; installing again keeps the chain', () => {
    const dir = tempDir('hook');
    try {
      execFileSync('git', ['init', '-q', dir]);
      const hooks = path.join(dir, '.git', 'hooks');
      write(path.join(hooks, 'pre-commit'), '#!/bin/sh\necho earlier >> "$(git rev-parse --show-toplevel)/ran"\n');
      execFileSync('chmod', ['+x', path.join(hooks, 'pre-commit')]);
      const check = 'sh -c \'echo check >> ran\'';
      expect(installHook(dir, check)[0]).to.match(/moved the existing hook to .*pre-commit\.local/);
      expect(installHook(dir, check)).to.deep.equal([`installed ${path.join(hooks, 'pre-commit')}`]);
      execFileSync(path.join(hooks, 'pre-commit'), { cwd: dir });
      expect(readFileSync(path.join(dir, 'ran'), 'utf8')).to.equal('earlier\ncheck\n');
      expect(statSync(path.join(hooks, 'pre-commit')).mode & 0o111).to.not.equal(0);
      // A failing earlier hook stops the commit before the check.
      write(path.join(hooks, 'pre-commit.local'), '#!/bin/sh\nexit 3\n');
      expect(spawnSync(path.join(hooks, 'pre-commit'), { cwd: dir }).status).to.equal(3);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('coverage of files outside the repository', () => {
  it('reports an absolute path only when an absolute or ../ glob includes it', () => {
    const config = { ...DEFAULT_CONFIG, include: ['**', '/src/sibling/**', '../other/*.c'] };
    expect(reported('/src/sibling/bpf/x.c', config, '/src/repo')).to.equal(true);
    expect(reported('/src/other/y.c', config, '/src/repo')).to.equal(true);
    expect(reported('/usr/include/linux/bpf.h', config, '/src/repo')).to.equal(false);
    expect(reported('bpf/z.c', config, '/src/repo')).to.equal(true);
    expect(reported('/src/sibling/bpf/x.c', { ...config, exclude: ['/src/sibling/bpf/*'] }, '/src/repo')).to.equal(false);
  });
});

describe('bpfunit test: the mocha command line', () => {
  it('passes options through in order and takes the other arguments for spec files', () => {
    expect(splitMochaArgs(['a.spec.ts', '--grep', 'IPv4 only', '-R', 'dot', '--parallel', '--jobs=2', 'b.spec.js'])).to.deep.equal({
      options: ['--grep', 'IPv4 only', '-R', 'dot', '--parallel', '--jobs=2'],
      specs: ['a.spec.ts', 'b.spec.js'],
    });
  });

  it('adds the preflight, the TypeScript hook only for TypeScript specs, and a timeout unless one is given', () => {
    const config = { ...loadConfig(tmpdir()), specs: ['test/**/*.spec.{ts,js}'] };
    expect(mochaCommand(config, { specs: [], options: [] })).to.deep.equal([
      require.resolve('mocha/bin/mocha.js'), '--require', require.resolve('tsx/cjs'), '--require', path.resolve('src', 'mocha.js'),
      '--timeout', '30000', 'test/**/*.spec.{ts,js}',
    ]);
    const js = mochaCommand(config, { specs: ['test/a.spec.js'], options: ['-t', '5000'], coverage: true });
    expect(js.filter((a) => a === '--require').length).to.equal(2); // preflight and coverage hooks, no tsx
    expect(js.some((a) => a.endsWith(path.join('coverage', 'mocha-hooks.js')))).to.equal(true);
    expect(js.slice(-3)).to.deep.equal(['-t', '5000', 'test/a.spec.js']);
  });
});

describe('bpfunit test in a repository', function () {
  this.timeout(120000);
  let dir: string;
  const cli = path.resolve('bin', 'bpfunit');
  const runIn = (args: string[], env: Record<string, string> = {}) =>
    spawnSync(process.execPath, [cli, ...args], { cwd: dir, encoding: 'utf8', env: { ...process.env, ...env }, timeout: 100000 });

  before(() => {
    dir = tempDir('test');
    write(path.join(dir, 'bpfunit.config.json'), JSON.stringify({ specs: ['test/*.spec.js'] }));
    write(path.join(dir, 'bpf', 'ttl.c'), [
      '#include <linux/bpf.h>', '#include <bpf/bpf_helpers.h>',
      'SEC("xdp") int ttl(struct xdp_md *ctx) { return ctx->data_end - ctx->data > 100 ? XDP_DROP : XDP_PASS; }',
      'char LICENSE[] SEC("license") = "GPL";', '',
    ].join('\n'));
    write(path.join(dir, 'test', 'ttl.spec.js'), [
      "const assert = require('node:assert/strict');",
      `const { Harness } = require(${JSON.stringify(path.resolve('dist'))});`,
      "describe('ttl', () => {",
      "  let h;",
      "  before(() => { h = Harness.load('build/bpf/ttl.o'); });",
      "  after(() => h.close());",
      "  it('passes short packets', () => assert.equal(h.run('ttl', { data: Buffer.alloc(64) }).retval, 2));",
      "  it('drops long packets', () => assert.equal(h.run('ttl', { data: Buffer.alloc(200) }).retval, process.env.WRONG ? 2 : 1));",
      '});', '',
    ].join('\n'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('builds, runs the configured specs, and exits 1 on a failing test; mocha options pass through', () => {
    const ok = runIn(['test', '--reporter', 'json']);
    expect(ok.status, ok.stderr).to.equal(0);
    expect(existsSync(path.join(dir, 'build/bpf/ttl.o'))).to.equal(true);
    const stats = JSON.parse(ok.stdout).stats;
    expect([stats.tests, stats.passes, stats.failures]).to.deep.equal([2, 2, 0]);
    const failing = runIn(['test', '--reporter=json'], { WRONG: '1' });
    expect(failing.status).to.equal(1);
    expect(JSON.parse(failing.stdout).failures.map((f: { title: string }) => f.title)).to.deep.equal(['drops long packets']);
    const grepped = runIn(['test', '--grep', 'short', '--reporter', 'json'], { WRONG: '1' });
    expect(grepped.status, grepped.stderr).to.equal(0);
    expect(JSON.parse(grepped.stdout).stats.tests).to.equal(1);
  });

  it('a clang error stops before mocha with exit 1 and clang\'s own message, for test and mutate', () => {
    write(path.join(dir, 'bpf', 'bad.c'), 'int bad(void) { return nope; }\n');
    try {
      for (const cmd of ['test', 'mutate']) {
        const r = runIn([cmd]);
        expect(r.status, cmd).to.equal(1);
        expect(r.stderr, cmd).to.match(/bpf\/bad\.c:1:\d+: error: use of undeclared identifier 'nope'/);
        expect(r.stderr, cmd).to.match(/bpfunit: clang failed on .*bad\.c/);
        expect(r.stderr, cmd).not.to.match(/specs fail/);
        expect(r.stdout, cmd).to.not.match(/passing|failing|killed|survived/);
      }
      expect(existsSync(path.join(dir, 'mutation')), 'mutate stopped before its output directory').to.equal(false);
    } finally {
      rmSync(path.join(dir, 'bpf', 'bad.c'));
    }
  });

  it('a spec path or glob that matches nothing is bad usage (exit 2) naming it, for test, precommit and mutate', () => {
    for (const args of [['test', 'test/ttll.spec.js'], ['test', 'test/ttl.spec.js', 'tests/**/*.js'], ['precommit', 'test/ttll.spec.js'], ['mutate', 'test/ttll.spec.js']]) {
      const r = runIn(args);
      expect(r.status, `${args.join(' ')}: ${r.stderr}`).to.equal(2);
      expect(r.stderr, args.join(' ')).to.match(/^bpfunit: no spec file matches '(test\/ttll\.spec\.js|tests\/\*\*\/\*\.js)'/);
      expect(r.stdout + r.stderr, args.join(' ')).not.to.match(/No test files found|specs fail/);
    }
  });

  it('configured specs that match nothing stop test, coverage and mutate (exit 2) naming the glob', () => {
    const config = path.join(dir, 'nospecs.json');
    write(config, JSON.stringify({ specs: ['tset/*.spec.js'] }));
    for (const cmd of ['test', 'coverage', 'mutate']) {
      const r = runIn(['--config', config, cmd]);
      expect(r.status, `${cmd}: ${r.stderr}`).to.equal(2);
      expect(r.stderr, cmd).to.include(`"specs"`).and.to.include(`no spec file matches 'tset/*.spec.js'`);
      expect(r.stderr, cmd).not.to.match(/specs fail/);
    }
  });

  it('mutate builds what changed, then runs the configured specs by default, not bpfunit\'s own; --no-build does not build', () => {
    symlinkSync(path.resolve('node_modules'), path.join(dir, 'node_modules')); // the user's mocha
    const fresh = () => rmSync(path.join(dir, 'build'), { recursive: true, force: true }); // as in a fresh clone
    fresh();
    const r = runIn(['mutate', '--include', 'ttl\\.c$', '--out=mut']); // --opt=value, as every command takes
    expect(r.status, r.stderr).to.equal(0);
    expect(existsSync(path.join(dir, 'build/bpf/ttl.o'))).to.equal(true);
    const report = JSON.parse(readFileSync(path.join(dir, 'mut', 'mutation.json'), 'utf8')) as { mutants: { status: string }[] };
    expect(report.mutants.some((m) => m.status === 'killed'), r.stdout).to.equal(true);
    fresh();
    const unbuilt = runIn(['mutate', '--no-build', '--include', 'ttl\\.c$', '--out', 'mut']);
    expect(unbuilt.status, unbuilt.stderr).to.equal(1);
    expect(unbuilt.stderr).to.include('the specs fail without mutants');
    expect(existsSync(path.join(dir, 'build/bpf/ttl.o')), '--no-build built').to.equal(false);
  });

  it('a sources glob that matches no file is a warning naming it; none matching at all is exit 2', () => {
    const some = path.join(dir, 'some.json');
    write(some, JSON.stringify({ specs: ['test/*.spec.js'], sources: ['bpf/*.c', 'srcx/*.c'] }));
    const warned = runIn(['--config', some, 'build']);
    expect(warned.status, warned.stderr).to.equal(0);
    expect(warned.stderr).to.equal(`bpfunit: warning: ${some}: "sources": 'srcx/*.c' matches no file\n`);
    const none = path.join(dir, 'none.json');
    write(none, JSON.stringify({ specs: ['test/*.spec.js'], sources: ['srcx/*.c'] }));
    for (const cmd of ['build', 'test', 'mutate']) {
      const r = runIn(['--config', none, cmd]);
      expect(r.status, `${cmd}: ${r.stderr}`).to.equal(2);
      expect(r.stderr).to.include(`${none}: "sources": no file matches 'srcx/*.c'`);
      expect(r.stdout).not.to.match(/passing/);
    }
  });
});
