// Coverage against the truth: spec/fixtures/cov_truth.h run on four packets through bpfunit
// (compiled for BPF, clang -O2, instrumented) and, as an independent oracle, compiled natively
// with gcc --coverage and run on the same packets; gcov's counts say which lines ran. The hand
// count below is what C semantics says each statement line does on these packets.
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Collection, ObjectSpec } from '../../src';
import { buildReport, CoverageRecorder, DEFAULT_CONFIG, FileCoverage, formatSummary, lcov } from '../../src/coverage';
import { ROOT } from './helpers';

const HEADER = 'spec/fixtures/cov_truth.h';
const TABLE = [7];
const PACKETS = [
  'ff000000000000000000000000000000', // p[0] == 0xff: return 1
  '000204ca03010700000000000000000000', // evens 2, 4, 202; case 1; in table: 105, return 3
  '0001030507020000000000000000000000', // no evens; case 2; not in table: 0, return 3
  '00d2d2d2d2090700000000000000000000', // four 210s; default; in table: 112, return 2
];
// Statement line -> times it runs on PACKETS.
const TRUTH: Record<number, number> = {
  17: 7, 18: 5, 19: 2, // weight(): 7 even bytes, 5 of them > 200
  27: 4, 28: 0, 29: 4, 30: 1,
  32: 12, 33: 7, // the loop: 3 calls x 4 bytes, 7 of them even
  35: 3, 37: 1, 38: 1, 40: 1, 41: 1, 43: 1,
  45: 3, 46: 2, 47: 3, 48: 3, 49: 1, 50: 2,
};
const LOOP_LINES = [32, 33];

const NATIVE_DRIVER = `#include <stdio.h>
#include <stdlib.h>
static unsigned char table[256];
static int truth_lookup(unsigned char key) { return table[key]; }
#include "cov_truth.h"
int main(int argc, char **argv)
{
	char line[256];
	for (int k = 1; k < argc; k++) table[atoi(argv[k])] = 1;
	while (fgets(line, sizeof line, stdin)) {
		unsigned char p[64];
		int n = 0;
		for (char *s = line; n < 64 && sscanf(s, "%2hhx", &p[n]) == 1; s += 2) n++;
		struct verdict v = {0, 0};
		int r = truth_classify(p, p + n, &v);
		printf("%d %u %u\\n", r, v.action, v.score);
	}
	return 0;
}
`;

describe('coverage against the truth (cov_truth.h)', () => {
  let file: FileCoverage;
  let text: string;
  let summary: string;
  const results: string[] = [];
  let gcov: Map<number, number>;
  let native: string[];

  before(() => {
    const rec = new CoverageRecorder();
    const c = Collection.load(ObjectSpec.fromFile(path.join(ROOT, 'build/fixtures/cov_truth.o')), { programs: ['cov_truth'], hook: rec.hook });
    try {
      for (const k of TABLE) c.map('truth_table').update(Buffer.from([k]), Buffer.from([1]));
      for (const hex of PACKETS) {
        const r = c.program('cov_truth').run({ data: Buffer.from(hex, 'hex') });
        const out = c.readGlobal('truth_out');
        results.push(`${r.retval} ${out.readUInt32LE(0)} ${out.readUInt32LE(4)}`);
      }
      rec.flush({ title: 'truth' });
    } finally {
      c.close();
    }
    const report = buildReport(rec.toJSON(ROOT), { ...DEFAULT_CONFIG, html: false, branchTables: [] }, ROOT);
    file = report.files.find((f) => f.file === HEADER)!;
    text = lcov(report.files);
    summary = formatSummary(report);

    const dir = mkdtempSync(path.join(tmpdir(), 'bpfunit-truth-'));
    try {
      writeFileSync(path.join(dir, 'driver.c'), NATIVE_DRIVER);
      execFileSync('gcc', ['--coverage', '-O0', `-I${path.join(ROOT, 'spec/fixtures')}`, 'driver.c', '-o', 'driver'], { cwd: dir });
      native = execFileSync(path.join(dir, 'driver'), TABLE.map(String), { cwd: dir, input: PACKETS.join('\n') + '\n', encoding: 'utf8' }).trim().split('\n');
      const out = execFileSync('gcov', ['-t', 'driver.c'], { cwd: dir, encoding: 'utf8' });
      const section = out.slice(out.indexOf(`Source:${path.join(ROOT, HEADER)}`));
      gcov = new Map();
      for (const m of section.matchAll(/^\s*(\d+|#####):\s*(\d+):/gm)) gcov.set(Number(m[2]), m[1] === '#####' ? 0 : Number(m[1]));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('runs as the native build does (return value, action, score)', () => {
    expect(results).to.deep.equal(native);
  });

  it('files nothing under line 0 and nothing on a line that is not a statement', () => {
    expect(text).not.to.match(/^(DA|BRDA):0,/m);
    for (const line of file.lines.keys()) expect(TRUTH, `DA on line ${line}`).to.have.property(String(line));
  });

  it('counts every recorded line as it ran (an unrolled loop: at least once when it ran, never more)', () => {
    for (const [line, hits] of file.lines) {
      const truth = TRUTH[line];
      if (LOOP_LINES.includes(line)) {
        expect(hits > 0, `line ${line} hit`).to.equal(truth > 0);
        expect(hits, `line ${line}`).to.be.at.most(truth);
      } else {
        expect(hits, `line ${line}`).to.equal(truth);
      }
    }
  });

  it('agrees with gcov on which lines ran', () => {
    for (const [line, hits] of file.lines) {
      expect(gcov.has(line), `gcov counts line ${line}`).to.equal(true);
      expect(hits > 0, `line ${line}: bpfunit ${hits}, gcov ${gcov.get(line)}`).to.equal(gcov.get(line)! > 0);
    }
  });

  it('credits folded early returns with the edge that leads to them, including one that never ran', () => {
    expect(file.lines.get(28)).to.equal(0);
    expect(file.lines.get(30)).to.equal(1);
    expect(file.lines.get(50)).to.equal(2);
  });

  it('has a record for every statement line, or names it as undecided and marks the figure partial', () => {
    for (const line of Object.keys(TRUTH).map(Number)) {
      expect(file.lines.has(line) || file.undecided!.includes(line), `line ${line}`).to.equal(true);
    }
    expect(summary).to.match(new RegExp(`${HEADER.replace(/[./]/g, '\\$&')}\\s+[\\d.]+% \\d+/\\d+\\*`));
    expect(summary).to.contain(`${HEADER}: lines ${file.undecided!.join(', ')} have no code of their own`);
  });
});
