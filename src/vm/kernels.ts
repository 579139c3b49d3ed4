// Debian kernel packages for guests: resolved with apt-cache at run time (their ABI numbers change
// with security updates), downloaded once, and cached small (vmlinuz, config, the few modules the
// guest's initramfs needs): the 70-107 MB package is unpacked only for a moment.
import { execFileSync } from 'child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'fs';
import os from 'os';
import path from 'path';
import { InputError } from '../errors';
import { VmError } from './errors';

/** A kernel ready to boot: its image, its config and the modules the guest init loads, in order. */
export interface GuestKernel {
  /** What the user asked for (a Debian release like 6.1, or an image path). */
  label: string;
  /** The kernel release, e.g. 6.1.0-50-amd64 (from the package) or the image's file name. */
  release: string;
  vmlinuz: string;
  /** The kernel's config, installed in the guest as /boot/config-<release> (as a Debian system
   * has it: these kernels have no /proc/config.gz), where kconfig externs are read from. */
  config?: string;
  /** Directory of the decompressed modules listed in `modules.order` (load order), if any. */
  modulesDir?: string;
}

/** The modules the guest init needs: virtio transport, 9p and overlayfs (their dependencies are
 * added from modules.dep). Built-in ones (virtio_pci on 6.12) are simply absent from the package. */
const WANTED = ['virtio_pci', '9pnet_virtio', '9p', 'overlay'];

export function cacheRoot(): string {
  const base = process.env.BPFUNIT_CACHE ?? path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'bpfunit');
  return path.join(base, 'kernels');
}

function run(cmd: string, args: string[], opts: { cwd?: string } = {}): string {
  try {
    return execFileSync(cmd, args, { cwd: opts.cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20 });
  } catch (e) {
    const err = e as { code?: string; stderr?: string; status?: number };
    if (err.code === 'ENOENT') throw new VmError(`'${cmd}' is not installed (bpfunit vm needs apt, dpkg, qemu-system-x86, busybox-static, cpio: make vm-deps)`);
    throw new VmError(`${cmd} ${args.join(' ')} failed (exit ${err.status}): ${(err.stderr ?? '').trim().split('\n').slice(-3).join(' | ')}`);
  }
}

/** Compares package names by their numeric fields: linux-image-6.1.0-50-amd64 > ...-6.1.0-47-... */
export function byVersion(a: string, b: string): number {
  const na = a.match(/\d+/g)!.map(Number);
  const nb = b.match(/\d+/g)!.map(Number);
  for (let i = 0; i < Math.max(na.length, nb.length); i++) {
    const d = (na[i] ?? -1) - (nb[i] ?? -1);
    if (d) return d;
  }
  return 0;
}

/** The newest generic amd64 image package for a Debian kernel series ('6.1', '6.12'), or the
 * package itself when given a full release ('6.1.0-50-amd64'). The cloud flavour has no 9p. */
export function resolvePackage(release: string): string {
  if (!/^\d+\.\d+([.\-+][0-9a-z.+-]*)?$/.test(release)) throw new InputError(`--kernel needs a kernel release like 6.1 or 6.12, got '${release}'`);
  const full = /-amd64$/.test(release);
  const series = release.replace(/\./g, '\\.').replace(/\+/g, '\\+');
  const pattern = full ? `^linux-image-${series}$` : `^linux-image-${series}[.-][0-9][0-9a-z.+-]*-amd64$`;
  const names = run('apt-cache', ['search', '--names-only', pattern])
    .split('\n')
    .map((l) => l.split(' ')[0])
    .filter((n) => n && !/-(cloud|rt)-amd64$/.test(n) && /\d-amd64$|deb\d+-amd64$/.test(n));
  if (!names.length) throw new InputError(`no Debian package linux-image-${release}*-amd64 is known to apt (try apt-get update)`);
  return names.sort(byVersion).at(-1)!;
}

function aptVersion(pkg: string): string {
  const m = /^Version: (.+)$/m.exec(run('apt-cache', ['show', '--no-all-versions', pkg]));
  if (!m) throw new VmError(`apt-cache show ${pkg} gave no version`);
  return m[1];
}

