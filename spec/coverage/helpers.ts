// Shared by spec/coverage: the cov_shapes fixture, its `// @name` line markers, and loading it
// instrumented (with a recorder of its own) beside a plain copy.
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { Collection, ObjectSpec } from '../../src';
import { CoverageRecorder, fileCoverage, FileCoverage, totals } from '../../src/coverage';

export const ROOT = path.resolve(__dirname, '..', '..');
export const SHAPES_SRC = 'spec/fixtures/cov_shapes.c';
export const SHAPES_OBJ = path.join(ROOT, 'build', 'fixtures', 'cov_shapes.o');

export function object(file = SHAPES_OBJ): ObjectSpec {
  if (!existsSync(file)) throw new Error(`${path.relative(ROOT, file)} is missing: run 'make objects'`);
  return ObjectSpec.fromFile(file);
}

const source = () => readFileSync(path.join(ROOT, SHAPES_SRC), 'utf8');

/** Line of the `// @name` marker in cov_shapes.c. */
export function line(name: string): number {
  const hits = source().split('\n').flatMap((l, i) => (new RegExp(`// @${name}(\\s|$)`).test(l) ? [i + 1] : []));
  if (hits.length !== 1) throw new Error(`marker @${name} is on ${hits.length} lines of ${SHAPES_SRC}`);
  return hits[0];
}

/** An XDP test packet (14 bytes, the minimum) starting with `bytes`. */
export function packet(...bytes: number[]): Buffer {
  const b = Buffer.alloc(14);
  bytes.forEach((v, i) => (b[i] = v));
  return b;
}

export interface Loaded {
  rec: CoverageRecorder;
  cov: Collection;
  plain: Collection;
  /** Runs `program` instrumented and plain on the packet; returns both return values. */
  run(program: string, data: Buffer): { cov: number; plain: number };
  /** Counts recorded so far under `title` (flushes first), as coverage of cov_shapes.c. */
  coverage(title: string): FileCoverage;
  close(): void;
}

export function loadShapes(programs?: string[]): Loaded {
  const spec = object();
  const rec = new CoverageRecorder();
  const cov = Collection.load(spec, { programs, hook: rec.hook });
  const plain = Collection.load(spec, { programs, hook: null });
  return {
    rec, cov, plain,
    run(program, data) {
      return { cov: cov.program(program).run({ data }).retval, plain: plain.program(program).run({ data }).retval };
    },
    coverage(title) {
      rec.flush({ title });
      const t = rec.tests.get(title);
      const files = fileCoverage(rec.layouts, totals(rec.layouts, t ? [t] : []), ROOT);
      return files.get(SHAPES_SRC)!;
    },
    close() {
      cov.close();
      plain.close();
    },
  };
}

/** The branches of one line as unordered [taken, notTaken] pairs, sorted. */
export function edgePairs(f: FileCoverage, at: number): number[][] {
  return f.branches.filter((b) => b.line === at).map((b) => [b.taken, b.notTaken].sort((x, y) => x - y)).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
}
