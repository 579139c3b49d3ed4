// `bpfunit install-hook`: a git pre-commit hook that runs the hook already installed (moved aside
// to pre-commit.local), then bpfunit's check. Installing again rewrites only bpfunit's hook.
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { InputError } from '../errors';

const MARK = '# installed by bpfunit install-hook';
export const DEFAULT_HOOK_COMMAND = 'npx --no-install bpfunit precommit';

function hooksDir(cwd: string): string {
  try {
    // --git-path honours core.hooksPath and worktrees.
    return resolve(cwd, execFileSync('git', ['rev-parse', '--git-path', 'hooks'], { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim());
  } catch (e) {
    throw new InputError(`${cwd} is not in a git repository (git rev-parse failed: ${((e as { stderr?: string }).stderr ?? '').trim() || (e as Error).message})`);
  }
}

/** Installs the hook; returns what was done, one line each. */
export function installHook(cwd: string, command = DEFAULT_HOOK_COMMAND): string[] {
  const dir = hooksDir(cwd);
  mkdirSync(dir, { recursive: true });
  const hook = join(dir, 'pre-commit');
  const local = join(dir, 'pre-commit.local');
  const done: string[] = [];
  if (existsSync(hook) && !readFileSync(hook, 'utf8').includes(MARK)) {
    if (existsSync(local)) throw new InputError(`${hook} is not bpfunit's and ${local} exists already: merge them by hand`);
    renameSync(hook, local);
    done.push(`moved the existing hook to ${local}; the new hook runs it first`);
  }
  writeFileSync(hook, [
    '#!/bin/sh',
    MARK,
    '# Runs the hook that was here before (pre-commit.local), then the BPF check.',
    'local_hook="$(dirname "$0")/pre-commit.local"',
    'if [ -x "$local_hook" ]; then "$local_hook" "$@" || exit $?; fi',
    `cd "$(git rev-parse --show-toplevel)" && exec ${command}`,
    '',
  ].join('\n'));
  chmodSync(hook, 0o755);
  done.push(`installed ${hook}`);
  return done;
}
