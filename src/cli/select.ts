// Which spec files a pre-commit run reruns. A passing run records, per spec file, when it passed and
// every input it used (the objects and other files it read, the modules of the repository that were
// loaded); a spec file reruns when it or one of its inputs is newer than its pass, when an input is
// gone, or when it has no record (new, or failed last time).
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, relative, resolve } from 'node:path';

export interface SpecRecord {
  /** Date.now() when the run in which the spec file passed started. */
  passed: number;
  /** Indices into RunRecord.files. */
  inputs: number[];
}

export interface RunRecord {
  version: 1;
  /** Paths relative to the root. */
  files: string[];
  specs: Record<string, SpecRecord>;
}

export interface Selection {
  /** Absolute paths, in the order given. */
  run: string[];
  /** Why the first few were selected, for one line of output. */
  why: string[];
}

export function readRecord(path: string): RunRecord | undefined {
  try {
    const r = JSON.parse(readFileSync(path, 'utf8')) as RunRecord;
    return r.version === 1 && Array.isArray(r.files) && r.specs && typeof r.specs === 'object' ? r : undefined;
  } catch {
    return undefined; // missing or unreadable: every spec file runs, and a new record is written
  }
}

const rel = (root: string, p: string) => (isAbsolute(p) ? relative(root, p) : p).split('\\').join('/');

/** The spec files (absolute) that must rerun. `mtime` is injectable for the specs of this module. */
export function select(root: string, specs: string[], record: RunRecord | undefined, mtime: (abs: string) => number | undefined = mtimeOf): Selection {
  const run: string[] = [];
  const why = new Set<string>();
  const times = new Map<number, number | undefined>();
  const timeOf = (k: number) => {
    if (!times.has(k)) times.set(k, record && k < record.files.length ? mtime(resolve(root, record.files[k])) : undefined);
    return times.get(k);
  };
  for (const spec of specs) {
    const name = rel(root, spec);
    const entry = record?.specs[name];
    let reason: string | undefined;
    if (!entry) reason = `${name} (not passed before)`;
    else if ((mtime(spec) ?? Infinity) > entry.passed) reason = name;
    else {
      const k = entry.inputs.find((i) => (timeOf(i) ?? Infinity) > entry.passed);
      if (k !== undefined) reason = record!.files[k] ?? `input ${k}`;
    }
    if (reason === undefined) continue;
    run.push(spec);
    why.add(reason);
  }
  return { run, why: [...why] };
}

/** The record after a run: spec files that passed get `started` and their inputs; others keep
 * what they had unless they failed (then they lose it, so they rerun) or no longer exist. */
export function update(root: string, before: RunRecord | undefined, started: number, passed: Map<string, Iterable<string>>, failed: Iterable<string>): RunRecord {
  const files: string[] = [];
  const index = new Map<string, number>();
  const id = (p: string) => {
    const r = rel(root, p);
    let k = index.get(r);
    if (k === undefined) {
      k = files.length;
      files.push(r);
      index.set(r, k);
    }
    return k;
  };
  const specs: Record<string, SpecRecord> = {};
  for (const [name, entry] of Object.entries(before?.specs ?? {})) {
    if (!existsSync(resolve(root, name))) continue;
    specs[name] = { passed: entry.passed, inputs: entry.inputs.filter((k) => k < before!.files.length).map((k) => id(before!.files[k])) };
  }
  for (const f of failed) delete specs[rel(root, f)];
  for (const [spec, inputs] of passed) specs[rel(root, spec)] = { passed: started, inputs: [...new Set([...inputs].map(id))] };
  return { version: 1, files, specs };
}

export function writeRecord(path: string, record: RunRecord): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, JSON.stringify(record));
}

function mtimeOf(path: string): number | undefined {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return undefined;
  }
}
