// Two fixed stages run before the mutation loop: objects of growing size (time per byte must stay
// flat: parsing is linear) and ObjectSpec.fromFile on files that are not objects (every one an
// InputError, at once: a read that blocks is killed after a deadline and reported as a hang).
import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, ftruncateSync, mkdtempSync, openSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { ObjectSpec } from '../src/object/object';
import { sizedOptions, syntheticObject } from '../spec/support/synthetic';
import { ROOT } from './fuzzer';

export interface SizePoint {
  bytes: number;
  programs: number;
  zeroSizes: boolean;
  ms: number;
  nsPerByte: number;
  /** The parse gave every program the object holds. */
  complete: boolean;
}

export interface SizeReport {
  points: SizePoint[];
  /** Largest time per byte over the smallest, per variant: 1.0 is linear. */
  growth: number;
  /** Growth past this fails the run. */
  bound: number;
}

/** The smallest of `runs` timings of parse(bytes), in ms. */
function timeParse(bytes: Buffer, runs: number): { ms: number; programs: number } {
  let best = Infinity;
  let programs = 0;
  for (let k = 0; k < runs; k++) {
    const t0 = performance.now();
    programs = ObjectSpec.parse(bytes).programs.length;
    best = Math.min(best, performance.now() - t0);
  }
  return { ms: best, programs };
}

/** Synthetic objects of `megabytes` (1k programs per MB), with and without FUNC sizes. */
export function sizeStage(megabytes = [0.25, 1, 4, 8], bound = 3, runs = 3): SizeReport {
  const points: SizePoint[] = [];
  for (const zeroSizes of [false, true]) {
    for (const mb of megabytes) {
      const programs = Math.max(1, Math.round(mb * 1000));
      const obj = syntheticObject(sizedOptions(programs, mb * 1e6, zeroSizes));
      timeParse(obj.bytes, 1); // compiled before the first timing
      const { ms, programs: parsed } = timeParse(obj.bytes, runs);
      points.push({ bytes: obj.bytes.length, programs, zeroSizes, ms, nsPerByte: (ms * 1e6) / obj.bytes.length, complete: parsed === programs });
    }
  }
  let growth = 0;
  for (const z of [false, true]) {
    const v = points.filter((p) => p.zeroSizes === z);
    growth = Math.max(growth, Math.max(...v.map((p) => p.nsPerByte)) / v[0].nsPerByte);
  }
  return { points, growth, bound };
}

export interface FileOutcome {
  kind: string;
  path: string;
  error?: string;
  message?: string;
  /** Parsed: a regular object. */
  programs?: number;
}

export interface FilesReport {
  outcomes: FileOutcome[];
  /** Files whose fromFile did not return within the deadline (the child was killed). */
  hang: boolean;
  /** Outcomes that are neither an InputError/ElfError nor a parsed object where one was expected. */
  wrong: FileOutcome[];
}

/** fromFile on odd files, in a child process killed after `deadlineMs`. */
// The deadline only tells a blocked read (a FIFO) from a slow start on a loaded machine.
export function filesStage(deadlineMs = 90_000): FilesReport {
  const dir = mkdtempSync(path.join(tmpdir(), 'bpfunit-fuzz-files-'));
  try {
    const fifo = path.join(dir, 'fifo.o');
    execFileSync('mkfifo', [fifo]);
    const sparse = path.join(dir, 'sparse.o');
    const fd = openSync(sparse, 'w');
    ftruncateSync(fd, 1 << 30); // 1 GiB of hole
    closeSync(fd);
    const empty = path.join(dir, 'empty.o');
    writeFileSync(empty, '');
    const zeroLink = path.join(dir, 'zero-link.o');
    symlinkSync('/dev/zero', zeroLink);
    const loop = path.join(dir, 'loop.o');
    symlinkSync(loop, loop);
    const files: [kind: string, p: string, expect: 'InputError' | 'ElfError' | 'parsed'][] = [
      ['/dev/zero', '/dev/zero', 'InputError'], ['/dev/urandom', '/dev/urandom', 'InputError'],
      ['/dev/null', '/dev/null', 'InputError'], ['FIFO without a writer', fifo, 'InputError'],
      ['symlink to /dev/zero', zeroLink, 'InputError'], ['symlink loop', loop, 'InputError'],
      ['directory', dir, 'InputError'], ['1 GiB sparse file', sparse, 'InputError'],
      ['missing file', path.join(dir, 'missing.o'), 'InputError'], ['empty file', empty, 'ElfError'],
      ['/proc/self/status (size 0 in stat)', '/proc/self/status', 'ElfError'],
      ['a regular object', path.join(ROOT, 'build/fixtures/loader_calls.o'), 'parsed'],
    ];
    const r = spawnSync(process.execPath, ['-r', 'tsx/cjs', path.join(__dirname, 'files-child.ts'), JSON.stringify(files.map((f) => f[1]))], {
      cwd: ROOT, timeout: deadlineMs, encoding: 'utf8',
    });
    if (r.signal || r.status !== 0) return { outcomes: [], hang: r.signal !== null, wrong: [{ kind: 'child', path: '', error: r.signal ?? `exit ${r.status}`, message: r.stderr.slice(-500) }] };
    const raw = JSON.parse(r.stdout) as Omit<FileOutcome, 'kind'>[];
    const outcomes = raw.map((o, k) => ({ kind: files[k][0], ...o }));
    const wrong = outcomes.filter((o, k) => (files[k][2] === 'parsed' ? o.programs === undefined : o.error !== files[k][2]));
    return { outcomes, hang: false, wrong };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** In the child: fromFile on each path of argv[2]; prints the outcomes as JSON. */
export function filesChildMain(): void {
  const out: Omit<FileOutcome, 'kind'>[] = [];
  for (const p of JSON.parse(process.argv[2]) as string[]) {
    try {
      out.push({ path: p, programs: ObjectSpec.fromFile(p).programs.length });
    } catch (e) {
      out.push({ path: p, error: (e as Error).constructor.name, message: (e as Error).message });
    }
  }
  console.log(JSON.stringify(out));
}
