// What each spec file uses, seen from inside the mocha process: the files of the repository it reads
// (BPF objects through ObjectSpec.fromFile, Harness.load or its own reads; fixtures; sources) and the
// files it hands to child processes (an object given to `bpfunit run`, a header directory given to a
// compiler as -I). Reads are watched at the fs and child_process entry points, so the copy of
// bpfunit a spec imports (the package, or this repository's sources) does not matter.
import childProcess = require('node:child_process');
import fs = require('node:fs');
import { syncBuiltinESMExports } from 'node:module';
import { join, resolve, sep } from 'node:path';

/** Module sources: they are inputs of every spec file (see `modules`), not of the one loading them. */
const CODE = /\.[cm]?[jt]sx?$/;

type Fn = (...args: unknown[]) => unknown;

export class InputRecorder {
  /** The spec file running now (absolute), set from mocha's events. */
  current: string | undefined;
  private readonly inputs = new Map<string, Set<string>>();
  private readonly restore: (() => void)[] = [];

  constructor(private readonly root: string) {}

  /** Files of the repository a spec file used, absolute. */
  of(spec: string): Set<string> {
    return this.inputs.get(spec) ?? new Set();
  }

  /** The repository's modules loaded in this process (CommonJS and the TypeScript hook's). */
  modules(): string[] {
    return Object.keys(require.cache).filter((p) => this.inside(p));
  }

  install(): void {
    const onPath = (p: unknown) => {
      if (typeof p === 'string' || p instanceof URL) this.note(p instanceof URL ? p.pathname : p);
    };
    for (const name of ['readFileSync', 'openSync', 'readFile', 'open'] as const) this.wrap(fs, name, (args) => onPath(args[0]));
    this.wrap(fs.promises, 'readFile', (args) => onPath(args[0]));
    this.wrap(fs.promises, 'open', (args) => onPath(args[0]));
    const onArgs = (args: unknown[]) => {
      const opts = args.find((a): a is { cwd?: string } => !!a && typeof a === 'object' && !Array.isArray(a));
      const cwd = typeof opts?.cwd === 'string' ? opts.cwd : process.cwd();
      const list = args.find(Array.isArray) as unknown[] | undefined;
      const words = [typeof args[0] === 'string' ? args[0] : '', ...(list ?? [])].flatMap((w) => (typeof w === 'string' ? w.split(/\s+/) : []));
      for (let k = 0; k < words.length; k++) {
        const w = words[k];
        if (w === '-I' && k + 1 < words.length) this.noteDir(resolve(cwd, words[++k]));
        else if (w.startsWith('-I')) this.noteDir(resolve(cwd, w.slice(2)));
        else if (w && !w.startsWith('-')) this.note(resolve(cwd, w));
      }
    };
    for (const name of ['spawn', 'spawnSync', 'execFile', 'execFileSync', 'exec', 'execSync', 'fork'] as const) this.wrap(childProcess, name, onArgs);
    syncBuiltinESMExports();
  }

  uninstall(): void {
    while (this.restore.length) this.restore.pop()!();
    syncBuiltinESMExports();
  }

  private wrap<T extends object>(target: T, name: keyof T & string, seen: (args: unknown[]) => void): void {
    const original = target[name] as unknown as Fn;
    const self = this;
    const wrapped = function (this: unknown, ...args: unknown[]) {
      if (self.current) {
        try {
          seen(args);
        } catch {
          // recording never changes what the spec's call does
        }
      }
      return original.apply(this, args);
    };
    Object.defineProperty(wrapped, 'name', { value: original.name });
    // promisify(fs.readFile) etc. must keep working
    for (const key of Reflect.ownKeys(original)) if (!(key in wrapped)) (wrapped as unknown as Record<PropertyKey, unknown>)[key] = (original as unknown as Record<PropertyKey, unknown>)[key];
    (target as Record<string, unknown>)[name] = wrapped;
    this.restore.push(() => ((target as Record<string, unknown>)[name] = original));
  }

  private inside(p: string): boolean {
    return p.startsWith(this.root + sep) && !p.includes(`${sep}node_modules${sep}`);
  }

  private note(path: string): void {
    const p = resolve(path); // normalised too: a spec's `__dirname + '/../build/x.o'` is build/x.o
    if (this.inside(p) && !CODE.test(p) && isFile(p)) this.add(p);
  }

  private noteDir(dir: string): void {
    if (!this.inside(dir)) return;
    let names: string[];
    try {
      names = fs.readdirSync(dir);
    } catch {
      return;
    }
    this.add(dir); // a file added or removed there changes the directory's mtime
    for (const n of names) if (isFile(join(dir, n))) this.add(join(dir, n));
  }

  private add(p: string): void {
    const spec = this.current!;
    let set = this.inputs.get(spec);
    if (!set) this.inputs.set(spec, (set = new Set()));
    set.add(p);
  }
}

function isFile(p: string): boolean {
  try {
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}
