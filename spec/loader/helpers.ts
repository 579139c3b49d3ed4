// Shared helpers for spec/loader and spec/cli: fixture paths, and the reference tools the specs
// compare bpfunit with (bpftool, which is libbpf, and a tiny libbpf runner built from
// spec/loader/libbpf_run.c). Nothing here uses bpfunit's own parsers.
import { expect } from 'chai';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { privateBpffs, sandboxDir } from '../support/sandbox';

export const ROOT = path.resolve(__dirname, '..', '..');
export const FIXTURE_SRC = path.join(ROOT, 'spec', 'fixtures');
export const FIXTURE_OBJ = path.join(ROOT, 'build', 'fixtures');
export const CLI = path.join(ROOT, 'bin', 'bpfunit');

/** Path of build/fixtures/NAME.o; fails with a clear message when `make objects` has not run. */
export function fixture(name: string): string {
  const obj = path.join(FIXTURE_OBJ, `${name}.o`);
  if (!existsSync(obj)) {
    throw new Error(`fixture object ${path.relative(ROOT, obj)} is missing: run 'make objects' (it compiles spec/fixtures/${name}.c)`);
  }
  return obj;
}

export function fixtureSource(name: string): string {
  return readFileSync(path.join(FIXTURE_SRC, `${name}.c`), 'utf8');
}

/** 1-based line number of the only source line containing `marker`. */
export function markerLine(source: string, marker: string): number {
  const hits = source.split('\n').flatMap((l, i) => (l.includes(marker) ? [i + 1] : []));
  expect(hits, `exactly one line holds the marker ${marker}`).to.have.length(1);
  return hits[0];
}

/** Runs fn, expects it to throw an instance of `cls`, and returns the error. */
export function expectThrow<T extends Error>(fn: () => unknown, cls: abstract new (...args: never[]) => T, re?: RegExp): T {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err, `expected ${cls.name} to be thrown`).to.be.instanceOf(cls);
  if (re) expect((err as Error).message).to.match(re);
  return err as T;
}

export function hex(s: string): Buffer {
  return Buffer.from(s.replace(/\s/g, ''), 'hex');
}

export function u32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v >>> 0);
  return b;
}

export function u64(v: bigint | number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(v));
  return b;
}

/** Number of possible CPUs, from sysfs ("0-3" -> 4): what per-CPU map values are sized by. */
export function possibleCpus(): number {
  const text = readFileSync('/sys/devices/system/cpu/possible', 'utf8').trim();
  let max = 0;
  for (const range of text.split(',')) for (const n of range.split('-')) max = Math.max(max, Number(n));
  return max + 1;
}

/** /proc/self/fdinfo of a bpf fd: prog_tag, prog_id, map_type, key_size... as strings. */
export function fdinfo(fd: number): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8').split('\n')) {
    const m = /^(\w+):\s*(.*)$/.exec(line);
    if (m) out[m[1]] = m[2];
  }
  return out;
}

/** This mocha process's temporary directory (its sandbox: removed when the process ends). */
export function tmp(): string {
  return sandboxDir;
}

// ---------------------------------------------------------------- bpffs and bpftool (libbpf)

let pinSeq = 0;
/** A fresh pin directory on this process's private bpffs (see spec/support/sandbox.ts: the pins
 * go when the process goes, even when it is killed); remove it with removePins(). */
export function pinDir(tag: string): string {
  const dir = path.join(privateBpffs(), `bpfunit_spec_${process.pid}_${pinSeq++}_${tag}`);
  mkdirSync(dir);
  return dir;
}

