// The mocha root hooks, end to end: a child mocha runs the fixtures in spec/coverage/fixtures with
// BPFUNIT_COVERAGE=1; every test gets the counts of what it ran, the reports are written, a failed
// check fails the run, stdout stays the reporter's, and --parallel workers' counts are merged.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { CoverageData, fileCoverage, fromJSON, RowResult, totals } from '../../src/coverage';
import { line, ROOT, SHAPES_SRC } from './helpers';

const FIXTURES = ['spec/coverage/fixtures/attribution.fixture.ts', 'spec/coverage/fixtures/direct.fixture.ts'];

interface ChildRun {
  status: number | null;
  stdout: string;
  stderr: string;
  data: CoverageData;
}

describe('mocha hooks (BPFUNIT_COVERAGE=1)', function () {
  this.timeout(120_000);
  let dir: string;

  /** A child mocha over both fixtures with the coverage hooks, writing into its own directory. */
  function runChild(name: string, ...mochaArgs: string[]): ChildRun {
    return runChildWith({}, name, ...mochaArgs);
  }

  function runChildWith(env: NodeJS.ProcessEnv, name: string, ...mochaArgs: string[]): ChildRun {
    const out = path.join(dir, name);
    const config = path.join(dir, `${name}.json`);
    writeFileSync(config, JSON.stringify({ output: out, html: false, include: [SHAPES_SRC], branchTables: [path.join(dir, 'table.json')] }));
    const r = spawnSync(process.execPath, [
      path.join(ROOT, 'node_modules', 'mocha', 'bin', 'mocha.js'), '--no-config', '--extension', 'ts',
      '--require', 'tsx/cjs', '--require', 'src/coverage/mocha-hooks.ts', ...mochaArgs, ...FIXTURES,
    ], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, ...env, BPFUNIT_COVERAGE: '1', BPFUNIT_COVERAGE_CONFIG: config } });
    const dataFile = path.join(out, 'bpf-coverage.json');
    expect(existsSync(dataFile), `${r.stdout}${r.stderr}`).to.equal(true);
    return { status: r.status, stdout: r.stdout, stderr: r.stderr, data: JSON.parse(readFileSync(dataFile, 'utf8')) };
  }

  let serial: ChildRun;
  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'bpfunit-hooks-'));
    writeFileSync(path.join(dir, 'table.json'), JSON.stringify({
      source: SHAPES_SRC,
      rows: [
        { id: 'T', program: 'cov_ifelse', condition: 'first byte > 100', effect: 'then', file: SHAPES_SRC, line: line('ifelse_if'), outcome: true },
        { id: 'F', program: 'cov_ifelse', condition: 'first byte <= 100', effect: 'else', file: SHAPES_SRC, line: line('ifelse_if'), outcome: false },
        { id: 'G', program: 'cov_ifelse', condition: 'packet empty', effect: 'return 0', file: SHAPES_SRC, line: line('ifelse_guard'), outcome: true },
      ],
    }));
    serial = runChild('serial', '--reporter', 'dot');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const linesOf = (data: CoverageData, title: string) => {
    const { layouts, tests } = fromJSON(data);
    const t = tests.filter((x) => x.title === title);
    expect(t, `a record for '${title}' (have: ${tests.map((x) => x.title).join(' | ')})`).to.have.length(1);
    return fileCoverage(layouts, totals(layouts, t), ROOT).get(SHAPES_SRC)!.lines;
  };

  it('credits each test with what it ran', () => {
    expect(linesOf(serial.data, 'attribution then arm').get(line('ifelse_then'))).to.equal(1);
    expect(linesOf(serial.data, 'attribution then arm').get(line('ifelse_else'))).to.equal(0);
    expect(linesOf(serial.data, 'attribution else arm twice').get(line('ifelse_else'))).to.equal(2);
    expect(linesOf(serial.data, 'attribution else arm twice').get(line('ifelse_then'))).to.equal(0);
  });

  it('credits before() hooks to the suite, and a collection closed in a test to that test', () => {
    expect(linesOf(serial.data, 'attribution (hooks)').get(line('loop_body'))).to.equal(2);
    expect(linesOf(serial.data, 'direct load is counted up to its close').get(line('straight_len'))).to.equal(1);
  });

  it('writes lcov.info and branch-table.json, and prints the summary with the table on stderr', () => {
    expect(readFileSync(path.join(dir, 'serial', 'lcov.info'), 'utf8')).to.contain(`SF:${SHAPES_SRC}\n`);
    const rows: RowResult[] = JSON.parse(readFileSync(path.join(dir, 'serial', 'branch-table.json'), 'utf8'));
    expect(rows.map((r) => [r.id, r.covered, r.tests])).to.deep.equal([
      ['T', true, ['attribution then arm']],
      ['F', true, ['attribution else arm twice']],
      ['G', false, []],
    ]);
    expect(serial.stderr).to.match(/BPF coverage: lines [\d.]+% \(\d+\/\d+\), branches/);
    expect(serial.stderr).to.match(/Branch table rows:/);
    expect(serial.stdout).not.to.match(/BPF coverage/);
    expect(existsSync(path.join(dir, 'serial', 'html'))).to.equal(false);
  });

  it('fails the run when the check fails (row G is not covered), naming what failed', () => {
    expect(serial.status).to.equal(1);
    expect(serial.stderr).to.match(/coverage check fails \(1\):\n\s+- branch row G .* is uncovered/);
  });

  it('leaves stdout to the reporter: --reporter json still parses', () => {
    const r = runChild('json', '--reporter', 'json');
    const report = JSON.parse(r.stdout) as { stats: { passes: number } };
    expect(report.stats.passes).to.equal(3);
    expect(r.stderr).to.match(/BPF coverage: lines/);
  });

  it('merges the counts of --parallel workers: per test, the same as a serial run', () => {
    const r = runChild('parallel', '--parallel', '--jobs', '2', '--reporter', 'dot');
    expect(r.status).to.equal(1); // row G, as serially
    const titles = (d: CoverageData) => d.tests.map((t) => t.title).sort();
    expect(titles(r.data)).to.deep.equal(titles(serial.data));
    for (const title of titles(serial.data)) {
      expect([...linesOf(r.data, title)], title).to.deep.equal([...linesOf(serial.data, title)]);
    }
    expect(existsSync(path.join(dir, 'parallel', '.parts'))).to.equal(false);
  });

  it('counts once in a mocha started from inside a --parallel worker (which inherits its variables)', () => {
    // As a test in a worker sees it: the main process is its parent, not the child's.
    const r = runChildWith({ MOCHA_WORKER_ID: '1', BPFUNIT_COVERAGE_MAIN_PID: String(process.ppid) }, 'nested', '--reporter', 'dot');
    expect(r.status).to.equal(1); // row G, as serially
    for (const title of serial.data.tests.map((t) => t.title)) {
      expect([...linesOf(r.data, title)], title).to.deep.equal([...linesOf(serial.data, title)]);
    }
  });
});
