// Nothing the suite creates outlives it, even when it is killed: libbpf's pins live on a private
// bpffs in a mount namespace of the spec process's guardian, and its temporary files in a sandbox
// the guardian removes (spec/support/sandbox.ts). Here a cross-check is killed with SIGKILL while it
// holds pinned programs and maps; afterwards none of them exists, and neither does its sandbox.
import { expect } from 'chai';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { KernelObject } from '../../src/kernel/ids';
import { ROOT } from '../loader/helpers';
import { stillAlive } from '../support/created';

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

/** Polls `probe` until it returns a value, for at most 120 s (a loaded host starts mocha slowly). */
async function waitFor<T>(what: string, probe: () => T | undefined): Promise<T> {
  for (let waited = 0; waited < 120000; waited += 50) {
    const v = probe();
    if (v !== undefined) return v;
    await sleep(50);
  }
  throw new Error(`gave up waiting for ${what}`);
}

const list = (dir: string) => (existsSync(dir) ? readdirSync(dir) : []);

describe('leftovers: a spec process killed with SIGKILL', () => {
  it('a libbpf cross-check killed mid-run leaves no pin, no pinned program or map, no temporary directory', async function () {
    this.timeout(300000);
    const child = spawn(process.execPath, ['node_modules/.bin/mocha', '--reporter', 'dot', 'spec/loader/libbpf_crosscheck.spec.ts'], { cwd: ROOT, stdio: 'ignore' });
    const exited = new Promise((done) => child.once('exit', done));
    const prefix = `bpfunit_spec_${child.pid}_`;
    let sandbox: string | undefined;
    const pinned: KernelObject[] = [];
    try {
      // The child's sandbox is made in its TMPDIR, ours.
      sandbox = path.join(tmpdir(), await waitFor('the sandbox', () => list(tmpdir()).find((n) => n.startsWith(`bpfunit-${child.pid}-`))));
      const pidFile = path.join(sandbox, 'bpffs.pid');
      const bpffs = `/proc/${await waitFor('the private bpffs', () => (existsSync(pidFile) ? readFileSync(pidFile, 'utf8').trim() || undefined : undefined))}/root/sys/fs/bpf`;
      // Each cross-check pins and unpins within a moment: a pin listed may be gone before bpftool
      // reads it, so wait for one that bpftool still shows.
      const shown = await waitFor('a pinned program', () => {
        const dir = list(bpffs).find((n) => n.startsWith(prefix));
        const progs = dir ? list(path.join(bpffs, dir)).filter((n) => n !== 'maps') : [];
        const found = progs.flatMap((name) => {
          try {
            return [JSON.parse(execFileSync('bpftool', ['-j', 'prog', 'show', 'pinned', path.join(bpffs, dir!, name)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })) as { id: number; map_ids?: number[]; btf_id?: number }];
          } catch {
            return [];
          }
        });
        return found.length > 0 ? found : undefined;
      });
      for (const p of shown) {
        pinned.push({ kind: 'prog', id: p.id }, ...(p.map_ids ?? []).map((id) => ({ kind: 'map' as const, id })));
        if (p.btf_id) pinned.push({ kind: 'btf', id: p.btf_id });
      }
    } finally {
      child.kill('SIGKILL');
      await exited;
    }
    expect(pinned.filter((o) => o.kind === 'map'), 'the pinned program uses maps').to.not.deep.equal([]);
    expect(await stillAlive(pinned), 'objects libbpf pinned').to.deep.equal([]);
    const removed = await waitFor('the sandbox to be removed', () => (existsSync(sandbox!) ? undefined : true)).catch(() => false);
    expect(removed, `${sandbox!} removed`).to.equal(true);
    expect(list('/sys/fs/bpf').filter((n) => n.startsWith(prefix)), 'pins on the host bpffs').to.deep.equal([]);
  });

  it('a sandbox left by a process that is gone is removed by the next spec process; a live one is kept', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'sweep-'));
    const stale = 'bpfunit-99999999-AbCdEf'; // beyond the kernel's largest pid_max (2^22): no such process
    const live = `bpfunit-${process.pid}-AbCdEf`;
    mkdirSync(path.join(dir, stale));
    writeFileSync(path.join(dir, stale, 'left'), 'behind');
    mkdirSync(path.join(dir, live));
    const r = spawnSync(process.execPath, ['-r', 'ts-node/register/transpile-only', '-r', './spec/support/sandbox.ts', '-e', 'console.log(process.env.TMPDIR)'], {
      cwd: ROOT,
      env: { ...process.env, TMPDIR: dir },
      encoding: 'utf8',
    });
    expect(r.status, r.stderr).to.equal(0);
    expect(path.dirname(r.stdout.trim()), 'the child sandbox was made in its TMPDIR').to.equal(dir);
    const sandboxes = readdirSync(dir).filter((n) => n.startsWith('bpfunit-'));
    expect(sandboxes, 'the stale sandbox and, at its exit, the child sandbox are gone').to.deep.equal([live]);
  });
});
