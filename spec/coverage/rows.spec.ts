// Branch-table rows on code as clang emits it for ordinary C (spec/fixtures/cov_rows.c): an
// if/else-if chain that clang turns into one compare tree on the first member's line, a helper
// inlined in three places, a loop unrolled with its `break`, a lookup as a condition, && and ||,
// a helper inlined twice in one condition. Each row is compared with a hand count: which packets
// take its side and how many evaluations do (C semantics, worked out in the comments below), so
// a wrong direction, a side counted for a member of the chain that never ran, or a copy credited
// to the wrong side fails. Rows whose branch clang removed must say so and why.
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { Collection } from '../../src';
import { BranchRow, CoverageRecorder, evaluateTable, RowResult, TestRecord } from '../../src/coverage';
import { ownTestsMissed } from '../../src/coverage/report';
import { object, ROOT } from './helpers';

const SRC = 'spec/fixtures/cov_rows.c';
const OBJ = path.join(ROOT, 'build/fixtures/cov_rows.o');

function at(name: string): number {
  const lines = readFileSync(path.join(ROOT, SRC), 'utf8').split('\n');
  const found = lines.flatMap((l, i) => (new RegExp(`// @${name}(\\s|$)`).test(l) ? [i + 1] : []));
  if (found.length !== 1) throw new Error(`marker @${name} is on ${found.length} lines of ${SRC}`);
  return found[0];
}

const bytes = (...b: number[]) => {
  const p = Buffer.alloc(14);
  b.forEach((v, i) => (p[i] = v));
  return p;
};

// rows_map holds keys 0, 1, 2. rows_policy: data[0] policy, [1] count, [2] salt, [3..6] counts.
const POLICY: [string, Buffer, number][] = [
  ['P1', bytes(0, 3, 4), 2], //            RANDOM, key 4 % 3 = 1 found: PASS
  ['P2', bytes(0, 0, 4), 1], //            RANDOM, count 0: DROP
  ['P3', bytes(1, 5, 3), 1], //            STRICT, key 3 % 5 = 3 missing: strict_ret true, DROP
  ['P4', bytes(1, 2, 5), 2], //            STRICT, key 5 % 2 = 1 found: PASS
  ['P5', bytes(2, 0, 1, 0, 0, 3, 1), 2], // FAILOVER: counts 0, 0, then 3 (break at prio 2); key (1 + 2) % 3 = 0: PASS
  ['P6', bytes(2, 0, 1, 0, 0, 0, 0), 1], // FAILOVER: all 0, no break: fo_none true, DROP
  ['P7', bytes(7), 1], //                  no policy: -22, DROP
  ['P8', bytes(2, 0, 0, 2), 2], //         FAILOVER: break at prio 0; key 0 % 2 = 0: PASS
];
// rows_lookup: data[0] key, data[1..2] (1, 2) for and_if, data[3], data[4] ports (22, 23 refused).
const LOOKUP: [string, Buffer, number][] = [
  ['L1', bytes(1, 1, 2, 80, 80), 2], //   found; both; allowed(80) twice: PASS
  ['L2', bytes(9, 1, 3, 22, 80), 1], //   missing; not both; allowed(22) fails, data[4] never tested: DROP
  ['L3', bytes(0, 0, 2, 80, 23), 1], //   found; not both; allowed(80), allowed(23) fails: DROP
  ['L4', bytes(5, 1, 2, 443, 80), 2], //  missing; both; allowed twice: PASS
];

// rows_select: data[0] family (2 is FAMILY_V4), data[3] the return value then, else 7.
const SELECT: [string, Buffer, number][] = [
  ['S1', bytes(2, 1, 2, 3), 3],
  ['S2', bytes(3, 1, 2, 3), 7],
  ['S3', bytes(2, 5, 6, 9), 9],
];

// rows_rewrite: data[0] family, data[1..2] the context, data[3..4] its rewrite for FAMILY_V4.
const REWRITE: [string, Buffer, number][] = [
  ['R1', bytes(2, 1, 2, 3, 4), 4],
  ['R2', bytes(10, 1, 2, 3, 4), 2],
];

// [marker, outcome, packets that take that side, evaluations that do, lower bound?]
// A lower bound where clang folded the test in one inlined copy (that copy runs no jump for it):
// then the row's packets and count are a subset of the truth, never a packet that did not take it.
const TRUTH: [string, boolean, string[], number, ('lower bound')?][] = [
  ['pol_random', true, ['P1', 'P2'], 2],
  ['pol_random', false, ['P3', 'P4', 'P5', 'P6', 'P7', 'P8'], 6],
  ['pol_strict', true, ['P3', 'P4'], 2],
  ['pol_strict', false, ['P5', 'P6', 'P7', 'P8'], 4], // P1, P2 never test it
  ['pol_failover', true, ['P5', 'P6', 'P8'], 3],
  ['pol_failover', false, ['P7'], 1],
  ['pick_zero', true, ['P2'], 1], //         pick() inlined for RANDOM, STRICT and FAILOVER: one row
  // In FAILOVER's copy count > 0 is known (the loop broke on it): no jump, P5 and P8 uncounted.
  ['pick_zero', false, ['P1', 'P3', 'P4', 'P5', 'P8'], 5, 'lower bound'],
  ['pick_miss', true, ['P3'], 1],
  ['pick_miss', false, ['P1', 'P4', 'P5', 'P8'], 4],
  // ret is known on each return path of the inlined pick(): clang jumps from pick's lookup test
  // straight to cleared++ (the then-statement keeps its line, so that jump decides the row); from
  // its count test too, which the row cannot use (its other edge is still inside pick): P3 counts
  // through the lookup test, a STRICT packet with count 0 would not.
  ['strict_ret', true, ['P3'], 1],
  ['strict_ret', false, ['P4'], 1],
  ['fo_break', true, ['P5', 'P8'], 2], //    the loop unrolled: any copy's break
  ['fo_break', false, ['P5', 'P6'], 6], //   P5: prios 0 and 1; P6: all four
  ['lookup_if', true, ['L1', 'L3'], 2],
  ['lookup_if', false, ['L2', 'L4'], 2],
  ['and_if', true, ['L1', 'L4'], 2],
  ['and_if', false, ['L2', 'L3'], 2],
  ['ports_if', true, ['L2', 'L3'], 2],
  ['ports_if', false, ['L1', 'L4'], 2],
  // Two moves in the arm: clang jumps over them when the family is not FAMILY_V4.
  ['select_if', true, ['S1', 'S3'], 2],
  ['select_if', false, ['S2'], 1],
  ['rewrite_if', true, ['R1'], 1],
  ['rewrite_if', false, ['R2'], 1],
];
// clang -O2 emits no jump for these (checked in the object: the lines have no conditional jump):
// fo_none tests the loop counter, known on each exit of the unrolled loop.
const FOLDED: [string, RegExp][] = [['fo_none', /constant on each exit of the loop at line \d+/]];
// allowed() inlined twice into ports_if's condition: clang gives all four compares ports_if's
// line, so allowed_or has no jump of its own; the report says where they went.
const ELSEWHERE: [string, RegExp][] = [['allowed_or', /allowed\(\) has no line of its own.*rows_lookup/]];

