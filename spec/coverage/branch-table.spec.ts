// Branch-table rows: the C statement finder, then rows on cov_shapes.c evaluated after tests with
// known inputs (the direction of each `if`, which tests took it, statuses for what cannot be told).
import { expect } from 'chai';
import { BranchRow, evaluateTable, RowResult } from '../../src/coverage';
import { callsIn, conditionalAt, functionsIn } from '../../src/coverage/c-source';
import { line, Loaded, loadShapes, packet, ROOT, SHAPES_SRC } from './helpers';

describe('branch tables', () => {
  describe('finding the C statement', () => {
    const src = [
      'static int f(int a, int b)', //  1
      '{', //                           2
      '\tif (a > 1 && /* } */ b) {', // 3
      '\t\tb = "}{";', //               4
      '\t} else if (b)', //             5
      '\t\treturn 2;', //               6
      '\telse', //                      7
      '\t\tb = 3;', //                  8
      '\tif (a ||', //                  9
      '\t    b) return 1;', //         10
      '\tfor (a = 0; a < b; a++)', //  11
      '\t\tb--;', //                   12
      '\treturn g(b);', //             13
      '}', //                          14
    ].join('\n');

    it('finds condition, then, else and the whole statement, past comments and strings', () => {
      const c = conditionalAt(src, 3)!;
      expect(c.keyword).to.equal('if');
      expect(c.head).to.deep.equal({ start: { line: 3, col: 2 }, end: { line: 3, col: 24 } });
      expect(c.then).to.deep.equal({ start: { line: 3, col: 26 }, end: { line: 5, col: 2 } });
      expect(c.else).to.deep.equal({ start: { line: 5, col: 9 }, end: { line: 8, col: 8 } });
      expect(c.stmt.end).to.deep.equal({ line: 8, col: 8 });
      expect(c.thenJumps).to.equal(false);
    });

    it('handles else-if, multi-line conditions, jumps out and loops', () => {
      const elif = conditionalAt(src, 5)!;
      expect(elif.then).to.deep.equal({ start: { line: 6, col: 3 }, end: { line: 6, col: 11 } });
      expect(elif.thenJumps).to.equal(true);
      const multi = conditionalAt(src, 9)!;
      expect(multi.head.end).to.deep.equal({ line: 10, col: 7 });
      expect(multi.then).to.deep.equal({ start: { line: 10, col: 9 }, end: { line: 10, col: 17 } });
      const loop = conditionalAt(src, 11)!;
      expect(loop.keyword).to.equal('for');
      expect(loop.then).to.deep.equal({ start: { line: 12, col: 3 }, end: { line: 12, col: 6 } });
      expect(conditionalAt(src, 13)).to.equal(undefined);
    });

    it('finds a case or default label: its section, the other sections, the switch', () => {
      const sw = [
        'int h(int a)', //                 1
        '{', //                            2
        '\tswitch (a) {', //               3
        '\tcase 1: { int x = a ? 1 : 2;', // 4
        '\t\tswitch (x) { case 2: break; }', // 5
        '\t\treturn x; }', //              6
        '\tcase 3:', //                    7
        '\tdefault:', //                   8
        '\t\ta++;', //                     9
        '\t}', //                          10
        '\treturn a;', //                  11
        '}', //                            12
      ].join('\n');
      const one = conditionalAt(sw, 4)!;
      expect(one.keyword).to.equal('case');
      expect(one.head).to.deep.equal({ start: { line: 3, col: 2 }, end: { line: 3, col: 11 } });
      expect(one.then).to.deep.equal({ start: { line: 4, col: 2 }, end: { line: 6, col: 13 } });
      expect(one.others).to.deep.equal([
        { start: { line: 7, col: 2 }, end: { line: 7, col: 8 } },
        { start: { line: 8, col: 2 }, end: { line: 9, col: 6 } },
      ]);
      expect(one.stmt.end).to.deep.equal({ line: 10, col: 2 });
      expect(one.thenJumps).to.equal(true);
      expect(conditionalAt(sw, 8)!.thenJumps).to.equal(false);
      expect(conditionalAt(sw, 5)!.head.start).to.deep.equal({ line: 5, col: 3 });
    });

    it('finds function definitions and calls', () => {
      expect(functionsIn(src)).to.deep.equal([{ name: 'f', line: 1, body: { start: { line: 2, col: 1 }, end: { line: 14, col: 1 } } }]);
      expect(callsIn(src, { start: { line: 13, col: 1 }, end: { line: 13, col: 20 } }, 'g')).to.equal(true);
      expect(callsIn(src, { start: { line: 3, col: 1 }, end: { line: 12, col: 6 } }, 'g')).to.equal(false);
    });
  });

  describe('rows on cov_shapes.c', () => {
    let results: Map<string, RowResult>;
    let t: Loaded;
    before(() => {
      t = loadShapes();
      const runs: [string, string, Buffer][] = [
        ['big', 'cov_ifelse', packet(200)], ['small', 'cov_ifelse', packet(5)],
        ['loop3', 'cov_loop', packet(3)], ['loop0', 'cov_loop', packet(0)],
        ['clamp', 'cov_call', packet(60, 10)],
        ['and', 'cov_compound', packet(5, 6)], ['or', 'cov_compound', packet(1, 9)],
        ['early0', 'cov_early', packet(0)], ['early3', 'cov_early', packet(3)], ['early4', 'cov_early', packet(4)],
        ['case2', 'cov_switch', packet(2)], ['case2again', 'cov_switch', packet(2)], ['case7', 'cov_switch', packet(7)],
        ['default', 'cov_switch', packet(9)],
        ['nested_then', 'cov_nested', packet(90)], ['nested_else', 'cov_nested', packet(9)], ['nested_else2', 'cov_nested', packet(10)],
      ];
      t.rec.flush({ title: 'setup' });
      for (const [title, program, data] of runs) {
        t.run(program, data);
        t.rec.flush({ title });
      }
      const row = (id: string, program: string, at: string, outcome: boolean, file = SHAPES_SRC): BranchRow => ({ id, program, file, line: line(at), outcome });
      const rows: BranchRow[] = [
        row('IF_T', 'cov_ifelse', 'ifelse_if', true), row('IF_F', 'cov_ifelse', 'ifelse_if', false),
        row('GUARD_T', 'cov_ifelse', 'ifelse_guard', true), row('GUARD_F', 'cov_ifelse', 'ifelse_guard', false),
        row('LOOP_T', 'cov_loop', 'loop_for', true), row('LOOP_F', 'cov_loop', 'loop_for', false),
        row('CLAMP_T', 'cov_call', 'clamp_if', true), row('CLAMP_F', 'cov_call', 'clamp_if', false),
        row('AND_T', 'cov_compound', 'and_if', true), row('AND_F', 'cov_compound', 'and_if', false),
        row('OR_T', 'cov_compound', 'or_if', true), row('OR_F', 'cov_compound', 'or_if', false),
        row('EARLY_T', 'cov_early', 'early_if', true), row('EARLY_F', 'cov_early', 'early_if', false),
        row('INLINE_T', 'cov_early', 'inline_if', true), row('INLINE_F', 'cov_early', 'inline_if', false),
        row('SWITCH', 'cov_switch', 'switch', true),
        row('CASE1', 'cov_switch', 'label1', true), row('CASE2', 'cov_switch', 'label2', true),
        row('NOT_CASE2', 'cov_switch', 'label2', false), row('CASE7', 'cov_switch', 'label7', true),
        row('DEFAULT', 'cov_switch', 'label_default', true),
        row('NESTED_T', 'cov_nested', 'nested_if', true), row('NESTED_F', 'cov_nested', 'nested_if', false),
        row('ALIAS', 'sendmsg_like', 'clamp_if', true),
        { id: 'GONE', program: 'x', file: 'bpf/not_loaded.c', line: 3, outcome: true },
      ];
      results = new Map(evaluateTable('shapes', { rows, harness: { entries: { sendmsg_like: 'cov_call' } } }, { layouts: t.rec.layouts, tests: [...t.rec.tests.values()], root: ROOT })
        .map((r) => [r.id, r]));
    });
    after(() => t?.close());

    const expectRow = (id: string, status: string, tests: string[], hits: number) => {
      const r = results.get(id)!;
      expect({ id, status: r.status, covered: r.covered, tests: r.tests, hits: r.hits }, JSON.stringify(r.edges) + ' ' + r.note)
        .to.deep.equal({ id, status, covered: status === 'covered', tests, hits });
    };

    it('an if/else whose test clang inverted: outcome true is the then-arm', () => {
      expectRow('IF_T', 'covered', ['big'], 1);
      expectRow('IF_F', 'covered', ['small'], 1);
      expect(results.get('IF_T')!.note).to.equal(undefined);
    });

    it('a side no test took is uncovered; a merged early return is inferred and noted', () => {
      expectRow('GUARD_T', 'uncovered', [], 0);
      expectRow('GUARD_F', 'covered', ['big', 'small'], 2);
      expect(results.get('GUARD_T')!.note).to.match(/inferred/);
    });

    it('a loop condition: true per iteration, false once per exit', () => {
      expectRow('LOOP_T', 'covered', ['loop3'], 3);
      expectRow('LOOP_F', 'covered', ['loop3', 'loop0'], 2);
    });

    it('a branch in a subprogram, counted for the program that calls it', () => {
      expectRow('CLAMP_T', 'covered', ['clamp'], 1);
      expectRow('CLAMP_F', 'covered', ['clamp'], 1);
      expect(results.get('CLAMP_T')!.programs).to.deep.equal(['cov_call']);
    });

    it('compound conditions: several jumps, one outcome', () => {
      expectRow('AND_T', 'covered', ['and'], 1);
      expectRow('AND_F', 'covered', ['or'], 1);
      expectRow('OR_T', 'covered', ['or'], 1);
      expectRow('OR_F', 'covered', ['and'], 1);
    });

    it('then-code without lines of its own: a shared return, an inlined call', () => {
      expectRow('EARLY_T', 'covered', ['early0'], 1);
      expectRow('EARLY_F', 'covered', ['early3', 'early4'], 2);
      expectRow('INLINE_T', 'covered', ['early3'], 1);
      expectRow('INLINE_F', 'covered', ['early4'], 1);
    });

    it('a case or default label: true when the switch chose its section', () => {
      expectRow('CASE1', 'uncovered', [], 0);
      expectRow('CASE2', 'covered', ['case2', 'case2again'], 2);
      expectRow('NOT_CASE2', 'covered', ['case7', 'default'], 2);
      expectRow('CASE7', 'covered', ['case7'], 1);
      expectRow('DEFAULT', 'covered', ['default'], 1);
      for (const id of ['CASE1', 'CASE2', 'CASE7', 'DEFAULT']) expect(results.get(id)!.note, id).to.equal(undefined);
    });

    it('code of a function called in both arms (once through another function) decides neither', () => {
      expectRow('NESTED_T', 'covered', ['nested_then'], 1);
      expectRow('NESTED_F', 'covered', ['nested_else', 'nested_else2'], 2);
      const to = results.get('NESTED_F')!.edges.filter((e) => e.side === 'false').map((e) => e.to.replace(/:\d+$/, ''));
      expect(to).to.deep.equal([`${SHAPES_SRC}:${line('tock_body')}`]);
    });

    it('says what it cannot tell instead of guessing', () => {
      expectRow('SWITCH', 'ambiguous', [], 0);
      expect(results.get('SWITCH')!.note).to.match(/no if\/while\/for or case\/default label starts/);
      expectRow('GONE', 'not-found', [], 0);
      expect(results.get('GONE')!.note).to.match(/in no program loaded under coverage/);
    });

    it('maps a program to its harness entry (harness.entries)', () => {
      expectRow('ALIAS', 'covered', ['clamp'], 1);
      expect(results.get('ALIAS')!.note ?? '').to.not.match(/no program named/);
    });

    it('lists where each edge leads, for checking a direction by hand', () => {
      const edges = results.get('IF_T')!.edges.map((e) => [e.side, e.to.replace(/:\d+$/, ''), e.count]);
      expect(edges).to.have.deep.members([
        ['true', `${SHAPES_SRC}:${line('ifelse_then')}`, 1],
        ['false', `${SHAPES_SRC}:${line('ifelse_else')}`, 1],
      ]);
    });
  });
});
