// `bpfunit test --watch`: one long-lived process that, after each burst of saves, rebuilds the stale
// objects (build.ts) and reruns in this process only the spec files that used a changed file,
// object or module, as `bpfunit precommit` records them (record.ts, through runRecorded).
//
// Directories are watched one by one with node's fs.watch (one inotify watch each): only those
// holding an input (a source, a header clang listed, a spec file, a file or module a spec used).
// Node 20's recursive fs.watch on Linux walks the whole tree, node_modules included, with a watch
// and a stat per file; chokidar 4+ watches directories with fs.watch too, so it would add nothing.
import { FSWatcher, statSync, watch as watchDir } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import type { BpfunitConfig } from '../config';
import { BpfUnitError } from '../errors';
import { build, dependencies, targets } from './build';
import { Outcome, passedInputs, recordPath, runRecorded, specFiles } from './precommit';
import { readRecord, RunRecord, select, update, writeRecord } from './select';

/** Source code by its name (modules, spec files): edited by people, never the specs' output. */
const CODE = /\.[cm]?[jt]sx?$/;

/** How long the files must stay quiet before a cycle starts: an editor's save is several events. */
const QUIET_MS = 50;

export interface WatchArgs {
  /** Spec files or globs (default: the configured specs). */
  specs: string[];
  /** mocha options, as `bpfunit test` passes them. */
  options: string[];
  /** Reads the configuration again (when its file changed). */
  reload: () => BpfunitConfig;
}

/** Runs until SIGINT or SIGTERM; resolves to 0 once every watcher is closed and the run under way
 * (its after-hooks closing what the specs opened) has ended. */
export function watch(config: BpfunitConfig, args: WatchArgs, out: (text: string) => void): Promise<number> {
  return new Promise((resolve) => new Watcher(config, args, out, resolve).start());
}

const mtime = (p: string) => {
  try {
    return statSync(p).mtimeMs;
  } catch {
    return undefined;
  }
};

/** A reporter that prints nothing: the cycle's own line says what happened. */
class Silent {
  constructor(_runner: unknown) {}
}

class Watcher {
  private readonly dirs = new Map<string, FSWatcher>();
  /** The mtime of each file as this process last wrote or saw it change: an event that finds it
   * the same (an object this process built, a second event for one save) is not a change. */
  private readonly seen = new Map<string, number | undefined>();
  /** Each spec file's inputs, from its last run in this process, else from the record. */
  private readonly inputs = new Map<string, Set<string>>();
  private readonly changed = new Set<string>();
  /** Every input now known: sources, the headers clang listed, spec files, what the specs used. */
  private files = new Set<string>();
  /** What people edit: the configuration, sources and the headers clang listed, and (by name) code. */
  private edited = new Set<string>();
  private record: RunRecord | undefined;
  private timer: NodeJS.Timeout | undefined;
  private cycle: Promise<void> | undefined;
  private runner: Mocha.Runner | undefined;
  private stopping = false;

  constructor(
    private config: BpfunitConfig,
    private readonly args: WatchArgs,
    private readonly out: (text: string) => void,
    private readonly done: (status: number) => void,
  ) {}

  start(): void {
    process.chdir(this.config.root); // as precommit: globs, .mocharc and the specs' relative paths are the root's
    process.on('SIGINT', this.stop);
    process.on('SIGTERM', this.stop);
    this.record = readRecord(recordPath(this.config));
    for (const [spec, entry] of Object.entries(this.record?.specs ?? {})) {
      this.inputs.set(resolve(this.config.root, spec), new Set(entry.inputs.map((k) => resolve(this.config.root, this.record!.files[k]))));
    }
    this.cycle = this.run(true).finally(() => {
      this.cycle = undefined;
      if (!this.stopping) this.out(`bpfunit watch: watching ${this.dirs.size} directories (Ctrl-C stops)\n`);
    });
  }

