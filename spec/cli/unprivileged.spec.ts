import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// Run as nobody with no capabilities: every entry point must stop with one clear line.
function asNobody(args: string[]) {
  return spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all', ...args], {
    encoding: 'utf8',
    env: { ...process.env, HOME: '/nonexistent' },
    timeout: 60000,
  });
}

describe('without privileges', () => {
  let obj: string;
  before(() => {
    const dir = mkdtempSync(join(tmpdir(), 'bpfunit-nopriv-'));
    chmodSync(dir, 0o755);
    obj = join(dir, 'bench_trivial.o');
    copyFileSync('build/fixtures/bench_trivial.o', obj);
    chmodSync(obj, 0o644);
  });

  for (const command of ['load', 'run']) {
    it(`bpfunit ${command} prints one line naming the privileges and exits 1`, function () {
      this.timeout(60000);
      const extra = command === 'run' ? ['--prog', 'bench_pass', '--data', '00'.repeat(14)] : [];
      const r = asNobody(['bin/bpfunit', command, obj, ...extra]);
      expect(r.status, r.stderr).to.equal(1);
      expect(r.stdout).to.equal('');
      const lines = r.stderr.trim().split('\n');
      expect(lines).to.have.length(1);
      expect(lines[0]).to.match(/^bpfunit: BPF_\w+ failed: EPERM: bpfunit needs root, or CAP_BPF \+ CAP_PERFMON \+ CAP_NET_ADMIN/);
    });
  }

  it('the spec runner stops before any test with one line naming the privileges', function () {
    this.timeout(60000);
    const r = asNobody([process.execPath, 'node_modules/.bin/mocha', '--reporter', 'dot', 'spec/mock/harness.spec.ts']);
    expect(r.status).to.equal(1);
    expect(r.stdout).to.not.match(/passing|failing/);
    expect(r.stderr.trim().split('\n')).to.deep.equal(['bpfunit: BPF_MAP_CREATE failed: EPERM: bpfunit needs root, or CAP_BPF + CAP_PERFMON + CAP_NET_ADMIN (and a kernel that allows them)']);
  });
});
