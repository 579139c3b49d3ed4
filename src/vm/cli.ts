// `bpfunit vm`: runs a command as root in a guest kernel and exits with its status.
import { BpfUnitError } from '../errors';
import { debianKernel, GuestKernel, imageKernel } from './kernels';
import { Accel, runInVm } from './qemu';

export const VM_USAGE = `usage: bpfunit vm (--kernel RELEASE | --kernel-image PATH) [--accel auto|kvm|tcg]
                 [--memory MiB] [--cpus N] [--modules NAME[,NAME]...] -- COMMAND [ARG]...
  RELEASE: a Debian kernel series (6.1, 6.12: the newest package is resolved with apt-cache,
  downloaded once and cached in ~/.cache/bpfunit/kernels) or a full release (6.1.0-50-amd64).
  --modules: modules of that kernel package (e.g. nf_conntrack) loaded, with their dependencies,
  before COMMAND; only those are kept in the cache (--kernel only).
  The host's / is shared read-only (tmpfs overlay), the current directory read-write at its
  path; COMMAND runs there as root with bpffs, debugfs, tracefs and cgroup2 mounted.
exit status: COMMAND's; 2 bad usage; 125 the guest could not be prepared or booted`;

class UsageError extends Error {}

export interface VmArgs {
  kernel?: string;
  image?: string;
  accel: Accel | 'auto';
  memoryMiB?: number;
  cpus?: number;
  /** Extra modules of the --kernel package to load in the guest. */
  modules?: string[];
  command: string[];
}

function positive(flag: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`${flag} needs a positive integer, got '${value}'`);
  return n;
}

export function parseVmArgs(argv: string[]): VmArgs {
  const dash = argv.indexOf('--');
  // --opt=value as every command takes it: split before reading flags in pairs.
  const flags = (dash < 0 ? argv : argv.slice(0, dash)).flatMap((a) => (/^--[a-z-]+=/.test(a) ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a]));
  const args: VmArgs = { accel: 'auto', command: dash < 0 ? [] : argv.slice(dash + 1) };
  for (let k = 0; k < flags.length; k += 2) {
    const [flag, value] = [flags[k], flags[k + 1]];
    if (value === undefined) throw new UsageError(flag.startsWith('--') ? `${flag} needs a value` : `unexpected '${flag}' (put the command after --)`);
    switch (flag) {
      case '--kernel': args.kernel = value; break;
      case '--kernel-image': args.image = value; break;
      case '--accel':
        if (value !== 'auto' && value !== 'kvm' && value !== 'tcg') throw new UsageError(`--accel is auto, kvm or tcg, got '${value}'`);
        args.accel = value;
        break;
      case '--memory': args.memoryMiB = positive(flag, value); break;
      case '--cpus': args.cpus = positive(flag, value); break;
      case '--modules': args.modules = [...(args.modules ?? []), ...value.split(',').filter(Boolean)]; break;
      default: throw new UsageError(`unknown option '${flag}'`);
    }
  }
  if (!args.kernel === !args.image) throw new UsageError('give exactly one of --kernel RELEASE and --kernel-image PATH');
  if (!args.command.length) throw new UsageError('no command given (put it after --)');
  if (args.modules && !args.kernel) throw new UsageError('--modules takes modules from a Debian kernel package: use it with --kernel');
  return args;
}

export function guestKernel(spec: { kernel?: string; image?: string; modules?: string[] }, log: (l: string) => void): GuestKernel {
  return spec.image ? imageKernel(spec.image) : debianKernel(spec.kernel!, log, spec.modules);
}

/** Runs `bpfunit vm ARGV`; resolves to the exit status (also set as process.exitCode). */
export async function main(argv: string[]): Promise<number> {
  const dash = argv.indexOf('--');
  if ((dash < 0 ? argv : argv.slice(0, dash)).some((a) => a === '--help' || a === '-h')) {
    process.stdout.write(`${VM_USAGE}\n`);
    return (process.exitCode = 0);
  }
  let status: number;
  try {
    const args = parseVmArgs(argv);
    const log = (l: string) => process.stderr.write(l + '\n');
    const kernel = guestKernel(args, log);
    const r = await runInVm({
      kernel, command: args.command, cwd: process.cwd(), accel: args.accel, memoryMiB: args.memoryMiB, cpus: args.cpus,
      stdout: process.stdout, stderr: process.stderr, log,
    });
    log(`bpfunit vm: exit status ${r.status} after ${r.wallSeconds.toFixed(1)} s`);
    status = r.status;
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`bpfunit vm: ${e.message}\n${VM_USAGE}\n`);
      status = 2;
    } else if (e instanceof BpfUnitError) {
      process.stderr.write(`bpfunit vm: ${e.message}\n`);
      status = 125;
    } else throw e;
  }
  process.exitCode = status;
  return status;
}
