// `make install-hook` (scripts/install-hook.sh) never destroys a pre-commit hook it did not write:
// it keeps it as pre-commit.local, run before bpfunit's checks, or refuses and says why. Each case
// runs in a temporary git repository whose Makefile's `precommit` only logs that it ran.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { ROOT } from '../loader/helpers';

const SCRIPT = path.join(ROOT, 'scripts', 'install-hook.sh');
const USER_HOOK = '#!/bin/sh\n# the user\'s own checks\necho user >> hook.log\n';

/** Git and the script without the GIT_* variables of any hook this suite may run under. */
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('GIT_')));

function run(cwd: string, argv: string[]) {
  return spawnSync(argv[0], argv.slice(1), { cwd, env, encoding: 'utf8' });
}

function repo(): { dir: string; hooks: string } {
  const dir = mkdtempSync(path.join(tmpdir(), 'hook-repo-'));
  expect(run(dir, ['git', 'init', '-q']).status).to.equal(0);
  writeFileSync(path.join(dir, 'Makefile'), 'precommit:\n\t@echo bpfunit >> hook.log\n');
  return { dir, hooks: path.join(dir, '.git', 'hooks') };
}

function writeHook(file: string, text: string): void {
  writeFileSync(file, text);
  chmodSync(file, 0o755);
}

const commit = (dir: string) => run(dir, ['git', '-c', 'user.name=spec', '-c', 'user.email=spec@example.invalid', 'commit', '-q', '--allow-empty', '-m', 'x']);
const log = (dir: string) => (existsSync(path.join(dir, 'hook.log')) ? readFileSync(path.join(dir, 'hook.log'), 'utf8') : '');
const ours = (file: string) => readFileSync(file, 'utf8').split('\n')[1].startsWith('# installed by bpfunit');

describe('install-hook keeps the pre-commit hook it finds', () => {
  it('an existing hook becomes pre-commit.local, unchanged, and runs before bpfunit\'s checks', () => {
    const { dir, hooks } = repo();
    writeHook(path.join(hooks, 'pre-commit'), USER_HOOK);
    const r = run(dir, ['sh', SCRIPT]);
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout).to.include(`kept your hook as ${path.join('.git', 'hooks', 'pre-commit.local')}`);
    expect(readFileSync(path.join(hooks, 'pre-commit.local'), 'utf8')).to.equal(USER_HOOK);
    expect(ours(path.join(hooks, 'pre-commit'))).to.equal(true);
    expect(commit(dir).status).to.equal(0);
    expect(log(dir)).to.equal('user\nbpfunit\n');
  });

  it('installing twice does not chain twice', () => {
    const { dir, hooks } = repo();
    writeHook(path.join(hooks, 'pre-commit'), USER_HOOK);
    expect(run(dir, ['sh', SCRIPT]).status).to.equal(0);
    const first = readdirSync(hooks).map((f) => [f, readFileSync(path.join(hooks, f), 'utf8')]);
    const again = run(dir, ['sh', SCRIPT]);
    expect(again.status, again.stderr).to.equal(0);
    expect(again.stdout).to.not.include('kept');
    expect(readdirSync(hooks).map((f) => [f, readFileSync(path.join(hooks, f), 'utf8')])).to.deep.equal(first);
    expect(commit(dir).status).to.equal(0);
    expect(log(dir)).to.equal('user\nbpfunit\n');
  });

  it('a failing user hook stops the commit before bpfunit\'s checks run', () => {
    const { dir, hooks } = repo();
    writeHook(path.join(hooks, 'pre-commit'), '#!/bin/sh\necho user >> hook.log\nexit 3\n');
    expect(run(dir, ['sh', SCRIPT]).status).to.equal(0);
    expect(commit(dir).status).to.not.equal(0);
    expect(log(dir)).to.equal('user\n');
    expect(run(dir, ['git', 'rev-parse', '--verify', '-q', 'HEAD']).status, 'no commit was made').to.not.equal(0);
  });

  it('refuses, naming both files, when a foreign hook and a pre-commit.local both exist', () => {
    const { dir, hooks } = repo();
    writeHook(path.join(hooks, 'pre-commit'), USER_HOOK);
    writeHook(path.join(hooks, 'pre-commit.local'), '#!/bin/sh\necho older >> hook.log\n');
    const r = run(dir, ['sh', SCRIPT]);
    expect(r.status).to.equal(1);
    expect(r.stderr).to.include(path.join('.git', 'hooks', 'pre-commit')).and.include('pre-commit.local');
    expect(readFileSync(path.join(hooks, 'pre-commit'), 'utf8')).to.equal(USER_HOOK);
    expect(readFileSync(path.join(hooks, 'pre-commit.local'), 'utf8')).to.equal('#!/bin/sh\necho older >> hook.log\n');
  });

  it('a hook an older bpfunit installed is replaced, not kept', () => {
    const { dir, hooks } = repo();
    writeHook(path.join(hooks, 'pre-commit'), '#!/bin/sh\n# installed by bpfunit: make install-hook\nexec make -s -C "$(git rev-parse --show-toplevel)" precommit\n');
    const r = run(dir, ['sh', SCRIPT]);
    expect(r.status, r.stderr).to.equal(0);
    expect(existsSync(path.join(hooks, 'pre-commit.local'))).to.equal(false);
    expect(commit(dir).status).to.equal(0);
    expect(log(dir)).to.equal('bpfunit\n');
  });

  it('without a hook, installs bpfunit\'s alone', () => {
    const { dir, hooks } = repo();
    expect(run(dir, ['sh', SCRIPT]).status).to.equal(0);
    expect(existsSync(path.join(hooks, 'pre-commit.local'))).to.equal(false);
    expect(commit(dir).status).to.equal(0);
    expect(log(dir)).to.equal('bpfunit\n');
  });
});
