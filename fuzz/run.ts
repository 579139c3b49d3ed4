// CLI: ts-node fuzz/run.ts [--iterations 100000] [--kernel N] [--seed N] [--time-bound 200] [--hang 10000] [--json]
//      ts-node fuzz/run.ts --seed N --reproduce INDEX [--out file.o]
//      ts-node fuzz/run.ts --seed N --kernel-reproduce INDEX
// Runs, in order: objects of growing size (time per byte), fromFile on odd files, `--iterations`
// pure-stage inputs (mutated objects parsed and exercised) and `--kernel` kernel-stage inputs
// (mutated objects loaded, run/map API calls with random options; default a tenth of
// --iterations, 0 skips it; needs BPF privileges). Prints the figures; exits 1 on any untyped
// exception, fd leak, time-bound violation, growing time per byte, hang or crash. Without --seed
// a fresh seed is drawn and printed, so each run explores new inputs and any failure can still
// be replayed.
import { writeFileSync } from 'node:fs';
import { BpfUnitError } from '../src/errors';
import { corpusDigest, Failure, FuzzReport, generateInput, loadCorpus, ROOT, runInput, SlowInput, exercise } from './fuzzer';
import { fuzzGuarded, GuardedResult } from './guard';
import { ObjectSpec } from '../src/object/object';
import { closeApi, KERNEL_HANG_MS, KernelReport, kernelFuzz, openApi, runKernelInput } from './kernel';
import { filesStage, FilesReport, sizeStage, SizeReport } from './stages';

export interface CliOptions {
  iterations: number;
  seed: number;
  timeBoundMs: number;
  hangMs: number;
  json: boolean;
  reproduce?: number;
  kernelReproduce?: number;
  /** Kernel-stage inputs; undefined: a tenth of iterations. */
  kernel?: number;
  out?: string;
}

export const DEFAULT_TIME_BOUND_MS = 200;
export const DEFAULT_HANG_MS = 10_000;

export function parseArgs(argv: string[], randomSeed = () => (Math.random() * 0x100000000) >>> 0): CliOptions {
  const opts: CliOptions = {
    iterations: 100_000, seed: -1, timeBoundMs: DEFAULT_TIME_BOUND_MS, hangMs: DEFAULT_HANG_MS, json: false,
  };
  const int = (flag: string, v: string | undefined, min: number): number => {
    const n = Number(v);
    if (v === undefined || !Number.isInteger(n) || n < min) throw new Error(`${flag} needs an integer >= ${min}, got ${v ?? 'nothing'}`);
    return n;
  };
  for (let k = 0; k < argv.length; k++) {
    const a = argv[k];
    switch (a) {
      case '--iterations': opts.iterations = int(a, argv[++k], 1); break;
      case '--seed': opts.seed = int(a, argv[++k], 0) >>> 0; break;
      case '--time-bound': opts.timeBoundMs = int(a, argv[++k], 1); break;
      case '--hang': opts.hangMs = int(a, argv[++k], 1); break;
      case '--reproduce': opts.reproduce = int(a, argv[++k], 0); break;
      case '--kernel-reproduce': opts.kernelReproduce = int(a, argv[++k], 0); break;
      case '--kernel': opts.kernel = int(a, argv[++k], 0); break;
      case '--out': opts.out = argv[++k]; break;
      case '--json': opts.json = true; break;
      default: throw new Error(`unknown argument ${a}`);
    }
  }
  if ((opts.reproduce ?? opts.kernelReproduce) !== undefined && opts.seed < 0) throw new Error('--reproduce needs the --seed of the run');
  if (opts.seed < 0) opts.seed = randomSeed();
  return opts;
}

function fmt(n: number): string {
  return n.toLocaleString('en-US');
}

function pct(n: number, of: number): string {
  return of ? `${((100 * n) / of).toFixed(1)}%` : '-';
}

function slowLine(s: SlowInput): string {
  return `${s.ms.toFixed(1)} ms (input ${s.index}, ${s.file}: ${s.mutations.join('; ')})`;
}

