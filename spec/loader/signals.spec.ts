// A program loads while signals arrive: the verifier stops with EAGAIN when a signal is pending,
// so bpfunit holds signals during BPF_PROG_LOAD. The child runs under node's CPU profiler, whose
// SIGPROF comes every 100 us here: without the hold, cgroup_sock.o's programs failed to load
// ("verifier rejected cgroup_connect4_prog (EAGAIN)"). Afterwards signals must reach the process
// again.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { slowed } from '../support/slow';

const ROOT = path.resolve(__dirname, '..', '..');

const CHILD = `
const { Collection } = require(${JSON.stringify(path.join(ROOT, 'src/kernel/collection'))});
const { ObjectSpec } = require(${JSON.stringify(path.join(ROOT, 'src/object/object'))});
const spec = ObjectSpec.fromFile(${JSON.stringify(path.join(ROOT, 'build/bpf/cgroup_sock.o'))});
let loaded = 0;
for (let i = 0; i < 3; i++) { const c = Collection.load(spec); c.close(); loaded++; }
process.on('SIGUSR2', () => { console.log(JSON.stringify({ loaded, signal: 'SIGUSR2' })); process.exit(0); });
process.kill(process.pid, 'SIGUSR2');
setTimeout(() => { console.log(JSON.stringify({ loaded, signal: null })); process.exit(3); }, 5000);
`;

describe('program loads under a stream of signals', function () {
  this.timeout(slowed(120_000));

  it('load while a profiler samples every 100 us, and signals reach the process afterwards', () => {
    const profiles = mkdtempSync(path.join(tmpdir(), 'bpfunit-prof-'));
    try {
      const r = spawnSync(process.execPath, [
        '--cpu-prof', '--cpu-prof-dir', profiles, '--cpu-prof-interval', '100', '-r', 'tsx/cjs', '-e', CHILD,
      ], { cwd: ROOT, encoding: 'utf8', timeout: slowed(90_000) });
      expect(r.status, r.stderr).to.equal(0);
      const out = JSON.parse(r.stdout.trim().split('\n').pop()!);
      expect(out).to.deep.equal({ loaded: 3, signal: 'SIGUSR2' });
    } finally {
      rmSync(profiles, { recursive: true, force: true });
    }
  });
});
