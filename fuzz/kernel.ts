// The kernel stage under fuzzing, in a child process so a native crash (heap corruption in the
// FFI layer aborts the whole process) or a hang is recorded against its input and the run goes on
// from the next one. Two kinds of input alternate:
//   load: a mutated corpus object (the pure stage's generator); whatever parses must load with
//         every program (Collection.load, no coverage hook) or fail with a typed error, and leave
//         the process's fd count as it found it.
//   api:  one call of the run/map/global API with random options and sizes on collections loaded
//         once (programs run with BPF_PROG_TEST_RUN only: nothing is attached, no live frames).
// Inputs are reproducible one by one from (seed, index), like the pure stage's; an api input runs
// against whatever state the earlier api inputs of the same child left in the maps.
import { ChildProcess, fork } from 'node:child_process';
import { readdirSync } from 'node:fs';
import * as path from 'node:path';
import { BpfUnitError } from '../src/errors';
import { Collection } from '../src/kernel/collection';
import { ObjectSpec } from '../src/object/object';
import { CorpusEntry, generateInput, inputSeed, loadCorpus, Prng, ROOT } from './fuzzer';

/** Objects the api inputs run against: XDP programs with small maps, every map type the fixtures
 * have, and data sections with globals. */
export const API_OBJECTS = ['build/fixtures/bench_trivial.o', 'build/fixtures/loader_maps.o', 'build/fixtures/loader_data.o'];

export type KernelOutcome =
  | { kind: 'ok'; what: string }
  | { kind: 'typed'; what: string; error: string; message: string }
  | { kind: 'untyped'; what: string; error: string; message: string; stack: string }
  | { kind: 'fdLeak'; what: string; before: number; after: number };

export interface KernelInputResult {
  index: number;
  input: 'load' | 'api';
  /** For load inputs: did the object parse (if not, the typed class is in outcome). */
  parsed?: boolean;
  outcome: KernelOutcome;
  ms: number;
}

export function openFds(): number {
  return readdirSync('/proc/self/fd').length;
}

// ---------------------------------------------------------------------------------------------
// Random API calls.

/** Integers worth trying as u32 options, and what is not an integer or not a u32. */
const ODD_NUMBERS = [-1, 2 ** 32, 2 ** 32 + 1, 2 ** 53, 1.5, NaN, Infinity, -Infinity, 0x80000000, 0xffffffff];
const SIZES = [0, 1, 3, 4, 8, 13, 14, 15, 16, 24, 60, 64, 100, 192, 256, 1500, 3000, 4096, 40000, 65535, 65536, 70000];

interface Api {
  collections: { name: string; coll: Collection }[];
}

function sizeOf(rng: Prng): number {
  return rng.chance(0.8) ? rng.pick(SIZES) : rng.below(1 << 17);
}

/** Bytes of `size`, as a Buffer mostly, or a Uint8Array, an array of numbers or a string. */
function bytesArg(rng: Prng, size: number, desc: string[], what: string): unknown {
  const b = Buffer.alloc(size);
  for (let k = 0; k < Math.min(size, 64); k++) b[k] = rng.below(256);
  const form = rng.below(10);
  if (form <= 6) {
    desc.push(`${what}=Buffer(${size})`);
    return b;
  }
  if (form <= 8) {
    desc.push(`${what}=Uint8Array(${size})`);
    return new Uint8Array(b.buffer, b.byteOffset, b.length);
  }
  if (rng.chance(0.5)) {
    desc.push(`${what}=number[${size}]`);
    return [...b];
  }
  desc.push(`${what}=string(${size})`);
  return 'x'.repeat(size);
}

/** Not a u32 at all: what every u32 option must refuse. */
const NOT_U32 = [-1, 2 ** 32, 2 ** 53, 1.5, NaN, Infinity, -Infinity];

/** A u32 option: usually valid, sometimes odd (`odd`: out of range, not an integer, or u32
 * boundaries where the option stays cheap). */
function optionNumber(rng: Prng, valid: () => number, odd: readonly number[] = ODD_NUMBERS): number {
  return rng.chance(0.75) ? valid() : rng.pick(odd);
}

