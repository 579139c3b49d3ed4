// How deep each function uses its stack frame, so that instrumentation can spill registers to
// slots below anything the function touches. A forward abstract interpretation per function tracks
// pointers derived from r10 (and, in subprograms, from each argument register) as offset ranges,
// through register moves, constant adds and 8-byte stack spills; the depth is the lowest offset
// reached by a memory access, or handed to a helper (helpers access memory above the pointer), or
// handed to a subprogram (plus the lowest offset that subprogram reaches below its argument, from
// the subprogram's own summary: BPF has no recursion, so callees are summarised first).
// Anything it cannot bound (a pointer plus an unknown scalar, a pointer stored at an unknown stack
// offset) makes the depth unknown (-Infinity): such a function gets no spill slots.
import {
  ALU_ADD, ALU_MOV, ALU_SUB, BPF_X, Class, Instruction, insnClass, isPseudoCall, LD_IMM64, MODE_ATOMIC, MODE_MEM, OP_CALL, OP_EXIT,
  SIZE_DW,
} from '../object/insn';
import type { FunctionCfg, ProgramCfg } from './cfg';

/** A range of offsets from a base (r10, or an argument's value at function entry). */
interface Range { lo: number; hi: number }

interface Value {
  /** Offsets from this function's r10. */
  fp?: Range;
  /** Offsets from the value of argument register k (1-5) at entry; subprograms only. */
  args?: (Range | undefined)[];
  /** A known constant (for `rX = K; rX += r10`). */
  c?: number;
}

interface State {
  regs: Value[];
  /** 8-byte stack slots (by fp offset) holding pointers. */
  slots: Map<number, Value>;
}

export interface StackSummary {
  /** Lowest fp offset the function touches (<= 0), -Infinity when unknown. */
  depth: number;
  /** Per argument register 1-5: lowest offset below the argument's value the function (and its
   * callees) touch; Infinity when it never dereferences it, -Infinity when unknown. */
  argMin: number[];
  /** The function may return a pointer derived from an argument. */
  returnsArg: boolean;
}

const WIDEN_AFTER = 32;

const isPointer = (v: Value) => v.fp !== undefined || (v.args?.some((a) => a) ?? false);

function shift(v: Value, by: number): Value {
  const out: Value = {};
  if (v.fp) out.fp = { lo: v.fp.lo + by, hi: v.fp.hi + by };
  if (v.args) out.args = v.args.map((a) => (a ? { lo: a.lo + by, hi: a.hi + by } : undefined));
  if (v.c !== undefined) out.c = v.c + by;
  return out;
}

function unbounded(v: Value): Value {
  const out: Value = {};
  if (v.fp) out.fp = { lo: -Infinity, hi: Infinity };
  if (v.args) out.args = v.args.map((a) => (a ? { lo: -Infinity, hi: Infinity } : undefined));
  return out;
}

function joinRange(a: Range | undefined, b: Range | undefined): Range | undefined {
  if (!a) return b;
  if (!b) return a;
  return { lo: Math.min(a.lo, b.lo), hi: Math.max(a.hi, b.hi) };
}

function joinValue(a: Value, b: Value): Value {
  const out: Value = {};
  const fp = joinRange(a.fp, b.fp);
  if (fp) out.fp = fp;
  if (a.args || b.args) out.args = [0, 1, 2, 3, 4, 5].map((k) => joinRange(a.args?.[k], b.args?.[k]));
  if (a.c !== undefined && a.c === b.c) out.c = a.c;
  return out;
}

function sameRange(a: Range | undefined, b: Range | undefined): boolean {
  return a === b || (!!a && !!b && a.lo === b.lo && a.hi === b.hi);
}

function sameValue(a: Value, b: Value): boolean {
  if (!sameRange(a.fp, b.fp) || a.c !== b.c) return false;
  for (let k = 0; k < 6; k++) if (!sameRange(a.args?.[k], b.args?.[k])) return false;
  return true;
}

