// Everything a coverage run reports, from saved counts: per-file line/branch/function coverage,
// branch-table rows, threshold failures; written as coverage/lcov.info (+ genhtml HTML),
// coverage/branch-table.json, and a terminal summary.
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { evaluateTable, loadTable, RowResult } from './branch-table';
import { CoverageConfig, findFiles, isHarness, reported } from './config';
import { lcov } from './lcov';
import { FileCoverage, fileCoverage, percent, sourceReader, summarize, Totals } from './lines';
import { addFoldedArms } from './folded';
import { CoverageData, fromJSON, TestRecord, totals } from './recorder';

export const DATA_FILE = 'bpf-coverage.json';

export interface Report {
  files: FileCoverage[];
  totals: Totals;
  rows: RowResult[];
  /** Why `check` fails: missed thresholds and rows not covered. */
  failures: string[];
  /** Programs that had to spill registers, and other things worth knowing. */
  notes: string[];
}

export function buildReport(data: CoverageData, config: CoverageConfig, root: string): Report {
  const { layouts, tests } = fromJSON(data);
  const counts = totals(layouts, tests);
  const all = fileCoverage(layouts, counts, root);
  const read = sourceReader(root);
  const files = [...all.values()]
    .filter((f) => reported(f.file, config, root) && !isHarness(read(f.file) ?? ''))
    .sort((a, b) => a.file.localeCompare(b.file));
  const notes: string[] = [];
  for (const f of files) {
    const undecided = addFoldedArms(f, layouts, counts, root, read);
    if (undecided.length === 0) continue;
    f.undecided = undecided;
    const lines = undecided.length === 1 ? `line ${undecided[0]} has no code of its own (clang folded it)` :
      `lines ${undecided.join(', ')} have no code of their own (clang folded them)`;
    notes.push(`${f.file}: ${lines} and no single branch decides how often: the line figure is partial (*)`);
  }
  const t = summarize(files);
  const rows: RowResult[] = [];
  for (const table of findFiles(root, config.branchTables)) {
    rows.push(...evaluateTable(table, loadTable(resolve(root, table)), { layouts, tests, root, aliases: config.programAliases }));
  }
  const failures: string[] = [];
  const check = (what: keyof Totals) => {
    const min = config.thresholds[what];
    const got = percent(t[what].hit, t[what].found);
    if (min !== undefined && got + 1e-9 < min) failures.push(`${what} coverage ${got.toFixed(1)}% is below the threshold ${min}%`);
  };
  check('lines');
  check('branches');
  check('functions');
  for (const r of rows) {
    // A folded row has no branch to take: reported with its reason, not failed (no test could cover it).
    if (r.status === 'folded') notes.push(`branch row ${r.id} (${r.table}) cannot be measured: ${r.note}`);
    else if (!r.covered) failures.push(`branch row ${r.id} (${r.table}) is ${r.status}${r.note ? `: ${r.note}` : ''}`);
    else if (ownTestsMissed(r, tests)) {
      // Tests titled with the row's id exist and none took its side: the direction is suspect.
      failures.push(`branch row ${r.id} (${r.table}) is covered only by other rows' tests: none titled '${r.id}: ...' took its side (decided: ${r.note ?? 'by line'})`);
    }
  }
  if (layouts.size === 0) notes.push('no program was loaded under coverage (is BPFUNIT_COVERAGE=1 set, and the hooks required?)');
  return { files, totals: t, rows, failures, notes };
}

/** Tests titled with the row's id (`ID: ...`) ran and none of them took its side. */
export function ownTestsMissed(r: RowResult, tests: TestRecord[]): boolean {
  const own = new RegExp(`(^|\\s)${r.id.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:`);
  const titled = tests.filter((t) => own.test(t.title));
  return titled.length > 0 && !r.tests.some((t) => own.test(t));
}

const pct = (hit: number, found: number) => `${percent(hit, found).toFixed(1).padStart(5)}% ${`${hit}/${found}`.padEnd(9)}`;

function totalsLine(t: Totals): string {
  return `BPF coverage: lines ${percent(t.lines.hit, t.lines.found).toFixed(1)}% (${t.lines.hit}/${t.lines.found}), ` +
    `branches ${percent(t.branches.hit, t.branches.found).toFixed(1)}% (${t.branches.hit}/${t.branches.found}), ` +
    `functions ${percent(t.functions.hit, t.functions.found).toFixed(1)}% (${t.functions.hit}/${t.functions.found})`;
}

