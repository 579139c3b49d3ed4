// The report/check command: summary and reports from saved counts; exit 1 when a threshold is
// missed or a branch-table row is not covered, 2 on bad usage or missing data.
import { expect } from 'chai';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { main } from '../../src/coverage/cli';
import { line, loadShapes, packet, ROOT, SHAPES_SRC } from './helpers';

describe('coverage check command', () => {
  let dir: string;
  let dataFile: string;
  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'bpfunit-cli-'));
    const t = loadShapes(['cov_ifelse']);
    try {
      t.run('cov_ifelse', packet(200));
      t.rec.flush({ title: 'then' });
      dataFile = path.join(dir, 'bpf-coverage.json');
      writeFileSync(dataFile, JSON.stringify(t.rec.toJSON(ROOT)));
    } finally {
      t.close();
    }
    writeFileSync(path.join(dir, 'table.json'), JSON.stringify({
      rows: [{ id: 'T', program: 'cov_ifelse', file: SHAPES_SRC, line: line('ifelse_if'), outcome: true }],
    }));
    writeFileSync(path.join(dir, 'table-else.json'), JSON.stringify({
      rows: [{ id: 'F', program: 'cov_ifelse', file: SHAPES_SRC, line: line('ifelse_if'), outcome: false }],
    }));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** Runs the command with a config; returns its status and what it printed. */
  function run(command: string, config: object | undefined, ...extra: string[]): { status: number; out: string } {
    const cfg = path.join(dir, 'config.json');
    if (config) writeFileSync(cfg, JSON.stringify({ output: path.join(dir, 'out'), html: false, include: [SHAPES_SRC], ...config }));
    const lines: string[] = [];
    const [log, error] = [console.log, console.error];
    console.log = (...a: unknown[]) => lines.push(a.join(' '));
    console.error = (...a: unknown[]) => lines.push(a.join(' '));
    try {
      const status = main([command, '--data', dataFile, '--config', cfg, '--root', ROOT, ...extra]);
      return { status, out: lines.join('\n') };
    } finally {
      console.log = log;
      console.error = error;
    }
  }

  it('passes when every threshold is met and every row covered', () => {
    const r = run('check', { thresholds: { lines: 10, branches: 5 }, branchTables: [path.join(dir, 'table.json')] });
    expect(r.status, r.out).to.equal(0);
    expect(r.out).to.match(/BPF coverage: lines/);
    expect(r.out).to.match(/T +cov_ifelse .* true +covered +1 +1: then/);
    expect(existsSync(path.join(dir, 'out', 'lcov.info'))).to.equal(true);
    expect(JSON.parse(readFileSync(path.join(dir, 'out', 'branch-table.json'), 'utf8'))[0]).to.include({ id: 'T', covered: true });
    const quiet = run('check', { thresholds: { lines: 10 }, branchTables: [path.join(dir, 'table.json')] }, '--quiet');
    expect(quiet.out.split('\n')).to.deep.equal([quiet.out.split('\n')[0], 'branch-table rows: 1/1 covered', 'coverage check passes']);
  });

  it('fails (1) on a missed threshold, naming it', () => {
    const r = run('check', { thresholds: { lines: 100 } });
    expect(r.status).to.equal(1);
    expect(r.out).to.match(/lines coverage [\d.]+% is below the threshold 100%/);
  });

  it('fails (1) on an uncovered row; report alone does not fail', () => {
    const cfg = { branchTables: [path.join(dir, 'table-else.json')] };
    const r = run('check', cfg);
    expect(r.status).to.equal(1);
    expect(r.out).to.match(/branch row F .* is uncovered/);
    expect(run('report', cfg).status).to.equal(0);
  });

  it('exits 2 on bad usage, a bad config or missing data', () => {
    expect(run('frobnicate', {}).status).to.equal(2);
    expect(run('check', {}, '--bogus', 'x').status).to.equal(2);
    expect(run('check', { thresholds: { lines: 'most' } }).status).to.equal(2);
    expect(run('check', {}, '--config', path.join(dir, 'no-such-config.json')).out).to.match(/no such file/);
    const r = run('check', {}, '--data', path.join(dir, 'missing.json'));
    expect(r.status).to.equal(2);
    expect(r.out).to.match(/no coverage data/);
  });
});
