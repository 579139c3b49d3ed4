// The kernel matrix: one mocha run (json reporter, one node process) of the program and loader
// specs on the host and in a guest per kernel, compared spec by spec. A spec whose outcome
// differs between kernels is printed with each kernel's failure message (the verifier's words).
import { spawnSync } from 'child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'fs';
import os from 'os';
import path from 'path';
import { guestKernel } from './cli';
import { runInVm } from './qemu';

/** What runs on each kernel unless KERNEL_SPECS (globs, space-separated) says otherwise. */
export const MATRIX_SPECS = ['spec/{programs,mock,loader}/**/*.spec.ts', 'spec/kernels/**/*.spec.ts', 'spec/differential/**/*.spec.ts'];

type State = 'pass' | 'FAIL' | 'pending';
interface Outcome {
  state: State;
  message?: string;
}
export interface KernelRun {
  label: string;
  /** `uname -r` where the specs ran; undefined when the run never produced results. */
  release?: string;
  outcomes: Map<string, Outcome>;
  /** For specs declared with itRequires: whether this kernel met the requirement. */
  requirements: Map<string, boolean>;
  /** Why there are no results (the guest did not boot, mocha crashed). */
  error?: string;
  wallSeconds: number;
  bootSeconds?: number;
}

interface MochaTest {
  fullTitle: string;
  file: string;
  err?: { message?: string };
}

/** Reads mocha's json report into spec key (file › full title) -> outcome. */
export function readReport(file: string, root: string): Map<string, Outcome> {
  const report = JSON.parse(readFileSync(file, 'utf8')) as { passes: MochaTest[]; failures: MochaTest[]; pending: MochaTest[] };
  const out = new Map<string, Outcome>();
  const key = (t: MochaTest) => `${path.relative(root, t.file ?? '')} › ${t.fullTitle}`;
  for (const t of report.passes) out.set(key(t), { state: 'pass' });
  for (const t of report.pending) out.set(key(t), { state: 'pending' });
  for (const t of report.failures) out.set(key(t), { state: 'FAIL', message: (t.err?.message ?? 'failed').trim() });
  return out;
}

function mochaArgs(report: string, specs: string[]): string[] {
  const mocha = path.join('node_modules', 'mocha', 'bin', 'mocha.js');
  return [mocha, '--reporter', 'json', '--reporter-option', `output=${report}`, ...specs];
}

/** Where itRequires records, per spec, whether the kernel met the requirement. */
function requirementsFile(report: string): string {
  return report.replace(/\.json$/, '.requirements.jsonl');
}

function readRequirements(file: string, root: string): Map<string, boolean> {
  if (!existsSync(file)) return new Map();
  const lines = readFileSync(file, 'utf8').split('\n').filter(Boolean);
  return new Map(lines.map((l) => JSON.parse(l) as { file: string; title: string; met: boolean }).map((r) => [`${path.relative(root, r.file)} › ${r.title}`, r.met]));
}

function collect(label: string, report: string, root: string, started: number, extra: Partial<KernelRun>): KernelRun {
  const wallSeconds = (Date.now() - started) / 1000;
  const requirements = readRequirements(requirementsFile(report), root);
  const error = extra.error ?? (existsSync(report) ? undefined : 'mocha wrote no report');
  return { label, ...extra, outcomes: error ? new Map() : readReport(report, root), requirements, wallSeconds, error };
}

function clean(report: string): Record<string, string> {
  rmSync(report, { force: true });
  rmSync(requirementsFile(report), { force: true });
  return { BPFUNIT_REQUIREMENTS: requirementsFile(report) };
}

export function runOnHost(root: string, dir: string, specs: string[]): KernelRun {
  const report = path.join(dir, 'host.json');
  const env = { ...process.env, ...clean(report) };
  const started = Date.now();
  const r = spawnSync(process.execPath, mochaArgs(report, specs), { cwd: root, env, stdio: ['ignore', 'ignore', 'inherit'] });
  return collect('host', report, root, started, { release: os.release(), error: r.error?.message });
}

export async function runInGuest(label: string, root: string, dir: string, specs: string[], log: (l: string) => void, modules: string[] = []): Promise<KernelRun> {
  const report = path.join(dir, `${label.replace(/\//g, '_')}.json`);
  const env = clean(report);
  const started = Date.now();
  try {
    const kernel = guestKernel(label.startsWith('/') ? { image: label } : { kernel: label, modules }, log);
    const r = await runInVm({ kernel, command: [process.execPath, ...mochaArgs(report, specs)], cwd: root, env, stderr: process.stderr, log });
    log(`bpfunit matrix: ${label}: command started ${r.bootSeconds.toFixed(1)} s after qemu; ${r.wallSeconds.toFixed(1)} s in the guest`);
    return collect(label, report, root, started, { release: kernel.release, bootSeconds: r.bootSeconds });
  } catch (e) {
    return { label, outcomes: new Map(), requirements: new Map(), error: (e as Error).message, wallSeconds: (Date.now() - started) / 1000 };
  }
}

function firstLines(text: string, n: number): string {
  return text.split('\n').slice(0, n).join('\n      ');
}

/** The matrix as text: totals per kernel, outcomes per spec file, then every spec whose outcome
 * differs between kernels with each failing kernel's message. */
