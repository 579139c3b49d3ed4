// Coverage reports from a finished run's counts (coverage/bpf-coverage.json):
//   node -r ts-node/register src/coverage/cli.ts report|check [--data FILE] [--config FILE] [--root DIR] [--no-html] [--quiet]
// `report` prints the summary and writes lcov.info, html/ and branch-table.json; `check` does the
// same and exits 1 when a threshold is missed or a branch-table row is not covered. --quiet prints
// only the totals and what fails (after a mocha run that printed the whole summary).
// Exit status: 0 fine, 1 check failed, 2 bad usage or no data.
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { CoverageConfig, loadConfig } from './config';
import type { CoverageData } from './recorder';
import { buildReport, DATA_FILE, formatFailures, formatSummary, writeReports } from './report';

const USAGE = 'usage: coverage/cli.ts report|check [--data FILE] [--config FILE] [--root DIR] [--no-html] [--quiet]';

export function main(argv: string[]): number {
  const [command, ...rest] = argv;
  if (command !== 'report' && command !== 'check') {
    console.error(USAGE);
    return 2;
  }
  let root = process.cwd();
  let data: string | undefined;
  let configPath: string | undefined;
  let html = true;
  let quiet = false;
  for (let k = 0; k < rest.length; k++) {
    const flag = rest[k];
    if (flag === '--no-html' || flag === '--quiet') {
      if (flag === '--no-html') html = false;
      else quiet = true;
      continue;
    }
    const value = rest[++k];
    if (value === undefined) {
      console.error(`${flag} needs a value\n${USAGE}`);
      return 2;
    }
    if (flag === '--data') data = value;
    else if (flag === '--config') configPath = value;
    else if (flag === '--root') root = resolve(value);
    else {
      console.error(`unknown option ${flag}\n${USAGE}`);
      return 2;
    }
  }
  let config;
  try {
    config = loadConfig(root, configPath ? resolve(configPath) : undefined);
  } catch (e) {
    console.error(`bad coverage config: ${(e as Error).message}`);
    return 2;
  }
  if (!html) config.html = false;
  return fromSaved(command, config, root, { data, quiet, missing: 'run the specs with BPFUNIT_COVERAGE=1 and --require src/coverage/mocha-hooks.ts first' });
}

/** `report` or `check` from the counts a coverage run saved (`data`, default OUTPUT/bpf-coverage.json);
 * `missing` says how to make them when there are none (exit 2). */
export function fromSaved(command: 'report' | 'check', config: CoverageConfig, root: string, opts: { data?: string; quiet?: boolean; missing: string }): number {
  const dataPath = opts.data ? resolve(opts.data) : join(resolve(root, config.output), DATA_FILE);
  if (!existsSync(dataPath)) {
    console.error(`no coverage data at ${dataPath}: ${opts.missing}`);
    return 2;
  }
  const counts = JSON.parse(readFileSync(dataPath, 'utf8')) as CoverageData;
  if (counts.version !== 1) {
    console.error(`${dataPath}: unknown coverage data version ${counts.version}`);
    return 2;
  }
  const report = buildReport(counts, config, root);
  writeReports(report, config, root);
  console.log(opts.quiet ? formatFailures(report) : formatSummary(report));
  return command === 'check' && report.failures.length > 0 ? 1 : 0;
}

if (require.main === module) process.exitCode = main(process.argv.slice(2));
