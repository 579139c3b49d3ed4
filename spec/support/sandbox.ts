// Loaded first by .mocharc.json. Whatever a spec process creates outside itself lives in its
// sandbox, which goes when the process goes, however it goes (SIGKILL included):
// - TMPDIR points at a fresh /tmp/bpfunit-<pid>-XXXXXX for this process and its children;
// - libbpf's pins (bpftool prog loadall) go to a private bpffs mounted in a mount namespace of its
//   own, so the pins, and the programs and maps they hold, die with that namespace.
// A guardian child holds both. It runs in a session of its own (kills aimed at our process group
// miss it) and reads a pipe from this process; when this process dies, however, the pipe closes:
// the guardian removes the directory and exits, and its namespace and bpffs go with it.
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { effectiveCapabilities } from '../../src/sys/capabilities';

const CAP_SYS_ADMIN = 21n;
const SANDBOX_NAME = /^bpfunit-(\d+)-[A-Za-z0-9]{6}$/;

// $1: the directory, $2: "mount" to mount the private bpffs (in the namespace unshare made).
const GUARDIAN = `
if [ "$2" = mount ]; then
  mount -t bpf bpf /sys/fs/bpf 2>"$1/bpffs.err" && echo $$ >"$1/bpffs.pid"
fi
while read -r _; do :; done
rm -rf -- "$1"`;

/** Removes the sandboxes of processes that no longer exist (their guardian was killed too). */
function sweep(dir: string): void {
  for (const name of readdirSync(dir)) {
    const m = SANDBOX_NAME.exec(name);
    if (!m || existsSync(`/proc/${m[1]}`)) continue;
    try {
      rmSync(path.join(dir, name), { recursive: true, force: true });
    } catch {
      // another user's: not ours to remove
    }
  }
}

const outer = tmpdir();
sweep(outer);
// ts-node's compile cache is a tool cache meant to persist, which this process already keeps in
// the outer TMPDIR: children (bin/bpfunit...) keep using it instead of starting cold in a sandbox.
process.env.V8_COMPILE_CACHE_CACHE_DIR ??= path.join(outer, `v8-compile-cache-${process.getuid?.() ?? ''}`, process.versions.v8);
export const sandboxDir = mkdtempSync(path.join(outer, `bpfunit-${process.pid}-`));
// Searchable, not listable: specs that run a child as nobody hand it files in a nested sandbox
// (a parallel worker's, inside the main process's).
chmodSync(sandboxDir, 0o711);
process.env.TMPDIR = sandboxDir;
process.on('exit', () => rmSync(sandboxDir, { recursive: true, force: true }));

const canMount = ((effectiveCapabilities() >> CAP_SYS_ADMIN) & 1n) === 1n;
const guardian = spawn(
  canMount ? 'unshare' : 'sh',
  [...(canMount ? ['--mount', '--propagation', 'private', 'sh'] : []), '-c', GUARDIAN, 'bpfunit-guardian', sandboxDir, canMount ? 'mount' : ''],
  { detached: true, stdio: ['pipe', 'ignore', 'ignore'] },
);
guardian.unref();
(guardian.stdin as Socket).unref();

const pause = new Int32Array(new SharedArrayBuffer(4));

/** A path to the guardian's private bpffs that this process (and bpftool) can use:
 * /proc/<guardian>/root leads into the guardian's mount namespace. */
export function privateBpffs(): string {
  const pidFile = path.join(sandboxDir, 'bpffs.pid');
  const errFile = path.join(sandboxDir, 'bpffs.err');
  for (let waited = 0; ; waited += 10) {
    if (existsSync(pidFile)) return `/proc/${readFileSync(pidFile, 'utf8').trim()}/root/sys/fs/bpf`;
    const err = existsSync(errFile) ? readFileSync(errFile, 'utf8').trim() : '';
    if (!canMount || err || waited > 10000) {
      throw new Error(`no private bpffs for libbpf's pins: ${canMount ? err || 'the guardian did not mount it within 10 s' : 'mounting one needs CAP_SYS_ADMIN'}`);
    }
    Atomics.wait(pause, 0, 0, 10);
  }
}
