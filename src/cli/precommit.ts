// `bpfunit precommit`: reruns only the spec files whose inputs changed since they last passed
// (select.ts), in this process: mocha runs programmatically with the repository's mocha settings,
// while InputRecorder notes what each spec file reads, for the next run's selection.
import { join, resolve } from 'node:path';
import type { BpfunitConfig } from '../config';
import { InputRecorder } from './record';
import { readRecord, select, update, writeRecord } from './select';

const TS = /\.[cm]?ts$/;

/** Where the record lives: beside the objects, which it is mostly about. */
export const recordPath = (config: BpfunitConfig) => join(config.root, config.outDir, '.precommit.json');

/** Returns the exit status: 0 when every selected spec file passed (or none had to run). */
export async function precommit(config: BpfunitConfig, specs: string[], out: (text: string) => void): Promise<number> {
  process.chdir(config.root); // spec globs, .mocharc and the specs' own relative paths are the root's
  const files = specFiles(specs.length ? specs : config.specs);
  const before = readRecord(recordPath(config));
  const { run, why } = select(config.root, files, before);
  if (!run.length) return 0;
  const shown = before ? `changed: ${why.slice(0, 3).join(', ')}${why.length > 3 ? `, ${why.length - 3} more` : ''}` : 'no record of an earlier run';
  out(`bpfunit precommit: ${run.length} of ${files.length} spec files (${shown})\n`);
  const started = Date.now();
  const result = await runRecorded(config, run, files);
  writeRecord(recordPath(config), update(config.root, before, started, passedInputs(result), result.failed));
  return result.failed.size ? 1 : 0;
}

/** The spec files of a run that passed, with their inputs: what the record keeps. */
export const passedInputs = (o: Outcome) => new Map([...o.inputs].filter(([f]) => !o.failed.has(f)));

/** The spec files the globs name, absolute and sorted. */
export function specFiles(globs: string[]): string[] {
  // mocha's own file lookup, so a glob means what it means to `bpfunit test`
  const collect = require('mocha/lib/cli/collect-files.cjs') as (o: object) => { files: string[] };
  return collect({ ignore: [], extension: ['js', 'cjs', 'mjs', 'ts', 'cts', 'mts'], file: [], recursive: false, sort: true, spec: globs, allowEmpty: true }).files;
}

export interface Outcome {
  /** Every spec file that ran, with the inputs it used (failed ones too). */
  inputs: Map<string, Set<string>>;
  failed: Set<string>;
  passes: number;
  /** Each failing test or hook: its full title and error message. */
  failures: { title: string; message: string }[];
}

export interface RunOptions {
  /** mocha options given on the command line (after the defaults, so they win). */
  mochaArgs?: string[];
  /** A reporter in place of the dot reporter. */
  reporter?: Mocha.ReporterConstructor;
  /** Called with the runner once it starts (to abort it). */
  started?: (runner: Mocha.Runner) => void;
}

interface Runnable {
  file?: string;
  parent?: Runnable;
  fullTitle(): string;
}

/** Runs these spec files with mocha in this process, noting what each uses. Spec files and
 * everything loaded are left out of require's cache afterwards only as far as mocha unloads its
 * files; a caller running again (watch) drops changed modules itself. */
export async function runRecorded(config: BpfunitConfig, run: string[], all: string[], opts: RunOptions = {}): Promise<Outcome> {
  // Loaded here, not at the top: a run with nothing to do should not pay for mocha and tsx.
  const { Mocha } = require('mocha') as { Mocha: typeof import('mocha') };
  const { loadOptions } = require('mocha/lib/cli/options.cjs') as { loadOptions(argv: string[]): Record<string, unknown> & { require?: string[] } };
  const { handleRequires } = require('mocha/lib/cli/run-helpers.cjs') as { handleRequires(r: string[]): Promise<Record<string, unknown>> };
  const argv = loadOptions(['--reporter', 'dot', '--timeout', '30000', ...(opts.mochaArgs ?? [])]);
  const requires = [...(run.some((f) => TS.test(f)) ? [require.resolve('tsx/cjs')] : []), ...(argv.require ?? []), join(__dirname, '..', 'mocha.js')];
  const mocha = new Mocha({ ...argv, ...(await handleRequires(requires)), ...(opts.reporter ? { reporter: opts.reporter } : {}) } as Mocha.MochaOptions);

  const recorder = new InputRecorder(config.root);
  recorder.install();
  try {
    mocha.suite.on('pre-require', (_context: unknown, file: string) => (recorder.current = file));
    mocha.files = run;
    await mocha.loadFilesAsync();
    recorder.current = undefined;
    const failed = new Set<string>();
    const failures: Outcome['failures'] = [];
    let passes = 0;
    await new Promise<void>((done) => {
      const runner = mocha.run(() => done());
      opts.started?.(runner);
      runner.on('pass', () => passes++);
      runner.on('suite', (s: Runnable) => s.file && (recorder.current = s.file));
      runner.on('hook', (h: Runnable) => (recorder.current = h.file ?? h.parent?.file));
      runner.on('test', (t: Runnable) => (recorder.current = t.file));
      // A failing root hook belongs to no file: then none counts as passed.
      runner.on('fail', (r: Runnable, err: unknown) => {
        failures.push({ title: r.fullTitle(), message: String((err as Error)?.message ?? err) });
        if (r.file) failed.add(r.file);
        else run.forEach((f) => failed.add(f));
      });
    });
    recorder.current = undefined;
    const modulesOf = moduleInputs(all, recorder.modules(), requires);
    const inputs = new Map(run.map((f) => [f, new Set([...recorder.of(f), ...modulesOf(f), require.resolve('../../package.json'), ...(config.file ? [config.file] : [])])]));
    return { inputs, failed, passes, failures };
  } finally {
    recorder.uninstall();
    mocha.dispose(); // drops its listeners and unloads the spec files, so a later run defines their tests again
  }
}

/** The repository's modules each spec file depends on: those it required, directly or not, and
 * those mocha's --require modules required (every spec file depends on them). A spec file not in
 * require's cache (loaded as ESM) depends on every module loaded. */
function moduleInputs(all: string[], loaded: string[], requires: string[]): (spec: string) => string[] {
  const specs = new Set(all);
  const modules = new Set(loaded.filter((m) => !specs.has(m)));
  const reach = (roots: NodeJS.Module[]) => {
    const seen = new Set<string>();
    const stack = [...roots];
    while (stack.length) {
      for (const c of stack.pop()!.children) {
        if (modules.has(c.filename) && !seen.has(c.filename)) {
          seen.add(c.filename);
          stack.push(c);
        }
      }
    }
    return seen;
  };
  const roots = requires.flatMap((r) => {
    const m = require.cache[resolveRequire(r)];
    return m ? [m] : [];
  });
  const shared = [...roots.map((m) => m.filename).filter((f) => modules.has(f)), ...reach(roots)];
  return (spec) => {
    const own = require.cache[spec];
    return own ? [...reach([own]), ...shared] : [...modules];
  };
}

/** The file a --require names, as mocha finds it: a path from the current directory, else a package. */
function resolveRequire(r: string): string {
  try {
    return require.resolve(resolve(r));
  } catch {
    try {
      return require.resolve(r, { paths: [process.cwd()] });
    } catch {
      return r;
    }
  }
}
