// `bpfunit load` and `bpfunit run`: verify an object's programs, or test-run one, printing JSON.
import { Collection } from '../kernel/collection';
import { mapTypeName } from '../object/maps';
import { ObjectSpec } from '../object/object';

export class UsageError extends Error {}

export interface RunArgs {
  progs: string[];
  data?: Buffer;
  ctx?: Buffer;
  repeat?: number;
  sets: { map: string; key: Buffer; value: Buffer }[];
  dumps: string[];
}

export function hex(text: string, what: string): Buffer {
  const clean = text.replace(/[\s:]/g, '');
  if (!/^([0-9a-fA-F]{2})*$/.test(clean)) throw new UsageError(`${what} is not an even-length hex string: '${text}'`);
  return Buffer.from(clean, 'hex');
}

export function repeatCount(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`--repeat needs a positive integer, got '${value}'`);
  return n;
}

export function setEntry(value: string): RunArgs['sets'][number] {
  const m = /^([^:]+):([^=]*)=(.*)$/.exec(value);
  if (!m) throw new UsageError(`--set needs MAP:KEYHEX=VALUEHEX, got '${value}'`);
  return { map: m[1], key: hex(m[2], `key of --set ${m[1]}`), value: hex(m[3], `value of --set ${m[1]}`) };
}

export function load(object: string, progs: string[]): object {
  const spec = ObjectSpec.fromFile(object);
  const coll = Collection.load(spec, { programs: progs.length ? progs : undefined });
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
  const coll = Collection.load(spec, { programs: args.progs });
  try {
    for (const s of args.sets) coll.map(s.map).update(s.key, s.value);
    const prog = coll.program(args.progs[0]);
    const r = prog.run({ data: args.data, ctx: args.ctx, repeat: args.repeat });
    const maps: Record<string, Record<string, string>> = {};
    for (const name of args.dumps) {
      const out: Record<string, string> = {};
      for (const [k, v] of coll.map(name).entries()) out[k.toString('hex')] = v.toString('hex');
      maps[name] = out;
    }
    return { retval: r.retval, data: r.data.toString('hex'), ctx: r.ctx ? r.ctx.toString('hex') : null, durationNs: r.durationNs, maps };
  } finally {
    coll.close();
  }
}