  private readonly stop = () => {
    process.off('SIGINT', this.stop); // a second Ctrl-C kills as usual
    process.off('SIGTERM', this.stop);
    this.stopping = true;
    clearTimeout(this.timer);
    for (const w of this.dirs.values()) w.close();
    this.dirs.clear();
    this.runner?.abort(); // after-hooks still run: what the specs opened gets closed
    void (this.cycle ?? Promise.resolve()).then(() => this.done(0));
  };

  private onEvent(dir: string, name: string | null): void {
    if (this.stopping || name === null) return;
    const p = join(dir, name);
    // clang's temporary objects, dependency files, the record: only the objects specs load count
    if (!this.files.has(p) && (p + '/').startsWith(resolve(this.config.root, this.config.outDir) + '/')) return;
    const m = mtime(p);
    if (this.seen.has(p) && this.seen.get(p) === m) return;
    this.seen.set(p, m);
    this.changed.add(p);
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.next(), QUIET_MS);
  }

  /** Starts a cycle for the changes so far, or after the one under way. */
  private next(): void {
    if (this.stopping || this.cycle || this.changed.size === 0) return;
    this.cycle = this.run(false).finally(() => {
      this.cycle = undefined;
      this.next();
    });
  }

  private async run(first: boolean): Promise<void> {
    const t0 = performance.now();
    const changed = new Set(this.changed);
    this.changed.clear();
    const parts: string[] = [];
    try {
      const reloaded = !!this.config.file && changed.has(this.configFile());
      if (reloaded) this.config = this.args.reload();
      const b = build(this.config);
      for (const t of b.built) changed.add(t.object);
      // clang removes the object it failed to build: not a change to rerun its specs for (they would fail)
      for (const t of [...b.built, ...b.failed]) this.seen.set(t.object, mtime(t.object));
      if (b.built.length) parts.push(`built ${b.built.map((t) => this.rel(t.object)).join(', ')}`);
      if (b.failed.length) parts.push(`clang failed on ${b.failed.map((t) => this.rel(t.source)).join(', ')}`);
      if (first || reloaded) parts.push(...b.unmatched.map((u) => `warning: ${u}`));
      const files = specFiles(this.args.specs.length ? this.args.specs : this.config.specs);
      const run = first ? select(this.config.root, files, this.record).run : files.filter((f) => this.stale(f, changed));
      if (run.length) parts.push(await this.runSpecs(run, files, changed));
    } catch (e) {
      // a configuration or input error: shown, and the next save tries again
      parts.push(e instanceof BpfUnitError ? e.message : `internal error: ${(e as Error)?.stack ?? e}`);
    }
    this.refreshDirs();
    if (parts.length && !this.stopping) this.out(`bpfunit watch: ${parts.join('; ')}; ${Math.round(performance.now() - t0)} ms\n`);
  }

  private stale(spec: string, changed: Set<string>): boolean {
    const inputs = this.inputs.get(spec);
    return !inputs || changed.has(spec) || [...inputs].some((i) => changed.has(i));
  }

  private async runSpecs(run: string[], files: string[], changed: Set<string>): Promise<string> {
    forgetModules(changed);
    const started = Date.now();
    let outcome: Outcome;
    try {
      const reporter = this.args.options.some((o) => /^(-R|--reporter)(=|$)/.test(o)) ? undefined : (Silent as never); // one given is used
      outcome = await runRecorded(this.config, run, files, { mochaArgs: this.args.options, reporter, started: (r) => (this.runner = r) });
    } catch (e) {
      // A spec file that does not load (a syntax or import error): it runs again once a file changes.
      for (const f of run) this.inputs.set(f, new Set([...(this.inputs.get(f) ?? []), f]));
      return `${this.names(run)} did not load: ${(e as Error).message.split('\n')[0]}`;
    } finally {
      this.runner = undefined;
    }
    // Files the specs wrote while running and read back (data, objects they compile themselves) are
    // their own output, not a save: rerunning for them would never end. Code, sources and headers
    // changed meanwhile are saves.
    for (const used of outcome.inputs.values()) {
      for (const p of used) {
        if (CODE.test(p) || this.edited.has(p)) continue;
        this.changed.delete(p);
        this.seen.set(p, mtime(p));
      }
    }
    // A failed spec file keeps what it used before too: it may have failed before reading an input
    // (an object missing), and must rerun when that input comes back.
    for (const [f, used] of outcome.inputs) this.inputs.set(f, outcome.failed.has(f) ? new Set([...(this.inputs.get(f) ?? []), ...used]) : used);
    this.record = update(this.config.root, this.record, started, passedInputs(outcome), outcome.failed);
    const path = recordPath(this.config);
    writeRecord(path, this.record);
    this.seen.set(path, mtime(path));
    for (const f of outcome.failures) this.out(`  failed: ${f.title}: ${f.message.split('\n')[0]}\n`);
    return `ran ${this.names(run)} (${run.length} of ${files.length} spec files): ${outcome.passes} passing, ${outcome.failures.length} failing`;
  }

  private names(files: string[]): string {
    const shown = files.slice(0, 3).map((f) => this.rel(f));
    return shown.join(', ') + (files.length > 3 ? ` and ${files.length - 3} more` : '');
  }

  private rel(p: string): string {
    const r = relative(this.config.root, p);
    return r.startsWith('..') || isAbsolute(r) ? p : r;
  }

  private configFile(): string {
    return this.config.path!;
  }

  /** Watches the directories of every input now known, and stops watching the others. */
  private refreshDirs(): void {
    if (this.stopping) return;
    const files = new Set<string>();
    const edited = new Set<string>();
    if (this.config.file) edited.add(this.configFile());
    let specs: string[] = [];
    try {
      specs = specFiles(this.args.specs.length ? this.args.specs : this.config.specs);
      for (const t of targets(this.config)) {
        edited.add(t.source);
        try {
          for (const d of dependencies(t.object.replace(/\.o$/, '.d'))) if (!d.startsWith('/usr/')) edited.add(resolve(this.config.root, d));
        } catch {
          // not built yet: its source is watched, its headers once clang has listed them
        }
      }
    } catch {
      // a missing source or a bad configuration (the cycle's line said so): its directory is still watched
    }
    for (const s of specs) files.add(s);
    for (const set of this.inputs.values()) for (const f of set) files.add(f);
    for (const f of edited) files.add(f);
    this.files = files;
    this.edited = edited;
    const wanted = new Set([...files].map((f) => dirname(f)).filter((d) => !d.split('/').includes('node_modules')));
    // A new spec file may appear where the globs point, in a directory holding none yet.
    for (const g of this.args.specs.length ? this.args.specs : this.config.specs) wanted.add(resolve(this.config.root, globBase(g)));
    for (const [d, w] of this.dirs) {
      if (!wanted.has(d)) {
        w.close();
        this.dirs.delete(d);
      }
    }
    for (const d of wanted) {
      if (this.dirs.has(d)) continue;
      try {
        const w = watchDir(d, (_event, name) => this.onEvent(d, name));
        w.on('error', () => {
          w.close(); // the directory went away; it is watched again if an input lives there later
          this.dirs.delete(d);
        });
        this.dirs.set(d, w);
      } catch {
        // missing directory: nothing there to watch yet
      }
    }
  }
}

/** The directory part of a glob before its first wildcard. */
function globBase(glob: string): string {
  const parts = glob.split('/');
  const k = parts.findIndex((p) => /[*?[{]/.test(p));
  return k < 0 ? dirname(glob) : parts.slice(0, k).join('/') || '.';
}

/** Drops changed modules from require's cache, with every module that required them (up to the
 * spec files), so the run loads them afresh (TypeScript through tsx's hook again). */
function forgetModules(changed: Set<string>): void {
  const parents = new Map<string, string[]>();
  for (const m of Object.values(require.cache)) {
    for (const c of m?.children ?? []) parents.set(c.filename, [...(parents.get(c.filename) ?? []), m!.filename]);
  }
  const drop = [...changed].filter((p) => require.cache[p]);
  for (let k = 0; k < drop.length; k++) {
    for (const p of parents.get(drop[k]) ?? []) if (!drop.includes(p)) drop.push(p);
  }
  for (const p of drop) delete require.cache[p];
}
