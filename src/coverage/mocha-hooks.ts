// Mocha root hook plugin: `mocha --require src/coverage/mocha-hooks.ts` with BPFUNIT_COVERAGE=1.
// Every Collection.load (so every useHarness) then loads instrumented programs; counters are read
// and zeroed before and after each test, so each test is credited with what ran during it (its
// beforeEach/afterEach hooks included); what ran in before/after hooks goes to "<suite> (hooks)".
// Under --parallel each worker saves what it recorded after every spec file, and the main process
// adds the workers' records to its own. At the end: coverage/bpf-coverage.json (the raw counts),
// lcov.info, HTML, branch-table.json; the summary goes to stderr (stdout may carry a reporter's
// machine output), and a failed check fails the run. Without BPFUNIT_COVERAGE=1 it does nothing.
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Context, RootHookObject, Suite } from 'mocha';
import { BpfUnitError } from '../errors';
import { Collection } from '../kernel/collection';
import { CoverageConfig, loadConfig } from './config';
import { CoverageData, mergeData, OUTSIDE_TESTS, recorder } from './recorder';
import { buildReport, formatSummary, saveData, writeReports } from './report';

export const enabled = !!process.env.BPFUNIT_COVERAGE && process.env.BPFUNIT_COVERAGE !== '0';

/** The main mocha process of a coverage run names itself to the workers it forks. */
const MAIN_PID = 'BPFUNIT_COVERAGE_MAIN_PID';

/** A worker of a --parallel run: forked by the main process. MOCHA_WORKER_ID alone would also mark
 * a mocha that a test inside a worker starts (it inherits the variable) and whose records would
 * then be merged twice. */
const inWorker = process.env.MOCHA_WORKER_ID !== undefined && process.env[MAIN_PID] === String(process.ppid);

if (enabled) Collection.defaultHook = recorder.hook;

/** A run whose coverage misses a threshold or a branch-table row. */
export class CoverageCheckError extends BpfUnitError {
  constructor(failures: string[]) {
    super(`coverage check fails (${failures.length}):\n${failures.map((f) => `  - ${f}`).join('\n')}`);
    this.stack = this.message; // mocha prints the stack of a failed teardown: the list is the point
  }
}

function config(root: string): CoverageConfig {
  return loadConfig(root, process.env.BPFUNIT_COVERAGE_CONFIG ? resolve(process.env.BPFUNIT_COVERAGE_CONFIG) : undefined);
}

/** Where the workers of a --parallel run leave their records for the main process. */
function partsDir(root: string): string {
  return join(resolve(root, config(root).output), '.parts');
}

function hooksOf(suite: Suite | undefined): { title: string } {
  const title = suite?.fullTitle();
  return { title: title ? `${title} (hooks)` : OUTSIDE_TESTS };
}

export const mochaHooks: RootHookObject = enabled
  ? {
    beforeEach(this: Context) {
      const t = this.currentTest;
      recorder.flush(hooksOf(t?.parent));
      recorder.current = t ? { title: t.fullTitle(), file: t.file } : { title: OUTSIDE_TESTS };
    },
    afterEach(this: Context) {
      recorder.flush();
      recorder.current = hooksOf(this.currentTest?.parent);
    },
    afterAll() {
      recorder.current = { title: OUTSIDE_TESTS };
      recorder.flush();
      if (inWorker) {
        // A worker runs many files and may be ended without notice after the last: save each time.
        const root = process.cwd();
        mkdirSync(partsDir(root), { recursive: true });
        writeFileSync(join(partsDir(root), `worker-${process.pid}.json`), JSON.stringify(recorder.toJSON(root)));
      }
    },
  }
  : {};

/** What this process recorded plus what the workers of a --parallel run saved. */
function collected(root: string): CoverageData {
  let data = recorder.toJSON(root);
  const dir = partsDir(root);
  let parts: string[] = [];
  try {
    parts = readdirSync(dir).filter((f) => f.endsWith('.json'));
  } catch {
    return data; // no workers
  }
  for (const p of parts) data = mergeData(data, JSON.parse(readFileSync(join(dir, p), 'utf8')) as CoverageData);
  rmSync(dir, { recursive: true, force: true });
  return data;
}

/** Writes every report; returns the summary text and what makes the check fail.
 * BPFUNIT_COVERAGE_CONFIG names a file of coverage settings to use instead of the configuration's. */
export function finish(root = process.cwd()): { summary: string; failures: string[] } {
  recorder.flush({ title: OUTSIDE_TESTS });
  const cfg = config(root);
  const data = collected(root);
  const files = [saveData(data, cfg, root)];
  const report = buildReport(data, cfg, root);
  files.push(...writeReports(report, cfg, root));
  // The failures are the teardown's error; the summary leaves them out so they are said once.
  const summary = `${formatSummary({ ...report, failures: [] })}\nwritten: ${files.map((f) => f.replace(`${root}/`, '')).join(', ')}`;
  return { summary, failures: report.failures };
}

export function mochaGlobalSetup(): void {
  if (!enabled) return;
  rmSync(partsDir(process.cwd()), { recursive: true, force: true });
  process.env[MAIN_PID] = String(process.pid);
}

export function mochaGlobalTeardown(): void {
  if (!enabled) return;
  const { summary, failures } = finish();
  console.error(`\n${summary}`);
  if (failures.length) throw new CoverageCheckError(failures);
}
