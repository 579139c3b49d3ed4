// A load generator: a separate process that loads and unloads BPF programs, maps and BTF in a loop,
// as other users of a shared host do, to show that specs are not disturbed by them.
//
//   node -r ts-node/register/transpile-only spec/support/loadgen.ts [SECONDS]    (default 600)
//
// It keeps a few collections open at a time (objects of varied lifetimes, ids interleaved with the
// suite's), stops by itself after SECONDS or as soon as its parent process is gone, and prints how
// many loads it made. Specs start one with startLoadgen().
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { Collection } from '../../src/kernel/collection';
import { ObjectSpec } from '../../src/object/object';

const ROOT = path.resolve(__dirname, '..', '..');
/** Objects with BTF, maps of several types, programs with tail calls and subprograms. */
const OBJECTS = ['loader_maps', 'loader_calls', 'loader_data', 'bench_trivial'];
const KEEP_OPEN = 8;

async function main(seconds: number): Promise<void> {
  const parent = process.ppid;
  const specs = OBJECTS.map((name) => ObjectSpec.fromFile(path.join(ROOT, 'build', 'fixtures', `${name}.o`)));
  const open: Collection[] = [];
  const deadline = Date.now() + seconds * 1000;
  let loads = 0;
  try {
    while (Date.now() < deadline && process.ppid === parent) {
      const coll = Collection.load(specs[loads % specs.length]);
      open.push(coll);
      const [first] = coll.programs.values();
      first.run({ data: Buffer.alloc(64) });
      if (++loads === 1) process.stdout.write('loading\n');
      if (open.length > KEEP_OPEN) open.splice(Math.floor(Math.random() * open.length), 1)[0].close();
      await new Promise((done) => setTimeout(done, Math.random() * 10));
    }
  } finally {
    for (const c of open) c.close();
  }
  process.stderr.write(`loadgen: ${loads} loads in ${seconds} s or less\n`);
}

export interface Loadgen {
  /** Stops the generator and waits for it to exit. */
  stop(): Promise<void>;
}

/** Starts a generator process (stopping itself after `seconds`) and resolves once it is loading. */
export function startLoadgen(seconds: number): Promise<Loadgen> {
  const child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', __filename, String(seconds)], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  return new Promise((resolve, reject) => {
    child.stdout!.once('data', () =>
      resolve({
        stop: () => {
          child.kill('SIGTERM');
          return exited;
        },
      }),
    );
    child.once('exit', (code) => reject(new Error(`the load generator exited (${code}) before loading: ${stderr}`)));
  });
}

if (require.main === module) {
  const seconds = Number(process.argv[2] ?? 600);
  if (!(seconds > 0)) {
    process.stderr.write('usage: loadgen.ts [SECONDS]\n');
    process.exit(2);
  }
  main(seconds).catch((e) => {
    process.stderr.write(`loadgen: ${e instanceof Error ? e.message : e}\n`);
    process.exit(1);
  });
}