export function formatReport(r: FuzzReport): string {
  const lines: string[] = [];
  lines.push(`seed ${r.seed}: ${fmt(r.inputs)} inputs from ${r.corpus.files} objects (${fmt(r.corpus.bytes)} bytes, corpus ${r.corpus.digest}) in ${(r.elapsedMs / 1000).toFixed(1)} s, ${fmt(Math.round(r.inputsPerSecond))} inputs/s`);
  lines.push(`  object models (parsed and exercised): ${fmt(r.parsed)} (${pct(r.parsed, r.inputs)})`);
  const typed = Object.entries(r.typed).sort((a, b) => b[1] - a[1]);
  const typedTotal = typed.reduce((s, [, n]) => s + n, 0);
  lines.push(`  typed errors from parse: ${fmt(typedTotal)} (${pct(typedTotal, r.inputs)})`);
  for (const [cls, n] of typed) lines.push(`    ${cls.padEnd(12)} ${fmt(n).padStart(8)} (${pct(n, r.inputs)})`);
  const after = Object.entries(r.typedAfterParse).sort((a, b) => b[1] - a[1]);
  if (after.length) {
    lines.push(`  typed errors after parse (marshal, btfForKernel):`);
    for (const [cls, n] of after) lines.push(`    ${cls.padEnd(12)} ${fmt(n).padStart(8)}`);
    for (const f of r.afterParseExamples) {
      lines.push(`      e.g. ${f.error} x${f.count}: ${f.message}  (--seed ${f.seed} --reproduce ${f.index})`);
    }
  }
  lines.push(`  untyped exceptions: ${r.untypedCount} (${r.untyped.length} distinct)`);
  for (const f of r.untyped) lines.push(failureText(f));
  lines.push(`  time bound ${r.timeBoundMs} ms per input: ${r.timeViolations.length} violation(s)`);
  for (const s of r.timeViolations.slice(0, 10)) lines.push(`    ${slowLine(s)}`);
  if (r.slowest) lines.push(`  slowest input: ${slowLine(r.slowest)}`);
  if (r.slowestOriginal) lines.push(`  slowest unmutated object: ${r.slowestOriginal.ms.toFixed(1)} ms (${r.slowestOriginal.file})`);
  return lines.join('\n');
}

function failureText(f: Failure): string {
  return [
    `    ${f.error} in ${f.stage} (${f.count} input${f.count === 1 ? '' : 's'}): ${f.message}`,
    `      reproduce: ts-node fuzz/run.ts --seed ${f.seed} --reproduce ${f.index}   (${f.file}: ${f.mutations.join('; ')})`,
    ...f.stack.split('\n').slice(1, 8).map((l) => `      ${l.trim()}`),
  ].join('\n');
}

export function failed(g: GuardedResult): boolean {
  return !g.report || g.report.untypedCount > 0 || g.report.timeViolations.length > 0;
}

export function kernelFailed(k: KernelReport): boolean {
  return k.untypedCount > 0 || k.fdLeaks.length > 0 || k.crashes.length > 0 || k.hangs.length > 0;
}

export function formatSizes(s: SizeReport): string {
  const lines = [`objects of growing size (ObjectSpec.parse, best of 3): time per byte grew ${s.growth.toFixed(2)}x (bound ${s.bound}x)`];
  for (const p of s.points) {
    lines.push(`    ${fmt(p.bytes).padStart(11)} bytes, ${fmt(p.programs).padStart(6)} programs${p.zeroSizes ? ', st_size 0' : '           '}: ${p.ms.toFixed(1).padStart(8)} ms, ${p.nsPerByte.toFixed(1).padStart(6)} ns/byte${p.complete ? '' : ', PROGRAMS MISSING'}`);
  }
  return lines.join('\n');
}

