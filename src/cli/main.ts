// The bpfunit command line: `load` verifies programs, `run` test-runs one and prints JSON.
import { BpfUnitError, InputError, VerifierError } from '../errors';
import { Collection } from '../kernel/collection';
import { mapTypeName } from '../object/maps';
import { ObjectSpec } from '../object/object';

const USAGE = `usage:
  bpfunit load OBJ [--prog NAME]... [--btf FILE]
  bpfunit run OBJ --prog NAME [--data HEX] [--ctx HEX] [--repeat N] [--btf FILE]
                  [--set MAP:KEYHEX=VALUEHEX]... [--dump MAP]...
--btf FILE: relocate CO-RE against this BTF instead of the running kernel's
exit status: 0 success, 1 load, verifier or kernel error, 2 bad usage`;

class UsageError extends Error {}

interface Args {
  command: string;
  object: string;
  progs: string[];
  data?: Buffer;
  ctx?: Buffer;
  repeat?: number;
  sets: { map: string; key: Buffer; value: Buffer }[];
  dumps: string[];
  btf?: string;
}

function hex(text: string, what: string): Buffer {
  const clean = text.replace(/[\s:]/g, '');
  if (!/^([0-9a-fA-F]{2})*$/.test(clean)) throw new UsageError(`${what} is not an even-length hex string: '${text}'`);
  return Buffer.from(clean, 'hex');
}

export function parseArgs(argv: string[]): Args {
  const [command, object, ...rest] = argv;
  if (command !== 'load' && command !== 'run') throw new UsageError(command ? `unknown command '${command}'` : 'no command given');
  if (!object || object.startsWith('--')) throw new UsageError('no object file given');
  const args: Args = { command, object, progs: [], sets: [], dumps: [] };
  for (let k = 0; k < rest.length; k++) {
    const flag = rest[k];
    const value = rest[k + 1];
    if (value === undefined) throw new UsageError(`${flag} needs a value`);
    k++;
    const runOnly = () => {
      if (command !== 'run') throw new UsageError(`${flag} is for 'run' only`);
    };
    switch (flag) {
      case '--prog': args.progs.push(value); break;
      case '--btf': args.btf = value; break;
      case '--data': runOnly(); args.data = hex(value, '--data'); break;
      case '--ctx': runOnly(); args.ctx = hex(value, '--ctx'); break;
      case '--repeat': {
        runOnly();
        const n = Number(value);
        if (!Number.isInteger(n) || n < 1) throw new UsageError(`--repeat needs a positive integer, got '${value}'`);
        args.repeat = n;
        break;
      }
      case '--set': {
        runOnly();
        const m = /^([^:]+):([^=]*)=(.*)$/.exec(value);
        if (!m) throw new UsageError(`--set needs MAP:KEYHEX=VALUEHEX, got '${value}'`);
        args.sets.push({ map: m[1], key: hex(m[2], `key of --set ${m[1]}`), value: hex(m[3], `value of --set ${m[1]}`) });
        break;
      }
      case '--dump': runOnly(); args.dumps.push(value); break;
      default: throw new UsageError(`unknown option '${flag}'`);
    }
  }
  if (command === 'run' && args.progs.length !== 1) throw new UsageError('run needs exactly one --prog NAME');
  return args;
}

function load(args: Args): object {
  const spec = ObjectSpec.fromFile(args.object);
  const coll = Collection.load(spec, { programs: args.progs.length ? args.progs : undefined, targetBtf: args.btf });
  try {
    return {
      programs: [...coll.programs.values()].map((p) => ({ name: p.name, section: p.spec.section, type: p.spec.kind!.type, insns: p.insnCount })),
      maps: spec.maps.map((m) => ({ name: m.name, type: mapTypeName(m.type), keySize: m.keySize, valueSize: m.valueSize, maxEntries: m.maxEntries })),
    };
  } finally {
    coll.close();
  }
}

function run(args: Args): object {
  const spec = ObjectSpec.fromFile(args.object);
  const coll = Collection.load(spec, { programs: args.progs, targetBtf: args.btf });
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

/** Runs the CLI; returns the exit status (and sets process.exitCode). */
export function main(argv: string[]): number {
  let status = 0;
  try {
    const args = parseArgs(argv);
    const result = args.command === 'load' ? load(args) : run(args);
    process.stdout.write(JSON.stringify(result) + '\n');
  } catch (e) {
    status = report(e);
  }
  process.exitCode = status;
  return status;
}

function report(e: unknown): number {
  if (e instanceof UsageError) {
    process.stderr.write(`bpfunit: ${e.message}\n${USAGE}\n`);
    return 2;
  }
  if (e instanceof InputError && /no (program|map) named/.test(e.message)) {
    process.stderr.write(`bpfunit: ${e.message}\n`);
    return 2;
  }
  if (e instanceof VerifierError) {
    const excerpt = e.log.trimEnd().split('\n').slice(-20).join('\n');
    process.stderr.write(`bpfunit: ${e.message}\n--- verifier log (last lines) ---\n${excerpt}\n`);
    return 1;
  }
  if (e instanceof BpfUnitError) {
    process.stderr.write(`bpfunit: ${e.message}\n`);
    return 1;
  }
  process.stderr.write(`bpfunit: internal error: ${(e as Error)?.stack ?? e}\n`);
  return 1;
}
