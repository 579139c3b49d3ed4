// `bpfunit mutate [SPEC_GLOB...] [--coverage FILE] [--out DIR] [--include REGEX] [--only ID_SUBSTRING] [--no-build]`:
// what changed is built first, as `bpfunit test` does (not with --no-build); then a coverage run of
// the specs (unless --coverage names one already made) gives the tests that run each instruction
// (default specs: the configured ones); every mutant of the programs' C files (default: those
// under bpf/) is then verified and run against those tests. Writes
// DIR/mutation.json and DIR/mutation.html (default DIR: mutation). Exit 0 when done (survivors are
// findings, not errors), 2 on bad usage (a spec glob that matches nothing too).
import { parseArgs } from 'node:util';
import { spawnSync } from 'node:child_process';
import { BpfunitConfig, pathArg } from '../config';
import { unmatchedSpecs } from '../cli/mocha';
import { loadConfig as loadCoverageConfig } from '../coverage/config';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { CoverageData } from '../coverage/recorder';
import { BpfUnitError } from '../errors';
import { plan } from './plan';
import { buildReport, formatReport, htmlReport } from './report';
import { MutantResult, runMutant } from './run';

const USAGE = 'usage: bpfunit mutate [SPEC_GLOB...] [--coverage FILE] [--out DIR] [--include REGEX] [--only TEXT] [--no-build]';

interface Args {
  specs: string[];
  coverage?: string;
  out: string;
  include: RegExp;
  only?: string;
  build: boolean;
}

function parse(argv: string[]): Args | string {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { coverage: { type: 'string' }, out: { type: 'string' }, include: { type: 'string' }, only: { type: 'string' }, 'no-build': { type: 'boolean' } },
    });
  } catch (e) {
    return (e as Error).message;
  }
  const { values: v, positionals } = parsed;
  const args: Args = { specs: positionals, out: v.out ?? 'mutation', include: /(^|\/)bpf\//, build: !v['no-build'], coverage: v.coverage, only: v.only };
  if (v.include !== undefined) {
    try {
      args.include = new RegExp(v.include);
    } catch {
      return `--include: not a regular expression: '${v.include}'`;
    }
  }
  return args;
}

/** The coverage pass: the specs once, instrumented, counts per test written under `dir`. */
export function coverageRun(root: string, specs: string[], dir: string): string {
  const config = join(dir, 'coverage-config.json');
  const base = loadCoverageConfig(root);
  // Only the counts matter here: the project's thresholds and branch tables gate `bpfunit coverage`, not mutation.
  writeFileSync(config, JSON.stringify({ ...base, output: join(dir, 'coverage'), html: false, branchTables: [], thresholds: {} }));
  const r = spawnSync(join(root, 'node_modules/.bin/mocha'), ['--require', require.resolve('tsx/cjs'), '--require', join(__dirname, '..', 'coverage', 'mocha-hooks'), '--reporter', 'dot', ...specs], {
    cwd: root, stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, BPFUNIT_COVERAGE: '1', BPFUNIT_COVERAGE_CONFIG: config },
  });
  if (r.status !== 0) throw new BpfUnitError(`the specs fail without mutants (mocha exit ${r.status}): fix them before mutating`);
  return join(dir, 'coverage', 'bpf-coverage.json');
}

/** `project`: the configuration, whose `specs` are the default; `build` builds what changed (a
 * BpfUnitError when clang failed), run after the arguments are checked unless --no-build. */
export async function main(argv: string[], project: BpfunitConfig, build: () => void, log: (text: string) => void = (t) => process.stdout.write(t)): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    log(`${USAGE}\n`);
    return 0;
  }
  const args = parse(argv);
  if (typeof args === 'string') {
    process.stderr.write(`bpfunit: ${args}\n${USAGE}\n`);
    return 2;
  }
  const root = process.cwd();
  const out = resolve(args.out);
  const specs = args.specs.length ? args.specs : project.specs.map((g) => pathArg(resolve(project.root, g), root));
  // mocha would find no test file and the coverage pass would look like failing specs
  const missing = args.coverage ? [] : unmatchedSpecs(root, specs);
  if (missing.length) {
    const from = args.specs.length ? '' : ` (the configured "specs" of ${project.file ?? 'the default configuration'})`;
    process.stderr.write(`bpfunit: no spec file matches ${missing.map((g) => `'${g}'`).join(', ')}${from}\n${USAGE}\n`);
    return 2;
  }
  // The coverage pass and the mutants load the configured objects: missing or stale ones would fail
  // the specs. Outside the try: its errors are the CLI's to report, with `test`'s exit statuses.
  if (args.build) build();
  try {
    mkdirSync(out, { recursive: true });
    const coverageFile = args.coverage ?? coverageRun(root, specs, out);
    const data = JSON.parse(readFileSync(coverageFile, 'utf8')) as CoverageData;
    const mutants = plan(data, root, (f) => args.include.test(f)).filter((m) => !args.only || m.id.includes(args.only));
    const started = process.hrtime.bigint();
    const results: MutantResult[] = [];
    for (const m of mutants) {
      const r = await runMutant(m);
      results.push(r);
      log(`${r.status.padEnd(9)} ${r.id}  ${r.file}:${r.line} ${r.change}\n`);
    }
    const report = buildReport(results, Number(process.hrtime.bigint() - started) / 1e9);
    writeFileSync(join(out, 'mutation.json'), JSON.stringify(report, null, 1));
    writeFileSync(join(out, 'mutation.html'), htmlReport(report));
    log(`${formatReport(report)}\nwritten: ${join(args.out, 'mutation.json')}, ${join(args.out, 'mutation.html')}\n`);
    return 0;
  } catch (e) {
    if (!(e instanceof BpfUnitError)) throw e;
    process.stderr.write(`bpfunit: ${e.message}\n`);
    return 1;
  }
}
