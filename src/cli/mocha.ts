// Running the user's specs: mocha in a child process with bpfunit's privilege preflight, the
// TypeScript loader when specs are TypeScript, and the coverage hooks for `bpfunit coverage`.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { BpfunitConfig, CONFIG_ENV } from '../config';

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
