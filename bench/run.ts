// `npm run bench`: what bpfunit costs per operation, next to the same operation done natively
// (bench/native.c through libbpf, run in the same invocation). Prints a table, or JSON with --json.
//
//   ts-node bench/run.ts [--json] [--iterations N] [--operations]
//
// --operations: only the per-operation rows beside native.c (seconds, not the minutes the suite,
// scaling, watch, coverage and mutation rows take).
//
// Nothing here judges a timing: the numbers are for reading, not for failing a build. Results are
// checked once after each measurement, so a row cannot be fast because it did nothing.
//
// Adding a row: push a Case onto CASES (or a section's own list). `run` is timed by measure();
// `native` names the key in native.c's output to compare against, or `baseline` measures any
// other reference (e.g. `node -e 0` for a pre-commit timing); `check` runs once afterwards;
// `countCalls` adds a row of the bpf() calls each run made.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Collection, Harness, MsgOp, ObjectSpec } from '../src';
import { addressOf, bpfCallCount, closeFd } from '../src/sys/ffi';
import { casesSpec } from './cases';
import { loadConfig as loadCoverageConfig } from '../src/coverage/config';
import { sizedOptions, syntheticObject } from '../spec/support/synthetic';
import { loopRows } from './loop';
import { watchRows } from './watch';

const ROOT = path.resolve(__dirname, '..');
const OBJECT = path.join(ROOT, 'build/fixtures/bench_trivial.o');
const HARNESS = path.join(ROOT, 'build/fixtures/tag_harness.o');
const NATIVE = path.join(ROOT, 'build/bench/native');
const DEFAULT_ITERATIONS = 50000;
const ROUNDS = 5;
const DATA_LEN = 64;
const XDP_PASS = 2;

export interface Measurement {
  name: string;
  /** The median round's nanoseconds per call. */
  nsPerOp: number;
  iterations: number;
  /** Every call of fn, warm-up included. */
  runs: number;
}

/** Calls fn `iterations / 10` times to warm up, then ROUNDS rounds of iterations / ROUNDS calls;
 * reports the median round, as native.c does. fn gets a running index. */
export function measure(name: string, fn: (i: number) => void, iterations: number, warmup = Math.floor(iterations / 10)): Measurement {
  const n = Math.max(1, Math.floor(iterations / ROUNDS));
  let i = 0;
  for (let k = 0; k < warmup; k++) fn(i++);
  const perRound: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const t0 = process.hrtime.bigint();
    for (let k = 0; k < n; k++) fn(i++);
    perRound.push(Number(process.hrtime.bigint() - t0) / n);
  }
  perRound.sort((a, b) => a - b);
  return { name, nsPerOp: perRound[Math.floor(ROUNDS / 2)], iterations: n * ROUNDS, runs: i };
}

export interface Case {
  name: string;
  run: (i: number) => void;
  /** Overrides the run's iteration count (e.g. for whole-process rows). */
  iterations?: number;
  /** Key in native.c's ns_per_op to compare against. */
  native?: string;
  /** Any other reference, in ns per op. */
  baseline?: () => number;
  /** Throws when the operation did not do what it should have (never about time). */
  check?: () => void;
  /** Also report bpf() calls per run (bpfCallCount over the measurement, warm-up included). */
  countCalls?: boolean;
}

export interface Row {
  operation: string;
  /** ns per op, or a count when `unit` says what is counted. */
  bpfunitNs: number;
  unit?: string;
  nativeNs: number | undefined;
  /** bpfunit / native. */
  ratio: number | undefined;
  iterations: number;
}

interface NativeResult {
  iterations: number;
  warmup: number;
  rounds: number;
  ns_per_op: Record<string, number>;
}

