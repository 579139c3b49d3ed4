// Where the configuration lives (bpfunit.config.json, package.json's "bpfunit" key, --config) must
// not change what any command reads: the coverage settings go through the same loader as the rest.
// `bpfunit coverage check` checks the counts the last coverage run saved, without running specs.
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { loadConfig } from '../../src/coverage/config';
import { loadShapes, packet } from '../coverage/helpers';
import { CLI } from '../loader/helpers';

const COVERAGE = { thresholds: { lines: 99 }, exclude: ['bpf/include/**'], output: 'cov' };

function cli(args: string[], cwd: string): Promise<{ status: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(CLI, args, { cwd, encoding: 'utf8', timeout: 30000 }, (err, stdout, stderr) => {
      resolve({ status: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

describe('configuration place: every consumer reads it through one loader', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'bpfunit-place-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('coverage settings under package.json\'s "bpfunit" key are read, as from bpfunit.config.json', () => {
    writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'x', bpfunit: { specs: ['t/*.ts'], coverage: COVERAGE } }));
    mkdirSync(path.join(dir, 'sub'));
    const fromPkg = loadConfig(path.join(dir, 'sub'));
    expect([fromPkg.thresholds, fromPkg.exclude, fromPkg.output]).to.deep.equal([{ lines: 99 }, ['bpf/include/**'], 'cov']);
    rmSync(path.join(dir, 'package.json'));
    writeFileSync(path.join(dir, 'bpfunit.config.json'), JSON.stringify({ coverage: COVERAGE }));
    expect(loadConfig(dir)).to.deep.equal(fromPkg);
  });

  it('a bad coverage value is a configuration error (exit 2 naming the key), not a crash', async () => {
    for (const coverage of [{ thresholds: { lines: 'x' } }, { include: 'bpf' }]) {
      writeFileSync(path.join(dir, 'bpfunit.config.json'), JSON.stringify({ sources: [], coverage }));
      const r = await cli(['coverage', 'check'], dir);
      expect(r.status, r.stderr).to.equal(2);
      expect(r.stderr).to.match(/bpfunit\.config\.json.*coverage\.(thresholds\.lines must be a percentage|include must be an array of globs)/);
      expect(r.stderr).not.to.match(/internal error|    at /);
    }
  });

  it('a --config file passed on to the coverage run (BPFUNIT_CONFIG) wins over the one found', () => {
    writeFileSync(path.join(dir, 'bpfunit.config.json'), JSON.stringify({ coverage: { thresholds: { lines: 10 } } }));
    writeFileSync(path.join(dir, 'other.json'), JSON.stringify({ coverage: COVERAGE }));
    process.env.BPFUNIT_CONFIG = path.join(dir, 'other.json');
    try {
      expect(loadConfig(dir).thresholds).to.deep.equal({ lines: 99 });
    } finally {
      delete process.env.BPFUNIT_CONFIG;
    }
  });

  it('`coverage check` checks the saved counts against package.json\'s thresholds, without running the specs', async () => {
    // A spec that would fail if it ran: check must not run it.
    mkdirSync(path.join(dir, 't'));
    writeFileSync(path.join(dir, 't', 'a.spec.js'), "it('runs', () => { throw new Error('SPEC RAN'); });\n");
    writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'x', bpfunit: { sources: [], specs: ['t/*.spec.js'], coverage: COVERAGE } }));
    const none = await cli(['coverage', 'check'], dir);
    expect(none.status, none.stderr).to.equal(2);
    expect(none.stderr).to.include(`no coverage data at ${path.join(dir, 'cov', 'bpf-coverage.json')}: run \`bpfunit coverage\` first`);
    mkdirSync(path.join(dir, 'cov'));
    const t = loadShapes(['cov_ifelse']); // counts of one side of an if: far below 99% of lines
    try {
      t.run('cov_ifelse', packet(200));
      t.rec.flush({ title: 'then' });
      writeFileSync(path.join(dir, 'cov', 'bpf-coverage.json'), JSON.stringify(t.rec.toJSON(dir)));
    } finally {
      t.close();
    }
    const r = await cli(['coverage', 'check'], dir);
    expect(r.stdout + r.stderr).not.to.include('SPEC RAN');
    expect(r.stdout).to.match(/lines coverage [\d.]+% is below the threshold 99%/);
    expect(r.status).to.equal(1);
  });
});