export function formatFiles(f: FilesReport): string {
  const lines = [`fromFile on odd files: ${f.hang ? 'HANG (killed)' : `${f.outcomes.length} files, ${f.wrong.length} wrong`}`];
  for (const o of f.outcomes) lines.push(`    ${o.kind.padEnd(36)} ${o.error ? `${o.error}: ${o.message}` : `parsed, ${o.programs} programs`}`);
  for (const o of f.wrong) lines.push(`    WRONG ${o.kind}: ${o.error ?? 'parsed'} ${o.message ?? ''}`);
  return lines.join('\n');
}

export function formatKernel(k: KernelReport): string {
  const lines: string[] = [];
  lines.push(`kernel stage, seed ${k.seed}: ${fmt(k.inputs)} inputs in ${(k.elapsedMs / 1000).toFixed(1)} s, ${k.inputsPerSecond.toFixed(1)} inputs/s`);
  const classes = (r: Record<string, number>) => Object.entries(r).sort((a, b) => b[1] - a[1]).map(([c, n]) => `${c} ${fmt(n)}`).join(', ') || 'none';
  lines.push(`  load (Collection.load with every program): ${fmt(k.loads.inputs)} inputs, ${fmt(k.loads.parsed)} parsed, ${fmt(k.loads.loaded)} loaded; typed: ${classes(k.loads.typed)}`);
  lines.push(`  run/map/global API: ${fmt(k.api.inputs)} calls, ${fmt(k.api.ok)} returned; typed: ${classes(k.api.typed)}`);
  lines.push(`  untyped exceptions: ${k.untypedCount} (${k.untyped.length} distinct)`);
  for (const f of k.untyped) {
    lines.push(`    ${f.error} x${f.count}: ${f.message}`);
    lines.push(`      e.g. ${f.what}`);
    lines.push(`      reproduce: ts-node fuzz/run.ts --seed ${k.seed} --kernel-reproduce ${f.index}`);
    lines.push(...f.stack.split('\n').slice(1, 4).map((l) => `      ${l.trim()}`));
  }
  lines.push(`  fd leaks: ${k.fdLeaks.length}`);
  for (const l of k.fdLeaks.slice(0, 10)) lines.push(`    ${l.before} -> ${l.after} fds: ${l.what} (--kernel-reproduce ${l.index})`);
  lines.push(`  crashes of the process: ${k.crashes.length}`);
  for (const c of k.crashes.slice(0, 10)) lines.push(`    input ${c.index}: ${c.how}: ${c.what} (--kernel-reproduce ${c.index})\n      ${c.stderr.replace(/\n/g, '\n      ')}`);
  lines.push(`  hangs (stopped after ${KERNEL_HANG_MS / 1000} s): ${k.hangs.length}`);
  for (const h of k.hangs.slice(0, 10)) lines.push(`    input ${h.index}: ${h.what} (--kernel-reproduce ${h.index})`);
  if (k.slowest) lines.push(`  slowest input: ${k.slowest.ms.toFixed(1)} ms (input ${k.slowest.index}: ${k.slowest.what})`);
  return lines.join('\n');
}

function kernelReproduce(opts: CliOptions): number {
  const api = openApi();
  try {
    const r = runKernelInput(loadCorpus(ROOT), api, opts.seed, opts.kernelReproduce!);
    console.log(`kernel input ${r.index} of seed ${opts.seed} (${r.input}, ${r.ms.toFixed(1)} ms): ${r.outcome.what}`);
    console.log(JSON.stringify(r.outcome, null, 2));
    return r.outcome.kind === 'ok' || r.outcome.kind === 'typed' ? 0 : 1;
  } finally {
    closeApi(api);
  }
}

