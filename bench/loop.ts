// The developer's loop as whole commands, each beside a bare `node -e 0` timed in the same rounds
// (alternating, so both see the same machine load): the program suite warm, `make precommit` with
// nothing changed and after a change to bpf/sendmsg.c, and `make test` (one round: it is long).
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, utimesSync } from 'node:fs';
import * as path from 'node:path';
import type { Row } from './run';

const ROOT = path.resolve(__dirname, '..');
const MOCHA = path.join(ROOT, 'node_modules/mocha/bin/mocha.js');
const RECORD = path.join(ROOT, 'build/bpf/.precommit.json');

/** Wall time of a command in ns; its output is captured and returned for checks. */
function wall(cmd: string, args: string[]): { ns: number; out: string } {
  const t0 = process.hrtime.bigint();
  try {
    const out = execFileSync(cmd, args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20 });
    return { ns: Number(process.hrtime.bigint() - t0), out };
  } catch (e) {
    const { stdout = '', stderr = '' } = e as { stdout?: string; stderr?: string };
    fail(`${cmd} ${args.join(' ')} failed:\n${stdout.slice(-3000)}\n${stderr.slice(-1000)}`);
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** `rounds` rounds of: prepare, the command, then node -e 0; medians of both. */
function beside(operation: string, rounds: number, run: () => { ns: number; out: string }, check: (out: string) => void, prepare = () => {}): Row {
  const ours: number[] = [];
  const node: number[] = [];
  let last = '';
  for (let r = 0; r < rounds; r++) {
    prepare();
    const m = run();
    ours.push(m.ns);
    last = m.out;
    node.push(wall(process.execPath, ['-e', '0']).ns);
  }
  check(last);
  const a = median(ours);
  const b = median(node);
  return { operation, bpfunitNs: Math.round(a), nativeNs: Math.round(b), ratio: Number((a / b).toFixed(2)), iterations: rounds };
}

function fail(what: string): never {
  throw new Error(`bench check failed: ${what}`);
}

function touch(file: string): void {
  const now = new Date();
  utimesSync(path.join(ROOT, file), now, now);
}

export function loopRows(): Row[] {
  const rows: Row[] = [];
  const passing = (what: string) => (out: string) => {
    if (!/\d+ passing/.test(out) || /\d+ failing/.test(out)) fail(`${what}: ${out.slice(-300)}`);
  };
  const suite = () => wall(process.execPath, [MOCHA, '--reporter', 'dot', 'spec/programs/**/*.spec.ts']);
  suite(); // warm: tsx's transpile cache and the page cache
  rows.push(beside('program suite, warm (mocha spec/programs), vs node -e 0', 3, suite, passing('program suite')));

  const precommit = () => wall('make', ['-s', 'precommit']);
  precommit(); // brings the objects, the stamps and the record up to date
  rows.push(beside('make precommit, nothing changed, vs node -e 0', 5, precommit, (out) => {
    if (out !== '') fail(`make precommit with nothing changed printed: ${out}`);
  }));
  rows.push(beside('make precommit after touching bpf/sendmsg.c, vs node -e 0', 3, precommit, (out) => {
    passing('make precommit after a change')(out);
    // the record says which spec files load the rebuilt objects: only those run
    const record = JSON.parse(readFileSync(RECORD, 'utf8')) as { specs: Record<string, unknown> };
    const m = /(\d+) of (\d+) spec files/.exec(out);
    if (!m || Number(m[1]) >= Number(m[2]) || Number(m[2]) > Object.keys(record.specs).length) fail(`make precommit after a change ran: ${out.split('\n')[0]}`);
  }, () => touch('bpf/sendmsg.c')));

  // Timed even when a load-sensitive spec (a time bound) fails on a busy machine: the row then says so.
  let makeTest = 'make test (every spec), vs node -e 0';
  rows.push(beside(makeTest, 1, () => {
    const t0 = process.hrtime.bigint();
    const r = spawnSync('make', ['-s', 'test'], { cwd: ROOT, encoding: 'utf8', maxBuffer: 64 << 20 });
    const failing = [...`${r.stdout}`.matchAll(/(\d+) failing/g)].reduce((n, m) => n + Number(m[1]), 0);
    if (r.status !== 0) makeTest += ` (exit ${r.status}, ${failing} failing)`;
    return { ns: Number(process.hrtime.bigint() - t0), out: r.stdout };
  }, () => {}));
  rows[rows.length - 1].operation = makeTest;
  return rows;
}
