// Reads the kernel selftests' test annotations (bpf_misc.h's __success, __failure, __msg,
// __retval, __description and their _unpriv variants) from an object's BTF: each is a DECL_TAG
// "comment:<key>[=<value>]" on the FUNC of a program. Pure: no syscalls.
import { BtfKind } from '../btf/btf';
import { InputError } from '../errors';
import type { ObjectSpec, ProgramSpec } from '../object/object';

/** What one privilege mode expects of a program. */
export interface Expectation {
  verdict: 'success' | 'failure';
  /** Substrings the verifier log must contain, in this order. */
  messages: string[];
  /** When set, the program is test-run and must return this (compared as a 32-bit int). */
  retval?: number;
}

export interface AnnotatedProgram {
  program: string;
  /** __description, else the program's name. */
  title: string;
  /** Loaded with every test of its object, never a test itself (__auxiliary). */
  auxiliary: boolean;
  priv?: Expectation;
  unpriv?: Expectation;
}

// The selftests' "magic" retval names, for objects whose __retval stringifies the macro name.
const NAMED_RETVALS: Record<string, bigint> = {
  INT_MIN: -(1n << 31n), INT_MAX: (1n << 31n) - 1n, TEST_DATA_LEN: 64n, POINTER_VALUE: 0xcafe4an,
};

function parseRetval(text: string, program: string): number {
  const t = text.trim();
  let v: bigint | undefined = NAMED_RETVALS[t];
  if (v === undefined && /^-?(0x[0-9a-f]+|\d+)[ul]*$/i.test(t)) {
    const neg = t.startsWith('-');
    v = BigInt(t.replace(/^-/, '').replace(/[ul]+$/i, ''));
    if (neg) v = -v;
  }
  if (v === undefined) throw new InputError(`program ${program}: __retval(${t}) is not an integer`);
  return Number(BigInt.asIntN(32, v));
}

interface Draft {
  verdict?: 'success' | 'failure';
  messages: { order: number; text: string }[];
  retval?: number;
}

/** Every program of the object that carries at least one test annotation, in object order. */
export function readAnnotations(spec: ObjectSpec): AnnotatedProgram[] {
  const btf = spec.btf;
  if (!btf) return [];
  const tagsOf = new Map<number, { id: number; text: string }[]>();
  for (const t of btf.types) {
    if (t.kind !== BtfKind.DeclTag || t.componentIdx !== -1 || !t.name.startsWith('comment:')) continue;
    const list = tagsOf.get(t.type!) ?? [];
    list.push({ id: t.id, text: t.name.slice('comment:'.length) });
    tagsOf.set(t.type!, list);
  }
  const out: AnnotatedProgram[] = [];
  for (const p of spec.programs) {
    const tags = tagsOf.get(funcIdOf(spec, p)) ?? [];
    const parsed = parseTags(p.name, tags);
    if (parsed) out.push(parsed);
  }
  return out;
}

function funcIdOf(spec: ObjectSpec, p: ProgramSpec): number {
  return p.instructions[0]?.funcTypeId ?? spec.btf!.find(BtfKind.Func, p.name)?.id ?? -1;
}

function parseTags(program: string, tags: { id: number; text: string }[]): AnnotatedProgram | undefined {
  const modes: Record<'priv' | 'unpriv', Draft> = { priv: { messages: [] }, unpriv: { messages: [] } };
  let title = program;
  let auxiliary = false;
  let seen = false;
  for (const { id, text } of tags) {
    if (!text.startsWith('test_')) continue;
    const eq = text.indexOf('=');
    const key = eq < 0 ? text : text.slice(0, eq);
    const value = eq < 0 ? '' : text.slice(eq + 1);
    const unpriv = key.endsWith('_unpriv');
    const mode = modes[unpriv ? 'unpriv' : 'priv'];
    switch (key.replace(/_unpriv$/, '')) {
      case 'test_expect_success': mode.verdict = 'success'; break;
      case 'test_expect_failure': mode.verdict = 'failure'; break;
      case 'test_expect_msg': {
        // Newer headers prefix a __COUNTER__ value ("N=text") so identical messages stay
        // distinct; it also gives their order. Older ones have the text alone, in BTF order.
        const counted = /^(\d+)=([\s\S]*)$/.exec(value);
        mode.messages.push(counted ? { order: Number(counted[1]), text: counted[2] } : { order: id, text: value });
        break;
      }
      case 'test_retval': mode.retval = parseRetval(value, program); break;
      case 'test_description': title = value; break;
      case 'test_auxiliary': auxiliary = true; break;
      default: continue; // log level, flags, arch...: not expectations bpfunit checks
    }
    seen = true;
  }
  if (!seen) return undefined;
  const finish = (d: Draft, always: boolean): Expectation | undefined => {
    if (!always && d.verdict === undefined && d.messages.length === 0 && d.retval === undefined) return undefined;
    return {
      verdict: d.verdict ?? 'success',
      messages: d.messages.sort((a, b) => a.order - b.order).map((m) => m.text),
      retval: d.retval,
    };
  };
  return {
    program,
    title,
    auxiliary,
    priv: auxiliary ? undefined : finish(modes.priv, !finish(modes.unpriv, false)),
    unpriv: auxiliary ? undefined : finish(modes.unpriv, false),
  };
}
