// Mutation operators on a linked program's instructions (pure): each mutant changes one
// instruction of the program as it would be loaded, never the C source.
import { Class, cloneAll, Instruction, insnClass, isConditional, isPseudoCall, OP_CALL, OP_EXIT } from '../object/insn';
import { InputError } from '../errors';
import type { ProgramSpec } from '../object/object';

export type Operator = 'negate-jump' | 'boundary' | 'constant+1' | 'constant-1' | 'return-value' | 'drop-helper-call';

export interface Mutant {
  /** Stable name: object/program#index:operator. */
  id: string;
  object: string;
  program: string;
  /** Index into ProgramSpec.instructions. */
  index: number;
  operator: Operator;
  /** What changes, in words ("jge -> jlt", "r0 = 2 -> r0 = 0", "call 44 -> r0 = 0"). */
  change: string;
  /** The C line the instruction belongs to (its own line_info or the last one before it). */
  file?: string;
  line?: number;
  text?: string;
}

const JUMP_NAMES: Record<number, string> = {
  0x10: 'jeq', 0x20: 'jgt', 0x30: 'jge', 0x40: 'jset', 0x50: 'jne', 0x60: 'jsgt', 0x70: 'jsge',
  0xa0: 'jlt', 0xb0: 'jle', 0xc0: 'jslt', 0xd0: 'jsle',
};
/** The opposite condition: taken exactly when the original falls through. */
const NEGATED: Record<number, number> = {
  0x10: 0x50, 0x50: 0x10, 0x20: 0xb0, 0xb0: 0x20, 0x30: 0xa0, 0xa0: 0x30,
  0x60: 0xd0, 0xd0: 0x60, 0x70: 0xc0, 0xc0: 0x70,
};
/** Strict <-> non-strict: the same comparison with its boundary moved by one. */
const BOUNDARY: Record<number, number> = {
  0x20: 0x30, 0x30: 0x20, 0xa0: 0xb0, 0xb0: 0xa0, 0x60: 0x70, 0x70: 0x60, 0xc0: 0xd0, 0xd0: 0xc0,
};
const MOV_K = [Class.ALU64 | 0xb0, Class.ALU | 0xb0]; // r = imm (64 and 32 bit)
const BPF_X = 0x08;

function withOp(i: Instruction, op: number): Instruction {
  return { ...i, opcode: (i.opcode & 0x0f) | op };
}

/** The one-instruction changes each operator makes at `i` (empty when none applies). */
function changesAt(insns: Instruction[], k: number): { operator: Operator; change: string; make: (i: Instruction) => Instruction }[] {
  const i = insns[k];
  const out: { operator: Operator; change: string; make: (i: Instruction) => Instruction }[] = [];
  const op = i.opcode & 0xf0;
  if (isConditional(i) && JUMP_NAMES[op]) {
    const name = JUMP_NAMES[op];
    if (NEGATED[op] !== undefined) out.push({ operator: 'negate-jump', change: `${name} -> ${JUMP_NAMES[NEGATED[op]]}`, make: (x) => withOp(x, NEGATED[op]) });
    if (BOUNDARY[op] !== undefined) out.push({ operator: 'boundary', change: `${name} -> ${JUMP_NAMES[BOUNDARY[op]]}`, make: (x) => withOp(x, BOUNDARY[op]) });
    if ((i.opcode & BPF_X) === 0 && op !== 0x40) {
      out.push({ operator: 'constant+1', change: `${name} ${i.imm} -> ${i.imm + 1}`, make: (x) => ({ ...x, imm: (x.imm + 1) | 0 }) });
      out.push({ operator: 'constant-1', change: `${name} ${i.imm} -> ${i.imm - 1}`, make: (x) => ({ ...x, imm: (x.imm - 1) | 0 }) });
    }
  }
  const next = insns[k + 1];
  if (MOV_K.includes(i.opcode) && i.dst === 0 && next && insnClass(next) === Class.JMP && (next.opcode & 0xf0) === OP_EXIT) {
    const other = i.imm === 0 ? 1 : 0;
    out.push({ operator: 'return-value', change: `return ${i.imm} -> return ${other}`, make: (x) => ({ ...x, imm: other }) });
  }
  if (insnClass(i) === Class.JMP && op === OP_CALL && i.src === 0 && !isPseudoCall(i)) {
    // The helper does nothing and reports success (0): what a forgotten call would look like.
    out.push({ operator: 'drop-helper-call', change: `call helper ${i.imm} -> r0 = 0`, make: (x) => ({ opcode: Class.ALU64 | 0xb0, dst: 0, src: 0, off: 0, imm: 0, line: x.line, funcTypeId: x.funcTypeId }) });
  }
  return out;
}

/** Every mutant of a program whose instruction's C file passes `include`. */
export function mutantsOf(object: string, program: ProgramSpec, include: (file: string) => boolean = () => true): Mutant[] {
  const insns = program.instructions;
  const out: Mutant[] = [];
  let line: Instruction['line'];
  insns.forEach((i, k) => {
    if (i.funcTypeId !== undefined) line = undefined; // a new function: no line carried over
    if (i.line) line = i.line;
    if (!line || !include(line.file)) return;
    for (const c of changesAt(insns, k)) {
      out.push({
        id: `${object}/${program.name}#${k}:${c.operator}`, object, program: program.name, index: k, operator: c.operator, change: c.change,
        file: line.file, line: line.line, text: line.text.trim(),
      });
    }
  });
  return out;
}

/** A copy of the program with the mutant's change made. */
export function applyMutant(program: ProgramSpec, m: Mutant): ProgramSpec {
  const change = changesAt(program.instructions, m.index).find((c) => c.operator === m.operator);
  if (!change) throw new InputError(`mutant ${m.id} does not apply to program ${program.name}`);
  const insns = cloneAll(program.instructions);
  const mutated = change.make(insns[m.index]);
  // jumps elsewhere that target the replaced instruction must now target the replacement
  for (const i of insns) if (i.target === insns[m.index]) i.target = mutated;
  insns[m.index] = mutated;
  return { ...program, instructions: insns };
}
