// A few BPF instructions by hand, for specs that need exact register and stack shapes.
import type { Instruction } from '../../src/object/insn';
import type { ProgramSpec } from '../../src/object/object';
import { sectionKind } from '../../src/object/sections';

const insn = (opcode: number, dst = 0, src = 0, off = 0, imm = 0): Instruction => ({ opcode, dst, src, off, imm });

export const mov = (dst: number, imm: number) => insn(0xb7, dst, 0, 0, imm);
export const movr = (dst: number, src: number) => insn(0xbf, dst, src);
export const add = (dst: number, imm: number) => insn(0x07, dst, 0, 0, imm);
export const addr = (dst: number, src: number) => insn(0x0f, dst, src);
export const stx = (dst: number, off: number, src: number) => insn(0x7b, dst, src, off);
export const ldx = (dst: number, src: number, off: number) => insn(0x79, dst, src, off);
export const ldxw = (dst: number, src: number, off: number) => insn(0x61, dst, src, off);
export const call = (helper: number) => insn(0x85, 0, 0, 0, helper);
export const exit = () => insn(0x95);
/** A BPF-to-BPF call; set `target` to the callee's first instruction. */
export const pcall = (target: Instruction) => ({ ...insn(0x85, 0, 1), target });
export const jeq = (dst: number, imm: number, target?: Instruction) => ({ ...insn(0x15, dst, 0, 0, imm), target });
export const ja = (target?: Instruction) => ({ ...insn(0x05), target });

export function xdp(name: string, instructions: Instruction[]): ProgramSpec {
  return { name, section: 'xdp', kind: sectionKind('xdp'), license: 'GPL', instructions };
}

/**
 * Every register r0-r9 live where two paths join, so a counter there has no dead register and
 * must spill two: r2 = ctx->rx_queue_index (0 in test runs, unknown to the verifier); r0 = 0,
 * r1 = 1, r3..r9 = 3..9; *(u64 *)(r10 - 8) = r9; if r2 == 0 goto L; r0 = 100;
 * L: r0 += r1 + r2 + ... + r9 + *(u64 *)(r10 - 8); exit. Returns 52 in a test run.
 */
export function allLive(): ProgramSpec {
  const join = addr(0, 1);
  const body = [
    movr(6, 1),
    ldxw(2, 6, 16),
    mov(0, 0), mov(1, 1), mov(3, 3), mov(4, 4), mov(5, 5), mov(6, 6), mov(7, 7), mov(8, 8), mov(9, 9),
    stx(10, -8, 9),
    jeq(2, 0, join),
    mov(0, 100),
    join, addr(0, 2), addr(0, 3), addr(0, 4), addr(0, 5), addr(0, 6), addr(0, 7), addr(0, 8), addr(0, 9),
    ldx(9, 10, -8), addr(0, 9),
    exit(),
  ];
  return xdp('all_live', body);
}
