// What instrumentation records about a program so that counters can be turned back into blocks,
// edges and C source lines. Plain JSON: saved with the counts, read back by the report command.
import type { BlockEnd } from './cfg';

/** A source position: [index into ProgramLayout.files, line, column]. */
export type Position = [file: number, line: number, column: number];

export interface BranchLayout {
  /** Position of the conditional jump (its own line_info, or the one it inherits). */
  at: Position;
  /** Counter of the taken edge and of the fall-through (not taken) edge. An edge into a block that
   * has no other way in shares that block's counter. */
  taken: number;
  notTaken: number;
  /** The jump has no line_info record of its own: `at` is the record of an instruction before it,
   * which may belong to an earlier statement (when clang reuses a value computed there). */
  inherited?: true;
  /** What the jump compares, when it compares a register with a constant (compare trees). */
  test?: BranchTest;
}

/** A conditional jump `if reg <op> imm goto`: what if/else-if chains on one value are read from. */
export interface BranchTest {
  /** The jump operation (opcode & 0xf0: 0x10 JEQ, 0x50 JNE, ...). */
  op: number;
  reg: number;
  imm: number;
  jmp32: boolean;
  /** The block writes the register before the jump. */
  local: boolean;
  /** How the register got its value, followed back through blocks with a single way in:
   * 'read' loaded from memory (or assembled from loaded bytes with shifts and ors, or copied),
   * 'computed' other arithmetic (e.g. the offset of a range check), 'unknown' where paths join. */
  origin: 'read' | 'computed' | 'unknown';
}

export interface BlockLayout {
  counter: number;
  /** Distinct [file, line] of its instructions: a line_info record applies to the instruction it
   * names and to the instructions after it, up to the next record. */
  lines: [number, number][];
  /** The line_info records of its own instructions, in instruction order. */
  own: Position[];
  kind: BlockEnd;
  /** Successor blocks: cond [taken, fallthrough]; jump [target]; fall [next]; exit []. */
  succ: number[];
  branch?: BranchLayout;
}

export interface FunctionLayout {
  /** BTF name of the function (the program name for the entry function without BTF). */
  name: string;
  /** Position of its first instruction. */
  at?: Position;
  /** Block 0 is the entry. */
  blocks: BlockLayout[];
}

export interface ProgramLayout {
  /** The object's name (file name) and the program's. */
  object: string;
  program: string;
  /** Counters the program uses (u64 each), numbered from 0. */
  counters: number;
  /** Source files as the compiler recorded them in line_info. */
  files: string[];
  functions: FunctionLayout[];
  /** 8-byte instruction slots before and after instrumentation. */
  slots: { before: number; after: number };
  /** Counters that had to spill registers to the stack (no two dead registers where they sit). */
  spills: number;
}
