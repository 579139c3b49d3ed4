// Mocha root hook plugin: `mocha --require src/coverage/mocha-hooks.ts` with BPFUNIT_COVERAGE=1.
// Every Collection.load (so every useHarness) then loads instrumented programs; counters are read
// and zeroed before and after each test, so each test is credited with what ran during it (its
// beforeEach/afterEach hooks included); what ran in before/after hooks goes to "<suite> (hooks)".
// At the end: coverage/bpf-coverage.json (the raw counts, for `coverage/cli.ts check`), lcov.info,
// HTML, branch-table.json, and a summary on the terminal. Without BPFUNIT_COVERAGE=1 it does
// nothing. Not for `mocha --parallel` (workers would each keep their own counts).
import { resolve } from 'node:path';
import type { Context, RootHookObject, Suite } from 'mocha';
import { Collection } from '../kernel/collection';
import { loadConfig } from './config';
import { OUTSIDE_TESTS, recorder } from './recorder';
import { buildReport, formatSummary, saveData, writeReports } from './report';

export const enabled = !!process.env.BPFUNIT_COVERAGE && process.env.BPFUNIT_COVERAGE !== '0';

if (enabled) Collection.defaultHook = recorder.hook;

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
    },
  }
  : {};

/** Writes every report; returns the summary text. BPFUNIT_COVERAGE_CONFIG names another config
 * file than .bpfunit-coverage.json. */
export function finish(root = process.cwd()): string {
  recorder.flush({ title: OUTSIDE_TESTS });
  const config = loadConfig(root, process.env.BPFUNIT_COVERAGE_CONFIG ? resolve(process.env.BPFUNIT_COVERAGE_CONFIG) : undefined);
  const data = recorder.toJSON(root);
  const files = [saveData(data, config, root)];
  const report = buildReport(data, config, root);
  files.push(...writeReports(report, config, root));
  return `${formatSummary(report)}\nwritten: ${files.map((f) => f.replace(`${root}/`, '')).join(', ')}`;
}

export function mochaGlobalTeardown(): void {
  if (!enabled) return;
  try {
    console.log(`\n${finish()}`);
  } catch (e) {
    console.error(`bpfunit coverage: could not write the reports: ${(e as Error).stack ?? e}`);
    process.exitCode = 1;
  }
}
