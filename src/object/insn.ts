// BPF instructions as objects. Jumps point at their target instruction rather than holding an
// offset, and references to maps or functions stay symbolic until marshalling, so instructions
// can be inserted (coverage) or appended (subprograms) without fixing offsets by hand.
import type { LineInfo } from '../btf/ext';
import type { CoreRelo } from '../core/relos';
import { LinkError } from '../errors';

export const INSN_SIZE = 8;

export const enum Class {
  LD = 0x00,
  LDX = 0x01,
  ST = 0x02,
  STX = 0x03,
  ALU = 0x04,
  JMP = 0x05,
  JMP32 = 0x06,
  ALU64 = 0x07,
}

// Opcode fields: operation (ALU/JMP high nibble), memory mode, size, source and atomic operation.
export const ALU_ADD = 0x00;
export const ALU_SUB = 0x10;
export const ALU_NEG = 0x80;
export const ALU_MOV = 0xb0;
export const ALU_END = 0xd0;
export const OP_JCOND = 0xe0;
export const MODE_ABS = 0x20;
export const MODE_IND = 0x40;
export const MODE_MEM = 0x60;
export const MODE_ATOMIC = 0xc0;
export const SIZE_DW = 0x18;
export const BPF_X = 0x08;
export const BPF_ADD = 0x00;
export const BPF_FETCH = 0x01;

export const OP_JA = 0x00;
export const OP_CALL = 0x80;
export const OP_EXIT = 0x90;
export const LD_IMM64 = 0x18;
export const PSEUDO_MAP_FD = 1;
export const PSEUDO_MAP_VALUE = 2;
export const PSEUDO_CALL = 1;
export const PSEUDO_FUNC = 4;

/** What an instruction refers to by name, resolved when the program is marshalled. */
export type Reference =
  | { kind: 'map'; map: string }
  | { kind: 'mapValue'; map: string; offset: number; extern?: string };

export interface Instruction {
  opcode: number;
  dst: number;
  src: number;
  off: number;
  imm: number;
  /** Upper 32 bits of a 16-byte ld_imm64. */
  imm2?: number;
  /** For a jump or a BPF-to-BPF call: the instruction it goes to (off or imm is recomputed on marshal). */
  target?: Instruction;
  reference?: Reference;
  /** C source position from .BTF.ext line_info, when the compiler recorded one here. */
  line?: LineInfo;
  /** BTF FUNC type id: set on the first instruction of every function. */
  funcTypeId?: number;
  /** CO-RE relocation from .BTF.ext, applied when the program is loaded (src/core). */
  coreRelo?: CoreRelo;
  /** A `__ksym` extern this instruction loads (ld_imm64) or calls (kfunc), resolved against the
   * running kernel when the program loads. */
  ksym?: KernelSymbolRef;
}

/** untyped: an address from /proc/kallsyms; typed: a VAR's BTF id; kfunc: a FUNC's BTF id. */
export interface KernelSymbolRef {
  name: string;
  kind: 'untyped' | 'typed' | 'kfunc';
  weak: boolean;
  /** typed and kfunc: the object's BTF id of what it declares (the VAR's type, the FUNC's
   * prototype), which must fit the kernel's. */
  type?: number;
}

export function insnClass(i: Instruction): number {
  return i.opcode & 0x07;
}

export function isWide(i: Instruction): boolean {
  return i.opcode === LD_IMM64;
}

/** A jump or branch inside the function (not a call, not an exit). */
export function isJump(i: Instruction): boolean {
  const c = insnClass(i);
  if (c !== Class.JMP && c !== Class.JMP32) return false;
  const op = i.opcode & 0xf0;
  return op !== OP_CALL && op !== OP_EXIT;
}

/** A conditional jump: taken or falls through. */
export function isConditional(i: Instruction): boolean {
  return isJump(i) && (i.opcode & 0xf0) !== OP_JA;
}

/** An ld_imm64 of a function's address (BPF_PSEUDO_FUNC): a callback for bpf_loop and friends;
 * `target` is the function's first instruction, imm the distance to it once encoded. */
export function isFuncRef(i: Instruction): boolean {
  return i.opcode === LD_IMM64 && i.src === PSEUDO_FUNC;
}

export function isPseudoCall(i: Instruction): boolean {
  return i.opcode === (Class.JMP | OP_CALL) && i.src === PSEUDO_CALL;
}