/** Widening: a bound still moving after many visits goes to infinity. */
function widen(prev: Value, next: Value): Value {
  const w = (p: Range | undefined, n: Range | undefined) =>
    n && p ? { lo: n.lo < p.lo ? -Infinity : n.lo, hi: n.hi > p.hi ? Infinity : n.hi } : n;
  const out: Value = {};
  if (next.fp) out.fp = w(prev.fp, next.fp);
  if (next.args) out.args = next.args.map((a, k) => w(prev.args?.[k], a));
  if (next.c !== undefined && next.c === prev.c) out.c = next.c;
  return out;
}

function joinState(a: State | undefined, b: State): State {
  if (!a) return { regs: b.regs.slice(), slots: new Map(b.slots) };
  const slots = new Map(a.slots);
  for (const [off, v] of b.slots) slots.set(off, slots.has(off) ? joinValue(slots.get(off)!, v) : v);
  return { regs: a.regs.map((v, r) => joinValue(v, b.regs[r])), slots };
}

function sameState(a: State, b: State): boolean {
  if (a.slots.size !== b.slots.size) return false;
  for (const [off, v] of a.slots) {
    const w = b.slots.get(off);
    if (!w || !sameValue(v, w)) return false;
  }
  return a.regs.every((v, r) => sameValue(v, b.regs[r]));
}

/** Summaries for every function of the program (index = function index). */
export function stackSummaries(cfg: ProgramCfg): StackSummary[] {
  const out: (StackSummary | undefined)[] = new Array(cfg.functions.length);
  const visiting = new Set<number>();
  const summarise = (fi: number): StackSummary => {
    const done = out[fi];
    if (done) return done;
    if (visiting.has(fi)) return { depth: -Infinity, argMin: new Array(6).fill(-Infinity), returnsArg: true }; // recursion: give up
    visiting.add(fi);
    const s = analyse(cfg, cfg.functions[fi], summarise);
    visiting.delete(fi);
    out[fi] = s;
    return s;
  };
  return cfg.functions.map((_, fi) => summarise(fi));
}

function analyse(cfg: ProgramCfg, fn: FunctionCfg, callee: (fi: number) => StackSummary): StackSummary {
  const summary: StackSummary = { depth: 0, argMin: new Array(6).fill(Infinity), returnsArg: false };
  const touch = (v: Value, off: number) => {
    if (v.fp) summary.depth = Math.min(summary.depth, v.fp.lo + off);
    v.args?.forEach((a, k) => {
      if (a) summary.argMin[k] = Math.min(summary.argMin[k], a.lo + off);
    });
  };

  const start: State = { regs: Array.from({ length: 11 }, () => ({})), slots: new Map() };
  start.regs[10] = { fp: { lo: 0, hi: 0 } };
  if (fn.index > 0) for (let r = 1; r <= 5; r++) start.regs[r] = { args: [0, 1, 2, 3, 4, 5].map((k) => (k === r ? { lo: 0, hi: 0 } : undefined)) };

  const ins: (State | undefined)[] = new Array(fn.blocks.length);
  const visits = new Array<number>(fn.blocks.length).fill(0);
  ins[0] = start;
  const work = [0];
  while (work.length > 0) {
    const bi = work.shift()!;
    const b = fn.blocks[bi];
    const st: State = { regs: ins[bi]!.regs.slice(), slots: new Map(ins[bi]!.slots) };
    for (let k = b.start; k < b.end; k++) step(cfg.insns[k], st, touch, (i) => callee(cfg.functionOf[cfg.indexOf.get(i.target!)!]), summary);
    for (const s of b.succ) {
      const prev = ins[s];
      let next = joinState(prev, st);
      if (prev && sameState(prev, next)) continue;
      if (prev && ++visits[s] > WIDEN_AFTER) {
        next = { regs: next.regs.map((v, r) => widen(prev.regs[r], v)), slots: new Map([...next.slots].map(([o, v]) => [o, widen(prev.slots.get(o) ?? {}, v)])) };
      }
      ins[s] = next;
      if (!work.includes(s)) work.push(s);
    }
  }
  return summary;
}

