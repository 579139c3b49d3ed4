// Boots a kernel under qemu with the host's / read-only (tmpfs overlay on top) and the project
// read-write at its host path, runs one command there as root and returns its exit status.
// The host and the guest init talk through a control directory shared over 9p: the host writes
// the command and environment, the guest writes markers, the command's output and its status.
import { ChildProcess, spawn } from 'child_process';
import { accessSync, closeSync, constants, copyFileSync, existsSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, writeFileSync } from 'fs';
import os from 'os';
import path from 'path';
import { VmError } from './errors';
import { initramfs } from './initramfs';
import { GuestKernel } from './kernels';

export type Accel = 'kvm' | 'tcg';

export interface VmOptions {
  kernel: GuestKernel;
  /** The command and its arguments, run by /bin/sh's exec in `cwd`. */
  command: string[];
  /** Shared read-write at the same path in the guest; the command runs here. */
  cwd: string;
  env?: Record<string, string>;
  /** 'auto' tries KVM and falls back to TCG emulation when the guest cannot boot under it. */
  accel?: Accel | 'auto';
  memoryMiB?: number;
  cpus?: number;
  /** Receives the command's output as it is written. */
  stdout?: NodeJS.WritableStream;
  stderr?: NodeJS.WritableStream;
  /** One-line progress reports (accelerator chosen, downloads). */
  log?: (line: string) => void;
}

export interface VmResult {
  status: number;
  accel: Accel;
  /** Seconds from starting qemu to the command starting in the guest. */
  bootSeconds: number;
  /** Seconds from starting qemu to qemu exiting. */
  wallSeconds: number;
}

/** How much slower than the host a guest runs, for specs with fixed time limits (BPFUNIT_SLOW). */
const SLOW: Record<Accel, number> = { kvm: 3, tcg: 30 };
/** A guest that has not reached its init by then is stuck (e.g. a stock kernel on a PVM-only KVM). */
const BOOT_LIMIT_S: Record<Accel, number> = { kvm: 30, tcg: 300 };