describe('branch-table rows on ordinary C (cov_rows.c)', () => {
  let results: Map<string, RowResult>;
  let tests: TestRecord[];
  let layouts: CoverageRecorder['layouts'];
  const retvals: number[] = [];

  before(() => {
    const rec = new CoverageRecorder();
    const c = Collection.load(object(OBJ), { hook: rec.hook });
    try {
      for (const k of [0, 1, 2]) c.map('rows_map').update(Buffer.from([k, 0, 0, 0]), Buffer.from([100 + k, 0, 0, 0]));
      rec.flush({ title: 'setup' });
      for (const [prog, runs] of [['rows_policy', POLICY], ['rows_lookup', LOOKUP], ['rows_select', SELECT], ['rows_rewrite', REWRITE]] as const) {
        for (const [title, data] of runs) {
          retvals.push(c.program(prog).run({ data }).retval);
          rec.flush({ title });
        }
      }
    } finally {
      c.close();
    }
    const policy = ['pol_random', 'pol_strict', 'pol_failover', 'pick_zero', 'pick_miss', 'strict_ret', 'fo_break', 'fo_none'];
    const rows: BranchRow[] = [...TRUTH.map(([m, outcome]) => [m, outcome] as const), ...[...FOLDED, ...ELSEWHERE].map(([m]) => [m, true] as const)]
      .map(([m, outcome]) => ({ id: `${m}:${outcome}`, program: policy.includes(m) ? 'rows_policy' : m === 'select_if' ? 'rows_select' : m === 'rewrite_if' ? 'rows_rewrite' : 'rows_lookup', file: SRC, line: at(m), outcome }));
    tests = [...rec.tests.values()];
    layouts = rec.layouts;
    results = new Map(evaluateTable('rows', { rows }, { layouts, tests, root: ROOT }).map((r) => [r.id, r]));
  });

  it('runs the packets as the comments say (return values)', () => {
    expect(retvals).to.deep.equal([...POLICY, ...LOOKUP, ...SELECT, ...REWRITE].map(([, , r]) => r));
  });

  for (const [m, outcome, tests, hits, bound] of TRUTH) {
    it(`${m} ${outcome}: taken by ${tests.join(', ')}, ${hits} times${bound ? ' (at most)' : ''}`, () => {
      const r = results.get(`${m}:${outcome}`)!;
      const explain = `${r.status} ${r.note ?? ''} ${JSON.stringify(r.edges)}`;
      if (!bound) {
        expect({ status: r.status, tests: r.tests, hits: r.hits }, explain).to.deep.equal({ status: 'covered', tests, hits });
        return;
      }
      expect(r.status, explain).to.equal('covered');
      expect(tests, explain).to.include.members(r.tests);
      expect(r.hits, explain).to.be.within(1, hits);
    });
  }

  for (const [m, where] of ELSEWHERE) {
    it(`${m}: its jumps went to its caller's line, and the report says so`, () => {
      const r = results.get(`${m}:true`)!;
      expect(r.status).to.equal('not-found');
      expect(r.note).to.match(where);
    });
  }

  it("the check's net: a row its own tests (titled 'ID: ...') never took is suspect", () => {
    // Rows named after the packets: S2 is the FAMILY_V4 test's false side, so a row 'S2' on the
    // true side is what a wrong direction would look like; on its false side it is right.
    const row = (outcome: boolean): BranchRow => ({ id: 'S2', program: 'rows_select', file: SRC, line: at('select_if'), outcome });
    const titled = tests.map((t) => ({ ...t, title: `${t.title}: run` }));
    const [wrong, right] = evaluateTable('net', { rows: [row(true), row(false)] }, { layouts, tests: titled, root: ROOT });
    expect([ownTestsMissed(wrong, titled), ownTestsMissed(right, titled)]).to.deep.equal([true, false]);
  });

  for (const [m, why] of FOLDED) {
    it(`${m}: clang folded it away, and the report says why`, () => {
      const r = results.get(`${m}:true`)!;
      expect(r.status, r.note).to.equal('folded');
      expect(r.covered).to.equal(false);
      expect(r.note).to.match(why);
    });
  }
});
