// A poisoned CO-RE instruction that the verifier reaches fails as "call unknown#195896080";
// this names the relocation behind it, as libbpf does when it rewrites the verifier log.
import { VerifierError } from '../errors';
import { slotIndex } from '../object/insn';
import type { ProgramSpec } from '../object/object';
import { POISON_HELPER, poisonReason } from './relocate';

export function explainPoison(e: unknown, program: ProgramSpec): unknown {
  if (!(e instanceof VerifierError)) return e;
  const m = new RegExp(`^(\\d+): \\(85\\) call unknown#${POISON_HELPER}`, 'm').exec(e.log);
  if (!m) return e;
  const slots = slotIndex(program.instructions);
  const insn = program.instructions.find((i) => slots.get(i) === Number(m[1]));
  const why = insn && poisonReason(insn);
  return why ? new VerifierError(e.program, e.errno, `${e.summary}; ${why}`, e.log, e.sourceLine) : e;
}
