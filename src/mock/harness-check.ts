// What a harness object (a program re-hosted with the mock library) may load, decided from its
// parsed object before anything reaches the kernel: which programs are the harness entries, and
// whether a mocked tail call sits where the mock cannot reproduce the kernel. Pure: no syscalls.
import type { ObjectSpec } from '../object/object';
import { Class, OP_CALL, type Instruction } from '../object/insn';
import { BpfUnitError, VerifierError } from '../errors';
import { objectGlobals } from '../object/globals';

/** A harness object asks for something the mock library cannot do the kernel's way. */
export class HarnessError extends BpfUnitError {}

const BPF_FUNC_TAIL_CALL = 12;
/** The harness's program array: every bpf_tail_call of a harness object goes through it (mock/tail_call.h). */
const MOCK_TAIL_PROGS = 'mock_tail_progs';
/** Globals only the harness entries (MOCK_*_ENTRY, or a hand-written entry) write (mock/host.h). */
const ENTRY_GLOBALS = ['mock_retval', 'mock_runs'];

/** The harness entries of a mock harness object (the programs referring to an entry global);
 * undefined for another object (or a harness whose entries do not show), where every program is
 * loaded as before. */
export function harnessEntries(spec: ObjectSpec): string[] | undefined {
  const globals = objectGlobals(spec);
  if (!ENTRY_GLOBALS.some((g) => globals.has(g))) return undefined;
  const entries = spec.programs.filter((p) => !p.error && referencedGlobals(spec, [p.name], ENTRY_GLOBALS).size > 0).map((p) => p.name);
  return entries.length ? entries : undefined;
}

/** The globals among `names` that some of `programs` refers to (reads, writes or takes the
 * address of): a relocation into the global's bytes of its data section. A global no loaded
 * program refers to is one a test may set or read, but no run sees. */
export function referencedGlobals(spec: ObjectSpec, programs: string[], names: string[]): Set<string> {
  const globals = objectGlobals(spec);
  const wanted = names.flatMap((n) => {
    const g = globals.get(n);
    return g ? [{ name: n, ...g }] : [];
  });
  const out = new Set<string>();
  for (const p of spec.programs) {
    if (!programs.includes(p.name)) continue;
    for (const i of p.instructions) {
      const ref = i.reference;
      if (ref?.kind !== 'mapValue') continue;
      for (const g of wanted) {
        if (ref.map === g.section && ref.offset >= g.offset && ref.offset < g.offset + g.size) out.add(g.name);
      }
    }
  }
  return out;
}

function isTailCall(i: Instruction): boolean {
  return i.opcode === (Class.JMP | OP_CALL) && i.src === 0 && i.imm === BPF_FUNC_TAIL_CALL;
}

/** Refuses a mocked tail call issued inside a BPF subprogram of a program to load. In the kernel
 * the target's return value goes back to the subprogram's caller, which carries on with the
 * context the target wrote; the mock's target is an XDP entry that returns XDP_PASS and writes
 * its own copy of the context, so the caller would go on with a wrong value and a stale context. */
export function checkTailCalls(spec: ObjectSpec, programs: string[]): void {
  if (!spec.maps.some((m) => m.name === MOCK_TAIL_PROGS)) return;
  for (const p of spec.programs) {
    if (!programs.includes(p.name)) continue;
    let fn: string | undefined; // undefined: the entry's own body (instructions start with it)
    let line: Instruction['line'];
    p.instructions.forEach((insn, at) => {
      if (at > 0 && insn.funcTypeId !== undefined) {
        fn = spec.btf?.type(insn.funcTypeId).name || `the subprogram at instruction ${at}`;
        line = undefined;
      }
      if (insn.line) line = insn.line;
      if (fn === undefined || !isTailCall(insn)) return;
      const where = line ? `${line.file}:${line.line}` : `instruction ${at}`;
      throw new HarnessError(
        `${p.name}: bpf_tail_call inside the BPF subprogram ${fn}() (${where}) is not reproduced by the mock: ` +
          `in the kernel the target's return value comes back to ${fn}()'s caller, which goes on with the context the target wrote; ` +
          `here the target is a harness entry that returns XDP_PASS, and the caller's context copy misses its writes. ` +
          `Only tail calls in the program's own body or in inlined functions (__always_inline) are reproduced: ` +
          `make ${fn}() __always_inline to test this path re-hosted`,
      );
    });
  }
}

/** A verifier rejection of a program of a mock harness object that is not one of its entries:
 * the program's native section, compiled with the mocks, which only the skb helpers of
 * mock/skb.h leave as the kernel's. Other errors come back as they are. */
export function explainNativeRejection(spec: ObjectSpec, e: unknown): unknown {
  const entries = harnessEntries(spec);
  if (!(e instanceof VerifierError) || !entries || entries.includes(e.program)) return e;
  const err = new HarnessError(
    `${e.program} is the native section of a harness object (${spec.name}, entries: ${entries.join(', ')}): ` +
      `it was compiled with the mock library, whose helpers expect a harness entry's context, and the verifier rejected it ` +
      `(${e.message}). Load the harness's entries (no program list loads only them), and the unmodified program's own object for its native section`,
  );
  err.cause = e;
  return err;
}
