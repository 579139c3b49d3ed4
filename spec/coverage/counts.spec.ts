// Exact counts per C line and per branch edge on programs of known shapes (spec/fixtures/cov_shapes.c),
// run instrumented with chosen packets, and the same results as the plain programs.
import { expect } from 'chai';
import { edgePairs, line, Loaded, loadShapes, packet } from './helpers';

describe('coverage counts (cov_shapes.c)', () => {
  let t: Loaded;
  before(() => {
    t = loadShapes();
  });
  after(() => t?.close());

  /** Runs every packet, checks instrumented == plain, returns the coverage of these runs. */
  const runAll = (title: string, program: string, inputs: Buffer[], expected?: number[]) => {
    t.rec.flush({ title: 'before' });
    const got = inputs.map((data) => t.run(program, data));
    for (const g of got) expect(g.cov, `${program} instrumented vs plain`).to.equal(g.plain);
    if (expected) expect(got.map((g) => g.cov)).to.deep.equal(expected);
    return t.coverage(title);
  };

  it('a straight line: one block, every line counted once per run', () => {
    const f = runAll('straight', 'cov_straight', [packet(), packet(), packet()], [29, 29, 29]);
    expect(f.lines.get(line('straight_len'))).to.equal(3);
    expect(f.lines.get(line('straight_ret'))).to.equal(3);
    expect(f.functions.find((fn) => fn.name === 'cov_straight')?.hits).to.equal(3);
    expect(f.branches.filter((b) => b.taken + b.notTaken > 0)).to.deep.equal([]);
  });

  it('if/else: each arm counted, both edges of the condition and of the guard', () => {
    const f = runAll('ifelse', 'cov_ifelse', [packet(200), packet(150), packet(101), packet(5)], [1, 1, 1, 2]);
    expect(f.lines.get(line('ifelse_guard'))).to.equal(4);
    expect(f.lines.get(line('ifelse_if'))).to.equal(4);
    expect(f.lines.get(line('ifelse_then'))).to.equal(3);
    expect(f.lines.get(line('ifelse_else'))).to.equal(1);
    // clang inverts the test (`if 101 > r1 goto else`): the pair, not the order, is the invariant.
    expect(edgePairs(f, line('ifelse_if'))).to.deep.equal([[1, 3]]);
    // The guard's taken edge goes to the exit block, which three other edges also reach: its own
    // counter (a trampoline) must stay 0.
    expect(edgePairs(f, line('ifelse_guard'))).to.deep.equal([[0, 4]]);
  });

  it('a loop with a known trip count: body and back edge counted per iteration', () => {
    const f = runAll('loop', 'cov_loop', [packet(3), packet(0), packet(5)], [3, 0, 5]);
    expect(f.lines.get(line('loop_body'))).to.equal(8);
    // The `for` line spans the entry test and the latch: its count is the most-run block's (8).
    expect(f.lines.get(line('loop_for'))).to.equal(8);
    // Entry test: skipped once (n = 0), entered twice; latch: back 8 - 2 = 6 times, out twice.
    expect(edgePairs(f, line('loop_for'))).to.deep.equal([[1, 2], [2, 6]]);
  });

  it('a switch: one count per case, one jump per compared value', () => {
    const f = runAll('switch', 'cov_switch', [1, 2, 2, 7, 9, 9, 9].map((b) => packet(b)), [1, 2, 2, 7, 9, 9, 9]);
    expect(f.lines.get(line('switch'))).to.equal(7);
    expect(f.lines.get(line('case1'))).to.equal(1);
    expect(f.lines.get(line('case2'))).to.equal(2);
    expect(f.lines.get(line('case7'))).to.equal(1);
    expect(f.lines.get(line('default'))).to.equal(3);
    // == 7 (1 of 7), == 2 (2 of the other 6), != 1 (3 defaults of the last 4).
    expect(edgePairs(f, line('switch'))).to.deep.equal([[1, 3], [1, 6], [2, 4]]);
  });

  it('a BPF-to-BPF call: the subprogram counted per call, with its own branch', () => {
    const f = runAll('call', 'cov_call', [packet(60, 10), packet(5, 70), packet(51, 50)], [60, 55, 100]);
    expect(f.functions.find((fn) => fn.name === 'clamp')?.hits).to.equal(6);
    expect(f.functions.find((fn) => fn.name === 'cov_call')?.hits).to.equal(3);
    expect(f.lines.get(line('clamp_if'))).to.equal(6);
    expect(f.lines.get(line('clamp_then'))).to.equal(3);
    expect(f.lines.get(line('call_ret'))).to.equal(3);
    expect(edgePairs(f, line('clamp_if'))).to.deep.equal([[3, 3]]);
  });

  it('compound conditions: one jump per operand on the line', () => {
    const f = runAll('compound', 'cov_compound', [packet(5, 6), packet(5, 7), packet(9, 1), packet(1, 9), packet(2, 2)], [3, 3, 3, 3, 3]);
    expect(f.lines.get(line('and_then'))).to.equal(1);
    expect(f.lines.get(line('or_then'))).to.equal(2);
    // a == 5 (2 of 5), then b == 6 (1 of 2). clang threads (5,7) past `a == 9` (a is 5 there):
    // a == 9 runs 4 times (1 taken), then b == 9 runs for the 3 others and (5,7) (1 of 4).
    expect(edgePairs(f, line('and_if'))).to.deep.equal([[1, 1], [2, 3]]);
    expect(edgePairs(f, line('or_if'))).to.deep.equal([[1, 3], [1, 3]]);
  });

  it('an inlined function counts on its own lines', () => {
    const f = runAll('early', 'cov_early', [packet(0), packet(3), packet(4), packet(3)], [7, 3, 4, 3]);
    expect(f.lines.get(line('bump_body'))).to.equal(2);
    expect(f.lines.get(line('early_rest'))).to.equal(3);
    // a function record although BTF has no function left: counted by its first line of code
    expect(f.functions.find((fn) => fn.name === 'bump')).to.deep.equal({ name: 'bump', line: line('bump_decl'), hits: 2 });
  });

  it('counts go to the title they are flushed under, and the map is zeroed', () => {
    t.rec.flush({ title: 'drain' });
    t.run('cov_straight', packet());
    t.rec.flush({ title: 'first' });
    t.run('cov_straight', packet());
    t.run('cov_straight', packet());
    t.rec.flush({ title: 'second' });
    const sum = (title: string) => [...t.rec.tests.get(title)!.counts.values()].flatMap((m) => [...m.values()]).reduce((a, b) => a + b, 0);
    expect(sum('first')).to.equal(1); // one block
    expect(sum('second')).to.equal(2);
    t.rec.flush({ title: 'empty' });
    expect(t.rec.tests.has('empty')).to.equal(false);
  });

  it('a repeated run counts every repetition', () => {
    t.rec.flush({ title: 'drain2' });
    t.cov.program('cov_loop').run({ data: packet(2), repeat: 10 });
    const f = t.coverage('repeat');
    expect(f.lines.get(line('loop_body'))).to.equal(20);
  });
});
