// Branch tables (spec/branches/*.json): rows that each name an `if` by file:line and the value its
// condition has when the row happens (`outcome`). A row is covered when some test ran the code on
// the row's side of that `if`; which jump direction that is, is decided in direction.ts.
// Programs: a row counts the programs named like row.program / row.programs, or mapped to them
// by the table's harness.entries or the config's programAliases, or having a BPF function of that
// name, when one of those ran under coverage (if none of them has the branch, the row is
// not-found); otherwise every program with that branch (a re-hosting harness inlines the program
// under another name), as the note says.
import { readFileSync } from 'node:fs';
import { decisions, HOW_NOTE } from './direction';
import type { ProgramLayout } from './layout';
import { sourcePath, sourceReader } from './lines';
import type { TestRecord } from './recorder';

export interface BranchRow {
  id: string;
  program: string;
  /** Several programs share the row (e.g. ingress and egress). */
  programs?: string[];
  condition?: string;
  effect?: string;
  file: string;
  line: number;
  outcome: boolean;
}

export interface BranchTable {
  source?: string;
  /** Re-hosting: entries maps a program name to the harness entry that runs it. */
  harness?: { entries?: Record<string, string> };
  rows: BranchRow[];
}

/** folded: clang emitted no jump for the branch (the note says why); it cannot be measured. */
export type RowStatus = 'covered' | 'uncovered' | 'not-found' | 'ambiguous' | 'folded';

export interface EdgeDetail {
  side: 'true' | 'false' | 'none' | '?';
  /** "file:line:col" of the first code the edge reaches, "exit", or "?". */
  to: string;
  count: number;
}

export interface RowResult {
  id: string;
  covered: boolean;
  /** Full titles of the tests that took the row's side of the branch. */
  tests: string[];
  status: RowStatus;
  table: string;
  program: string;
  file: string;
  line: number;
  outcome: boolean;
  /** Times the row's side ran, and the other side. */
  hits: number;
  opposite: number;
  /** Programs whose counts were used. */
  programs: string[];
  /** Where the branch's edges lead and the side each was given, to check the direction by hand. */
  edges: EdgeDetail[];
  note?: string;
}

export interface RowContext {
  layouts: Map<string, ProgramLayout>;
  tests: TestRecord[];
  root: string;
  /** Program names whose coverage counts for a row's program (config programAliases). */
  aliases?: Record<string, string[]>;
  /** Reads a repository-relative source file; default: from root. */
  readSource?: (file: string) => string | undefined;
}

export function loadTable(path: string): BranchTable {
  const t = JSON.parse(readFileSync(path, 'utf8')) as BranchTable;
  if (!t || !Array.isArray(t.rows)) throw new Error(`${path}: not a branch table (no "rows" array)`);
  t.rows.forEach((r, k) => {
    if (typeof r.id !== 'string' || typeof r.file !== 'string' || !Number.isInteger(r.line) || typeof r.outcome !== 'boolean') {
      throw new Error(`${path}: row ${k} needs id (string), file (string), line (integer) and outcome (boolean)`);
    }
  });
  return t;
}

export function evaluateTable(tableName: string, table: BranchTable, ctx: RowContext): RowResult[] {
  const read = ctx.readSource ?? sourceReader(ctx.root);
  return table.rows.map((row) => {
    const names = new Set([row.program, ...(row.programs ?? [])]);
    for (const n of [...names]) {
      const entry = table.harness?.entries?.[n];
      if (entry) names.add(entry);
      for (const a of ctx.aliases?.[n] ?? []) names.add(a);
    }
    return evaluateRow(tableName, row, names, ctx, read);
  });
}

function evaluateRow(table: string, row: BranchRow, names: Set<string>, ctx: RowContext, read: (file: string) => string | undefined): RowResult {
  const file = sourcePath(row.file, ctx.root);
  const result: RowResult = {
    id: row.id, covered: false, tests: [], status: 'not-found', table, program: row.program, file, line: row.line,
    outcome: row.outcome, hits: 0, opposite: 0, programs: [], edges: [],
  };
  const found = decisions(file, row.line, ctx.layouts, ctx.root, read);
  const notes = found.notes;
  const done = (status: RowStatus) => {
    result.status = status;
    if (notes.length) result.note = [...new Set(notes)].join('; ');
    return result;
  };

  const named = (key: string) => {
    const l = ctx.layouts.get(key)!;
    return names.has(l.program) || l.functions.some((f) => names.has(f.name));
  };
  const ran = (key: string) => {
    const entry = ctx.layouts.get(key)!.functions[0].blocks[0].counter;
    return ctx.tests.some((t) => (t.counts.get(key)?.get(entry) ?? 0) > 0);
  };
  const ownRan = [...ctx.layouts.keys()].some((key) => named(key) && ran(key));
  let copies = found.copies;
  if (ownRan) {
    const others = [...new Set(copies.filter((cp) => !named(cp.key)).map((cp) => cp.program))];
    copies = copies.filter((cp) => named(cp.key));
    if (copies.length === 0 && others.length > 0) notes.push(`found only in other programs (${others.sort().join(', ')})`);
  } else if (copies.length > 0) {
    notes.push(`no program named ${[...names].join('/')} ran under coverage: counted every program with this branch`);
  }
  if (copies.length === 0 && found.folded && ownRan) {
    notes.push(found.folded);
    return done('folded');
  }
  if (copies.length === 0) {
    notes.push(found.fileSeen
      ? `no conditional jump for ${file}:${row.line} in the programs loaded under coverage (folded or merged by clang?)`
      : `${file} is in no program loaded under coverage`);
    return done('not-found');
  }
  result.programs = [...new Set(copies.map((cp) => cp.program))].sort();

  const count = (t: TestRecord, key: string, counter: number) => t.counts.get(key)?.get(counter) ?? 0;
  const detail = new Map<string, EdgeDetail>();
  for (const cp of copies) {
    for (const e of cp.edges) {
      const n = ctx.tests.reduce((sum, t) => sum + count(t, cp.key, e.counter), 0);
      const d = detail.get(`${e.side} ${e.to}`);
      if (d) d.count += n;
      else detail.set(`${e.side} ${e.to}`, { side: e.side, to: e.to, count: n });
    }
  }
  result.edges = [...detail.values()];
  const undecided = copies.filter((cp) => !cp.how).length;
  if (undecided > 0) {
    notes.push(found.statement
      ? `${undecided} of ${copies.length} copies of the branch (programs, inlined places): no rule tells which edge is the then-side (see edges)`
      : 'the direction needs the C statement');
    return done('ambiguous');
  }
  for (const h of new Set(copies.map((cp) => cp.how!))) if (HOW_NOTE[h]) notes.push(HOW_NOTE[h]!);
  const mine = row.outcome ? 'true' : 'false';
  for (const t of ctx.tests) {
    let n = 0;
    for (const cp of copies) {
      for (const e of cp.edges) {
        const c = count(t, cp.key, e.counter);
        if (e.side === mine) n += c;
        else if (e.side !== 'none') result.opposite += c;
      }
    }
    result.hits += n;
    if (n > 0) result.tests.push(t.title);
  }
  result.covered = result.hits > 0;
  if (result.hits === 0 && result.opposite === 0 && ownRan) {
    notes.push(`its jumps never ran either way in ${result.programs.join(', ')}: clang may have threaded the test into other code (e.g. an inlined mock)`);
  }
  return done(result.covered ? 'covered' : 'uncovered');
}
