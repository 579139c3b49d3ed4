// Register dataflow over each function's CFG, as bit masks (bit k = register rk):
// - maybe-defined (forward, union): rk was written on at least one path to the instruction;
// - must-defined (forward, intersection): rk was written on every path (only these may be spilled:
//   reading an uninitialized register is a verifier error);
// - live (backward): rk may be read before being written again (only dead registers may be
//   clobbered). A call reads r1-r5 (conservatively, whatever the helper's arity), but only those
//   that some path defines: a register that no path defines cannot be an argument of a program
//   the verifier accepted. Calls clobber r1-r5 and write r0; exit reads r0.
import {
  ALU_END, ALU_MOV, ALU_NEG, BPF_FETCH, BPF_X, Class, Instruction, insnClass, LD_IMM64, MODE_ABS, MODE_ATOMIC, MODE_IND, OP_CALL,
  OP_EXIT, OP_JA, OP_JCOND,
} from '../object/insn';
import type { FunctionCfg, ProgramCfg } from './cfg';

export const R0 = 1 << 0;
export const R6 = 1 << 6;
export const R10 = 1 << 10;
/** r1-r5: arguments, clobbered by calls. */
export const ARGS = 0b111110;
/** r0-r9: the registers instrumentation may use (r10 is the read-only frame pointer). */
export const GENERAL = 0x3ff;

const BPF_CMPXCHG = 0xf0 | BPF_FETCH;
const BPF_LOAD_ACQ = 0x100;
const BPF_STORE_REL = 0x110;

export interface Effects {
  use: number;
  def: number;
  /** Registers left uninitialized afterwards (r1-r5 after a call). */
  clobber: number;
  /** A call: its use is refined by the maybe-defined set. */
  call: boolean;
}

const bit = (r: number) => 1 << r;

export function effects(i: Instruction): Effects {
  const e: Effects = { use: 0, def: 0, clobber: 0, call: false };
  const dst = bit(i.dst);
  const src = bit(i.src);
  switch (insnClass(i)) {
    case Class.ALU:
    case Class.ALU64: {
      const op = i.opcode & 0xf0;
      // For NEG and END the 0x08 bit is not "source register" (END: to big-endian).
      const x = (i.opcode & BPF_X) !== 0 && op !== ALU_NEG && op !== ALU_END;
      if (op === ALU_MOV) e.use = x ? src : 0;
      else e.use = dst | (x ? src : 0);
      e.def = dst;
      break;
    }
    case Class.LDX:
      e.use = src;
      e.def = dst;
      break;
    case Class.ST:
      e.use = dst;
      break;
    case Class.STX: {
      e.use = dst | src;
      if ((i.opcode & 0xe0) === MODE_ATOMIC) {
        if (i.imm === BPF_CMPXCHG) {
          e.use |= R0;
          e.def = R0;
        } else if (i.imm === BPF_LOAD_ACQ) {
          e.use = src;
          e.def = dst;
        } else if (i.imm === BPF_STORE_REL) {
          // plain store
        } else if (i.imm & BPF_FETCH) {
          e.def = src;
        }
      }
      break;
    }
    case Class.LD:
      if (i.opcode === LD_IMM64) {
        e.def = dst;
      } else if ((i.opcode & 0xe0) === MODE_ABS || (i.opcode & 0xe0) === MODE_IND) {
        // Legacy packet loads: read the skb from r6, write r0, clobber r1-r5.
        e.use = R6 | ((i.opcode & 0xe0) === MODE_IND ? src : 0);
        e.def = R0;
        e.clobber = ARGS;
      }
      break;
    case Class.JMP:
    case Class.JMP32: {
      const op = i.opcode & 0xf0;
      if (op === OP_JA || op === OP_JCOND) break;
      if (op === OP_CALL) {
        e.use = ARGS;
        e.def = R0;
        e.clobber = ARGS;
        e.call = true;
      } else if (op === OP_EXIT) {
        e.use = R0;
      } else {
        e.use = dst | ((i.opcode & BPF_X) !== 0 ? src : 0);
      }
      break;
    }
  }
  return e;
}