function runOptions(rng: Prng, desc: string[]): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  if (rng.chance(0.9)) o.data = bytesArg(rng, sizeOf(rng), desc, 'data');
  if (rng.chance(0.3)) o.ctx = bytesArg(rng, rng.pick([0, 4, 20, 24, 28, 192, 200]), desc, 'ctx');
  // A valid repeat of 2^31 is honoured: the kernel runs the program 2 billion times (minutes).
  if (rng.chance(0.4)) o.repeat = optionNumber(rng, () => rng.below(101), NOT_U32);
  // Flag 2 (BPF_F_TEST_XDP_LIVE_FRAMES) would hand packets to the network stack: never set alone.
  if (rng.chance(0.3)) o.flags = optionNumber(rng, () => rng.pick([0, 1, 4, 8, 0x10000]));
  if (rng.chance(0.3)) o.cpu = optionNumber(rng, () => rng.below(4));
  if (rng.chance(0.4)) o.dataOutSize = optionNumber(rng, () => sizeOf(rng));
  if (rng.chance(0.3)) o.ctxOutSize = optionNumber(rng, () => rng.pick([0, 4, 20, 24, 32, 192, 256]));
  for (const k of ['repeat', 'flags', 'cpu', 'dataOutSize', 'ctxOutSize']) if (k in o) desc.push(`${k}=${o[k]}`);
  return o;
}

/** Builds one api call; returns its description and a thunk that makes it. */
function apiCall(rng: Prng, api: Api): { what: string; call: () => unknown } {
  const { name, coll } = rng.pick(api.collections);
  const desc: string[] = [];
  const op = rng.below(10);
  if (op <= 3) {
    const programs = [...coll.programs.keys()];
    const prog = rng.chance(0.95) ? rng.pick(programs) : 'no_such_program';
    const opts = runOptions(rng, desc);
    return { what: `${name} run ${prog}(${desc.join(', ')})`, call: () => coll.program(prog).run(opts as never) };
  }
  if (op <= 8) {
    const maps = [...coll.maps.values()];
    const map = rng.pick(maps);
    const key = () => bytesArg(rng, rng.chance(0.8) ? map.spec.keySize : sizeOf(rng), desc, 'key');
    const value = () => bytesArg(rng, rng.chance(0.8) ? map.spec.valueSize : sizeOf(rng), desc, 'value');
    const flags = () => optionNumber(rng, () => rng.pick([0, 1, 2, 4]));
    const m = `${name} map ${map.name}`;
    switch (rng.below(7)) {
      case 0: { const k = key(); return { what: `${m} lookup(${desc})`, call: () => map.lookup(k as Buffer) }; }
      case 1: {
        const [k, v, f] = [key(), value(), flags()];
        return { what: `${m} update(${desc}, flags=${f})`, call: () => map.update(k as Buffer, v as Buffer, f) };
      }
      case 2: { const k = key(); return { what: `${m} delete(${desc})`, call: () => map.delete(k as Buffer) }; }
      case 3: return { what: `${m} keys()`, call: () => [...map.keys()] };
      case 4: return { what: `${m} entries()`, call: () => map.entries() };
      case 5: {
        const n = rng.pick([0, 1, 2, 3, 5]);
        const entries = Array.from({ length: n }, () => [key(), value()]);
        const f = flags();
        return { what: `${m} updateBatch(${n} entries: ${desc}, flags=${f})`, call: () => map.updateBatch(entries as [Buffer, Buffer][], f) };
      }
      default: return { what: `${m} clear()`, call: () => map.clear() };
    }
  }
  const globals = coll.spec.btf?.types.filter((t) => t.kind === 14).map((t) => t.name) ?? [];
  const g = globals.length && rng.chance(0.9) ? rng.pick(globals) : 'no_such_global';
  if (rng.chance(0.5)) return { what: `${name} readGlobal(${g})`, call: () => coll.readGlobal(g) };
  const v = bytesArg(rng, rng.chance(0.5) ? rng.pick([1, 2, 4, 8, 16]) : sizeOf(rng), desc, 'value');
  return { what: `${name} writeGlobal(${g}, ${desc})`, call: () => coll.writeGlobal(g, v as Buffer) };
}

function classify(what: string, e: unknown): KernelOutcome {
  if (e instanceof BpfUnitError) return { kind: 'typed', what, error: e.constructor.name, message: e.message };
  const err = e instanceof Error ? e : new Error(String(e));
  return { kind: 'untyped', what, error: err.name, message: err.message, stack: err.stack ?? '' };
}

