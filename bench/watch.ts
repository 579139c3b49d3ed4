// Watch mode's save-to-result time: `bpfunit test --watch` in a repository scaffolded by
// `bpfunit init`, one program source saved at a time; the time from the write to the cycle's result
// line (quiet period, clang, the spec file rerun in-process), median over the edits. Beside it, in
// the same rounds, clang compiling that source alone with the same flags: the floor of any watcher.
//
//   ts-node bench/watch.ts [EDITS]     (also a section of `npm run bench`)
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { targets } from '../src/cli/build';
import { loadConfig } from '../src/config';
import type { Row } from './run';

const ROOT = path.resolve(__dirname, '..');
const CLI = path.join(ROOT, 'bin', 'bpfunit');
const DEFAULT_EDITS = 15;

function fail(what: string): never {
  throw new Error(`bench check failed: ${what}`);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

class WatchProcess {
  private out = '';
  private taken = 0;
  private readonly child: ChildProcess;

  constructor(dir: string) {
    this.child = spawn(CLI, ['test', '--watch'], { cwd: dir, stdio: ['ignore', 'pipe', 'inherit'] });
    this.child.stdout!.on('data', (d: Buffer) => (this.out += d.toString()));
  }

  /** The next cycle's result line, with the failure lines before it (woken by the output itself,
   * so no polling takes CPU from the process measured). */
  async next(): Promise<string> {
    for (;;) {
      const lines = this.out.split('\n');
      const k = lines.findIndex((l, i) => i >= this.taken && l.startsWith('bpfunit watch: ') && !l.startsWith('bpfunit watch: watching '));
      if (k >= 0 && k < lines.length - 1) {
        const cycle = lines.slice(this.taken, k + 1).filter((l) => !l.startsWith('bpfunit watch: watching ')).join('\n');
        this.taken = k + 1;
        return cycle;
      }
      if (this.child.exitCode !== null) fail(`bpfunit test --watch exited ${this.child.exitCode}: ${this.out}`);
      await new Promise<void>((done) => {
        const wake = () => {
          this.child.stdout!.off('data', wake);
          this.child.off('exit', wake);
          done();
        };
        this.child.stdout!.on('data', wake);
        this.child.on('exit', wake);
      });
    }
  }

  async stop(): Promise<void> {
    const exited = new Promise((done) => this.child.once('exit', done));
    this.child.kill('SIGINT');
    await exited;
    if (this.child.exitCode !== 0) fail(`bpfunit test --watch exited ${this.child.exitCode} on SIGINT`);
  }
}

/** Rows: save-to-result for each of the scaffold's two programs (the re-hosted one rebuilds its harness too). */
export async function watchRows(edits = DEFAULT_EDITS): Promise<Row[]> {
  const dir = realpathSync(mkdtempSync(path.join(tmpdir(), 'bpfunit-bench-watch-')));
  const rows: Row[] = [];
  try {
    if (spawnSync(CLI, ['init'], { cwd: dir }).status !== 0) fail('bpfunit init failed');
    mkdirSync(path.join(dir, 'node_modules'));
    symlinkSync(ROOT, path.join(dir, 'node_modules', 'bpfunit')); // the specs import bpfunit/mocha
    const watch = new WatchProcess(dir);
    try {
      const first = await watch.next();
      if (!/ran .*\(2 of 2 spec files\): \d+ passing, 0 failing/.test(first)) fail(`first cycle: ${first}`);
      const config = loadConfig(dir);
      for (const [name, expected] of [
        ['xdp_filter', /^bpfunit watch: built build\/bpf\/xdp_filter\.o; ran test\/xdp_filter\.spec\.ts \(1 of 2 spec files\): \d+ passing, 0 failing; \d+ ms$/],
        ['msg_guard', /^bpfunit watch: built build\/bpf\/msg_guard\.o, build\/bpf\/msg_guard_harness\.o; ran test\/msg_guard\.spec\.ts \(1 of 2 spec files\): \d+ passing, 0 failing; \d+ ms$/],
      ] as const) {
        const source = path.join(dir, 'bpf', `${name}.c`);
        const text = readFileSync(source, 'utf8');
        const target = targets(config).find((t) => t.source === source)!;
        const args = target.args.filter((a) => a !== '-MMD' && a !== '-MP').map((a) => (a === path.relative(dir, target.object) ? path.join(dir, 'build', 'clang-alone.o') : a));
        const saves: number[] = [];
        const clang: number[] = [];
        for (let k = 0; k < edits; k++) {
          const t0 = process.hrtime.bigint();
          writeFileSync(source, `${text}// edit ${k}\n`); // a real save: new content, the object rebuilt
          const cycle = await watch.next();
          saves.push(Number(process.hrtime.bigint() - t0));
          if (!expected.test(cycle)) fail(`after saving ${name}.c: ${cycle}`);
          const c0 = process.hrtime.bigint();
          if (spawnSync('clang', args, { cwd: dir }).status !== 0) fail(`clang ${args.join(' ')}`);
          clang.push(Number(process.hrtime.bigint() - c0));
        }
        const a = median(saves);
        const b = median(clang);
        rows.push({ operation: `watch: save bpf/${name}.c to result line (bpfunit init scaffold), vs clang compiling it alone`, bpfunitNs: Math.round(a), nativeNs: Math.round(b), ratio: Number((a / b).toFixed(2)), iterations: edits });
      }
    } finally {
      await watch.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

if (require.main === module) {
  watchRows(process.argv[2] ? Number(process.argv[2]) : undefined).then(
    (rows) => {
      for (const r of rows) console.log(`${r.operation}: median ${(r.bpfunitNs / 1e6).toFixed(0)} ms over ${r.iterations} saves; clang alone ${(r.nativeNs! / 1e6).toFixed(0)} ms (ratio ${r.ratio})`);
    },
    (e) => {
      console.error(e instanceof Error ? e.message : e);
      process.exitCode = 1;
    },
  );
}