function reproduce(opts: CliOptions): number {
  const corpus = loadCorpus(ROOT);
  const input = generateInput(corpus, opts.seed, opts.reproduce!);
  console.log(`input ${opts.reproduce} of seed ${opts.seed} (corpus ${corpusDigest(corpus)}): ${input.file}, ${input.bytes.length} bytes`);
  for (const m of input.mutations) console.log(`  ${m}`);
  if (opts.out) {
    writeFileSync(opts.out, input.bytes);
    console.log(`written to ${opts.out}`);
  }
  const t0 = performance.now();
  const outcome = runInput(input.bytes, input.file);
  const ms = performance.now() - t0;
  if (outcome.kind === 'parsed') {
    const spec = ObjectSpec.parse(input.bytes, input.file);
    exercise(spec);
    console.log(`parsed in ${ms.toFixed(1)} ms: programs ${spec.programs.map((p) => p.name).join(', ') || 'none'}; maps ${spec.maps.map((m) => m.name).join(', ') || 'none'}`);
    return 0;
  }
  // Throw again outside runInput for the full message and stack.
  try {
    exercise(ObjectSpec.parse(input.bytes, input.file));
  } catch (e) {
    const err = e as Error;
    console.log(`${outcome.kind === 'typed' ? 'typed' : 'UNTYPED'} error in ${outcome.stage} after ${ms.toFixed(1)} ms: ${err.name}: ${err.message}`);
    if (!(e instanceof BpfUnitError)) console.log(err.stack);
  }
  return outcome.kind === 'untyped' ? 1 : 0;
}

async function main(argv: string[]): Promise<number> {
  let opts: CliOptions;
  try {
    opts = parseArgs(argv);
  } catch (e) {
    console.error(`fuzz: ${(e as Error).message}`);
    return 2;
  }
  if (opts.reproduce !== undefined) return reproduce(opts);
  if (opts.kernelReproduce !== undefined) return kernelReproduce(opts);
  const kernelInputs = opts.kernel ?? Math.floor(opts.iterations / 10);
  const log = (m: string) => {
    if (!opts.json) console.error(m);
  };
  log('objects of growing size...');
  const sizes = sizeStage();
  log('fromFile on odd files...');
  const files = filesStage();
  log(`fuzzing ${fmt(opts.iterations)} inputs, seed ${opts.seed}, time bound ${opts.timeBoundMs} ms, hang after ${opts.hangMs} ms`);
  let lastShown = 0;
  const step = Math.max(1000, Math.floor(opts.iterations / 10));
  const result = await fuzzGuarded({
    iterations: opts.iterations, seed: opts.seed, timeBoundMs: opts.timeBoundMs, hangMs: opts.hangMs,
    onProgress: (done) => {
      if (!opts.json && done - lastShown >= step) {
        lastShown = done;
        console.error(`  ${fmt(done)} / ${fmt(opts.iterations)}`);
      }
    },
  });
  let kernel: KernelReport | undefined;
  if (kernelInputs > 0) {
    log(`kernel stage: ${fmt(kernelInputs)} inputs`);
    let shown = 0;
    kernel = await kernelFuzz({
      iterations: kernelInputs, seed: opts.seed, hangMs: Math.max(opts.hangMs, KERNEL_HANG_MS),
      onProgress: (done) => {
        if (done - shown >= Math.max(500, kernelInputs / 10)) {
          shown = done;
          log(`  ${fmt(done)} / ${fmt(kernelInputs)}`);
        }
      },
    });
  }
  const bad = failed(result) || (kernel !== undefined && kernelFailed(kernel)) || sizes.growth > sizes.bound || sizes.points.some((p) => !p.complete) || files.hang || files.wrong.length > 0;
  if (opts.json) console.log(JSON.stringify({ sizes, files, pure: result, kernel }, null, 2));
  else {
    console.log(formatSizes(sizes));
    console.log(formatFiles(files));
    if (result.report) console.log(formatReport(result.report));
    if (result.hang) {
      console.log(`HANG after ${fmt(result.done)} inputs: ${slowLine(result.hang)}`);
      console.log(`  reproduce: ts-node fuzz/run.ts --seed ${result.hang.seed} --reproduce ${result.hang.index}`);
    }
    if (result.crash) console.log(`worker died on input ${result.crash.index} after ${fmt(result.done)} inputs: ${result.crash.message}`);
    if (kernel) console.log(formatKernel(kernel));
  }
  return bad ? 1 : 0;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
}
