// Instrumented programs pass the verifier: every program of every object under build/fixtures
// (and build/bpf, build/mocks when they exist) that loads plain also loads instrumented, except
// the types the kernel cannot test-run, which are loaded as compiled (they never run); a program
// that needs register spills loads and returns what the plain one returns.
import { expect } from 'chai';
import { existsSync, readdirSync } from 'node:fs';
import * as path from 'node:path';
import { BpfMap, BpfUnitError, Collection, MapType, ObjectSpec, Program } from '../../src';
import { COVERAGE_MAP, CoverageRecorder, instrumentProgram } from '../../src/coverage';
import { itRequires } from '../../src/mocha';
import { canTestRun } from '../../src/object/sections';
import { fixture, KALLSYMS_ALL, libbpfRun } from '../loader/helpers';
import { allLive } from './asm';
import { packet, ROOT } from './helpers';

const DIRS = ['build/fixtures', 'build/bpf', 'build/mocks'];
/** Objects whose every program the verifier refuses, by design. */
const REFUSED = new Set(['build/fixtures/ctx_rules.o']);
/** Objects none of whose programs load plain on a kernel without the requirement. */
const NEEDS = new Map([
  ['build/fixtures/ext_ksym_compat.o', KALLSYMS_ALL],
  ['build/fixtures/ext_module_attach.o', {
    feature: 'fentry on nf_conntrack_in loads under libbpf (the function in kernel BTF, BPF trampolines)',
    probe: () => libbpfRun(fixture('ext_module_attach'), 'ct_in_entry', { norun: true }).ok,
  }],
]);

function objects(): string[] {
  return DIRS.flatMap((d) => {
    const dir = path.join(ROOT, d);
    return existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.o')).sort().map((f) => path.join(d, f)) : [];
  });
}

describe('instrumented programs pass the verifier', function () {
  this.timeout(120_000);
  const found = objects();

  it('finds the fixture objects (run make objects first)', () => {
    expect(found.filter((f) => f.startsWith('build/fixtures/'))).to.include('build/fixtures/cov_shapes.o');
  });

  const loadsInstrumented = (file: string) => {
    const spec = ObjectSpec.fromFile(path.join(ROOT, file));
    const rec = new CoverageRecorder();
    let loaded = 0;
    for (const p of spec.programs) {
      if (!p.kind) continue;
      let plain: Collection;
      try {
        plain = Collection.load(spec, { programs: [p.name], hook: null });
      } catch {
        continue; // invalid on purpose (loader_invalid.o) or not loadable alone
      }
      const before = plain.program(p.name).insnCount;
      plain.close();
      const c = Collection.load(spec, { programs: [p.name], hook: rec.hook });
      try {
        if (canTestRun(p.kind.type)) {
          expect(c.program(p.name).insnCount, p.name).to.be.greaterThan(before);
          expect(c.maps.get(COVERAGE_MAP)?.spec.valueSize, p.name).to.be.greaterThan(0);
        } else {
          expect(c.program(p.name).insnCount, p.name).to.equal(before);
        }
      } finally {
        c.close();
      }
      loaded++;
    }
    expect(loaded, 'programs loaded').to.be.greaterThan(0);
  };
  const noneLoads = (file: string) => {
    const spec = ObjectSpec.fromFile(path.join(ROOT, file));
    for (const p of spec.programs) expect(() => Collection.load(spec, { programs: [p.name], hook: null }), p.name).to.throw(BpfUnitError);
  };
  for (const file of found) {
    const title = `every program of ${file} that loads plain also loads instrumented`;
    const req = NEEDS.get(file);
    if (REFUSED.has(file)) it(`no program of ${file} loads (the verifier refuses it on purpose)`, () => noneLoads(file));
    else if (!req) it(title, () => loadsInstrumented(file));
    else {
      itRequires(req, title, {
        met: () => loadsInstrumented(file),
        unmet: () => noneLoads(file),
      });
    }
  }

  it('a program whose counters spill registers loads, runs and returns what the plain one does', () => {
    const plainSpec = allLive();
    const { spec, layout } = instrumentProgram(plainSpec, { map: COVERAGE_MAP });
    expect(layout.spills).to.be.greaterThan(0);
    const map = BpfMap.create({ name: COVERAGE_MAP, type: MapType.ARRAY, keySize: 4, valueSize: 8 * layout.counters, maxEntries: 1, flags: 0, needsBtf: false });
    const cov = Program.load(spec, { mapFd: () => map.fd });
    const plain = Program.load(plainSpec, { mapFd: () => map.fd });
    try {
      expect(plain.run({ data: packet() }).retval).to.equal(52);
      expect(cov.run({ data: packet() }).retval).to.equal(52);
      const counts = map.lookup(Buffer.alloc(4))!;
      const values = [...Array(layout.counters).keys()].map((k) => Number(counts.readBigUInt64LE(8 * k)));
      // One run: entry block, taken edge (its own trampoline counter) and the join once each;
      // the fall-through block (r0 = 100) never.
      expect(values.filter((v) => v === 1).length).to.equal(3);
      expect(values.filter((v) => v === 0).length).to.equal(1);
    } finally {
      cov.close();
      plain.close();
      map.close();
    }
  });
});