function quote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** Whether this process may open /dev/kvm (whether the guest boots under it is found by trying). */
function kvmUsable(): boolean {
  try {
    accessSync('/dev/kvm', constants.R_OK | constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

export async function runInVm(opts: VmOptions): Promise<VmResult> {
  const log = opts.log ?? ((l: string) => process.stderr.write(l + '\n'));
  const initrd = initramfs(opts.kernel);
  const wanted = opts.accel ?? 'auto';
  const name = { kvm: 'KVM', tcg: 'TCG emulation' };
  if (wanted !== 'auto') {
    log(`bpfunit vm: ${opts.kernel.release} under ${name[wanted]} (as asked)`);
    return boot(opts, initrd, wanted, log);
  }
  if (!kvmUsable()) {
    log(`bpfunit vm: ${opts.kernel.release} under TCG emulation (no usable /dev/kvm)`);
    return boot(opts, initrd, 'tcg', log);
  }
  try {
    const r = await boot(opts, initrd, 'kvm', log);
    log(`bpfunit vm: ${opts.kernel.release} ran under KVM`);
    return r;
  } catch (e) {
    if (!(e instanceof NoBoot)) throw e;
    log(`bpfunit vm: KVM cannot boot this guest (${e.message}); ${opts.kernel.release} under TCG emulation`);
    return boot(opts, initrd, 'tcg', log);
  }
}

/** The guest never reached its init: worth retrying under another accelerator. */
class NoBoot extends VmError {}

function qemuArgs(opts: VmOptions, initrd: string, accel: Accel, ctl: string): string[] {
  const share = (id: string, dir: string, extra: string) => [
    '-fsdev', `local,id=${id},path=${dir},security_model=none,multidevs=remap${extra}`,
    '-device', `virtio-9p-pci,fsdev=${id},mount_tag=${id}`,
  ];
  return [
    '-nodefaults', '-no-user-config', '-display', 'none', '-no-reboot',
    // Multi-threaded TCG let 6.12 guests die now and then on an int3 left by the kernel patching
    // its own text while the other vCPU ran it ("Oops: int3" in sched_clock_cpu, 2 boots of 6).
    ...(accel === 'kvm' ? ['-accel', 'kvm', '-cpu', 'host'] : ['-accel', 'tcg,thread=single', '-cpu', 'max']),
    '-m', String(opts.memoryMiB ?? 4096), '-smp', String(opts.cpus ?? Math.min(2, os.cpus().length)),
    '-kernel', opts.kernel.vmlinuz, '-initrd', initrd,
    // bpfunit.guest marks the guest for what must never run on the host (spec/differential attaches).
    '-append', 'console=ttyS0 panic=-1 quiet loglevel=4 rdinit=/init bpfunit.guest',
    '-serial', `file:${path.join(ctl, 'console.log')}`,
    ...share('hostroot', '/', ',readonly=on'),
    ...share('project', opts.cwd, ''),
    ...share('ctl', ctl, ''),
  ];
}

/** Copies what a guest appends to a file in the control directory to a stream, as it appears. */
class Tail {
  private offset = 0;
  constructor(private readonly file: string, private readonly to?: NodeJS.WritableStream) {}
  pump(): void {
    if (!this.to || !existsSync(this.file)) return;
    const fd = openSync(this.file, 'r');
    try {
      const buf = Buffer.alloc(1 << 16);
      for (let n; (n = readSync(fd, buf, 0, buf.length, this.offset)) > 0; this.offset += n) this.to.write(Buffer.from(buf.subarray(0, n)));
    } finally {
      closeSync(fd);
    }
  }
}

async function boot(opts: VmOptions, initrd: string, accel: Accel, log: (l: string) => void): Promise<VmResult> {
  const ctl = mkdtempSync(path.join(os.tmpdir(), 'bpfunit-vm-'));
  const file = (n: string) => path.join(ctl, n);
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin',
    HOME: '/root',
    LANG: process.env.LANG ?? 'C.UTF-8',
    BPFUNIT_VM: opts.kernel.release,
    BPFUNIT_SLOW: process.env.BPFUNIT_SLOW ?? String(SLOW[accel]),
    ...opts.env,
  };
  let failed = true;
  try {
    writeFileSync(file('env'), `BPFUNIT_PROJECT=${quote(opts.cwd)}\nBPFUNIT_CTL=${quote(ctl)}\n`);
    if (opts.kernel.config) copyFileSync(opts.kernel.config, file('config'));
    writeFileSync(
      file('run.sh'),
      Object.entries(env).map(([k, v]) => `export ${k}=${quote(v)}\n`).join('') +
        `cd ${quote(opts.cwd)} || exit 127\nexec ${opts.command.map(quote).join(' ')}\n`,
    );
    const started = Date.now();
    const qemu = spawn('qemu-system-x86_64', qemuArgs(opts, initrd, accel, ctl), { stdio: ['ignore', 'ignore', 'pipe'] });
    let qemuErr = '';
    qemu.stderr!.on('data', (d) => (qemuErr += d));
    const tails = [new Tail(file('stdout'), opts.stdout), new Tail(file('stderr'), opts.stderr)];
    const onSignal = () => qemu.kill('SIGTERM');
    process.on('SIGINT', onSignal).on('SIGTERM', onSignal);
    let stuck = false;
    let commandAt: number | undefined;
    const timer = setInterval(() => {
      for (const t of tails) t.pump();
      if (commandAt === undefined && existsSync(file('started'))) {
        commandAt = Date.now();
        log(`bpfunit vm: command started ${((commandAt - started) / 1000).toFixed(1)} s after qemu`);
      }
      if (!existsSync(file('booted')) && Date.now() - started > BOOT_LIMIT_S[accel] * 1000) {
        stuck = true;
        qemu.kill('SIGKILL');
      }
    }, 200);
    const code = await exited(qemu).finally(() => {
      clearInterval(timer);
      process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
    });
    for (const t of tails) t.pump();
    const wallSeconds = (Date.now() - started) / 1000;
    const console = existsSync(file('console.log')) ? readFileSync(file('console.log'), 'utf8') : '';
    const lastLines = (text: string) => text.trim().split('\n').slice(-4).join(' | ');
    if (code === 'ENOENT') throw new VmError(`qemu-system-x86_64 is not installed (Debian package qemu-system-x86: make vm-deps)`);
    if (!existsSync(file('booted'))) {
      const why = stuck ? `no guest init after ${BOOT_LIMIT_S[accel]} s` : `qemu exited with ${code}`;
      failed = accel === 'tcg'; // a KVM attempt is retried under TCG: nothing to look at
      const kept = failed ? ` (console: ${file('console.log')})` : '';
      throw new NoBoot(`${why}: ${lastLines(qemuErr) || lastLines(console) || 'no output'}${kept}`);
    }
    if (!existsSync(file('status'))) {
      throw new VmError(`the guest stopped before the command ended (qemu ${code}): ${lastLines(console) || lastLines(qemuErr)} (console: ${file('console.log')})`);
    }
    failed = false;
    return {
      status: Number(readFileSync(file('status'), 'utf8')),
      accel,
      bootSeconds: ((commandAt ?? Date.now()) - started) / 1000,
      wallSeconds,
    };
  } finally {
    // A guest that failed keeps its control directory (console log, output) for a look.
    if (!failed) rmSync(ctl, { recursive: true, force: true });
  }
}

function exited(child: ChildProcess): Promise<number | string> {
  return new Promise((resolve) => {
    child.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
    child.on('exit', (code, signal) => resolve(code ?? signal ?? 'unknown'));
  });
}