/** Downloads (once) and returns the kernel of a Debian release series. */
export function debianKernel(release: string, log: (line: string) => void): GuestKernel {
  const pkg = resolvePackage(release);
  const version = aptVersion(pkg);
  const dir = path.join(cacheRoot(), `${pkg}_${version}`.replace(/[^A-Za-z0-9._+-]/g, '_'));
  const abi = pkg.replace(/^linux-image-/, '');
  if (!existsSync(path.join(dir, 'ready'))) {
    log(`bpfunit vm: downloading ${pkg} ${version} into ${dir}`);
    mkdirSync(cacheRoot(), { recursive: true });
    const tmp = mkdtempSync(path.join(cacheRoot(), '.unpack-'));
    try {
      run('apt-get', ['download', '-q', `${pkg}=${version}`], { cwd: tmp });
      const deb = readdirSync(tmp).find((f) => f.endsWith('.deb'));
      if (!deb) throw new VmError(`apt-get download ${pkg} produced no .deb`);
      const root = path.join(tmp, 'root');
      run('dpkg', ['-x', path.join(tmp, deb), root]);
      const out = path.join(tmp, 'kernel');
      mkdirSync(path.join(out, 'modules'), { recursive: true });
      copyFileSync(path.join(root, 'boot', `vmlinuz-${abi}`), path.join(out, 'vmlinuz'));
      copyFileSync(path.join(root, 'boot', `config-${abi}`), path.join(out, 'config'));
      const order = extractModules(path.join(root, 'lib', 'modules', abi), path.join(out, 'modules'));
      writeFileSync(path.join(out, 'modules.order'), order.join('\n') + '\n');
      writeFileSync(path.join(out, 'ready'), `${pkg} ${version}\n`);
      rmSync(dir, { recursive: true, force: true });
      renameSync(out, dir);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }
  return { label: release, release: abi, vmlinuz: path.join(dir, 'vmlinuz'), config: path.join(dir, 'config'), modulesDir: path.join(dir, 'modules') };
}

/** Copies the wanted modules and their dependencies, decompressed (busybox insmod reads plain
 * .ko), and returns their file names in an order where each comes after what it depends on.
 * The package ships no modules.dep (depmod makes it on install), so dependencies come from each
 * module's own "depends=" entry in its .modinfo strings. */
function extractModules(modRoot: string, out: string): string[] {
  const files = new Map<string, string>();
  for (const rel of readdirSync(modRoot, { recursive: true }) as string[]) {
    const m = /([^/]+)\.ko(\.(xz|zst|gz))?$/.exec(rel);
    if (m) files.set(m[1].replace(/-/g, '_'), path.join(modRoot, rel));
  }
  const order: string[] = [];
  const visit = (name: string) => {
    const src = files.get(name);
    if (!src || order.includes(`${name}.ko`)) return; // absent: built into the kernel
    const ko = decompress(src);
    const at = ko.indexOf('\0depends=');
    const deps = at < 0 ? '' : ko.toString('latin1', at + 9, ko.indexOf(0, at + 9));
    for (const d of deps.split(',').filter(Boolean)) visit(d.replace(/-/g, '_'));
    writeFileSync(path.join(out, `${name}.ko`), ko);
    order.push(`${name}.ko`);
  };
  for (const w of WANTED) visit(w);
  return order;
}

function decompress(file: string): Buffer {
  const tool = file.endsWith('.xz') ? 'xz' : file.endsWith('.zst') ? 'zstd' : file.endsWith('.gz') ? 'gzip' : undefined;
  return tool ? execFileSync(tool, ['-dc', file], { maxBuffer: 64 << 20 }) : readFileSync(file);
}

/** A kernel image the user points at: booted with no modules, so it needs virtio-pci, 9p over
 * virtio and overlayfs built in. */
export function imageKernel(image: string): GuestKernel {
  if (!existsSync(image)) throw new InputError(`--kernel-image: no such file '${image}'`);
  return { label: path.basename(image), release: path.basename(image), vmlinuz: path.resolve(image) };
}
