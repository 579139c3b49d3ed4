// Runs annotated programs as the selftests' test_loader would: load each (with the object's
// __auxiliary programs), expect the verifier's verdict and log messages, test-run for __retval.
import { readFileSync } from 'node:fs';
import { VerifierError } from '../errors';
import { Collection } from '../kernel/collection';
import { ObjectSpec } from '../object/object';
import { AnnotatedProgram, Expectation, readAnnotations } from './annotations';

/** Zero bytes of packet data for each test run, as the selftests pass. */
export const TEST_DATA_LEN = 64;

export interface TagResult {
  object: string;
  program: string;
  title: string;
  mode: 'priv' | 'unpriv';
  status: 'pass' | 'fail' | 'skip';
  /** Why it failed or was skipped. */
  reason?: string;
}

/** Every annotated test of one object, in object order (privileged before unprivileged). */
export function runTags(spec: ObjectSpec): TagResult[] {
  const annotated = readAnnotations(spec);
  const aux = annotated.filter((a) => a.auxiliary).map((a) => a.program);
  const out: TagResult[] = [];
  for (const a of annotated) {
    if (a.auxiliary) continue;
    const base = { object: spec.name, program: a.program, title: a.title };
    if (a.priv) out.push({ ...base, mode: 'priv', ...check(spec, a, a.priv, aux) });
    if (a.unpriv) out.push({ ...base, mode: 'unpriv', status: 'skip', reason: unprivReason() });
  }
  return out;
}

function check(spec: ObjectSpec, a: AnnotatedProgram, want: Expectation, aux: string[]): Pick<TagResult, 'status' | 'reason'> {
  let coll: Collection;
  try {
    // No hook: the verdict is about the program as written, not an instrumented copy.
    coll = Collection.load(spec, { programs: [a.program, ...aux], hook: null });
  } catch (e) {
    if (!(e instanceof VerifierError) || e.program !== a.program) throw e; // an auxiliary program's rejection is the file's error
    if (want.verdict === 'success') return fail(`the verifier rejected it: ${e.summary}`);
    const missing = missingMessage(e.log, want.messages);
    if (missing !== undefined) return fail(`the verifier log lacks ${JSON.stringify(missing)}${want.messages.length > 1 ? ' (messages are matched in order)' : ''}`);
    return { status: 'pass' };
  }
  try {
    if (want.verdict === 'failure') return fail('it loaded, but __failure expects the verifier to reject it');
    if (want.messages.length > 0) {
      return { status: 'skip', reason: '__msg on a program that loads needs the log of a successful load, which bpfunit does not request' };
    }
    if (want.retval !== undefined) {
      const prog = coll.program(a.program);
      const syscall = prog.spec.kind!.type === 'SYSCALL';
      const r = prog.run(syscall ? {} : { data: Buffer.alloc(TEST_DATA_LEN) });
      const got = r.retval | 0;
      if (got !== want.retval) return fail(`it returned ${got}, __retval expects ${want.retval}`);
    }
    return { status: 'pass' };
  } finally {
    coll.close();
  }
}

function fail(reason: string): Pick<TagResult, 'status' | 'reason'> {
  return { status: 'fail', reason };
}

/** The first expected message not found in the log after the previous one, if any. */
export function missingMessage(log: string, messages: string[]): string | undefined {
  let at = 0;
  for (const m of messages) {
    const hit = log.indexOf(m, at);
    if (hit < 0) return m;
    at = hit + m.length;
  }
  return undefined;
}

/** Unprivileged mode would need a process without CAP_BPF/CAP_SYS_ADMIN; say why it is not run. */
function unprivReason(): string {
  let setting = 'unknown';
  try {
    setting = readFileSync('/proc/sys/kernel/unprivileged_bpf_disabled', 'utf8').trim();
  } catch {
    // not Linux procfs: the reason below still holds
  }
  return setting === '0'
    ? 'unprivileged mode is not run by bpfunit (it would need a process without BPF capabilities)'
    : `the kernel forbids unprivileged BPF (kernel.unprivileged_bpf_disabled=${setting})`;
}
