// The mocha root hooks, end to end: a child mocha runs spec/coverage/fixtures/attribution.fixture.ts
// with BPFUNIT_COVERAGE=1; every test gets the counts of what it ran, and the reports are written.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { CoverageData, fileCoverage, fromJSON, RowResult, totals } from '../../src/coverage';
import { line, ROOT, SHAPES_SRC } from './helpers';

describe('mocha hooks (BPFUNIT_COVERAGE=1)', function () {
  this.timeout(60_000);
  let dir: string;
  let out: string;
  let data: CoverageData;

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
    const config = path.join(dir, 'coverage.json');
    writeFileSync(config, JSON.stringify({ output: dir, html: false, include: [SHAPES_SRC], branchTables: [path.join(dir, 'table.json')] }));
    const r = spawnSync(process.execPath, [
      path.join(ROOT, 'node_modules', 'mocha', 'bin', 'mocha.js'), '--no-config', '--extension', 'ts',
      '--require', 'tsx/cjs', '--require', 'src/coverage/mocha-hooks.ts', '--reporter', 'dot',
      'spec/coverage/fixtures/attribution.fixture.ts',
    ], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, BPFUNIT_COVERAGE: '1', BPFUNIT_COVERAGE_CONFIG: config } });
    out = r.stdout + r.stderr;
    expect(r.status, out).to.equal(0);
    data = JSON.parse(readFileSync(path.join(dir, 'bpf-coverage.json'), 'utf8'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const linesOf = (title: string) => {
    const { layouts, tests } = fromJSON(data);
    const t = tests.filter((x) => x.title === title);
    expect(t, `a record for '${title}' (have: ${tests.map((x) => x.title).join(' | ')})`).to.have.length(1);
    return fileCoverage(layouts, totals(layouts, t), ROOT).get(SHAPES_SRC)!.lines;
  };

  it('credits each test with what it ran', () => {
    expect(linesOf('attribution then arm').get(line('ifelse_then'))).to.equal(1);
    expect(linesOf('attribution then arm').get(line('ifelse_else'))).to.equal(0);
    expect(linesOf('attribution else arm twice').get(line('ifelse_else'))).to.equal(2);
    expect(linesOf('attribution else arm twice').get(line('ifelse_then'))).to.equal(0);
  });

  it('credits before() hooks to the suite, and a collection closed in a test to that test', () => {
    expect(linesOf('attribution (hooks)').get(line('loop_body'))).to.equal(2);
    expect(linesOf('direct load is counted up to its close').get(line('straight_len'))).to.equal(1);
  });

  it('writes lcov.info and branch-table.json, and prints a summary with the table', () => {
    expect(readFileSync(path.join(dir, 'lcov.info'), 'utf8')).to.contain(`SF:${SHAPES_SRC}\n`);
    const rows: RowResult[] = JSON.parse(readFileSync(path.join(dir, 'branch-table.json'), 'utf8'));
    expect(rows.map((r) => [r.id, r.covered, r.tests])).to.deep.equal([
      ['T', true, ['attribution then arm']],
      ['F', true, ['attribution else arm twice']],
      ['G', false, []],
    ]);
    expect(out).to.match(/BPF coverage: lines [\d.]+% \(\d+\/\d+\), branches/);
    expect(out).to.match(/Branch table rows:/);
    expect(out).to.match(/branch row G .* is uncovered/);
    expect(existsSync(path.join(dir, 'html'))).to.equal(false);
  });
});
