// Instrumentation without the kernel: CFG, register liveness, stack depth, and the rewritten
// instruction list (counters, trampolines, retargeted jumps, func_info and line_info).
import { expect } from 'chai';
import { COVERAGE_MAP, instrumentProgram } from '../../src/coverage';
import { buildCfg } from '../../src/coverage/cfg';
import { analyzeRegisters, entryState } from '../../src/coverage/liveness';
import { stackSummaries } from '../../src/coverage/stack';
import { encode, Instruction, isJump, isPseudoCall, LD_IMM64, PSEUDO_MAP_VALUE } from '../../src/object/insn';
import { add, addr, allLive, call, exit, jeq, ldx, mov, movr, pcall, stx, xdp } from './asm';
import { object } from './helpers';

const regs = (mask: number) => [...Array(11).keys()].filter((r) => mask & (1 << r));
const bytes = (list: Instruction[]) => encode(list, () => ({ imm: 0 })).toString('hex');

/** Every increment in the list: [ld_imm64 rA map_value, rB = 1, lock *(u64 *)(rA + 0) += rB]. */
function increments(list: Instruction[]): { at: number; counterByte: number; a: number; b: number }[] {
  const out = [];
  for (let k = 0; k + 2 < list.length; k++) {
    const [ld, one, xadd] = [list[k], list[k + 1], list[k + 2]];
    if (ld.opcode !== LD_IMM64 || ld.reference?.kind !== 'mapValue' || ld.reference.map !== COVERAGE_MAP) continue;
    expect(ld.src).to.equal(PSEUDO_MAP_VALUE);
    expect(one).to.include({ opcode: 0xb7, imm: 1 });
    expect(xadd).to.include({ opcode: 0xdb, dst: ld.dst, src: one.dst, off: 0, imm: 0 }); // BPF_STX|BPF_ATOMIC|BPF_DW, BPF_ADD
    out.push({ at: k, counterByte: ld.reference.offset, a: ld.dst, b: one.dst });
  }
  return out;
}