export function removePins(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

export interface BpftoolLoad {
  ok: boolean;
  stderr: string;
  /** Pinned program names (bpftool pins each program under its name). */
  programs: string[];
  /** Pinned map names (libbpf's map names, '.' replaced by '_'). */
  maps: string[];
}

/** `bpftool prog loadall OBJ DIR pinmaps DIR/maps`: libbpf loads every program of the object. */
export function bpftoolLoadall(obj: string, dir: string): BpftoolLoad {
  const r = spawnSync('bpftool', ['prog', 'loadall', obj, dir, 'pinmaps', path.join(dir, 'maps')], { encoding: 'utf8' });
  const list = (d: string) => (existsSync(d) ? readdirSync(d) : []);
  return {
    ok: r.status === 0,
    stderr: r.stderr,
    programs: list(dir).filter((n) => n !== 'maps'),
    maps: list(path.join(dir, 'maps')),
  };
}

export interface BpftoolMap {
  id: number;
  type: string;
  name: string;
  flags: number;
  bytes_key: number;
  bytes_value: number;
  max_entries: number;
  frozen: number;
  /** Present when the map was created with BTF key/value types. */
  btf_id?: number;
}

export function bpftoolJson<T>(args: string[]): T {
  return JSON.parse(execFileSync('bpftool', ['-j', ...args], { encoding: 'utf8' })) as T;
}

export interface BpftoolProg {
  id: number;
  type: string;
  name: string;
  tag: string;
  bytes_xlated: number;
  map_ids?: number[];
}

let runSeq = 0;
/** `bpftool prog run pinned PIN data_in FILE data_out FILE`: libbpf's test run of one program. */
export function bpftoolRun(pin: string, data: Buffer): { retval: number; data: Buffer } {
  const inFile = path.join(tmp(), `in${runSeq}`);
  const outFile = path.join(tmp(), `out${runSeq++}`);
  writeFileSync(inFile, data);
  const out = execFileSync('bpftool', ['prog', 'run', 'pinned', pin, 'data_in', inFile, 'data_out', outFile], { encoding: 'utf8' });
  const m = /Return value: (\d+)/.exec(out);
  expect(m, `bpftool prog run printed a return value: ${out}`).to.not.equal(null);
  return { retval: Number(m![1]), data: readFileSync(outFile) };
}

// ---------------------------------------------------------------- libbpf runner (libbpf_run.c)

let runner: string | undefined;
/** Builds spec/loader/libbpf_run.c once per process. */
export function libbpfRunner(): string {
  if (!runner) {
    const out = path.join(tmp(), 'libbpf_run');
    execFileSync('gcc', ['-O1', '-Wall', '-o', out, path.join(__dirname, 'libbpf_run.c'), '-lbpf'], { stdio: 'pipe' });
    runner = out;
  }
  return runner;
}

export interface LibbpfResult {
  ok: boolean;
  stderr: string;
  /** Instructions libbpf loaded (bpf_program__insn_cnt after load). */
  insns?: number;
  /** Bytes of the program as the verifier left it (bpf_prog_info.xlated_prog_len). */
  xlated?: number;
  tag?: string;
  /** The BTF object (vmlinux's or a module's) and type id a tracing program was loaded against
   * (bpf_prog_info; 0 for other programs and before 6.0). */
  attachBtf?: { objId: number; id: number };
  /** Every map of the object as libbpf created it. */
  maps?: { name: string; type: number; key: number; value: number; max: number; flags: number }[];
  retval?: number;
  data?: Buffer;
  ctx?: Buffer;
}

/** Loads only `prog` of `obj` with libbpf (autoload off for the others) and test-runs it. */
export function libbpfRun(
  obj: string,
  prog: string,
  opts: { data?: Buffer; ctx?: Buffer; kconfig?: string; syscall?: boolean; norun?: boolean; btf?: string; cpu?: number; type?: [prog: number, attach: number];
    /** Bytes written into data sections' initial values between open and load (skeleton rodata). */
    rodata?: { section: string; offset: number; bytes: Buffer }[] } = {},
): LibbpfResult {
  const args = [obj, prog];
  if (opts.data) args.push('data', opts.data.toString('hex'));
  if (opts.ctx) args.push('ctx', opts.ctx.toString('hex'));
  if (opts.kconfig) args.push('kconfig', opts.kconfig);
  if (opts.syscall) args.push('syscall');
  if (opts.norun) args.push('norun');
  if (opts.btf) args.push('btf', opts.btf);
  if (opts.cpu !== undefined) args.push('cpu', String(opts.cpu));
  if (opts.type) args.push('type', String(opts.type[0]), String(opts.type[1]));
  for (const r of opts.rodata ?? []) args.push('rodata', r.section, String(r.offset), r.bytes.toString('hex'));
  const r = spawnSync(libbpfRunner(), args, { encoding: 'utf8' });
  if (r.status !== 0) return { ok: false, stderr: r.stderr };
  const j = JSON.parse(r.stdout) as {
    insns: number; xlated: number; tag: string; attach_btf_obj_id: number; attach_btf_id: number; maps: LibbpfResult['maps']; retval?: number; data?: string; ctx?: string;
  };
  return {
    ok: true,
    stderr: r.stderr,
    insns: j.insns,
    xlated: j.xlated,
    tag: j.tag,
    attachBtf: { objId: j.attach_btf_obj_id, id: j.attach_btf_id },
    maps: j.maps,
    retval: j.retval,
    data: j.data === undefined ? undefined : Buffer.from(j.data, 'hex'),
    ctx: j.ctx === undefined ? undefined : Buffer.from(j.ctx, 'hex'),
  };
}

/** Symbol sizes (bytes) of the FUNC symbols of an object, from llvm-readelf. */
export function funcSizes(obj: string): Map<string, number> {
  const out = execFileSync('llvm-readelf', ['-s', obj], { encoding: 'utf8' });
  const sizes = new Map<string, number>();
  for (const line of out.split('\n')) {
    const f = line.trim().split(/\s+/);
    // Num: Value Size Type Bind Vis Ndx Name
    if (f[3] === 'FUNC') sizes.set(f[7], Number(f[2]));
  }
  return sizes;
}

/** Offsets of the OBJECT symbols (global variables) in their sections, from llvm-readelf. */
export function objectSymbols(obj: string): Map<string, number> {
  const out = execFileSync('llvm-readelf', ['-s', obj], { encoding: 'utf8' });
  const offsets = new Map<string, number>();
  for (const line of out.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f[3] === 'OBJECT') offsets.set(f[7], parseInt(f[1], 16));
  }
  return offsets;
}

