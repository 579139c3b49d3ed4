// The kernel side of coverage: a CollectionHook that instruments every program of a load and adds
// the counter map, and a process-wide record of counts per test. Counters live in one map per
// collection (a 1-entry ARRAY whose value is every program's u64 counters, one after the other);
// flush() reads every live map, adds what it finds to the current test's counts and zeroes the
// map, so each test gets what ran since the previous flush. A collection is flushed when it closes.
import { createHash } from 'node:crypto';
import type { BpfMap } from '../kernel/map';
import type { Collection, CollectionHook } from '../kernel/collection';
import { MapSpec, MapType } from '../object/maps';
import type { ObjectSpec, ProgramSpec } from '../object/object';
import { canTestRun } from '../object/sections';
import { instrumentProgram } from './instrument';
import type { ProgramLayout } from './layout';

/** Name of the counter map in every instrumented collection (a dot: never a C identifier). */
export const COVERAGE_MAP = '.bpfunit.cov';

/** Label of counts that ran outside any test (before/after hooks, module level). */
export const OUTSIDE_TESTS = '(outside tests)';

interface ProgramSlice {
  key: string;
  base: number;
  counters: number;
}

interface Live {
  collection: Collection;
  map: BpfMap;
  programs: ProgramSlice[];
}

/** Counts of one test: per layout key, counter index -> count (only non-zero counters). */
export type TestCounts = Map<string, Map<number, number>>;

export interface TestRecord {
  /** The test's full title (or a hooks label). */
  title: string;
  file?: string;
  counts: TestCounts;
}

/** What a run recorded, as saved in coverage/bpf-coverage.json. */
export interface CoverageData {
  version: 1;
  /** Directory the relative source paths are relative to (the repository). */
  root: string;
  layouts: Record<string, ProgramLayout>;
  tests: { title: string; file?: string; counts: Record<string, [number, number][]> }[];
}

export function layoutKey(layout: ProgramLayout): string {
  return createHash('sha1').update(JSON.stringify(layout)).digest('hex').slice(0, 16);
}

export class CoverageRecorder {
  readonly layouts = new Map<string, ProgramLayout>();
  readonly tests = new Map<string, TestRecord>();
  private readonly live = new Set<Live>();
  private readonly prepared = new WeakMap<MapSpec, ProgramSlice[]>();
  /** Where counts go when flushed without a label. */
  current: { title: string; file?: string } = { title: OUTSIDE_TESTS };

  /** The hook to pass as CollectionOptions.hook, or to install as Collection.defaultHook. */
  readonly hook: CollectionHook = {
    prepare: (spec, programs) => this.prepare(spec, programs),
    loaded: (c) => this.loaded(c),
    closing: (c) => this.closing(c),
  };

  private prepare(spec: ObjectSpec, programs: ProgramSpec[]): { maps: MapSpec[]; programs: ProgramSpec[] } {
    const slices: ProgramSlice[] = [];
    let base = 0;
    const out = programs.map((p) => {
      // A type the kernel cannot test-run never runs here: its lines would only ever read 0.
      if (p.kind && !canTestRun(p.kind.type)) return p;
      const { spec: instrumented, layout } = instrumentProgram(p, { map: COVERAGE_MAP, base, object: spec.name, btf: spec.btf });
      const key = layoutKey(layout);
      this.layouts.set(key, layout);
      slices.push({ key, base, counters: layout.counters });
      base += layout.counters;
      return instrumented;
    });
    const map: MapSpec = {
      name: COVERAGE_MAP, type: MapType.ARRAY, keySize: 4, valueSize: 8 * Math.max(base, 1), maxEntries: 1, flags: 0, needsBtf: false,
    };
    this.prepared.set(map, slices);
    return { maps: [map], programs: out };
  }

  private loaded(c: Collection): void {
    const map = c.maps.get(COVERAGE_MAP);
    const programs = map && this.prepared.get(map.spec);
    if (map && programs) this.live.add({ collection: c, map, programs });
  }

  private closing(c: Collection): void {
    for (const l of this.live) {
      if (l.collection !== c) continue;
      this.read(l, this.current);
      this.live.delete(l);
    }
  }

  /** Reads and zeroes every live counter map, adding the counts to `to` (default: current). */
  flush(to: { title: string; file?: string } = this.current): void {
    for (const l of this.live) this.read(l, to);
  }

  private read(l: Live, to: { title: string; file?: string }): void {
    const key0 = Buffer.alloc(4);
    const value = l.map.lookup(key0);
    if (!value || value.every((b) => b === 0)) return;
    let any = false;
    let record = this.tests.get(to.title);
    for (const p of l.programs) {
      for (let k = 0; k < p.counters; k++) {
        const at = 8 * (p.base + k);
        const n = value.readUInt32LE(at) + value.readUInt32LE(at + 4) * 2 ** 32;
        if (n === 0) continue;
        any = true;
        if (!record) {
          record = { title: to.title, file: to.file, counts: new Map() };
          this.tests.set(to.title, record);
        }
        let counts = record.counts.get(p.key);
        if (!counts) record.counts.set(p.key, (counts = new Map()));
        counts.set(k, (counts.get(k) ?? 0) + n);
      }
    }
    if (any) l.map.update(key0, Buffer.alloc(value.length));
  }

  /** Collections still open (a spec that never closed them). */
  get liveCount(): number {
    return this.live.size;
  }

  toJSON(root: string): CoverageData {
    return {
      version: 1,
      root,
      layouts: Object.fromEntries(this.layouts),
      tests: [...this.tests.values()].map((t) => ({
        title: t.title,
        file: t.file,
        counts: Object.fromEntries([...t.counts].map(([key, m]) => [key, [...m].sort((a, b) => a[0] - b[0])])),
      })),
    };
  }
}

/** Reads back what toJSON wrote. */
export function fromJSON(data: CoverageData): { layouts: Map<string, ProgramLayout>; tests: TestRecord[] } {
  return {
    layouts: new Map(Object.entries(data.layouts)),
    tests: data.tests.map((t) => ({ title: t.title, file: t.file, counts: new Map(Object.entries(t.counts).map(([k, v]) => [k, new Map(v)])) })),
  };
}

/** Two records of the same source tree as one: layouts united, counts of the same test added. */
export function mergeData(a: CoverageData, b: CoverageData): CoverageData {
  const tests = new Map(a.tests.map((t) => [t.title, { ...t, counts: { ...t.counts } }]));
  for (const t of b.tests) {
    const into = tests.get(t.title);
    if (!into) {
      tests.set(t.title, t);
      continue;
    }
    for (const [key, pairs] of Object.entries(t.counts)) {
      const sum = new Map(into.counts[key] ?? []);
      for (const [k, n] of pairs) sum.set(k, (sum.get(k) ?? 0) + n);
      into.counts[key] = [...sum].sort((x, y) => x[0] - y[0]);
    }
  }
  return { version: 1, root: a.root, layouts: { ...a.layouts, ...b.layouts }, tests: [...tests.values()] };
}

/** Every test's counts added up, per layout key: a dense array of counter values. */
export function totals(layouts: Map<string, ProgramLayout>, tests: TestRecord[]): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const [key, l] of layouts) out.set(key, new Array(l.counters).fill(0));
  for (const t of tests) {
    for (const [key, m] of t.counts) {
      const arr = out.get(key);
      if (arr) for (const [k, n] of m) arr[k] += n;
    }
  }
  return out;
}

/** The recorder of this process, used by the mocha hooks and Collection.defaultHook. */
export const recorder = new CoverageRecorder();
