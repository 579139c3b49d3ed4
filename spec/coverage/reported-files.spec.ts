// Which files a report names: the user's program sources, wherever they are on disk; never the
// mock library, a harness, or system headers; and no program type the kernel cannot test-run.
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Collection, ObjectSpec } from '../../src';
import { buildReport, CoverageRecorder, DEFAULT_CONFIG } from '../../src/coverage';
import { packet, ROOT } from './helpers';

/** Loads `programs` of obj with a recorder, runs `run` on each, returns the default report's files. */
function reportedFiles(obj: string, programs: string[], run: string[]): string[] {
  const rec = new CoverageRecorder();
  const c = Collection.load(ObjectSpec.fromFile(obj), { programs, hook: rec.hook });
  try {
    for (const p of run) c.program(p).run({ data: packet(1, 2, 3) });
    rec.flush({ title: 't' });
  } finally {
    c.close();
  }
  const report = buildReport(rec.toJSON(ROOT), { ...DEFAULT_CONFIG, html: false }, ROOT);
  return report.files.map((f) => f.file);
}

describe('reported files', () => {
  it('a re-hosted program reports its own source, not its harness nor the mock headers it inlined', () => {
    const files = reportedFiles(path.join(ROOT, 'build/fixtures/tag_harness.o'), ['xdp_tag'], ['xdp_tag']);
    expect(files).to.deep.equal(['spec/fixtures/tag.c']);
  });

  it("a re-hosted program's branches are its own: a map lookup mock adds none to its lines", () => {
    const rec = new CoverageRecorder();
    const c = Collection.load(ObjectSpec.fromFile(path.join(ROOT, 'build/fixtures/cov_mocked_harness.o')), { programs: ['xdp_mocked'], hook: rec.hook });
    try {
      c.program('xdp_mocked').run({ data: packet(1, 2, 3) });
      rec.flush({ title: 't' });
    } finally {
      c.close();
    }
    const report = buildReport(rec.toJSON(ROOT), { ...DEFAULT_CONFIG, html: false, branchTables: [] }, ROOT);
    const prog = report.files.find((f) => f.file === 'spec/fixtures/cov_mocked.c')!;
    // Four `if`s in the source, one jump each: 8 edges, on the four `if` lines.
    const source = readFileSync(path.join(ROOT, 'spec/fixtures/cov_mocked.c'), 'utf8').split('\n');
    const ifLines = source.flatMap((l, i) => (/^\s*if \(/.test(l) ? [i + 1] : []));
    expect(ifLines).to.have.length(4);
    expect(prog.branches.map((b) => b.line)).to.deep.equal(ifLines);
  });

  it('a program type the kernel cannot test-run is not instrumented, so it adds no never-run lines', () => {
    const rec = new CoverageRecorder();
    const c = Collection.load(ObjectSpec.fromFile(path.join(ROOT, 'build/fixtures/tag.o')), { programs: ['tag_prog'], hook: rec.hook });
    c.close();
    expect(rec.layouts.size).to.equal(0);
  });

  describe('a source outside the repository (a sibling checkout)', () => {
    let dir: string;
    before(() => {
      dir = mkdtempSync(path.join(tmpdir(), 'bpfunit-outside-'));
      copyFileSync(path.join(ROOT, 'spec/fixtures/cov_shapes.c'), path.join(dir, 'shapes.c'));
      const multiarch = execFileSync('gcc', ['-print-multiarch'], { encoding: 'utf8' }).trim();
      execFileSync('clang', ['-g', '-O2', '-target', 'bpf', `-I/usr/include/${multiarch}`, '-c', path.join(dir, 'shapes.c'), '-o', path.join(dir, 'shapes.o')]);
    });
    after(() => rmSync(dir, { recursive: true, force: true }));

    it('is reported under its absolute path; the system headers it includes are not', () => {
      const files = reportedFiles(path.join(dir, 'shapes.o'), ['cov_ifelse'], ['cov_ifelse']);
      expect(files).to.deep.equal([path.join(dir, 'shapes.c')]);
    });
  });
});