/** Makes a world-readable copy of a file (for the unprivileged child process). */
export function worldReadableCopy(file: string): string {
  const dir = path.join(tmp(), 'public');
  mkdirSync(dir, { recursive: true });
  chmodSync(tmp(), 0o755);
  chmodSync(dir, 0o755);
  const copy = path.join(dir, path.basename(file));
  writeFileSync(copy, readFileSync(file));
  chmodSync(copy, 0o644);
  return copy;
}

let trampolines: boolean | undefined;
/** A kernel requirement: fentry, fexit, fmod_ret and lsm programs run on BPF trampolines, which
 * some kernels refuse even to root (EPERM: the host's 6.18; Debian's 6.1 and 6.12 load them).
 * libbpf loading ext_sections' bare fentry program is the probe. */
export const TRAMPOLINES = {
  feature: 'fentry/fexit/fmod_ret/lsm programs load (BPF trampolines)',
  probe: () => (trampolines ??= libbpfRun(fixture('ext_sections'), 'sec_fentry', { norun: true }).ok),
};

/** A kernel requirement: a typed __ksym variable is placed through kallsyms, which lists data
 * symbols (bpf_prog_active is one) only with CONFIG_KALLSYMS_ALL: Debian's 6.1 and 6.12 have it,
 * the host's 6.18 does not. */
export const KALLSYMS_ALL = {
  feature: 'kallsyms lists data symbols (CONFIG_KALLSYMS_ALL)',
  probe: () => readFileSync('/proc/kallsyms', 'latin1').split('\n').some((l) => l.split(/\s+/)[2] === 'bpf_prog_active'),
};

let vmlinuxTypes: string | undefined;
/** Whether vmlinux BTF (bpftool's dump) has a FUNC of this name. */
function vmlinuxHasFunc(name: string): boolean {
  vmlinuxTypes ??= execFileSync('bpftool', ['btf', 'dump', 'file', '/sys/kernel/btf/vmlinux'], { encoding: 'utf8', maxBuffer: 1 << 28 });
  return new RegExp(`^\\[\\d+\\] FUNC '${name}' `, 'm').test(vmlinuxTypes);
}

/** A kernel requirement: the kfunc ext_ksym and ext_mixed call (6.2 added it; 6.1 lacks it). */
export const CAST_TO_KERN_CTX = {
  feature: 'the kfunc bpf_cast_to_kern_ctx',
  probe: () => vmlinuxHasFunc('bpf_cast_to_kern_ctx'),
};

let fmodRet: boolean | undefined;
/** A kernel requirement: fmod_ret may attach to bpf_modify_return_test. Besides trampolines, the
 * kernel must list it as modifiable: 6.12 does; Debian's 6.1 (no CONFIG_FUNCTION_ERROR_INJECTION)
 * answers "bpf_modify_return_test() is not modifiable". libbpf loading sec_fmod_ret is the probe. */
export const FMOD_RET = {
  feature: 'fmod_ret on bpf_modify_return_test',
  probe: () => (fmodRet ??= libbpfRun(fixture('ext_sections'), 'sec_fmod_ret', { norun: true }).ok),
};