export interface RegisterInfo {
  /** Per instruction (program index): registers live before it. */
  liveIn: Uint16Array;
  /** Per instruction: registers initialized before it on every path. */
  mustIn: Uint16Array;
  /** Per instruction: registers initialized before it on some path. */
  maybeIn: Uint16Array;
}

/** Registers holding a value when a function starts: main programs get the context in r1;
 * subprograms get their arguments (`args` of them when BTF says, else none for sure). */
export interface EntryState {
  must: number;
  maybe: number;
}

export function entryState(fn: FunctionCfg, args: number | undefined): EntryState {
  if (fn.index === 0) return { must: bit(1) | R10, maybe: bit(1) | R10 };
  let must = R10;
  for (let r = 1; r <= Math.min(args ?? 0, 5); r++) must |= bit(r);
  return { must, maybe: ARGS | R10 };
}

export function analyzeRegisters(cfg: ProgramCfg, entry: (fn: FunctionCfg) => EntryState): RegisterInfo {
  const n = cfg.insns.length;
  const info: RegisterInfo = { liveIn: new Uint16Array(n), mustIn: new Uint16Array(n), maybeIn: new Uint16Array(n) };
  const fx = cfg.insns.map(effects);
  for (const fn of cfg.functions) {
    forward(fn, fx, entry(fn), info);
    backward(fn, fx, info);
  }
  return info;
}

function predecessors(fn: FunctionCfg): number[][] {
  const preds: number[][] = fn.blocks.map(() => []);
  for (const b of fn.blocks) for (const s of b.succ) preds[s].push(b.index);
  return preds;
}

function forward(fn: FunctionCfg, fx: Effects[], start: EntryState, info: RegisterInfo): void {
  const preds = predecessors(fn);
  const nb = fn.blocks.length;
  const mustOut = new Array<number>(nb).fill(0xffff);
  const maybeOut = new Array<number>(nb).fill(0);
  const reached = new Array<boolean>(nb).fill(false);
  let changed = true;
  while (changed) {
    changed = false;
    for (const b of fn.blocks) {
      let must = b.index === 0 ? start.must : 0xffff;
      let maybe = b.index === 0 ? start.maybe : 0;
      let any = b.index === 0;
      for (const p of preds[b.index]) {
        if (!reached[p]) continue;
        any = true;
        must &= mustOut[p];
        maybe |= maybeOut[p];
      }
      if (!any) continue;
      for (let k = b.start; k < b.end; k++) {
        info.mustIn[k] = must;
        info.maybeIn[k] = maybe;
        const e = fx[k];
        must = (must & ~e.clobber) | e.def;
        maybe = (maybe & ~e.clobber) | e.def;
      }
      if (!reached[b.index] || must !== mustOut[b.index] || maybe !== maybeOut[b.index]) {
        reached[b.index] = true;
        mustOut[b.index] = must;
        maybeOut[b.index] = maybe;
        changed = true;
      }
    }
  }
}

function backward(fn: FunctionCfg, fx: Effects[], info: RegisterInfo): void {
  const nb = fn.blocks.length;
  const liveInBlock = new Array<number>(nb).fill(0);
  let changed = true;
  while (changed) {
    changed = false;
    for (let bi = nb - 1; bi >= 0; bi--) {
      const b = fn.blocks[bi];
      let live = 0;
      for (const s of b.succ) live |= liveInBlock[s];
      for (let k = b.end - 1; k >= b.start; k--) {
        const e = fx[k];
        const use = e.call ? e.use & info.maybeIn[k] : e.use;
        live = use | (live & ~(e.def | e.clobber));
        info.liveIn[k] = live;
      }
      if (live !== liveInBlock[bi]) {
        liveInBlock[bi] = live;
        changed = true;
      }
    }
  }
}
