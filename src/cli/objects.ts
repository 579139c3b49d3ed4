// `bpfunit load` and `bpfunit run`: verify an object's programs, or test-run one, printing JSON.
import { loadHarnessObject } from '../mock/harness';
import { mapTypeName } from '../object/maps';
import { ObjectSpec } from '../object/object';
import { RunArgs, UsageError } from './args';

export function load(object: string, progs: string[], btf?: string): object {
  const spec = ObjectSpec.fromFile(object);
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
  const spec = ObjectSpec.fromFile(object);
  const coll = loadHarnessObject(spec, { programs: args.progs, targetBtf: args.btf });
  try {
    for (const s of args.sets) coll.map(s.map).update(s.key, s.value);
    const prog = coll.program(args.progs[0]);
    const r = prog.run({ data: args.data, ctx: args.ctx, repeat: args.repeat, flags: args.flags, cpu: args.cpu });
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