/** The totals and what makes `check` fail. */
export function formatFailures(r: Report): string {
  const folded = r.rows.filter((x) => x.status === 'folded').length;
  const out = [totalsLine(r.totals), `branch-table rows: ${r.rows.filter((x) => x.covered).length}/${r.rows.length} covered${folded ? `, ${folded} folded by clang (not measurable)` : ''}`];
  if (r.failures.length) out.push(`coverage check fails (${r.failures.length}):`, ...r.failures.map((f) => `  - ${f}`));
  else out.push('coverage check passes');
  return out.join('\n');
}

export function formatSummary(r: Report): string {
  const out: string[] = [];
  out.push(totalsLine(r.totals));
  if (r.files.length) {
    const w = Math.max(4, ...r.files.map((f) => f.file.length));
    out.push(`  ${'file'.padEnd(w)}  ${'lines'.padEnd(16)}  ${'branches'.padEnd(16)}  functions`);
    for (const f of r.files) {
      const s = summarize([f]);
      const lines = `${pct(s.lines.hit, s.lines.found).trimEnd()}${f.undecided ? '*' : ''}`.padEnd(16);
      out.push(`  ${f.file.padEnd(w)}  ${lines}  ${pct(s.branches.hit, s.branches.found)}  ${pct(s.functions.hit, s.functions.found)}`);
    }
  }
  if (r.rows.length) out.push('', formatRows(r.rows));
  for (const n of r.notes) out.push(`note: ${n}`);
  if (r.failures.length) out.push('', `coverage check fails (${r.failures.length}):`, ...r.failures.map((f) => `  - ${f}`));
  return out.join('\n');
}

export function formatRows(rows: RowResult[]): string {
  const out: string[] = ['Branch table rows:'];
  const where = (r: RowResult) => `${r.file}:${r.line}`;
  const w = Math.max(...rows.map((r) => where(r).length), 5);
  const wp = Math.max(...rows.map((r) => r.program.length), 7);
  const wi = Math.max(...rows.map((r) => r.id.length), 2);
  out.push(`  ${'id'.padEnd(wi)}  ${'program'.padEnd(wp)}  ${'where'.padEnd(w)}  if is  ${'status'.padEnd(9)}  ${'hits'.padStart(6)}  tests`);
  for (const r of rows) {
    const first = r.tests[0]?.length > 70 ? `${r.tests[0].slice(0, 67)}...` : r.tests[0];
    const tests = r.tests.length === 0 ? '-' : `${r.tests.length}: ${first}${r.tests.length > 1 ? ' (+more)' : ''}`;
    out.push(`  ${r.id.padEnd(wi)}  ${r.program.padEnd(wp)}  ${where(r).padEnd(w)}  ${String(r.outcome).padEnd(5)}  ${r.status.padEnd(9)}  ${String(r.hits).padStart(6)}  ${tests}`);
    if (r.note) out.push(`  ${' '.repeat(wi)}  note: ${r.note}`);
  }
  return out.join('\n');
}

/** Writes lcov.info, branch-table.json and (config.html) genhtml's HTML under config.output. */
export function writeReports(r: Report, config: CoverageConfig, root: string): string[] {
  const dir = resolve(root, config.output);
  mkdirSync(dir, { recursive: true });
  const written: string[] = [];
  const lcovPath = join(dir, 'lcov.info');
  writeFileSync(lcovPath, lcov(r.files));
  written.push(lcovPath);
  const tablePath = join(dir, 'branch-table.json');
  writeFileSync(tablePath, JSON.stringify(r.rows, null, 2) + '\n');
  written.push(tablePath);
  if (config.html && r.files.length > 0) {
    const html = join(dir, 'html');
    rmSync(html, { recursive: true, force: true }); // pages of files no longer reported go too
    const g = spawnSync('genhtml', ['--quiet', '--branch-coverage', '--function-coverage', '--ignore-errors', 'source',
      '--title', 'bpfunit BPF coverage', '--output-directory', html, lcovPath], { cwd: root, encoding: 'utf8' });
    if (g.error) r.notes.push(`no HTML: genhtml is not installed (Debian package lcov): ${g.error.message}`);
    else if (g.status !== 0) r.notes.push(`genhtml failed (${g.status}): ${(g.stderr || g.stdout).trim().split('\n').slice(-3).join(' | ')}`);
    else written.push(join(html, 'index.html'));
  }
  return written;
}

export function saveData(data: CoverageData, config: CoverageConfig, root: string): string {
  const dir = resolve(root, config.output);
  mkdirSync(dir, { recursive: true });
  const path = join(dir, DATA_FILE);
  writeFileSync(path, JSON.stringify(data) + '\n');
  return path;
}