/** Slots (8-byte units) an instruction occupies. */
export function slots(i: Instruction): number {
  return isWide(i) ? 2 : 1;
}

/** A jump's offset in slots, as encoded (imm for gotol, off otherwise). */
export function jumpOffset(i: Instruction): number {
  return insnClass(i) === Class.JMP32 && (i.opcode & 0xf0) === OP_JA ? i.imm : i.off;
}

/** Decodes raw bytes into instructions, resolving jump targets within `raw`. */
export function decode(raw: Buffer, where: string): Instruction[] {
  if (raw.length % INSN_SIZE !== 0) {
    throw new LinkError(`${where}: size ${raw.length} is not a multiple of ${INSN_SIZE}`);
  }
  const total = raw.length / INSN_SIZE;
  const bySlot: (Instruction | undefined)[] = new Array(total);
  const list: Instruction[] = [];
  for (let slot = 0; slot < total; slot++) {
    const at = slot * INSN_SIZE;
    const regs = raw[at + 1];
    // Every field present from the start: one object shape for all instructions keeps property
    // access fast in the linker's loops over millions of them.
    const insn: Instruction = {
      opcode: raw[at],
      dst: regs & 0xf,
      src: regs >> 4,
      off: raw.readInt16LE(at + 2),
      imm: raw.readInt32LE(at + 4),
      imm2: undefined,
      target: undefined,
      reference: undefined,
      line: undefined,
      funcTypeId: undefined,
    };
    bySlot[slot] = insn;
    list.push(insn);
    if (isWide(insn)) {
      if (slot + 1 >= total) throw new LinkError(`${where}: ld_imm64 at instruction ${slot} is cut off`);
      insn.imm2 = raw.readInt32LE(at + 12);
      slot++;
    }
  }
  let slot = 0;
  for (const insn of list) {
    if (isJump(insn)) {
      const to = slot + 1 + jumpOffset(insn);
      const target = bySlot[to];
      if (!target) throw new LinkError(`${where}: jump at instruction ${slot} goes to ${to}, outside the code`);
      insn.target = target;
    }
    slot += slots(insn);
  }
  return list;
}

/** Slot index of each instruction. */
export function slotIndex(list: Instruction[]): Map<Instruction, number> {
  const at = new Map<Instruction, number>();
  let slot = 0;
  for (const i of list) {
    at.set(i, slot);
    slot += slots(i);
  }
  return at;
}

/** Encodes instructions, recomputing jump offsets from their targets. `resolve` gives the
 * immediates of instructions that carry a reference; the instructions themselves are not changed. */
export function encode(list: Instruction[], resolve: (ref: Reference) => { imm: number; imm2?: number }): Buffer {
  const at = slotIndex(list);
  let total = 0;
  for (const i of list) total += slots(i);
  const out = Buffer.alloc(total * INSN_SIZE);
  for (const insn of list) {
    const slot = at.get(insn)!;
    const resolved = insn.reference ? resolve(insn.reference) : undefined;
    let off = insn.off;
    let imm = resolved?.imm ?? insn.imm;
    const imm2 = resolved?.imm2 ?? insn.imm2;
    if (insn.target) {
      const to = at.get(insn.target);
      if (to === undefined) throw new LinkError(`jump at instruction ${slot} targets an instruction not in the program`);
      const rel = to - slot - 1;
      if (isPseudoCall(insn) || isFuncRef(insn) || (insnClass(insn) === Class.JMP32 && (insn.opcode & 0xf0) === OP_JA)) imm = rel;
      else if (rel < -32768 || rel > 32767) throw new LinkError(`jump at instruction ${slot} is out of range (${rel})`);
      else off = rel;
    }
    const p = slot * INSN_SIZE;
    out[p] = insn.opcode;
    out[p + 1] = (insn.src << 4) | insn.dst;
    out.writeInt16LE(off, p + 2);
    out.writeInt32LE(imm | 0, p + 4);
    if (isWide(insn)) out.writeInt32LE((imm2 ?? 0) | 0, p + 12);
  }
  return out;
}

export function cloneAll(list: Instruction[]): Instruction[] {
  const copies = new Map<Instruction, Instruction>();
  for (const i of list) copies.set(i, { ...i });
  for (const c of copies.values()) if (c.target) c.target = copies.get(c.target);
  return [...copies.values()];
}