export function openApi(root = ROOT): Api {
  return {
    collections: API_OBJECTS.map((f) => ({ name: path.basename(f), coll: Collection.load(ObjectSpec.fromFile(path.join(root, f)), { hook: null }) })),
  };
}

export function closeApi(api: Api): void {
  for (const c of api.collections) c.coll.close();
}

/** Runs kernel-stage input `index` of `seed`; `starting` hears what it is just before it runs. */
export function runKernelInput(corpus: CorpusEntry[], api: Api, seed: number, index: number, starting?: (what: string) => void): KernelInputResult {
  const t0 = performance.now();
  const done = (r: Omit<KernelInputResult, 'ms' | 'index'>): KernelInputResult => ({ ...r, index, ms: performance.now() - t0 });
  if (index % 2 === 0) {
    const input = generateInput(corpus, seed, index);
    const what = `load ${input.file}: ${input.mutations.join('; ')}`;
    starting?.(what);
    let spec: ObjectSpec;
    try {
      spec = ObjectSpec.parse(input.bytes, input.file);
    } catch (e) {
      return done({ input: 'load', parsed: false, outcome: classify(what, e) });
    }
    const before = openFds();
    let outcome: KernelOutcome = { kind: 'ok', what };
    try {
      Collection.load(spec, { hook: null }).close();
    } catch (e) {
      outcome = classify(what, e);
    }
    const after = openFds();
    if (after !== before && outcome.kind !== 'untyped') outcome = { kind: 'fdLeak', what, before, after };
    return done({ input: 'load', parsed: true, outcome });
  }
  const rng = new Prng(inputSeed(seed ^ 0x6b65726e, index));
  const { what, call } = apiCall(rng, api);
  starting?.(what);
  const before = openFds();
  let outcome: KernelOutcome = { kind: 'ok', what };
  try {
    call();
  } catch (e) {
    outcome = classify(what, e);
  }
  const after = openFds();
  if (after !== before && outcome.kind !== 'untyped') outcome = { kind: 'fdLeak', what, before, after };
  return done({ input: 'api', outcome });
}

// ---------------------------------------------------------------------------------------------
// The child process and the parent that keeps it going.

interface ChildParams { seed: number; from: number; to: number; root: string }
type ChildMessage = { t: 'start'; index: number; what: string } | { t: 'done'; result: KernelInputResult } | { t: 'ready' };

/** Entry point of the child (fuzz/kernel-child.ts). */
export function kernelChildMain(): void {
  const p = JSON.parse(process.argv[2]) as ChildParams;
  const corpus = loadCorpus(p.root);
  const api = openApi(p.root);
  const send = (m: ChildMessage) => process.send!(m);
  send({ t: 'ready' });
  for (let index = p.from; index < p.to; index++) {
    send({ t: 'done', result: runKernelInput(corpus, api, p.seed, index, (what) => send({ t: 'start', index, what })) });
  }
  closeApi(api);
  process.disconnect();
}

export interface KernelFailure {
  index: number;
  what: string;
  error: string;
  message: string;
  stack: string;
  count: number;
}

export interface KernelReport {
  seed: number;
  inputs: number;
  loads: { inputs: number; parsed: number; loaded: number; typed: Record<string, number> };
  api: { inputs: number; ok: number; typed: Record<string, number> };
  untypedCount: number;
  /** One per distinct (error class, throwing source line), in the run/map API or in loading. */
  untyped: KernelFailure[];
  fdLeaks: { index: number; what: string; before: number; after: number }[];
  crashes: { index: number; what: string; how: string; stderr: string }[];
  hangs: { index: number; what: string; ms: number }[];
  slowest: { index: number; ms: number; what: string } | undefined;
  elapsedMs: number;
  inputsPerSecond: number;
}

/** The kernel stage's hang bound: the verifier alone may take tens of seconds on a mutated program
 * (a backward jump it explores up to its complexity limit), which is the kernel's time, not a hang. */
export const KERNEL_HANG_MS = 180_000;

export interface KernelFuzzOptions {
  iterations: number;
  seed: number;
  hangMs: number;
  root?: string;
  onProgress?: (done: number) => void;
}