function step(
  i: Instruction, st: State, touch: (v: Value, off: number) => void,
  calleeOf: (i: Instruction) => StackSummary, summary: StackSummary,
): void {
  const regs = st.regs;
  const cls = insnClass(i);
  const exactSlot = (base: Value, off: number): number | undefined =>
    base.fp && base.fp.lo === base.fp.hi && !base.args?.some((a) => a) ? base.fp.lo + off : undefined;
  switch (cls) {
    case Class.ALU64:
    case Class.ALU: {
      const op = i.opcode & 0xf0;
      const x = (i.opcode & BPF_X) !== 0;
      const dst = regs[i.dst];
      const src: Value = x ? regs[i.src] : { c: i.imm };
      if (cls === Class.ALU) {
        regs[i.dst] = {};
      } else if (op === ALU_MOV) {
        regs[i.dst] = x && i.off === 0 ? { ...src } : x ? {} : { c: i.imm };
      } else if (op === ALU_ADD || op === ALU_SUB) {
        const sign = op === ALU_ADD ? 1 : -1;
        if (src.c !== undefined) regs[i.dst] = shift(dst, sign * src.c);
        else if (op === ALU_ADD && dst.c !== undefined && isPointer(src)) regs[i.dst] = shift({ fp: src.fp, args: src.args }, dst.c);
        else if (op === ALU_SUB && isPointer(src)) regs[i.dst] = {}; // pointer difference: a scalar
        else if (isPointer(dst) || (op === ALU_ADD && isPointer(src))) regs[i.dst] = unbounded(joinValue({ fp: dst.fp, args: dst.args }, op === ALU_ADD ? { fp: src.fp, args: src.args } : {}));
        else regs[i.dst] = {};
      } else {
        regs[i.dst] = {};
      }
      break;
    }
    case Class.LDX: {
      const base = regs[i.src];
      touch(base, i.off);
      const slot = exactSlot(base, i.off);
      regs[i.dst] = slot !== undefined && (i.opcode & SIZE_DW) === SIZE_DW ? { ...(st.slots.get(slot) ?? {}) } : {};
      break;
    }
    case Class.ST:
    case Class.STX: {
      const base = regs[i.dst];
      touch(base, i.off);
      const slot = exactSlot(base, i.off);
      const value: Value = cls === Class.STX ? regs[i.src] : {};
      const mode = i.opcode & 0xe0;
      if (slot !== undefined) {
        // A narrower write over a slot leaves bytes of something else there: forget the pointer.
        for (const o of [...st.slots.keys()]) if (o > slot - 8 && o < slot + 8) st.slots.delete(o);
        if (mode === MODE_MEM && (i.opcode & SIZE_DW) === SIZE_DW && isPointer(value)) st.slots.set(slot, { fp: value.fp, args: value.args });
      } else if (base.fp && isPointer(value)) {
        // A pointer stored at an unknown stack offset could come back anywhere.
        summary.depth = -Infinity;
      }
      if (mode === MODE_ATOMIC && i.imm & 1) regs[i.src] = {};
      if (mode === MODE_ATOMIC && i.imm === 0xf1) regs[0] = {};
      break;
    }
    case Class.LD:
      if (i.opcode === LD_IMM64) regs[i.dst] = {};
      else for (let r = 0; r <= 5; r++) regs[r] = {};
      break;
    case Class.JMP:
    case Class.JMP32: {
      const op = i.opcode & 0xf0;
      if (op === OP_CALL) {
        const sub = isPseudoCall(i) ? calleeOf(i) : undefined;
        for (let r = 1; r <= 5; r++) {
          const v = regs[r];
          if (!isPointer(v)) continue;
          touch(v, 0); // helpers read and write above the pointer they get
          if (sub) touch(v, Math.min(0, sub.argMin[r]));
        }
        let r0: Value = {};
        if (sub?.returnsArg) {
          // It may hand back one of our pointers: accesses through it cannot be bounded here.
          for (let r = 1; r <= 5; r++) if (isPointer(regs[r])) r0 = joinValue(r0, unbounded(regs[r]));
        }
        for (let r = 1; r <= 5; r++) regs[r] = {};
        regs[0] = r0;
      } else if (op === OP_EXIT) {
        if (regs[0].args?.some((a) => a)) summary.returnsArg = true;
      }
      break;
    }
  }
}
