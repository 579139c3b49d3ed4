// `bpfunit load` and `bpfunit run`: verify an object's programs, or test-run one, printing JSON.
import { loadHarnessObject } from '../mock/harness';
import { mapTypeName } from '../object/maps';
import { ObjectSpec } from '../object/object';
import { InputError } from '../errors';
import { planRun } from '../object/test-run';
import { RunArgs, UsageError } from './args';

/** Runs `step` on values the user typed: their misfit (an InputError: a size, an option the
 * program's type does not take, an unreadable path) is bad usage, exit 2, not a failed run. */
function typed<T>(step: () => T): T {
  try {
    return step();
  } catch (e) {
    if (e instanceof InputError) throw new UsageError(e.message);
    throw e;
  }
}

export function load(object: string, progs: string[], btf?: string): object {
  const spec = typed(() => ObjectSpec.fromFile(object));
  const coll = loadHarnessObject(spec, { programs: progs.length ? progs : undefined, targetBtf: btf });
  try {
    return {
      programs: [...coll.programs.values()].map((p) => ({ name: p.name, section: p.spec.section, type: p.spec.kind!.type, insns: p.insnCount })),
      maps: spec.maps.map((m) => ({ name: m.name, type: mapTypeName(m.type), keySize: m.keySize, valueSize: m.valueSize, maxEntries: m.maxEntries })),
    };
  } finally {
    coll.close();
  }
}

export function run(object: string, args: RunArgs): object {
  if (args.progs.length !== 1) throw new UsageError('run needs exactly one --prog NAME');
  const spec = typed(() => ObjectSpec.fromFile(object));
  const coll = loadHarnessObject(spec, { programs: args.progs, targetBtf: args.btf });
  try {
    for (const s of args.sets) typed(() => coll.map(s.map).update(s.key, s.value));
    const prog = coll.program(args.progs[0]);
    const opts = { data: args.data, ctx: args.ctx, repeat: args.repeat, flags: args.flags, cpu: args.cpu };
    typed(() => planRun(prog.name, prog.spec.kind!, opts)); // the pure check prog.run makes first, on the typed values alone
    const r = prog.run(opts);
    const maps: Record<string, Record<string, string>> = {};
    for (const name of args.dumps) {
      const out: Record<string, string> = {};
      for (const [k, v] of coll.map(name).entries()) out[k.toString('hex')] = v.toString('hex');
      maps[name] = out;
    }
    const flowKeys = r.flowKeys && { ...r.flowKeys, src: r.flowKeys.src.toString('hex'), dst: r.flowKeys.dst.toString('hex') };
    return { retval: r.retval, data: r.data.toString('hex'), ctx: r.ctx ? r.ctx.toString('hex') : null, ...(flowKeys && { flowKeys }), durationNs: r.durationNs, maps };
  } finally {
    coll.close();
  }
}
