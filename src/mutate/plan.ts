// Which mutants to make and which tests run each one's instruction: per-test block counts from a
// coverage run (coverage/bpf-coverage.json) mapped onto the uninstrumented program's blocks.
import { existsSync } from 'node:fs';
import { isAbsolute, join, relative } from 'node:path';
import { buildCfg } from '../coverage/cfg';
import { CoverageData, fromJSON, OUTSIDE_TESTS } from '../coverage/recorder';
import { InputError } from '../errors';
import { ObjectSpec } from '../object/object';
import { Mutant, mutantsOf } from './operators';

export interface PlannedMutant extends Mutant {
  /** The object file the program comes from. */
  path: string;
  /** Tests (full titles) during which the mutated instruction's block ran, with their files. */
  tests: { title: string; file?: string }[];
}

const OBJECT_DIRS = ['build/mocks', 'build/bpf', 'build/fixtures'];

function objectPath(root: string, name: string): string | undefined {
  return OBJECT_DIRS.map((d) => join(root, d, name)).find((p) => existsSync(p));
}

/** Mutants of every program a test of the coverage run ran, restricted to C files `include` accepts. */
export function plan(data: CoverageData, root: string, include: (file: string) => boolean): PlannedMutant[] {
  const { layouts, tests } = fromJSON(data);
  const out: PlannedMutant[] = [];
  const done = new Set<string>();
  for (const layout of layouts.values()) {
    const id = `${layout.object}/${layout.program}`;
    if (done.has(id)) continue; // one layout per program is enough: all copies mutate alike
    done.add(id);
    const path = objectPath(root, layout.object);
    if (!path) continue;
    const program = ObjectSpec.fromFile(path).program(layout.program);
    const cfg = buildCfg(program.instructions, id);
    if (cfg.functions.length !== layout.functions.length || cfg.functions.some((f, k) => f.blocks.length !== layout.functions[k].blocks.length)) {
      throw new InputError(`${id}: the coverage data does not match ${path} (rebuilt since?): run the coverage pass again`);
    }
    const keys = [...layouts].filter(([, l]) => l.object === layout.object && l.program === layout.program).map(([k]) => k);
    // Loaded but never run by a test (a load check, the sk_msg section of a re-hosting harness):
    // nothing could kill its mutants, so it is not mutated.
    if (!tests.some((t) => t.title !== OUTSIDE_TESTS && keys.some((k) => (t.counts.get(k)?.size ?? 0) > 0))) continue;
    for (const m of mutantsOf(layout.object, program, include)) {
      const fi = cfg.functionOf[m.index];
      const fn = cfg.functions[fi];
      const counter = layout.functions[fi].blocks[fn.blockOf[m.index - fn.start]].counter;
      const covering = tests.filter(
        (t) => t.title !== OUTSIDE_TESTS && !t.title.endsWith(' (hooks)') && keys.some((k) => (t.counts.get(k)?.get(counter) ?? 0) > 0),
      );
      const file = m.file && isAbsolute(m.file) ? relative(root, m.file) : m.file;
      out.push({ ...m, file, path, tests: covering.map((t) => ({ title: t.title, file: t.file })) });
    }
  }
  return out;
}
