// Coverage instrumentation of a linked program: a u64 counter per basic block and per edge of
// every conditional jump, incremented by
//     rA = map_value(<coverage map>, 8 * counter)   ld_imm64, src = BPF_PSEUDO_MAP_VALUE
//     rB = 1
//     lock *(u64 *)(rA + 0) += rB                   BPF_STX | BPF_ATOMIC | BPF_DW, imm = BPF_ADD
// where rA and rB are registers dead at that point (liveness.ts). With fewer than two dead
// registers, live ones that are initialized on every path are spilled to 8-byte slots below the
// deepest stack use of the function (stack.ts) and filled afterwards: an 8-byte spill and fill keep
// the verifier's whole register state, pointers included.
//
// Placement: a block's counter sits at its start (jumps into the block are retargeted to it); when
// fewer than two registers are dead there, at the first later point of the block that has two, but
// never past a call (a callee or a tail call may end the program). A conditional jump's not-taken
// counter sits right after it, before the next block's own counter, so other ways into that block
// do not count; its taken counter sits in a trampoline appended to the function (counter, then
// `ja` to the original target), and the jump goes to the trampoline. An edge into a block with no
// other way in needs no counter of its own: it shares the block's.
//
// Line info: inserted instructions carry no line, except that the kernel wants a line_info record
// on the first instruction of every function: a function that now starts with a counter gets a
// copy of its first line there, and its BTF func_info (funcTypeId) moves there too. Pure: no
// syscalls; the input ProgramSpec is not modified.
import type { Btf } from '../btf/btf';
import { BtfError, BpfUnitError } from '../errors';
import {
  ALU_MOV, BPF_ADD, Class, Instruction, isConditional, isFuncRef, isJump, isPseudoCall, LD_IMM64, MODE_ATOMIC, MODE_MEM, OP_JA, PSEUDO_MAP_VALUE, SIZE_DW, slots,
} from '../object/insn';
import type { ProgramSpec } from '../object/object';
import { buildCfg, FunctionCfg, isCall, ProgramCfg } from './cfg';
import type { BlockLayout, BranchTest, FunctionLayout, Position, ProgramLayout } from './layout';
import { analyzeRegisters, entryState, GENERAL, RegisterInfo } from './liveness';
import { StackSummary, stackSummaries } from './stack';

/** The program cannot be instrumented (the message says where and why). */
export class InstrumentError extends BpfUnitError {}

export interface InstrumentOptions {
  /** Name of the coverage map (a 1-entry ARRAY whose value is the u64 counter array). */
  map: string;
  /** Index of this program's first counter in that array. */
  base?: number;
  /** The object's name, for the layout. */
  object?: string;
  /** The object's BTF: function names and argument counts. */
  btf?: Btf;
}

export interface Instrumented {
  spec: ProgramSpec;
  layout: ProgramLayout;
}

const MAX_STACK = 512;
const STX_ATOMIC_DW = Class.STX | MODE_ATOMIC | SIZE_DW;
const STX_MEM_DW = Class.STX | MODE_MEM | SIZE_DW;
const LDX_MEM_DW = Class.LDX | MODE_MEM | SIZE_DW;
const MOV64_IMM = Class.ALU64 | 0xb0;
const JA = Class.JMP | OP_JA;
const R10 = 10;

function regsIn(mask: number): number[] {
  const out: number[] = [];
  for (let r = 0; r <= 9; r++) if (mask & (1 << r)) out.push(r);
  return out;
}

