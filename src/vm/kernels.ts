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
  /** Modules asked for with --modules and their dependencies, decompressed, in load order
   * (each after what it depends on; built-in ones are absent). */
  extraModules?: string[];
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

/** Downloads (once) and returns the kernel of a Debian release series, with the extra modules
 * asked for (a module not cached yet downloads the package again and keeps only it and its
 * dependencies). */
export function debianKernel(release: string, log: (line: string) => void, modules: string[] = []): GuestKernel {
  const pkg = resolvePackage(release);
  const version = aptVersion(pkg);
  const dir = path.join(cacheRoot(), `${pkg}_${version}`.replace(/[^A-Za-z0-9._+-]/g, '_'));
  const abi = pkg.replace(/^linux-image-/, '');
  if (!existsSync(path.join(dir, 'ready'))) {
    log(`bpfunit vm: downloading ${pkg} ${version} into ${dir}`);
    mkdirSync(cacheRoot(), { recursive: true });
    const tmp = mkdtempSync(path.join(cacheRoot(), '.unpack-'));
    try {
      const root = unpackPackage(pkg, version, tmp);
      const out = path.join(tmp, 'kernel');
      mkdirSync(path.join(out, 'modules'), { recursive: true });
      copyFileSync(path.join(root, 'boot', `vmlinuz-${abi}`), path.join(out, 'vmlinuz'));
      copyFileSync(path.join(root, 'boot', `config-${abi}`), path.join(out, 'config'));
      const order = extractModules(path.join(root, 'lib', 'modules', abi), path.join(out, 'modules'), WANTED);
      writeFileSync(path.join(out, 'modules.order'), order.join('\n') + '\n');
      writeFileSync(path.join(out, 'ready'), `${pkg} ${version}\n`);
      rmSync(dir, { recursive: true, force: true });
      renameSync(out, dir);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }
  const extraModules = extraModuleFiles(dir, pkg, version, abi, modules.map(moduleName), log);
  return { label: release, release: abi, vmlinuz: path.join(dir, 'vmlinuz'), config: path.join(dir, 'config'), modulesDir: path.join(dir, 'modules'), extraModules };
}

/** Module names as the kernel spells them: nf-conntrack and nf_conntrack are one module. */
function moduleName(name: string): string {
  if (!/^[A-Za-z0-9_-]+$/.test(name)) throw new InputError(`--modules: '${name}' is not a module name`);
  return name.replace(/-/g, '_');
}

/** The cached files of `names` and their dependencies in load order. Each module's closure is
 * kept as extra/NAME.order (file names under extra/), so only what was asked for is cached. */
function extraModuleFiles(dir: string, pkg: string, version: string, abi: string, names: string[], log: (line: string) => void): string[] {
  const extra = path.join(dir, 'extra');
  const orderFile = (n: string) => path.join(extra, `${n}.order`);
  const missing = names.filter((n) => !existsSync(orderFile(n)));
  if (missing.length) {
    log(`bpfunit vm: downloading ${pkg} ${version} again for the modules ${missing.join(', ')}`);
    mkdirSync(extra, { recursive: true });
    const tmp = mkdtempSync(path.join(cacheRoot(), '.unpack-'));
    try {
      const modRoot = path.join(unpackPackage(pkg, version, tmp), 'lib', 'modules', abi);
      const builtin = builtinModules(modRoot);
      for (const n of missing) {
        const order = builtin.has(n) ? [] : extractModules(modRoot, extra, [n], `the kernel package ${pkg}`);
        writeFileSync(`${orderFile(n)}.tmp`, order.join('\n') + '\n');
        renameSync(`${orderFile(n)}.tmp`, orderFile(n));
      }
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }
  const files: string[] = [];
  for (const n of names) {
    for (const ko of readFileSync(orderFile(n), 'utf8').split('\n').filter(Boolean)) {
      if (!files.includes(path.join(extra, ko))) files.push(path.join(extra, ko));
    }
  }
  return files;
}

/** Modules built into the kernel (modules.builtin lists their would-be .ko paths). */
function builtinModules(modRoot: string): Set<string> {
  const file = path.join(modRoot, 'modules.builtin');
  if (!existsSync(file)) return new Set();
  return new Set(readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => path.basename(l).replace(/\.ko$/, '').replace(/-/g, '_')));
}

/** Downloads the package into `tmp` and unpacks it there; returns the unpacked root. */
function unpackPackage(pkg: string, version: string, tmp: string): string {
  run('apt-get', ['download', '-q', `${pkg}=${version}`], { cwd: tmp });
  const deb = readdirSync(tmp).find((f) => f.endsWith('.deb'));
  if (!deb) throw new VmError(`apt-get download ${pkg} produced no .deb`);
  const root = path.join(tmp, 'root');
  run('dpkg', ['-x', path.join(tmp, deb), root]);
  return root;
}

/** Copies the wanted modules and their dependencies, decompressed (busybox insmod reads plain
 * .ko), and returns their file names in an order where each comes after what it depends on.
 * The package ships no modules.dep (depmod makes it on install), so dependencies come from each
 * module's own "depends=" entry in its .modinfo strings (what depmod writes to modules.dep).
 * With `from`, a wanted module the package lacks is an error naming it; without it (the boot
 * modules) an absent one is taken as built in. */
function extractModules(modRoot: string, out: string, wanted: string[], from?: string): string[] {
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
    for (const d of modinfo(ko, 'depends').split(',').filter(Boolean)) visit(d.replace(/-/g, '_'));
    // "softdep=pre: crc32c": modules to load first that no symbol ties to (libcrc32c's init
    // fails without a crc32c algorithm), named by module or by alias.
    for (const d of softdepsBefore(modinfo(ko, 'softdep'))) visit(files.has(d.replace(/-/g, '_')) ? d.replace(/-/g, '_') : aliasOwner(d) ?? '');
    writeFileSync(path.join(out, `${name}.ko`), ko);
    order.push(`${name}.ko`);
  };
  // Crypto algorithms, the aliases softdeps name, are provided by modules named after them
  // (crc32c_generic, crc32c_intel): only those files are read to find who declares the alias.
  const aliasOwner = (alias: string) => [...files.keys()].filter((n) => n.startsWith(alias.replace(/-/g, '_'))).sort()
    .find((n) => modinfo(decompress(files.get(n)!), 'alias').split('\n').includes(alias));
  for (const w of wanted) {
    if (from && !files.has(w)) throw new InputError(`--modules: ${from} has no module '${w}'`);
    visit(w);
  }
  return order;
}

/** The modules a softdep ("pre: a b post: c") loads before its module. */
export function softdepsBefore(softdep: string): string[] {
  const out: string[] = [];
  let pre = false;
  for (const word of softdep.split(/\s+/).filter(Boolean)) {
    if (word.endsWith(':')) pre = word === 'pre:';
    else if (pre) out.push(word);
  }
  return out;
}

/** The values of one .modinfo key ("depends", "alias"...), newline-separated. */
function modinfo(ko: Buffer, key: string): string {
  const values: string[] = [];
  const tag = Buffer.from(`\0${key}=`, 'latin1');
  for (let at = ko.indexOf(tag); at >= 0; at = ko.indexOf(tag, at + 1)) {
    values.push(ko.toString('latin1', at + tag.length, ko.indexOf(0, at + tag.length)));
  }
  return values.join('\n');
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
