// Control-flow graphs of a linked program: its functions (the entry function, then every
// subprogram it calls) and the basic blocks and edges of each. Pure: works on Instruction objects.
import { InputError } from '../errors';
import { Class, Instruction, insnClass, isConditional, isFuncRef, isJump, isPseudoCall, OP_CALL, OP_EXIT } from '../object/insn';

/** Helper number of bpf_tail_call: when it succeeds the program ends, so a block ends there. */
export const HELPER_TAIL_CALL = 12;

export type BlockEnd = 'cond' | 'jump' | 'exit' | 'fall';

export interface Block {
  /** Index of the block in its function. */
  index: number;
  /** First and one-past-last index into the program's instruction list. */
  start: number;
  end: number;
  kind: BlockEnd;
  /** Successor blocks: cond [taken, fallthrough]; jump [target]; fall [next]; exit []. */
  succ: number[];
  /** Incoming edges (one per predecessor edge; an entry block also counts its callers as one). */
  inEdges: number;
}

export interface FunctionCfg {
  /** Index of the function in the program: 0 is the entry function. */
  index: number;
  /** Index range [start, end) in the program's instruction list. */
  start: number;
  end: number;
  blocks: Block[];
  /** Block index of every instruction of the function, by program index minus start. */
  blockOf: number[];
}

export interface ProgramCfg {
  insns: Instruction[];
  functions: FunctionCfg[];
  /** Function index of each instruction. */
  functionOf: number[];
  /** Program index of each instruction. */
  indexOf: Map<Instruction, number>;
}

export function isExit(i: Instruction): boolean {
  return insnClass(i) === Class.JMP && (i.opcode & 0xf0) === OP_EXIT;
}

export function isCall(i: Instruction): boolean {
  return insnClass(i) === Class.JMP && (i.opcode & 0xf0) === OP_CALL;
}

export function isHelperCall(i: Instruction, helper: number): boolean {
  return isCall(i) && i.src === 0 && i.imm === helper;
}

/** Splits a linked program into functions and each function into basic blocks. */
export function buildCfg(insns: Instruction[], where = 'program'): ProgramCfg {
  if (insns.length === 0) throw new InputError(`${where} has no instructions`);
  const indexOf = new Map<Instruction, number>();
  insns.forEach((i, k) => indexOf.set(i, k));
  const target = (i: Instruction, k: number): number => {
    const t = i.target ? indexOf.get(i.target) : undefined;
    if (t === undefined) throw new InputError(`${where}: instruction ${k} jumps or calls outside the program`);
    return t;
  };

  const starts = new Set<number>([0]);
  insns.forEach((i, k) => {
    if (i.funcTypeId !== undefined) starts.add(k);
    if (isPseudoCall(i) || isFuncRef(i)) starts.add(target(i, k)); // callees and callbacks
  });
  const sorted = [...starts].sort((a, b) => a - b);
  const functionOf: number[] = new Array(insns.length);
  const functions: FunctionCfg[] = sorted.map((start, index) => {
    const end = sorted[index + 1] ?? insns.length;
    for (let k = start; k < end; k++) functionOf[k] = index;
    return { index, start, end, blocks: [], blockOf: [] };
  });

  for (const fn of functions) {
    const leaders = new Set<number>([fn.start]);
    for (let k = fn.start; k < fn.end; k++) {
      const i = insns[k];
      if (isJump(i)) {
        const t = target(i, k);
        if (t < fn.start || t >= fn.end) throw new InputError(`${where}: the jump at instruction ${k} leaves its function`);
        leaders.add(t);
        if (k + 1 < fn.end) leaders.add(k + 1);
      } else if (isExit(i) || isHelperCall(i, HELPER_TAIL_CALL)) {
        if (k + 1 < fn.end) leaders.add(k + 1);
      }
    }
    const ls = [...leaders].sort((a, b) => a - b);
    const blockAt = new Map<number, number>();
    ls.forEach((s, b) => blockAt.set(s, b));
    fn.blocks = ls.map((start, index) => ({ index, start, end: ls[index + 1] ?? fn.end, kind: 'fall' as BlockEnd, succ: [], inEdges: 0 }));
    for (const b of fn.blocks) {
      for (let k = b.start; k < b.end; k++) fn.blockOf[k - fn.start] = b.index;
      const lastIdx = b.end - 1;
      const last = insns[lastIdx];
      const next = (): number => {
        if (b.end >= fn.end) throw new InputError(`${where}: instruction ${lastIdx} falls off the end of its function`);
        return blockAt.get(b.end)!;
      };
      if (isConditional(last)) {
        b.kind = 'cond';
        b.succ = [blockAt.get(target(last, lastIdx))!, next()];
      } else if (isJump(last)) {
        b.kind = 'jump';
        b.succ = [blockAt.get(target(last, lastIdx))!];
      } else if (isExit(last)) {
        b.kind = 'exit';
      } else {
        b.kind = 'fall';
        b.succ = [next()];
      }
    }
    fn.blocks[0].inEdges = 1; // the caller
    for (const b of fn.blocks) for (const s of b.succ) fn.blocks[s].inEdges++;
  }
  return { insns, functions, functionOf, indexOf };
}