describe('coverage instrumentation (no kernel)', () => {
  describe('CFG and registers', () => {
    it('splits functions at call targets and blocks at jumps, targets and exits', () => {
      const callee = [mov(0, 1), exit()];
      const main = [mov(1, 0), pcall(callee[0]), jeq(0, 1), exit()];
      main[2].target = main[3];
      const cfg = buildCfg([...main, ...callee]);
      expect(cfg.functions.map((f) => [f.start, f.end])).to.deep.equal([[0, 4], [4, 6]]);
      expect(cfg.functions[0].blocks.map((b) => [b.start, b.end, b.kind, b.succ])).to.deep.equal([
        [0, 3, 'cond', [1, 1]],
        [3, 4, 'exit', []],
      ]);
      expect(cfg.functions[0].blocks[1].inEdges).to.equal(2);
    });

    it('liveness: exit reads r0, calls read only arguments that some path defines, and clobber r1-r5', () => {
      // r6 = r1; r1 = 0; call 1 (2 args by its prototype; r2-r5 were never written); r0 = r6; exit
      const list = [movr(6, 1), mov(1, 0), call(1), movr(0, 6), exit()];
      const cfg = buildCfg(list);
      const info = analyzeRegisters(cfg, (fn) => entryState(fn, undefined));
      expect(regs(info.liveIn[2])).to.deep.equal([1, 6]); // before the call
      expect(regs(info.liveIn[1])).to.deep.equal([6]); // r1 is written next
      expect(regs(info.liveIn[4])).to.deep.equal([0]);
      expect(regs(info.mustIn[3])).to.deep.equal([0, 6, 10]); // after the call: r1-r5 are gone
      expect(regs(info.mustIn[0])).to.deep.equal([1, 10]); // the context
    });

    it('liveness: a byte swap to big-endian reads only its own register', () => {
      // r2 = 5; r2 = be16 r2 (BPF_ALU | BPF_END | BPF_TO_BE: the 0x08 bit is not a source register); r0 = r2; exit
      const list = [mov(2, 5), { opcode: 0xdc, dst: 2, src: 0, off: 0, imm: 16 }, movr(0, 2), exit()];
      const info = analyzeRegisters(buildCfg(list), (fn) => entryState(fn, undefined));
      expect(regs(info.liveIn[1])).to.deep.equal([2]);
    });

    it('liveness flows around loops', () => {
      // r0 = 0; r1 = 5; L: r0 += r1; r1 += -1; if r1 == 0 goto out; ja L; out: exit
      const loop = addr(0, 1);
      const out = exit();
      const list = [mov(0, 0), mov(1, 5), loop, add(1, -1), jeq(1, 0, out), { opcode: 0x05, dst: 0, src: 0, off: 0, imm: 0, target: loop }, out];
      const info = analyzeRegisters(buildCfg(list), (fn) => entryState(fn, undefined));
      expect(regs(info.liveIn[2])).to.deep.equal([0, 1]);
      expect(regs(info.liveIn[5])).to.deep.equal([0, 1]);
    });
  });

  describe('stack depth', () => {
    it('sees r10-relative accesses, r10-derived pointers, and pointers handed to helpers', () => {
      const list = [stx(10, -16, 1), movr(2, 10), add(2, -40), mov(1, 0), call(1), exit()];
      expect(stackSummaries(buildCfg(list))[0].depth).to.equal(-40);
    });

    it('follows a pointer into a subprogram that reaches below it', () => {
      // callee: r0 = *(u64 *)(r1 - 8); exit   caller: r1 = r10 - 16; call callee
      const callee = [ldx(0, 1, -8), exit()];
      const main = [movr(1, 10), add(1, -16), pcall(callee[0]), exit()];
      const s = stackSummaries(buildCfg([...main, ...callee]));
      expect(s[1].argMin[1]).to.equal(-8);
      expect(s[0].depth).to.equal(-24);
    });

    it('follows pointers through 8-byte stack spills', () => {
      // *(u64 *)(r10 - 8) = r10 - 24; r3 = *(u64 *)(r10 - 8); *(u64 *)(r3 - 16) = r1
      const list = [movr(2, 10), add(2, -24), stx(10, -8, 2), ldx(3, 10, -8), stx(3, -16, 1), exit()];
      expect(stackSummaries(buildCfg(list))[0].depth).to.equal(-40);
    });

    it('gives up (-Infinity) on a pointer plus an unknown scalar', () => {
      const list = [movr(2, 10), add(2, -64), ldx(3, 1, 0), addr(2, 3), stx(2, 0, 1), exit()];
      expect(stackSummaries(buildCfg(list))[0].depth).to.equal(-Infinity);
    });
  });

  describe('rewriting', () => {
    const shapes = object();

    it('leaves the input program untouched', () => {
      for (const p of shapes.programs) {
        const before = bytes(p.instructions);
        const lines = p.instructions.map((i) => i.line);
        instrumentProgram(p, { map: COVERAGE_MAP, btf: shapes.btf });
        expect(bytes(p.instructions)).to.equal(before);
        expect(p.instructions.map((i) => i.line)).to.deep.equal(lines);
      }
    });

    it('adds one increment per block and per edge that cannot share its target block\'s counter', () => {
      for (const p of shapes.programs) {
        const { spec, layout } = instrumentProgram(p, { map: COVERAGE_MAP, base: 10, btf: shapes.btf });
        const cfg = buildCfg(p.instructions);
        let own = 0;
        for (const fn of cfg.functions) {
          for (const b of fn.blocks) {
            if (b.kind !== 'cond') continue;
            own += (fn.blocks[b.succ[0]].inEdges > 1 ? 1 : 0) + (fn.blocks[b.succ[1]].inEdges > 1 ? 1 : 0);
          }
        }
        const blocks = cfg.functions.reduce((n, f) => n + f.blocks.length, 0);
        expect(layout.counters, p.name).to.equal(blocks + own);
        const incs = increments(spec.instructions);
        expect(incs.length, p.name).to.equal(layout.counters);
        expect(incs.map((i) => i.counterByte).sort((a, b) => a - b)).to.deep.equal([...Array(layout.counters).keys()].map((k) => 8 * (10 + k)));
        expect(layout.spills, p.name).to.equal(0);
      }
    });

    it('keeps every original instruction, its line, and func_info on each function\'s new first instruction', () => {
      for (const p of shapes.programs) {
        const { spec } = instrumentProgram(p, { map: COVERAGE_MAP, btf: shapes.btf });
        const incs = new Set(increments(spec.instructions).flatMap((x) => [x.at, x.at + 1, x.at + 2]));
        const rest = spec.instructions.filter((_, k) => !incs.has(k));
        // The originals, in order, each with its own line; the only other instructions are the
        // trampolines' `ja`.
        const same = (a: Instruction, b: Instruction) => a.opcode === b.opcode && a.dst === b.dst && a.src === b.src &&
          (a.line === b.line || (a.funcTypeId === undefined && b.funcTypeId !== undefined)) && (isJump(a) || isPseudoCall(a) || a.imm === b.imm);
        let k = 0;
        const extra: Instruction[] = [];
        for (const i of rest) {
          if (k < p.instructions.length && same(i, p.instructions[k])) k++;
          else extra.push(i);
        }
        expect(k, p.name).to.equal(p.instructions.length);
        expect(extra.every((i) => i.opcode === 0x05 && i.line === undefined), p.name).to.equal(true);
        // Inserted increments carry no line, except a function's new first instruction.
        for (const at of incs) {
          const i = spec.instructions[at];
          if (i.funcTypeId === undefined) expect(i.line).to.equal(undefined);
        }
        // func_info: the same functions, each now on its first instruction, which has a line.
        const starts = p.instructions.filter((i) => i.funcTypeId !== undefined).map((i) => i.funcTypeId);
        const newStarts = spec.instructions.filter((i) => i.funcTypeId !== undefined);
        expect(newStarts.map((i) => i.funcTypeId)).to.deep.equal(starts);
        expect(spec.instructions[0].funcTypeId).to.equal(p.instructions[0].funcTypeId);
        for (const st of newStarts) expect(st.line, 'line_info at a function start').to.not.equal(undefined);
        // Calls go to function starts (which carry func_info), jumps stay inside the program.
        for (const i of spec.instructions) {
          if (isPseudoCall(i)) expect(i.target!.funcTypeId).to.not.equal(undefined);
          if (isJump(i)) expect(spec.instructions).to.include(i.target);
        }
      }
    });

    it('puts a taken edge with other ways into its target behind a trampoline ending in ja', () => {
      const p = shapes.program('cov_ifelse');
      const { spec } = instrumentProgram(p, { map: COVERAGE_MAP, btf: shapes.btf });
      const guard = p.instructions.find((i) => isJump(i) && i.opcode !== 0x05)!;
      const copy = spec.instructions.find((i) => i.opcode === guard.opcode && i.line === guard.line && i.imm === guard.imm && i.dst === guard.dst)!;
      const at = spec.instructions.indexOf(copy.target!);
      const incs = increments(spec.instructions);
      expect(incs.some((x) => x.at === at)).to.equal(true);
      expect(spec.instructions[at + 3]).to.include({ opcode: 0x05 });
      expect(spec.instructions[at + 3].target!.opcode).to.not.equal(undefined);
    });

    it('spills two registers below the deepest stack use when every register is live', () => {
      const { spec, layout } = instrumentProgram(allLive(), { map: COVERAGE_MAP });
      expect(layout.spills).to.be.greaterThan(0);
      const spills = spec.instructions.filter((i) => i.opcode === 0x7b && i.dst === 10 && i.off !== -8);
      const fills = spec.instructions.filter((i) => i.opcode === 0x79 && i.src === 10 && i.off !== -8);
      expect(spills.length).to.be.greaterThan(0);
      expect(new Set(spills.map((i) => i.off))).to.deep.equal(new Set([-16, -24]));
      expect(fills.map((i) => `${i.dst}@${i.off}`).sort()).to.deep.equal(spills.map((i) => `${i.src}@${i.off}`).sort());
    });

    it('refuses to spill where the stack use cannot be bounded', () => {
      const p = allLive();
      // Make the function's stack use unbounded: r3 = r10 + r3 (unknown), *(u64 *)(r3 + 0) = r1.
      p.instructions.splice(12, 0, movr(7, 10), addr(7, 2), stx(7, 0, 1), mov(7, 7));
      expect(() => instrumentProgram(p, { map: COVERAGE_MAP })).to.throw(/stack use cannot be bounded/);
    });

    it('needs no spill where two registers are dead', () => {
      const { layout } = instrumentProgram(xdp('small', [mov(0, 2), exit()]), { map: COVERAGE_MAP });
      expect(layout.spills).to.equal(0);
      expect(layout.counters).to.equal(1);
    });
  });
});