function signature(f: { error: string; stack: string; message: string }): string {
  const frame = f.stack.split('\n').find((l) => /\/src\//.test(l)) ?? f.message;
  return `${f.error}|${frame.replace(/:\d+\)?$/, '').trim()}`;
}

/** Runs `iterations` kernel-stage inputs in child processes, restarting after a crash or hang. */
export async function kernelFuzz(opts: KernelFuzzOptions): Promise<KernelReport> {
  const root = opts.root ?? ROOT;
  const r: KernelReport = {
    seed: opts.seed, inputs: 0, loads: { inputs: 0, parsed: 0, loaded: 0, typed: {} }, api: { inputs: 0, ok: 0, typed: {} },
    untypedCount: 0, untyped: [], fdLeaks: [], crashes: [], hangs: [], slowest: undefined, elapsedMs: 0, inputsPerSecond: 0,
  };
  const bySig = new Map<string, KernelFailure>();
  const record = (x: KernelInputResult) => {
    r.inputs++;
    const o = x.outcome;
    if (!r.slowest || x.ms > r.slowest.ms) r.slowest = { index: x.index, ms: x.ms, what: o.what };
    const bucket = x.input === 'load' ? r.loads.typed : r.api.typed;
    if (x.input === 'load') {
      r.loads.inputs++;
      if (x.parsed) r.loads.parsed++;
      if (x.parsed && o.kind === 'ok') r.loads.loaded++;
    } else {
      r.api.inputs++;
      if (o.kind === 'ok') r.api.ok++;
    }
    if (o.kind === 'typed') {
      const key = x.input === 'load' && !x.parsed ? `${o.error} (parse)` : o.error;
      bucket[key] = (bucket[key] ?? 0) + 1;
    } else if (o.kind === 'fdLeak') {
      r.fdLeaks.push({ index: x.index, what: o.what, before: o.before, after: o.after });
    } else if (o.kind === 'untyped') {
      r.untypedCount++;
      const sig = signature(o);
      const seen = bySig.get(sig);
      if (seen) seen.count++;
      else {
        const f = { index: x.index, what: o.what, error: o.error, message: o.message, stack: o.stack, count: 1 };
        bySig.set(sig, f);
        r.untyped.push(f);
      }
    }
  };
  const started = performance.now();
  let next = 0;
  while (next < opts.iterations) {
    next = await runChild(root, opts, next, record, r);
  }
  r.elapsedMs = performance.now() - started;
  r.inputsPerSecond = r.inputs / (r.elapsedMs / 1000);
  return r;
}

/** One child from input `from`: returns where the next child starts. */
function runChild(root: string, opts: KernelFuzzOptions, from: number, record: (x: KernelInputResult) => void, r: KernelReport): Promise<number> {
  const params: ChildParams = { seed: opts.seed, from, to: opts.iterations, root };
  const child: ChildProcess = fork(path.join(__dirname, 'kernel-child.ts'), [JSON.stringify(params)], {
    execArgv: ['-r', 'ts-node/register'], cwd: root, stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-2000);
  });
  let current = -1;
  let currentWhat = '';
  let since = performance.now();
  let finished = from;
  let hung = false;
  // Starting the child (ts-node, three loads) is not charged to any input.
  let ready = false;
  return new Promise((resolve) => {
    const timer = setInterval(() => {
      if (!hung && ready && current >= 0 && performance.now() - since > opts.hangMs) {
        hung = true;
        r.hangs.push({ index: current, what: currentWhat, ms: performance.now() - since });
        child.kill('SIGKILL');
      }
    }, 100);
    child.on('message', (m: ChildMessage) => {
      if (m.t === 'ready') ready = true;
      else if (m.t === 'start') {
        current = m.index;
        currentWhat = m.what;
        since = performance.now();
      } else {
        record(m.result);
        finished = m.result.index + 1;
        current = -1;
        opts.onProgress?.(r.inputs);
      }
    });
    child.on('exit', (code, signal) => {
      clearInterval(timer);
      if (finished >= opts.iterations) return resolve(finished);
      if (!hung) {
        const at = current >= 0 ? current : finished;
        r.crashes.push({ index: at, what: current >= 0 ? currentWhat : '(between inputs)', how: signal ? `killed by ${signal}` : `exited with code ${code}`, stderr: stderr.trim().split('\n').slice(-6).join('\n') });
      }
      // Past the input that crashed or hung; a child that died before its first input is not retried.
      resolve(current >= 0 ? current + 1 : ready ? finished : opts.iterations);
    });
  });
}
