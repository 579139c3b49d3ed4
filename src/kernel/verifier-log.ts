// Reading a verifier rejection: the message, and the C line of the instruction that failed. The
// line comes from the object's own line_info, looked up at the index of the last instruction the
// log shows, so it is found on every kernel: 6.1 and older print `; <source>` without the
// ` @ file:line` suffix newer kernels add. Pure: no syscalls.
import { SourceLine, VerifierError } from '../errors';
import { Instruction, slots } from '../object/insn';

/** One line_info entry as loaded: the instruction slot it starts at and its source. */
export interface LineEntry extends SourceLine {
  slot: number;
}

/** The line table of a program's instructions, by slot (ld_imm64 takes two). */
export function lineTable(instructions: Instruction[]): LineEntry[] {
  const out: LineEntry[] = [];
  let slot = 0;
  for (const i of instructions) {
    if (i.line) out.push({ slot, file: i.line.file, line: i.line.line, text: i.line.text.trim() });
    slot += slots(i);
  }
  return out;
}

/** Index of the last instruction the log prints (`N: (op) ...`): where verification stopped. */
export function failingInstruction(log: string): number | undefined {
  let last: number | undefined;
  for (const m of log.matchAll(/^(\d+): \([0-9a-f]{2}\)/gm)) last = Number(m[1]);
  return last;
}

/** The source line in force at `slot`: the last entry starting at or before it. */
export function sourceLineAt(table: LineEntry[], slot: number): SourceLine | undefined {
  let hit: LineEntry | undefined;
  for (const e of table) if (e.slot <= slot && (!hit || e.slot >= hit.slot)) hit = e;
  return hit && { file: hit.file, line: hit.line, text: hit.text };
}

const TRAILER = /^(processed \d+ insns|verification time|stack depth|max_states_per_insn)/;

/** The rejection message (the log's last line before its statistics) and the C line of the
 * failing instruction, when the program has line info. */
export function verifierError(program: string, errno: number, log: string, table: LineEntry[]): VerifierError {
  const lines = log.split('\n').map((l) => l.trimEnd()).filter((l) => l !== '');
  let end = lines.length;
  while (end > 0 && TRAILER.test(lines[end - 1])) end--;
  const message = lines[end - 1] ?? 'no reason given';
  const insn = failingInstruction(log);
  const source = insn === undefined ? undefined : sourceLineAt(table, insn);
  const summary = source ? `${message} at ${source.file}:${source.line}: ${source.text}` : message;
  return new VerifierError(program, errno, summary, log, source);
}