export function instrumentProgram(spec: ProgramSpec, opts: InstrumentOptions): Instrumented {
  const where = `program ${spec.name}`;
  const base = opts.base ?? 0;
  const insns = spec.instructions;
  const cfg = buildCfg(insns, where);
  const names = functionNames(spec, cfg, opts.btf);
  const regs = analyzeRegisters(cfg, (fn) => entryState(fn, argCount(opts.btf, insns[fn.start].funcTypeId)));
  let stacks: StackSummary[] | undefined;
  let spills = 0;

  // Counters: one per block, then one per edge that cannot share its target block's.
  let next = 0;
  const blockCounter = cfg.functions.map((fn) => fn.blocks.map(() => next++));
  const takenOwn: boolean[][] = [];
  const notTakenOwn: boolean[][] = [];
  const branchCounters = cfg.functions.map((fn, fi) => {
    takenOwn[fi] = [];
    notTakenOwn[fi] = [];
    return fn.blocks.map((b) => {
      if (b.kind !== 'cond') return undefined;
      const [t, f] = b.succ;
      takenOwn[fi][b.index] = fn.blocks[t].inEdges > 1;
      notTakenOwn[fi][b.index] = fn.blocks[f].inEdges > 1;
      return {
        taken: takenOwn[fi][b.index] ? next++ : blockCounter[fi][t],
        notTaken: notTakenOwn[fi][b.index] ? next++ : blockCounter[fi][f],
      };
    });
  });

  const copyOf = new Map<Instruction, Instruction>();
  for (const i of insns) {
    const c: Instruction = { ...i };
    delete c.target;
    copyOf.set(i, c);
  }
  const out: Instruction[] = [];
  const fnEntry: Instruction[] = [];

  /** The increment of `counter` where `live` registers are live and `must` are initialized. */
  const increment = (fn: FunctionCfg, counter: number, live: number, must: number): Instruction[] => {
    const free = regsIn(GENERAL & ~live);
    const saved: { reg: number; slot: number }[] = [];
    const use = free.slice(0, 2);
    if (use.length < 2) {
      const spillable = regsIn(GENERAL & live & must);
      stacks ??= stackSummaries(cfg);
      const depth = stacks[fn.index].depth;
      const at = `${where}, function ${names[fn.index]}`;
      if (spillable.length < 2 - use.length) {
        throw new InstrumentError(`${at}: no free register for a coverage counter (live r${regsIn(live).join(' r')}, some not initialized on every path)`);
      }
      if (depth === -Infinity) throw new InstrumentError(`${at}: no free register for a coverage counter, and its stack use cannot be bounded to place spill slots`);
      let slot = Math.floor(depth / 8) * 8;
      while (use.length < 2) {
        slot -= 8;
        if (slot < -MAX_STACK) throw new InstrumentError(`${at}: no free register for a coverage counter and no stack left below offset ${depth} for spill slots`);
        const reg = spillable.shift()!;
        use.push(reg);
        saved.push({ reg, slot });
      }
      spills++;
    }
    const [a, b] = use;
    const seq: Instruction[] = [];
    for (const s of saved) seq.push({ opcode: STX_MEM_DW, dst: R10, src: s.reg, off: s.slot, imm: 0 });
    seq.push(
      { opcode: LD_IMM64, dst: a, src: PSEUDO_MAP_VALUE, off: 0, imm: 0, imm2: 0, reference: { kind: 'mapValue', map: opts.map, offset: 8 * (base + counter) } },
      { opcode: MOV64_IMM, dst: b, src: 0, off: 0, imm: 1 },
      { opcode: STX_ATOMIC_DW, dst: a, src: b, off: 0, imm: BPF_ADD },
    );
    for (const s of saved) seq.push({ opcode: LDX_MEM_DW, dst: s.reg, src: R10, off: s.slot, imm: 0 });
    return seq;
  };

  for (const fn of cfg.functions) {
    const fi = fn.index;
    const entryOf: Instruction[] = [];
    for (const b of fn.blocks) {
      const prev = fn.blocks[b.index - 1];
      if (prev && prev.kind === 'cond' && notTakenOwn[fi][prev.index]) {
        const jump = prev.end - 1;
        out.push(...increment(fn, branchCounters[fi][prev.index]!.notTaken, regs.liveIn[b.start], regs.mustIn[jump]));
      }
      const at = placeBlockCounter(cfg, regs, b.start, b.end);
      for (let k = b.start; k < b.end; k++) {
        if (k === at) {
          const seq = increment(fn, blockCounter[fi][b.index], regs.liveIn[k], regs.mustIn[k]);
          if (k === b.start) entryOf[b.index] = seq[0];
          out.push(...seq);
        }
        out.push(copyOf.get(insns[k])!);
      }
      entryOf[b.index] ??= copyOf.get(insns[b.start])!;
    }
    const viaTrampoline = new Map<Instruction, Instruction>();
    for (const b of fn.blocks) {
      if (b.kind !== 'cond' || !takenOwn[fi][b.index]) continue;
      const jump = b.end - 1;
      const t = b.succ[0];
      const seq = increment(fn, branchCounters[fi][b.index]!.taken, regs.liveIn[fn.blocks[t].start], regs.mustIn[jump]);
      seq.push({ opcode: JA, dst: 0, src: 0, off: 0, imm: 0, target: entryOf[t] });
      viaTrampoline.set(insns[jump], seq[0]);
      out.push(...seq);
    }
    for (let k = fn.start; k < fn.end; k++) {
      const i = insns[k];
      if (!isJump(i)) continue;
      const t = cfg.indexOf.get(i.target!)!;
      copyOf.get(i)!.target = viaTrampoline.get(i) ?? entryOf[fn.blockOf[t - fn.start]];
    }
    fnEntry[fi] = entryOf[0];
  }

  for (let k = 0; k < insns.length; k++) {
    const i = insns[k];
    if (isPseudoCall(i) || isFuncRef(i)) copyOf.get(i)!.target = fnEntry[cfg.functionOf[cfg.indexOf.get(i.target!)!]];
  }
  for (const fn of cfg.functions) {
    const first = copyOf.get(insns[fn.start])!;
    const entry = fnEntry[fn.index];
    if (entry === first) continue;
    if (first.funcTypeId !== undefined) {
      entry.funcTypeId = first.funcTypeId;
      delete first.funcTypeId;
    }
    if (first.line) entry.line = first.line;
  }

  const layout: ProgramLayout = {
    object: opts.object ?? '',
    program: spec.name,
    counters: next,
    files: [],
    functions: [],
    slots: { before: countSlots(insns), after: countSlots(out) },
    spills,
  };
  layout.functions = describe(cfg, names, layout.files, blockCounter, branchCounters);
  return { spec: { ...spec, instructions: out }, layout };
}

