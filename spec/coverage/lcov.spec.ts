// lcov.info records: the format on a hand-made file, then the records of cov_shapes.c after runs
// with chosen packets, and genhtml accepting them.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileCoverage, FileCoverage, lcov, totals } from '../../src/coverage';
import { line, loadShapes, packet, ROOT, SHAPES_SRC } from './helpers';

describe('lcov output', () => {
  it('writes FN/FNDA/FNF/FNH, BRDA/BRF/BRH, DA/LF/LH per file, sorted', () => {
    const f: FileCoverage = {
      file: 'bpf/x.c',
      lines: new Map([[12, 3], [10, 0], [11, 3]]),
      branches: [{ line: 11, block: 0, taken: 2, notTaken: 1 }, { line: 11, block: 1, taken: 0, notTaken: 0 }, { line: 12, block: 0, taken: 0, notTaken: 3 }],
      functions: [{ name: 'prog', line: 9, hits: 3 }, { name: 'helper', line: 20, hits: 0 }],
    };
    const a: FileCoverage = { file: 'a.h', lines: new Map([[1, 1]]), branches: [], functions: [] };
    expect(lcov([f, a], 'bpfunit')).to.equal([
      'TN:bpfunit', 'SF:a.h', 'FNF:0', 'FNH:0', 'BRF:0', 'BRH:0', 'DA:1,1', 'LF:1', 'LH:1', 'end_of_record',
      'TN:bpfunit', 'SF:bpf/x.c',
      'FN:9,prog', 'FN:20,helper', 'FNDA:3,prog', 'FNDA:0,helper', 'FNF:2', 'FNH:1',
      'BRDA:11,0,0,2', 'BRDA:11,0,1,1', 'BRDA:11,1,0,-', 'BRDA:11,1,1,-', 'BRDA:12,0,0,0', 'BRDA:12,0,1,3', 'BRF:6', 'BRH:3',
      'DA:10,0', 'DA:11,3', 'DA:12,3', 'LF:3', 'LH:2', 'end_of_record', '',
    ].join('\n'));
  });

  describe('for cov_shapes.c', () => {
    let text: string;
    before(() => {
      const t = loadShapes(['cov_ifelse', 'cov_call', 'cov_loop']);
      try {
        for (const b of [200, 150, 101, 5]) t.run('cov_ifelse', packet(b));
        for (const [a, b] of [[60, 10], [5, 70], [51, 50]]) t.run('cov_call', packet(a, b));
        t.rec.flush({ title: 'all' });
        const files = fileCoverage(t.rec.layouts, totals(t.rec.layouts, [...t.rec.tests.values()]), ROOT);
        text = lcov([files.get(SHAPES_SRC)!]);
      } finally {
        t.close();
      }
    });
    const records = () => text.split('\n');
    const brda = (at: number) => records().filter((r) => r.startsWith(`BRDA:${at},`));

    it('names the source relative to the repository', () => {
      expect(records()[1]).to.equal(`SF:${SHAPES_SRC}`);
      expect(records().filter((r) => r.startsWith('SF:'))).to.have.length(1);
    });

    it('has the functions with their call counts', () => {
      expect(records()).to.include.members(['FNDA:4,cov_ifelse', 'FNDA:3,cov_call', 'FNDA:6,clamp', 'FNDA:0,cov_loop', 'FNF:4', 'FNH:3']);
      expect(records().filter((r) => /^FN:\d+,(cov_ifelse|cov_call|clamp|cov_loop)$/.test(r))).to.have.length(4);
    });

    it('has the line counts', () => {
      expect(records()).to.include.members([
        `DA:${line('ifelse_then')},3`, `DA:${line('ifelse_else')},1`, `DA:${line('ifelse_if')},4`,
        `DA:${line('clamp_then')},3`, `DA:${line('clamp_if')},6`, `DA:${line('loop_body')},0`,
      ]);
    });

    it('has both edges of every conditional jump, "-" for jumps that never ran', () => {
      const ifelse = brda(line('ifelse_if')).map((r) => r.split(',')[3]).sort();
      expect(ifelse).to.deep.equal(['1', '3']);
      expect(brda(line('ifelse_if')).map((r) => r.split(',').slice(1, 3).join(','))).to.deep.equal(['0,0', '0,1']);
      expect(brda(line('ifelse_guard')).map((r) => r.split(',')[3]).sort()).to.deep.equal(['0', '4']);
      expect(brda(line('loop_for'))).to.have.length(4);
      for (const r of brda(line('loop_for'))) expect(r.endsWith(',-')).to.equal(true);
    });

    it('has totals that match its records', () => {
      const r = records();
      const count = (prefix: string, pred: (v: string) => boolean = () => true) => r.filter((x) => x.startsWith(prefix) && pred(x)).length;
      expect(r).to.include(`LF:${count('DA:')}`);
      expect(r).to.include(`LH:${count('DA:', (x) => !x.endsWith(',0'))}`);
      expect(r).to.include(`BRF:${count('BRDA:')}`);
      expect(r).to.include(`BRH:${count('BRDA:', (x) => !/,(0|-)$/.test(x))}`);
      expect(r[r.length - 2]).to.equal('end_of_record');
    });

    it('is accepted by genhtml (Debian package lcov)', function () {
      if (spawnSync('genhtml', ['--version']).error) this.skip();
      const dir = mkdtempSync(path.join(tmpdir(), 'bpfunit-lcov-'));
      try {
        writeFileSync(path.join(dir, 'lcov.info'), text);
        const g = spawnSync('genhtml', ['--quiet', '--branch-coverage', '--output-directory', path.join(dir, 'html'), path.join(dir, 'lcov.info')], { cwd: ROOT, encoding: 'utf8' });
        expect(g.status, g.stderr).to.equal(0);
        expect(existsSync(path.join(dir, 'html', 'index.html'))).to.equal(true);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
});
