// From counter values to C source coverage, through line_info.
//
// A line's hits: within one copy of a function (a program's entry function, or a subprogram as
// linked into one program), the largest count among the blocks that have an instruction on that
// line (a line_info record applies to its instruction and the ones after it, up to the next
// record); then the sum over every copy, in every program of every object. Max, not sum, within a
// copy: one C line often spans several blocks (a `for` header has its init, test and step; `a && b`
// has one block per operand), and the most-run block is how often the line ran. For a loop that
// clang unrolled, that is the runs of one iteration's copy: a lower bound (a line is hit exactly
// when some copy ran; gcov of a native build agrees on that, spec/coverage/truth.spec.ts).
//
// Branches: every conditional jump, keyed by the file and line of the jump, and by its index among
// the conditional jumps of that line in its function (in instruction order). Edge 0 is the jump
// taken, edge 1 falls through. These are jump directions, not C truth values: clang freely inverts
// conditions (see branch-table.ts for rows that name a C outcome). Sums over copies, as for lines.
//
// Functions: every C function of a source file that has code in some loaded program, inlined or
// not (BTF knows only the functions that stayed functions); its count is that of the first line
// of its body that has code, which runs once per call.
import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, normalize, relative, resolve } from 'node:path';
import { functionsIn } from './c-source';
import type { BlockLayout, FunctionLayout, ProgramLayout } from './layout';

export interface BranchCount {
  line: number;
  /** Index of the jump among the conditional jumps of its line. */
  block: number;
  taken: number;
  notTaken: number;
}

export interface FunctionCount {
  name: string;
  line: number;
  hits: number;
}

export interface FileCoverage {
  /** Path relative to the root when the file is under it, else as recorded. */
  file: string;
  /** line -> hits, for every line that has instructions. */
  lines: Map<number, number>;
  branches: BranchCount[];
  functions: FunctionCount[];
  /** Statement lines with no code of their own (folded by clang) whose count could not be
   * decided: the line figure of the file is partial. */
  undecided?: number[];
}

/** A line_info path as a repository-relative path (absolute when outside the root). clang records
 * paths as given on its command line, joined to its working directory when relative; bpfunit's
 * Makefile compiles from the repository root. */
export function sourcePath(file: string, root: string): string {
  const abs = isAbsolute(file) ? file : resolve(root, file);
  const rel = relative(root, abs);
  return rel.startsWith('..') || isAbsolute(rel) ? normalize(abs) : rel;
}

function fileEntry(files: Map<string, FileCoverage>, file: string): FileCoverage {
  let f = files.get(file);
  if (!f) {
    f = { file, lines: new Map(), branches: [], functions: [] };
    files.set(file, f);
  }
  return f;
}

/** Reads a source file by its sourcePath (relative to root, or absolute); undefined when absent.
 * Each file is read once per reader (a report asks for the same few files once per row). */
export function sourceReader(root: string): (file: string) => string | undefined {
  const texts = new Map<string, string | undefined>();
  return (file) => {
    if (!texts.has(file)) {
      const p = resolve(root, file);
      texts.set(file, existsSync(p) ? readFileSync(p, 'utf8') : undefined);
    }
    return texts.get(file);
  };
}

/** A jump in a block without line records got the record of the code before it, which may be
 * another statement's (a store at the end of an inlined helper): when both its edges join in one
 * block (it only picks a value, as a select does), it belongs to that block's first line. */
function recordAfter(fn: FunctionLayout, b: BlockLayout): [number, number] | undefined {
  const first = (start: number): number | undefined => {
    const seen = new Set<number>();
    for (let bi: number | undefined = start; bi !== undefined && !seen.has(bi); ) {
      seen.add(bi);
      const blk: BlockLayout = fn.blocks[bi];
      if (blk.own.some((q) => q[1] > 0)) return bi;
      // Through blocks without records that go on one way only.
      bi = blk.succ.length === 1 ? blk.succ[0] : undefined;
    }
    return undefined;
  };
  const joins = new Set(b.succ.map(first));
  if (joins.size !== 1) return undefined;
  const [only] = joins;
  const p = only === undefined ? undefined : fn.blocks[only].own.find((q) => q[1] > 0);
  return p && [p[0], p[1]];
}

/** Coverage per source file from every layout and its counter values; function records come
 * from the sources under root (a file that cannot be read has none). */
export function fileCoverage(layouts: Map<string, ProgramLayout>, counts: Map<string, number[]>, root: string): Map<string, FileCoverage> {
  const read = sourceReader(root);
  const files = new Map<string, FileCoverage>();
  const branchAt = new Map<string, BranchCount>();
  for (const [key, layout] of layouts) {
    const c = counts.get(key) ?? new Array<number>(layout.counters).fill(0);
    const paths = layout.files.map((f) => sourcePath(f, root));
    for (const fn of layout.functions) {
      const best = new Map<string, { file: number; line: number; hits: number }>();
      const perLine = new Map<string, number>();
      for (const b of fn.blocks) {
        const hits = c[b.counter];
        for (const [file, line] of b.lines) {
          const k = `${file}:${line}`;
          const prev = best.get(k);
          if (!prev || hits > prev.hits) best.set(k, { file, line, hits });
        }
        if (b.branch && b.branch.at[0] >= 0) {
          const [file, line] = b.branch.inherited && !b.own.some((p) => p[1] > 0) ? recordAfter(fn, b) ?? b.branch.at : b.branch.at;
          const lk = `${file}:${line}`;
          const index = perLine.get(lk) ?? 0;
          perLine.set(lk, index + 1);
          const path = paths[file];
          const bk = `${path}:${line}:${index}`;
          let br = branchAt.get(bk);
          if (!br) {
            br = { line, block: index, taken: 0, notTaken: 0 };
            branchAt.set(bk, br);
            fileEntry(files, path).branches.push(br);
          }
          br.taken += c[b.branch.taken];
          br.notTaken += c[b.branch.notTaken];
        }
      }
      for (const { file, line, hits } of best.values()) {
        const f = fileEntry(files, paths[file]);
        f.lines.set(line, (f.lines.get(line) ?? 0) + hits);
      }
    }
  }
  for (const f of files.values()) {
    f.branches.sort((a, b) => a.line - b.line || a.block - b.block);
    const source = read(f.file);
    if (source === undefined) continue;
    const withCode = [...f.lines.keys()].sort((a, b) => a - b);
    for (const def of functionsIn(source)) {
      const first = withCode.find((l) => l >= def.body.start.line && l <= def.body.end.line);
      if (first !== undefined) f.functions.push({ name: def.name, line: def.line, hits: f.lines.get(first)! });
    }
  }
  return files;
}

export interface Totals {
  lines: { found: number; hit: number };
  branches: { found: number; hit: number };
  functions: { found: number; hit: number };
}

/** Lines, branch edges and functions found and hit in `files`. */
export function summarize(files: Iterable<FileCoverage>): Totals {
  const t: Totals = { lines: { found: 0, hit: 0 }, branches: { found: 0, hit: 0 }, functions: { found: 0, hit: 0 } };
  for (const f of files) {
    for (const hits of f.lines.values()) {
      t.lines.found++;
      if (hits > 0) t.lines.hit++;
    }
    for (const b of f.branches) {
      t.branches.found += 2;
      t.branches.hit += (b.taken > 0 ? 1 : 0) + (b.notTaken > 0 ? 1 : 0);
    }
    for (const fn of f.functions) {
      t.functions.found++;
      if (fn.hits > 0) t.functions.hit++;
    }
  }
  return t;
}

export function percent(hit: number, found: number): number {
  return found === 0 ? 100 : (100 * hit) / found;
}