const ALU_OR = 0x40;
const ALU_AND = 0x50;
const ALU_LSH = 0x60;
const ALU_RSH = 0x70;

/** The compare of a conditional jump against an immediate, and where its register came from. */
function branchTest(cfg: ProgramCfg, fn: FunctionCfg, block: number): BranchTest | undefined {
  const b = fn.blocks[block];
  const jump = cfg.insns[b.end - 1];
  if (!isConditional(jump) || (jump.opcode & 0x08) !== 0) return undefined; // BPF_X: register against register
  const preds = new Map<number, number[]>();
  for (const x of fn.blocks) for (const s of x.succ) preds.set(s, [...(preds.get(s) ?? []), x.index]);
  const test = { op: jump.opcode & 0xf0, reg: jump.dst, imm: jump.imm, jmp32: (jump.opcode & 0x07) === Class.JMP32 };
  let local = false;
  for (let k = b.start; k < b.end - 1; k++) {
    const i = cfg.insns[k];
    const cls = i.opcode & 0x07;
    if ((isCall(i) && jump.dst <= 5) || (i.dst === jump.dst && [Class.LDX, Class.ALU, Class.ALU64, Class.LD].includes(cls))) local = true;
  }
  let budget = 256; // blocks looked at: past that, 'unknown'
  const seen = new Set<string>();
  // The value of reg just before instruction k of block bi, over every path that reaches it.
  type Origin = BranchTest['origin'] | 'none';
  const originOf = (bi: number, k: number, reg: number): Origin => {
    const at = fn.blocks[bi];
    for (; k >= at.start; k--) {
      const i = cfg.insns[k];
      const cls = i.opcode & 0x07;
      if (isCall(i) && reg <= 5) return 'computed';
      if (i.dst !== reg || (cls !== Class.LDX && cls !== Class.ALU && cls !== Class.ALU64 && cls !== Class.LD)) continue;
      const op = i.opcode & 0xf0;
      if (cls === Class.LDX) return 'read';
      if (cls !== Class.LD && op === ALU_MOV && (i.opcode & 0x08) !== 0) {
        reg = i.src; // a copy: follow the source register
        continue;
      }
      // Bytes of a packed field put together, or masked: still the value read.
      return cls !== Class.LD && [ALU_OR, ALU_AND, ALU_LSH, ALU_RSH].includes(op) ? 'read' : 'computed';
    }
    const from = preds.get(bi) ?? [];
    if (bi === 0 || from.length === 0) return 'unknown';
    let all: Origin = 'none';
    for (const p of from) {
      const key = `${p}:${reg}`;
      if (seen.has(key)) continue; // a loop back: the other ways in decide
      seen.add(key);
      if (--budget < 0) return 'unknown';
      const o = originOf(p, fn.blocks[p].end - 1, reg);
      if (o === 'computed' || o === 'unknown') return o;
      if (o === 'read') all = 'read';
    }
    return all;
  };
  const origin = originOf(block, b.end - 2, jump.dst);
  return { ...test, local, origin: origin === 'none' ? 'unknown' : origin };
}