export function formatMatrix(runs: KernelRun[]): string {
  const cols = runs.map((r) => r.release ?? r.label);
  const width = Math.max(...cols.map((c) => c.length), 8) + 2;
  const row = (name: string, cells: string[], nameWidth: number) => name.padEnd(nameWidth) + cells.map((c) => c.padEnd(width)).join('');
  const keys = [...new Set(runs.flatMap((r) => [...r.outcomes.keys()]))].sort();
  const files = [...new Set(keys.map((k) => k.split(' › ')[0]))];
  const nameWidth = Math.max(...files.map((f) => f.length), 24) + 2;
  const lines = [row('kernel', cols, nameWidth)];
  const count = (r: KernelRun, s: State, file?: string) =>
    [...r.outcomes].filter(([k, o]) => o.state === s && (!file || k.startsWith(file + ' › '))).length;
  for (const s of ['pass', 'FAIL', 'pending'] as State[]) lines.push(row(s, runs.map((r) => (r.error ? '-' : String(count(r, s)))), nameWidth));
  lines.push(row('wall s (boot s)', runs.map((r) => `${r.wallSeconds.toFixed(0)}${r.bootSeconds === undefined ? '' : ` (${r.bootSeconds.toFixed(0)})`}`), nameWidth));
  lines.push('', row('spec file: passed/total', cols, nameWidth));
  for (const f of files) {
    lines.push(row(f, runs.map((r) => {
      const total = [...r.outcomes.keys()].filter((k) => k.startsWith(f + ' › ')).length;
      return r.error ? '-' : `${count(r, 'pass', f)}/${total}`;
    }), nameWidth));
  }
  for (const r of runs.filter((r) => r.error)) lines.push('', `${r.label}: no results: ${r.error}`);
  const stated = keys.filter((k) => new Set(runs.filter((r) => r.requirements.has(k)).map((r) => r.requirements.get(k))).size > 1);
  // a stated difference (each kernel ran the side it met, e.g. passed vs skipped) is listed below, not here, unless a kernel failed it
  const differing = keys.filter((k) => new Set(runs.filter((r) => !r.error).map((r) => r.outcomes.get(k)?.state ?? 'absent')).size > 1)
    .filter((k) => !stated.includes(k) || runs.some((r) => r.outcomes.get(k)?.state === 'FAIL'));
  lines.push('', differing.length ? `specs whose outcome differs between kernels (${differing.length}):` : 'every spec has the same outcome on every kernel that ran');
  for (const k of differing) {
    lines.push(`  ${k}`, `    ${runs.map((r, i) => `${cols[i]}: ${r.error ? 'no results' : (r.outcomes.get(k)?.state ?? 'absent')}`).join(', ')}`);
    for (const r of runs) {
      const o = r.outcomes.get(k);
      if (o?.message) lines.push(`    ${r.release ?? r.label}: ${firstLines(o.message, 4)}`);
    }
  }
  if (stated.length) lines.push('', `stated differences (itRequires, itDifferential: each kernel ran the side it met) (${stated.length}):`);
  for (const k of stated) {
    const side = (r: KernelRun) => (r.requirements.has(k) ? (r.requirements.get(k) ? 'met' : 'unmet') : 'not run');
    lines.push(`  ${k}`, `    ${runs.map((r, i) => `${cols[i]}: ${r.outcomes.get(k)?.state ?? 'absent'} (${side(r)})`).join(', ')}`);
  }
  const failing = keys.filter((k) => !differing.includes(k) && runs.some((r) => r.outcomes.get(k)?.state === 'FAIL'));
  if (failing.length) lines.push('', `specs failing on every kernel (${failing.length}):`, ...failing.map((k) => `  ${k}`));
  return lines.join('\n') + '\n';
}

/** `make test-kernels`: KERNELS (default "host 6.1 6.12"; a path is a kernel image), with
 * KERNEL_MODULES loaded in the Debian guests. Exit 0 when every kernel ran and no spec failed on any. */
export async function main(labels: string[], specs: string[] = MATRIX_SPECS, modules: string[] = []): Promise<number> {
  const root = process.cwd();
  const dir = path.join(root, 'build', 'kernels');
  mkdirSync(dir, { recursive: true });
  const log = (l: string) => process.stderr.write(l + '\n');
  const started = Date.now();
  const runs: KernelRun[] = [];
  for (const label of labels) {
    log(`bpfunit matrix: running ${specs.join(' ')} on ${label}`);
    runs.push(label === 'host' ? runOnHost(root, dir, specs) : await runInGuest(label, root, dir, specs, log, modules));
  }
  const text = formatMatrix(runs) + `total wall ${((Date.now() - started) / 1000).toFixed(0)} s\n`;
  writeFileSync(path.join(dir, 'matrix.txt'), text);
  process.stdout.write(text);
  const ok = runs.every((r) => !r.error && [...r.outcomes.values()].every((o) => o.state !== 'FAIL'));
  return ok ? 0 : 1;
}

if (require.main === module) {
  const words = (v: string | undefined) => (v ?? '').split(/\s+/).filter(Boolean);
  const specs = words(process.env.KERNEL_SPECS);
  main(words(process.env.KERNELS ?? 'host 6.1 6.12'), specs.length ? specs : MATRIX_SPECS, words(process.env.KERNEL_MODULES)).then((s) => (process.exitCode = s));
}
