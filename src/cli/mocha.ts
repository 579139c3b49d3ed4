// Running the user's specs: mocha in a child process with bpfunit's privilege preflight, the
// TypeScript loader when specs are TypeScript, and the coverage hooks for `bpfunit coverage`.
import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { BpfunitConfig, CONFIG_ENV, ConfigError } from '../config';
import { UsageError } from './args';

/** mocha options that take a value as the next argument (so it is not taken for a spec). */
const VALUED = new Set([
  '--grep', '-g', '--fgrep', '-f', '--reporter', '-R', '--reporter-option', '--reporter-options', '-O',
  '--timeout', '-t', '--slow', '-s', '--jobs', '-j', '--retries', '--require', '-r', '--ui', '-u',
  '--extension', '--ignore', '--exclude', '--file', '--config', '--package', '--spec', '--node-option', '-n',
  '--import',
]);

/** Splits `bpfunit test` arguments into mocha options (passed as given) and spec files. */
export function splitMochaArgs(args: string[]): { options: string[]; specs: string[] } {
  const options: string[] = [];
  const specs: string[] = [];
  for (let k = 0; k < args.length; k++) {
    const a = args[k];
    if (a.startsWith('-')) {
      options.push(a);
      if (VALUED.has(a) && k + 1 < args.length) options.push(args[++k]);
    } else {
      specs.push(a);
    }
  }
  return { options, specs };
}

/** The extensions of spec files in a directory named as a spec (as `bpfunit precommit` looks them up). */
export const SPEC_EXTENSIONS = ['js', 'cjs', 'mjs', 'ts', 'cts', 'mts'];

/** The spec paths or globs (relative to `root`, where mocha runs) that name no file, looked up as mocha does. */
export function unmatchedSpecs(root: string, globs: string[]): string[] {
  const { lookupFiles } = require('mocha/lib/cli/lookup-files.js') as { lookupFiles(path: string, extensions: string[], recursive: boolean): string[] };
  return globs.filter((g) => {
    try {
      return lookupFiles(resolve(root, g), SPEC_EXTENSIONS, false).length === 0;
    } catch (e) {
      if ((e as { code?: string }).code === 'ERR_MOCHA_NO_FILES_MATCH_PATTERN') return true;
      throw e;
    }
  });
}

/** The specs a run takes: those given, else the configured ones. Mocha alone would say "No test
 * files found" and exit 1 as if specs had failed: a given path or glob that matches nothing is bad
 * usage, configured specs that match nothing a bad configuration (both exit 2, naming them). */
export function specsToRun(config: BpfunitConfig, given: string[]): string[] {
  const quoted = (globs: string[]) => globs.map((g) => `'${g}'`).join(', ');
  if (given.length) {
    const missing = unmatchedSpecs(config.root, given);
    if (missing.length) throw new UsageError(`no spec file matches ${quoted(missing)} (looked up in ${config.root})`);
    return given;
  }
  if (unmatchedSpecs(config.root, config.specs).length === config.specs.length) {
    throw new ConfigError(`${config.file ?? 'the default configuration'}: "specs": no spec file matches ${quoted(config.specs) || 'an empty list'} (looked up in ${config.root})`);
  }
  return config.specs;
}

const TS = /\.[cm]?ts$|[{,]\s*[cm]?ts\s*[,}]/;

export interface MochaRun {
  specs: string[];
  options: string[];
  coverage?: boolean;
}

/** The node command line that runs mocha for these specs (run in the configuration's root). */
export function mochaCommand(config: BpfunitConfig, run: MochaRun): string[] {
  const dist = join(__dirname, '..');
  const specs = run.specs.length ? run.specs : config.specs;
  const args = [require.resolve('mocha/bin/mocha.js')];
  // tsx's require hook transpiles each TypeScript spec (esbuild, cached on disk; mocha passes it on
  // to --parallel workers); bpfunit itself is already JavaScript.
  if (specs.some((s) => TS.test(s))) args.push('--require', require.resolve('tsx/cjs'));
  args.push('--require', join(dist, 'mocha.js'));
  if (run.coverage) args.push('--require', join(dist, 'coverage', 'mocha-hooks.js'));
  if (!run.options.some((o) => /^(-t|--timeout)(=|$)/.test(o))) args.push('--timeout', '30000');
  args.push(...run.options, ...specs);
  return args;
}

/** Runs mocha; returns its exit status (0 all passed, 1 failures, as mocha counts). */
export function runMocha(config: BpfunitConfig, run: MochaRun): number {
  const env = { ...process.env };
  if (run.coverage) env.BPFUNIT_COVERAGE = '1';
  if (config.path) env[CONFIG_ENV] = config.path; // the coverage hooks read this configuration, not one they would find
  const r = spawnSync(process.execPath, mochaCommand(config, run), { cwd: config.root, stdio: 'inherit', env });
  if (r.error) throw r.error;
  return r.status === 0 ? 0 : 1;
}