function countSlots(list: Instruction[]): number {
  return list.reduce((n, i) => n + slots(i), 0);
}

/** Where a block's counter goes: the first point with two dead registers, not past a call. */
function placeBlockCounter(cfg: ProgramCfg, regs: RegisterInfo, start: number, end: number): number {
  const freeAt = (k: number) => regsIn(GENERAL & ~regs.liveIn[k]).length;
  let best = start;
  let bestFree = freeAt(start);
  for (let k = start + 1; k < end && bestFree < 2; k++) {
    if (isCall(cfg.insns[k - 1])) break;
    const f = freeAt(k);
    if (f > bestFree) {
      best = k;
      bestFree = f;
    }
  }
  return best;
}

function functionNames(spec: ProgramSpec, cfg: ProgramCfg, btf: Btf | undefined): string[] {
  return cfg.functions.map((fn) => {
    const id = spec.instructions[fn.start].funcTypeId;
    if (btf && id !== undefined) {
      try {
        const name = btf.type(id).name;
        if (name) return name;
      } catch (e) {
        if (!(e instanceof BtfError)) throw e;
      }
    }
    return fn.index === 0 ? spec.name : `subprog_${fn.start}`;
  });
}

function argCount(btf: Btf | undefined, funcTypeId: number | undefined): number | undefined {
  if (!btf || funcTypeId === undefined) return undefined;
  try {
    const proto = btf.type(btf.type(funcTypeId).type!);
    const params = proto.params ?? [];
    // A variadic prototype ends with an unnamed parameter of type 0.
    return params.filter((p) => p.type !== 0).length;
  } catch (e) {
    if (e instanceof BtfError) return undefined;
    throw e;
  }
}

function describe(
  cfg: ProgramCfg, names: string[], files: string[], blockCounter: number[][],
  branchCounters: ({ taken: number; notTaken: number } | undefined)[][],
): FunctionLayout[] {
  const fileIndex = new Map<string, number>();
  const pos = (i: Instruction): Position | undefined => {
    if (!i.line) return undefined;
    let f = fileIndex.get(i.line.file);
    if (f === undefined) {
      f = files.length;
      files.push(i.line.file);
      fileIndex.set(i.line.file, f);
    }
    return [f, i.line.line, i.line.column];
  };
  return cfg.functions.map((fn) => {
    let current: Position | undefined;
    // The last record with a source line: compiler-made code (line 0) is filed under it.
    let lastReal: Position | undefined;
    const blocks: BlockLayout[] = fn.blocks.map((b) => {
      const lines = new Map<string, [number, number]>();
      const own: Position[] = [];
      for (let k = b.start; k < b.end; k++) {
        const p = pos(cfg.insns[k]);
        if (p) {
          own.push(p);
          current = p;
          if (p[1] > 0) lastReal = p;
        }
        if (current && current[1] > 0) lines.set(`${current[0]}:${current[1]}`, [current[0], current[1]]);
      }
      const layout: BlockLayout = { counter: blockCounter[fn.index][b.index], lines: [...lines.values()], own, kind: b.kind, succ: b.succ };
      const bc = branchCounters[fn.index][b.index];
      if (bc) {
        const jump = cfg.insns[b.end - 1];
        layout.branch = { at: (current && current[1] > 0 ? current : lastReal) ?? [-1, 0, 0], ...bc };
        if ((!jump.line || jump.line.line === 0) && isConditional(jump)) layout.branch.inherited = true;
        const test = branchTest(cfg, fn, b.index);
        if (test) layout.branch.test = test;
      }
      return layout;
    });
    return { name: names[fn.index], at: pos(cfg.insns[fn.start]), blocks };
  });
}
