// Runs bin/bpfunit as a child process. Specs start their invocations together in a before() hook
// (each costs a Node start-up), then assert on the collected results.
import { execFile } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { CLI, ROOT } from '../loader/helpers';
import { slowed } from '../support/slow';

export interface CliResult {
  args: string[];
  status: number;
  stdout: string;
  stderr: string;
}

export function bpfunit(args: string[]): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(CLI, args, { cwd: ROOT, encoding: 'utf8', timeout: slowed(30000) }, (err, stdout, stderr) => {
      const status = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      resolve({ args, status, stdout, stderr });
    });
  });
}

/** Runs every named invocation, as many at a time as there are CPUs (more only thrash). */
export async function bpfunitAll<K extends string>(calls: Record<K, string[]>): Promise<Record<K, CliResult>> {
  const names = Object.keys(calls) as K[];
  const results = {} as Record<K, CliResult>;
  let next = 0;
  const worker = async () => {
    while (next < names.length) {
      const n = names[next++];
      results[n] = await bpfunit(calls[n]);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, availableParallelism()) }, worker));
  return results;
}

/** The JSON on stdout of a successful run. */
export function json<T = Record<string, unknown>>(r: CliResult): T {
  if (r.status !== 0) throw new Error(`bpfunit ${r.args.join(' ')} exited ${r.status}: ${r.stderr}`);
  const lines = r.stdout.trim().split('\n');
  if (lines.length !== 1) throw new Error(`expected one JSON line, got: ${r.stdout}`);
  return JSON.parse(lines[0]) as T;
}
