// Mutation operators on spec/fixtures/mutate_shapes.c: which mutants each instruction gets, and
// (through the kernel) that each mutant changes what the program does as its name says.
import { expect } from 'chai';
import { Collection } from '../../src/kernel/collection';
import { ObjectSpec } from '../../src/object/object';
import { applyMutant, Mutant, mutantsOf } from '../../src/mutate/operators';
import { InputError } from '../../src/errors';

const spec = ObjectSpec.fromFile('build/fixtures/mutate_shapes.o');
const XDP_DROP = 1;
const XDP_PASS = 2;

function run(m: Mutant | undefined, program: string, length: number): { retval: number; seen: number } {
  const p = spec.program(program);
  const coll = Collection.load(spec, { programs: [program], hook: { prepare: (_s, ps) => ({ maps: [], programs: ps.map((x) => (m ? applyMutant(p, m) : x)) }) } });
  try {
    const retval = coll.program(program).run({ data: Buffer.alloc(length) }).retval;
    return { retval, seen: coll.readGlobal('seen').readUInt32LE(0) };
  } finally {
    coll.close();
  }
}

describe('mutation operators', () => {
  const long = mutantsOf('mutate_shapes.o', spec.program('long_packets'));
  const clock = mutantsOf('mutate_shapes.o', spec.program('clock_running'));
  const byOp = (list: Mutant[], op: string) => list.find((m) => m.operator === op)!;

  it('a comparison with a constant: negated, boundary moved, constant +-1; a constant return replaced', () => {
    // Lines are line_info's: clang -O2 files the jump and `r0 = 2` under the closing brace
    // (line 16), having hoisted `r0 = XDP_DROP` above the comparison.
    expect(long.map((m) => [m.operator, m.change, m.line, m.text])).to.deep.equal([
      ['negate-jump', 'jgt -> jle', 16, '}'],
      ['boundary', 'jgt -> jge', 16, '}'],
      ['constant+1', 'jgt 100 -> 101', 16, '}'],
      ['constant-1', 'jgt 100 -> 99', 16, '}'],
      ['return-value', 'return 2 -> return 0', 16, '}'],
    ]);
    expect(long[0].id).to.match(/^mutate_shapes\.o\/long_packets#\d+:negate-jump$/);
    expect(long[0].file).to.match(/spec\/fixtures\/mutate_shapes\.c$/);
  });

  it('a helper call is dropped (r0 = 0); jeq has no boundary mutant', () => {
    expect(clock.map((m) => m.operator)).to.deep.equal(['drop-helper-call', 'negate-jump', 'constant+1', 'constant-1', 'return-value']);
    expect(byOp(clock, 'drop-helper-call').change).to.equal('call helper 5 -> r0 = 0');
  });

  it('each mutant changes one instruction and leaves the program it came from alone', () => {
    const p = spec.program('long_packets');
    const before = JSON.stringify(p.instructions.map((i) => [i.opcode, i.imm]));
    for (const m of long) {
      const mutated = applyMutant(p, m).instructions;
      const diff = mutated.filter((i, k) => i.opcode !== p.instructions[k].opcode || i.imm !== p.instructions[k].imm);
      expect(diff, m.id).to.have.length(1);
    }
    expect(JSON.stringify(p.instructions.map((i) => [i.opcode, i.imm]))).to.equal(before);
  });

  it('in the kernel: each mutant of `if (len > 100) return XDP_DROP` answers differently at the length its change moves', () => {
    // original: DROP above 100 bytes, PASS up to 100
    expect([64, 100, 101].map((n) => run(undefined, 'long_packets', n).retval)).to.deep.equal([XDP_PASS, XDP_PASS, XDP_DROP]);
    expect(run(byOp(long, 'negate-jump'), 'long_packets', 64).retval).to.equal(XDP_DROP);
    expect(run(byOp(long, 'boundary'), 'long_packets', 100).retval).to.equal(XDP_DROP);
    expect(run(byOp(long, 'constant+1'), 'long_packets', 101).retval).to.equal(XDP_PASS);
    expect(run(byOp(long, 'constant-1'), 'long_packets', 100).retval).to.equal(XDP_DROP);
    expect(run(byOp(long, 'return-value'), 'long_packets', 64).retval).to.equal(0);
  });

  it('in the kernel: a dropped bpf_ktime_get_ns reads as 0', () => {
    expect(run(undefined, 'clock_running', 64).seen).to.equal(7);
    expect(run(byOp(clock, 'drop-helper-call'), 'clock_running', 64).seen).to.equal(3);
  });

  it('a mutant applied to another program is an InputError', () => {
    expect(() => applyMutant(spec.program('clock_running'), { ...long[1], index: 0 })).to.throw(InputError, 'does not apply');
  });
});