function runNative(iterations: number): NativeResult {
  if (!existsSync(NATIVE)) throw new Error(`${path.relative(ROOT, NATIVE)} is missing: run \`make bench-native\``);
  const out = execFileSync(NATIVE, [OBJECT, HARNESS, String(iterations)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  return JSON.parse(out) as NativeResult;
}

function fail(what: string): never {
  throw new Error(`bench check failed: ${what}`);
}

// The re-hosted case's message, the same bytes as native.c's.
const MESSAGE = Buffer.from('a 20-byte message...');
const PUSH_FAILS = -12;

/** One re-hosted test case as a spec writes it (bench/cases.ts) on the README's tag_prog harness:
 * the reset useHarness runs before each test, the message socket's family (IPv6 for every third
 * case, when tag_prog tail-calls an empty slot and leaves the message alone), push_data failing
 * for every fifth, the run, the output bytes and the recorded msg calls. native.c does the same
 * through libbpf and its own mapping of the data sections. */
function rehostedCase(): { case: Case; close: () => void } {
  const h = Harness.load(HARNESS, ['xdp_tag']);
  const oneCase = (i: number) => {
    h.reset();
    h.mocks.setMsgSocket({ family: i % 3 ? 2 : 10 });
    if (i % 5 === 0) h.mocks.pushDataFails(PUSH_FAILS);
    const out = h.run('xdp_tag', { data: MESSAGE }).data;
    return { out, calls: h.mocks.msgCalls() };
  };
  let sink = 0;
  return {
    case: {
      name: 're-hosted case (tag_harness.o: reset, mocks, run, recordings)',
      native: 're-hosted case',
      countCalls: true,
      run: (i) => {
        const r = oneCase(i);
        sink += r.out.length + r.calls.length;
      },
      check: () => {
        for (let i = 0; i < 15; i++) { // every combination of family and push failure
          const ipv4 = i % 3 !== 0;
          const fails = i % 5 === 0;
          const { out, calls } = oneCase(i);
          const want = ipv4 && !fails ? Buffer.concat([Buffer.from('TAG:'), MESSAGE]) : MESSAGE;
          if (!out.equals(want)) fail(`re-hosted case ${i}: output '${out.toString('latin1')}', expected '${want.toString('latin1')}'`);
          const push = calls[0];
          const pushOk = push?.op === MsgOp.PUSH && push.start === 0 && push.len === 4 && push.flags === 0n && push.ret === BigInt(fails ? PUSH_FAILS : 0);
          if (calls.length !== (ipv4 ? 1 : 0) || (ipv4 && !pushOk)) fail(`re-hosted case ${i}: msg calls ${JSON.stringify(calls, (_, v) => (typeof v === 'bigint' ? String(v) : v))}`);
        }
      },
    },
    close: () => {
      if (Number.isNaN(sink)) console.error(sink); // keeps `sink` observable
      h.close();
    },
  };
}

/** The per-operation rows against bench_trivial.o, and the re-hosted case on tag_harness.o after
 * the plain whole case. Returns the cases and a close(). */
function kernelCases(): { cases: Case[]; close: () => void } {
  const rehosted = rehostedCase();
  const coll = Collection.load(ObjectSpec.fromFile(OBJECT));
  const config = coll.map('bench_config');
  const result = coll.map('bench_result');
  const pass = coll.program('bench_pass');
  const benchCase = coll.program('bench_case');

  const key = Buffer.alloc(4);
  // struct bench_config { u32 verdict; u32 mark; }
  const cfg = Buffer.alloc(8);
  cfg.writeUInt32LE(XDP_PASS, 0);
  const data = Buffer.from(Array.from({ length: DATA_LEN }, (_, k) => k));
  let sink = 0;

  const wholeCase = (i: number) => {
    cfg.writeUInt32LE(i & 0xff, 4);
    config.update(key, cfg);
    const r = benchCase.run({ data });
    const res = result.lookup(key)!;
    // struct bench_result { u32 mark; u32 first_byte; u64 runs; }
    sink += r.retval + res.readUInt32LE(0) + r.data[0] + r.data.length;
  };

  const cases: Case[] = [
    {
      name: 'map update',
      native: 'map update',
      run: (i) => {
        cfg.writeUInt32LE(i >>> 0, 4);
        config.update(key, cfg);
      },
    },
    {
      name: 'map lookup',
      native: 'map lookup',
      run: () => {
        sink += config.lookup(key)!.readUInt32LE(4);
      },
      check: () => {
        if (config.lookup(key)?.readUInt32LE(0) !== XDP_PASS) fail('map lookup: the config entry does not hold what was written');
      },
    },
    {
      name: 'test run',
      native: 'test run',
      run: () => {
        sink += pass.run({ data }).retval;
      },
      check: () => {
        const r = pass.run({ data });
        if (r.retval !== XDP_PASS || !r.data.equals(data)) fail(`test run: retval ${r.retval}, ${r.data.length} bytes out`);
      },
    },
    {
      name: 'whole case',
      native: 'whole case',
      run: wholeCase,
      check: () => {
        cfg.writeUInt32LE(0x5a, 4);
        config.update(key, cfg);
        const r = benchCase.run({ data });
        const res = result.lookup(key)!;
        if (r.retval !== XDP_PASS || res.readUInt32LE(0) !== 0x5a || res.readUInt32LE(4) !== 0 || r.data[0] !== 0x5a) {
          fail(`whole case: retval ${r.retval}, mark ${res.readUInt32LE(0)}, first byte ${res.readUInt32LE(4)}, packet byte ${r.data[0]}`);
        }
      },
    },
    rehosted.case,
    {
      // No kernel work: what one ffi-rs crossing costs by itself (libc memset of 0 bytes), the
      // floor under every row above, each of which is one crossing per syscall.
      name: 'ffi-rs call, no syscall',
      run: () => {
        sink += Number(addressOf(data) & 1n);
      },
    },
    {
      // The form every bpf() call now takes: integer arguments only (the scratch buffer's address
      // rather than the Buffer), here with the cheapest syscall there is, close(-1) = EBADF.
      name: 'ffi-rs call, integer arguments, close(-1)',
      run: () => closeFd(-1),
    },
  ];
  return {
    cases,
    close: () => {
      if (Number.isNaN(sink)) console.error(sink); // keeps `sink` observable
      coll.close();
      rehosted.close();
    },
  };
}

/** The coverage run of `make coverage` (program and mock specs, instrumented, every report
 * written) beside the same specs run plain. Reports go to build/bench/coverage. */
function coverageCases(): Case[] {
  const mocha = path.join(ROOT, 'node_modules/mocha/bin/mocha.js');
  const specs = 'spec/{programs,mock}/**/*.spec.ts';
  const out = path.join(ROOT, 'build/bench/coverage');
  const config = path.join(ROOT, 'build/bench/coverage-config.json');
  mkdirSync(path.dirname(config), { recursive: true });
  const own = loadCoverageConfig(ROOT); // the "coverage" key of bpfunit.config.json
  writeFileSync(config, JSON.stringify({ ...own, output: path.relative(ROOT, out) }));
  const run = (coverage: boolean) => {
    const env = { ...process.env, BPFUNIT_COVERAGE: coverage ? '1' : '0', BPFUNIT_COVERAGE_CONFIG: config };
    const extra = coverage ? ['--require', 'ts-node/register', '--require', 'src/coverage/mocha-hooks.ts'] : [];
    const t0 = process.hrtime.bigint();
    execFileSync(process.execPath, [mocha, ...extra, '--reporter', 'dot', specs], { cwd: ROOT, env, stdio: 'ignore' });
    return Number(process.hrtime.bigint() - t0);
  };
  return [{
    name: 'coverage run vs plain run (program + mock specs)',
    iterations: 5,
    run: () => run(true),
    baseline: () => measure('plain', () => run(false), 5).nsPerOp,
    check: () => {
      const rows = JSON.parse(readFileSync(path.join(out, 'branch-table.json'), 'utf8')) as { id: string; covered: boolean; status: string }[];
      const open = rows.filter((r) => !r.covered && r.status !== 'folded').map((r) => r.id); // folded: clang left no jump to measure
      if (rows.length === 0 || open.length > 0) fail(`coverage run: ${rows.length} rows, uncovered: ${open.join(', ')}`);
    },
  }];
}

const MOCHA = path.join(ROOT, 'node_modules/mocha/bin/mocha.js');

/** The program suite run once with every bpf() call counted (bench/count-syscalls.ts): calls per
 * test, and what they were. Counted, not timed. */
export function syscallRows(): Row[] {
  const report = path.join(ROOT, 'build/bench/syscalls.json');
  mkdirSync(path.dirname(report), { recursive: true });
  execFileSync(process.execPath, [MOCHA, '--require', 'ts-node/register', '--require', 'bench/count-syscalls.ts', '--reporter', 'dot', 'spec/programs/**/*.spec.ts'], {
    cwd: ROOT, env: { ...process.env, BPFUNIT_SYSCALL_REPORT: report }, stdio: 'ignore',
  });
  const r = JSON.parse(readFileSync(report, 'utf8')) as { tests: number; total: number; perCommand: Record<string, number> };
  if (r.tests === 0) fail('syscalls: no test passed');
  const c = (name: string) => r.perCommand[`BPF_${name}`] ?? 0;
  // Each frozen .rodata costs one UPDATE_ELEM and one FREEZE at load.
  const load = c('MAP_CREATE') + c('PROG_LOAD') + c('BTF_LOAD') + 2 * c('MAP_FREEZE') + c('OBJ_GET_INFO_BY_FD');
  const batches = c('MAP_LOOKUP_AND_DELETE_BATCH') + c('MAP_UPDATE_BATCH') + c('MAP_DELETE_BATCH') + c('MAP_LOOKUP_BATCH');
  const elems = c('MAP_LOOKUP_ELEM') + c('MAP_UPDATE_ELEM') - c('MAP_FREEZE') + c('MAP_DELETE_ELEM') + c('MAP_GET_NEXT_KEY');
  const row = (operation: string, n: number): Row => ({ operation, bpfunitNs: round(n / r.tests, 2), unit: 'calls', nativeNs: undefined, ratio: undefined, iterations: r.tests });
  return [
    row(`bpf() syscalls per test over the program suite (${r.total} for ${r.tests} tests)`, r.total),
    row('  of which test runs', c('PROG_TEST_RUN')),
    row('  of which map elements the specs write or read', elems),
    row('  of which batch calls (resets, snapshots)', batches),
    row('  of which loads (maps, BTF, programs)', load),
  ];
}

/** `bpfunit mutate` over sendmsg.c and its specs: mutants decided per second (the mutant runs, not
 * the coverage pass, as the report times them), and how many were killed. */
export function mutationRows(): Row[] {
  const out = path.join(ROOT, 'build/bench/mutation');
  execFileSync(process.execPath, [path.join(ROOT, 'bin/bpfunit'), 'mutate', 'spec/programs/sendmsg*.spec.ts', '--include', '(^|/)bpf/sendmsg\\.c$', '--out', out], {
    cwd: ROOT, stdio: 'ignore',
  });
  const r = JSON.parse(readFileSync(path.join(out, 'mutation.json'), 'utf8')) as { mutants: { status: string }[]; seconds: number };
  const killed = r.mutants.filter((m) => m.status === 'killed').length;
  if (r.mutants.length === 0 || killed === 0) fail(`mutate: ${r.mutants.length} mutants, ${killed} killed`);
  return [
    { operation: `bpfunit mutate, sendmsg.c: mutants per second (${r.mutants.length} in ${r.seconds.toFixed(1)} s)`, bpfunitNs: round(r.mutants.length / r.seconds, 1), unit: 'mutants/s', nativeNs: undefined, ratio: undefined, iterations: r.mutants.length },
    { operation: '  of which killed', bpfunitNs: killed, unit: 'mutants', nativeNs: undefined, ratio: undefined, iterations: r.mutants.length },
  ];
}

/** N generated cases of one re-hosted program in one spec file, for growing N: time per case
 * (first case to last, mocha's own per-test work included) and bpf() calls per case. */
export function scalingRows(): Row[] {
  const dir = path.join(ROOT, 'build/bench');
  mkdirSync(dir, { recursive: true });
  const rows: Row[] = [];
  for (const n of [100, 1000, 10000]) {
    const spec = path.join(dir, `cases-${n}.spec.ts`);
    const report = path.join(dir, `cases-${n}.json`);
    writeFileSync(spec, casesSpec(n, ROOT));
    execFileSync(process.execPath, [MOCHA, '--reporter', 'dot', spec], { cwd: ROOT, env: { ...process.env, BPFUNIT_CASES_REPORT: report }, stdio: 'ignore' });
    const r = JSON.parse(readFileSync(report, 'utf8')) as { cases: number; ns: number; median: number; calls: number };
    if (r.cases !== n) fail(`scaling: ${r.cases} cases reported, ${n} generated`);
    rows.push({ operation: `${n} generated cases of one program: time per case (mean)`, bpfunitNs: round(r.ns / n, 1), nativeNs: undefined, ratio: undefined, iterations: n });
    rows.push({ operation: `${n} generated cases of one program: time per case (median)`, bpfunitNs: round(r.median, 1), nativeNs: undefined, ratio: undefined, iterations: n });
    rows.push({ operation: `${n} generated cases of one program: bpf() calls per case`, bpfunitNs: round(r.calls / n, 2), unit: 'calls', nativeNs: undefined, ratio: undefined, iterations: n });
  }
  return rows;
}

/** ObjectSpec.parse on synthetic objects of 1, 3 and 10 MB (1k, 3k and 10k programs). The
 * reference of each row is the 1 MB object's time per byte times this object's size, so the ratio
 * is how much time per byte grew: 1.0x is linear. */
function parseCases(): Case[] {
  const sizes: [programs: number, mb: number][] = [[1000, 1], [3000, 3], [10000, 10]];
  const objects = sizes.map(([n, mb]) => syntheticObject(sizedOptions(n, mb * 1e6)));
  const parse = (bytes: Buffer) => () => {
    ObjectSpec.parse(bytes);
  };
  let smallNsPerByte: number | undefined;
  return sizes.map(([n, mb], k) => {
    const bytes = objects[k].bytes;
    return {
      name: `parse ${n / 1000}k programs / ${mb} MB object (${bytes.length.toLocaleString('en-US')} bytes)`,
      iterations: 5,
      run: parse(bytes),
      baseline: () => {
        smallNsPerByte ??= measure('small', parse(objects[0].bytes), 5).nsPerOp / objects[0].bytes.length;
        return smallNsPerByte * bytes.length;
      },
      check: () => {
        const got = ObjectSpec.parse(bytes).programs.length;
        if (got !== n) fail(`parse: ${got} programs, expected ${n}`);
      },
    };
  });
}

function runCases(cases: Case[], iterations: number, native: NativeResult | undefined): Row[] {
  return cases.flatMap((c) => {
    const calls = bpfCallCount();
    const m = measure(c.name, c.run, c.iterations ?? iterations);
    const callsPerRun = (bpfCallCount() - calls) / m.runs;
    c.check?.();
    const ref = c.baseline ? c.baseline() : c.native !== undefined ? native?.ns_per_op[c.native] : undefined;
    const row: Row = {
      operation: c.name,
      bpfunitNs: round(m.nsPerOp, 1),
      nativeNs: ref,
      ratio: ref ? round(m.nsPerOp / ref, 2) : undefined,
      iterations: m.iterations,
    };
    if (!c.countCalls) return [row];
    return [row, { operation: '  bpf() calls per run', bpfunitNs: round(callsPerRun, 2), unit: 'calls', nativeNs: undefined, ratio: undefined, iterations: m.runs }];
  });
}

function round(n: number, digits: number): number {
  return Number(n.toFixed(digits));
}

function table(rows: Row[]): string {
  const fmt = (n: number | undefined, digits = 0) => (n === undefined ? '-' : n.toFixed(digits).replace(/\B(?=(\d{3})+(?!\d))/g, ','));
  const head = ['operation', 'bpfunit ns/op', 'native ns/op', 'ratio'];
  const body = rows.map((r) => [r.operation, r.unit ? `${r.bpfunitNs} ${r.unit}` : fmt(r.bpfunitNs), fmt(r.nativeNs), r.ratio === undefined ? '-' : `${r.ratio.toFixed(1)}x`]);
  const widths = head.map((h, k) => Math.max(h.length, ...body.map((b) => b[k].length)));
  const line = (cells: string[]) => '| ' + cells.map((c, k) => (k === 0 ? c.padEnd(widths[k]) : c.padStart(widths[k]))).join(' | ') + ' |';
  const rule = '|' + widths.map((w, k) => (k === 0 ? '-'.repeat(w + 2) : '-'.repeat(w + 1) + ':')).join('|') + '|';
  return [line(head), rule, ...body.map(line)].join('\n');
}

function parseArgs(argv: string[]): { json: boolean; iterations: number; operations: boolean } {
  let json = false;
  let operations = false;
  let iterations = DEFAULT_ITERATIONS;
  for (let k = 0; k < argv.length; k++) {
    const a = argv[k];
    if (a === '--json') json = true;
    else if (a === '--operations') operations = true;
    else if (a === '--iterations') iterations = Number(argv[++k]);
    else if (a.startsWith('--iterations=')) iterations = Number(a.slice('--iterations='.length));
    else throw new Error(`unknown argument ${a} (usage: bench/run.ts [--json] [--iterations N] [--operations])`);
  }
  if (!Number.isInteger(iterations) || iterations < ROUNDS) throw new Error(`--iterations must be an integer >= ${ROUNDS}`);
  return { json, iterations, operations };
}

async function main(): Promise<void> {
  const { json, iterations, operations } = parseArgs(process.argv.slice(2));
  for (const o of [OBJECT, HARNESS]) if (!existsSync(o)) throw new Error(`${path.relative(ROOT, o)} is missing: run \`make objects\``);
  const started = process.hrtime.bigint();
  const native = runNative(iterations);
  const kernel = kernelCases();
  let rows: Row[];
  try {
    rows = runCases(kernel.cases, iterations, native);
  } finally {
    kernel.close();
  }
  let parseRows: Row[] = [];
  if (!operations) {
    rows.push(...syscallRows());
    rows.push(...scalingRows());
    parseRows = runCases(parseCases(), iterations, undefined);
    rows.push(...parseRows);
    rows.push(...loopRows());
    rows.push(...(await watchRows()));
    rows.push(...runCases(coverageCases(), iterations, undefined));
    rows.push(...mutationRows());
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const env = { node: process.version, kernel: os.release(), cpus: os.cpus().length, iterations, rounds: ROUNDS, warmup: Math.floor(iterations / 10) };
  if (json) {
    console.log(JSON.stringify({ ...env, seconds: Number(seconds.toFixed(2)), rows }, null, 2));
    return;
  }
  console.log(`bpfunit bench: node ${env.node}, kernel ${env.kernel}, ${env.cpus} CPUs; ${iterations} iterations per row ` +
    `(median of ${ROUNDS} rounds after ${env.warmup} warm-up), fixture ${path.relative(ROOT, OBJECT)}`);
  console.log(table(rows));
  if (parseRows.length) console.log(`parse: ${parseRows.map((r) => `${(r.bpfunitNs / 1e6).toFixed(0)} ms, ${(r.bpfunitNs / Number(/\(([\d,]+) bytes\)/.exec(r.operation)![1].replace(/,/g, ''))).toFixed(1)} ns/byte`).join('; ')} (ratio: time per byte / the 1 MB object's)`);
  console.log(`(${seconds.toFixed(1)} s; ratio = bpfunit / native, or / \`node -e 0\` for the make rows, or / the plain run for coverage; timings are informational, nothing is asserted)`);
}

if (require.main === module) {
  main().catch((e) => {
    console.error(e instanceof Error ? e.message : e);
    process.exitCode = 1;
  });
}
