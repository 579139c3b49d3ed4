// Runs fuzz() in a worker thread under a watchdog, so an input that never returns (an infinite
// loop in a parser is synchronous: no timer in the same thread can interrupt it) is stopped and
// named by its seed and index instead of hanging the run.
//
// The worker publishes the index it is on through a SharedArrayBuffer before each input; the main
// thread polls it and terminates the worker (V8 stops even a tight synchronous loop) when one index
// has been current for longer than `hangMs`. The per-input time bound itself is checked inside the
// worker with a timer around each input (see fuzz()), which gives exact times for inputs that
// finish; the watchdog only handles those that never do.
import * as path from 'node:path';
import { parentPort, Worker, workerData } from 'node:worker_threads';
import { FuzzReport, fuzz, generateInput, loadCorpus, ROOT, SlowInput } from './fuzzer';

export interface GuardedOptions {
  iterations: number;
  seed: number;
  timeBoundMs: number;
  /** Wall time one input may take before the worker is terminated. */
  hangMs: number;
  root?: string;
  /** Called about every `pollMs` with the number of inputs done. */
  onProgress?: (done: number) => void;
  pollMs?: number;
}

export interface GuardedResult {
  /** The figures, when the run finished. */
  report?: FuzzReport;
  /** The input that was still running after hangMs, when the worker had to be stopped. */
  hang?: SlowInput;
  /** The worker died (out of memory, an exception outside runInput): why, and on which input. */
  crash?: { message: string; index: number };
  /** Inputs finished before a hang or crash. */
  done: number;
}

interface WorkerParams {
  iterations: number;
  seed: number;
  timeBoundMs: number;
  root: string;
  progress: SharedArrayBuffer;
}

export function fuzzGuarded(opts: GuardedOptions): Promise<GuardedResult> {
  const root = opts.root ?? ROOT;
  const shared = new SharedArrayBuffer(8);
  const progress = new Int32Array(shared);
  progress[0] = -1;
  const params: WorkerParams = { iterations: opts.iterations, seed: opts.seed, timeBoundMs: opts.timeBoundMs, root, progress: shared };
  // The worker starts without ts-node's hooks: register them (swc, from tsconfig.json) first.
  const boot = `require(${JSON.stringify(require.resolve('ts-node'))}).register({ project: ${JSON.stringify(path.join(ROOT, 'tsconfig.json'))} });\n` +
    `require(${JSON.stringify(__filename)}).workerMain();`;
  const worker = new Worker(boot, { eval: true, workerData: params });

  return new Promise((resolve) => {
    let settled = false;
    let current = -1;
    let since = performance.now();
    const finish = (r: Omit<GuardedResult, 'done'>) => {
      if (settled) return;
      settled = true;
      clearInterval(timer);
      resolve({ ...r, done: Atomics.load(progress, 1) });
    };
    const timer = setInterval(() => {
      const index = Atomics.load(progress, 0);
      const done = Atomics.load(progress, 1);
      opts.onProgress?.(done);
      if (index !== current) {
        current = index;
        since = performance.now();
        return;
      }
      const running = index >= 0 && done <= index;
      if (running && performance.now() - since > opts.hangMs) {
        const ms = performance.now() - since;
        void worker.terminate();
        const input = generateInput(loadCorpus(root), opts.seed, index);
        finish({ hang: { seed: opts.seed, index, file: input.file, ms, mutations: input.mutations } });
      }
    }, opts.pollMs ?? 100);
    worker.on('message', (report: FuzzReport) => finish({ report }));
    worker.on('error', (e) => finish({ crash: { message: e.stack ?? String(e), index: Atomics.load(progress, 0) } }));
    worker.on('exit', (code) => finish({ crash: { message: `worker exited with code ${code} before reporting`, index: Atomics.load(progress, 0) } }));
  });
}

/** Entry point inside the worker. */
export function workerMain(): void {
  const p = workerData as WorkerParams;
  const report = fuzz(p.iterations, p.seed, p.timeBoundMs, { root: p.root, progress: new Int32Array(p.progress) });
  parentPort!.postMessage(report);
}
