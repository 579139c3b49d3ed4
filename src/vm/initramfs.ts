// The guest's initramfs: static busybox as /init's shell, the init script and the kernel's
// virtio/9p/overlay modules, and the modules asked for with --modules. Cached by content, so a changed init script or kernel rebuilds it.
import { execFileSync } from 'child_process';
import { createHash } from 'crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'fs';
import path from 'path';
import { VmError } from './errors';
import { cacheRoot, GuestKernel } from './kernels';

const INIT = path.join(__dirname, 'init.sh');
const BUSYBOX = ['/bin/busybox', '/usr/bin/busybox'];

function staticBusybox(): string {
  for (const p of BUSYBOX) {
    // The dynamic busybox (package busybox) cannot run in an initramfs with no libc.
    if (existsSync(p) && !readFileSync(p).includes('/ld-linux')) return p;
  }
  throw new VmError('no static busybox found (install the Debian package busybox-static: make vm-deps)');
}

export function initramfs(kernel: GuestKernel): string {
  const busybox = staticBusybox();
  const modules = kernel.modulesDir ? readFileSync(path.join(kernel.modulesDir, '..', 'modules.order'), 'utf8').split('\n').filter(Boolean) : [];
  // Asked for with --modules, loaded after the boot modules (which they may share).
  const extra = (kernel.extraModules ?? []).filter((f) => !modules.includes(path.basename(f)));
  const hash = createHash('sha256')
    .update(readFileSync(INIT))
    .update(readFileSync(busybox))
    .update(kernel.modulesDir ?? '')
    .update(modules.join(','))
    .update(extra.join(','))
    .digest('hex')
    .slice(0, 16);
  const out = path.join(cacheRoot(), 'initramfs', `${hash}.cpio.gz`);
  if (existsSync(out)) return out;
  mkdirSync(path.dirname(out), { recursive: true });
  const stage = mkdtempSync(path.join(path.dirname(out), '.stage-'));
  try {
    mkdirSync(path.join(stage, 'bin'));
    mkdirSync(path.join(stage, 'modules'));
    copyFileSync(busybox, path.join(stage, 'bin', 'busybox'));
    copyFileSync(INIT, path.join(stage, 'init'));
    execFileSync('chmod', ['0755', path.join(stage, 'init'), path.join(stage, 'bin', 'busybox')]);
    for (const m of modules) copyFileSync(path.join(kernel.modulesDir!, m), path.join(stage, 'modules', m));
    writeFileSync(path.join(stage, 'modules.order'), modules.join('\n') + '\n');
    for (const f of extra) copyFileSync(f, path.join(stage, 'modules', path.basename(f)));
    writeFileSync(path.join(stage, 'extra.order'), extra.map((f) => path.basename(f)).join('\n') + '\n');
    const files = ['.', 'init', 'bin', 'bin/busybox', 'modules', 'modules.order', 'extra.order', ...readdirSync(path.join(stage, 'modules')).map((m) => `modules/${m}`)];
    const cpio = execFileSync('cpio', ['-o', '-H', 'newc', '-R', '0:0', '--quiet'], { cwd: stage, input: files.join('\n') + '\n', maxBuffer: 256 << 20 });
    writeFileSync(`${out}.tmp`, execFileSync('gzip', ['-1'], { input: cpio, maxBuffer: 256 << 20 }));
    renameSync(`${out}.tmp`, out);
  } catch (e) {
    if (e instanceof VmError) throw e;
    throw new VmError(`building the initramfs failed: ${(e as Error).message}`);
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
  return out;
}
