// Privileges are the capabilities a process holds, not its uid. Children run as nobody:
// - with no capabilities, every entry point stops with one line naming the privileges;
// - with exactly CAP_BPF + CAP_PERFMON + CAP_NET_ADMIN, bpfunit works as under root, and a verifier
//   rejection is a VerifierError naming the C line (the kernel answers EACCES, as it does to root).
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { missingBpfCapabilities } from '../../src/sys/capabilities';
import { CLI, fixture, fixtureSource, markerLine, ROOT } from '../loader/helpers';

const { TMPDIR: _ours, ...env } = process.env;

/** Runs argv as nobody holding exactly `caps` (setpriv names: bpf, perfmon, net_admin...). */
function asNobody(caps: string[], argv: string[]) {
  const set = ['-all', ...caps.map((c) => `+${c}`)].join(',');
  return spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', `--inh-caps=${set}`, `--ambient-caps=${set}`, ...argv], {
    cwd: ROOT,
    encoding: 'utf8',
    // nobody cannot write in this run's sandbox (TMPDIR): its mocha makes its own in /tmp, and
    // ts-node's compile cache, which would outlive the run there, is off.
    env: { ...env, HOME: '/nonexistent', DISABLE_V8_COMPILE_CACHE: '1' },
    timeout: 60000,
  });
}

/** Loads every program of `obj` through the library in a child; prints what was thrown. */
const LOAD_AND_REPORT = `
const { Collection, ObjectSpec } = require('./src');
try {
  Collection.load(ObjectSpec.fromFile(process.argv[1])).close();
  console.log(JSON.stringify({ loaded: true }));
} catch (e) {
  console.log(JSON.stringify({ error: e.constructor.name, errno: e.errno, sourceLine: e.sourceLine, message: e.message }));
}`;

function loadAs(caps: string[], obj: string): { loaded?: true; error?: string; errno?: number; sourceLine?: { file: string; line: number }; message?: string } {
  const r = asNobody(caps, [process.execPath, '-r', 'ts-node/register/transpile-only', '-e', LOAD_AND_REPORT, obj]);
  expect(r.status, r.stderr).to.equal(0);
  return JSON.parse(r.stdout);
}

const BPF_CAPS = ['bpf', 'perfmon', 'net_admin'];

describe('privileges are capabilities, not the uid', () => {
  describe('as nobody without capabilities', () => {
    for (const command of ['load', 'run']) {
      it(`bpfunit ${command} prints one line naming the privileges and exits 1`, function () {
        this.timeout(60000);
        const extra = command === 'run' ? ['--prog', 'bench_pass', '--data', '00'.repeat(14)] : [];
        const r = asNobody([], [CLI, command, fixture('bench_trivial'), ...extra]);
        expect(r.status, r.stderr).to.equal(1);
        expect(r.stdout).to.equal('');
        const lines = r.stderr.trim().split('\n');
        expect(lines).to.have.length(1);
        expect(lines[0]).to.match(/^bpfunit: BPF_\w+ failed: EPERM: bpfunit needs root, or CAP_BPF \+ CAP_PERFMON \+ CAP_NET_ADMIN/);
      });
    }

    it('the spec runner stops before any test with one line naming the privileges', function () {
      this.timeout(60000);
      const r = asNobody([], [process.execPath, 'node_modules/.bin/mocha', '--reporter', 'dot', 'spec/mock/harness.spec.ts']);
      expect(r.status).to.equal(1);
      expect(r.stdout).to.not.match(/passing|failing/);
      expect(r.stderr.trim().split('\n')).to.deep.equal(['bpfunit: BPF_MAP_CREATE failed: EPERM: bpfunit needs root, or CAP_BPF + CAP_PERFMON + CAP_NET_ADMIN (and a kernel that allows them)']);
    });
  });

  describe('as nobody with exactly CAP_BPF + CAP_PERFMON + CAP_NET_ADMIN', () => {
    it('a verifier rejection is a VerifierError naming the C line, as under root', function () {
      this.timeout(60000);
      const r = loadAs(BPF_CAPS, fixture('loader_invalid'));
      const line = markerLine(fixtureSource('loader_invalid'), 'VERIFIER-REJECTS-THIS-LINE');
      expect([r.error, r.errno], r.message).to.deep.equal(['VerifierError', 13]);
      expect(r.sourceLine!.file).to.match(/(^|\/)loader_invalid\.c$/);
      expect(r.sourceLine!.line).to.equal(line);
    });

    it('a valid object loads and runs', function () {
      this.timeout(60000);
      const r = asNobody(BPF_CAPS, [CLI, 'run', fixture('bench_trivial'), '--prog', 'bench_pass', '--data', '00'.repeat(14)]);
      expect(r.status, r.stderr).to.equal(0);
      expect(JSON.parse(r.stdout).retval).to.equal(2); // XDP_PASS
    });

    it('without CAP_NET_ADMIN, loading an XDP program is a PermissionError', function () {
      this.timeout(60000);
      const r = loadAs(['bpf', 'perfmon'], fixture('loader_invalid'));
      expect([r.error, r.errno]).to.deep.equal(['PermissionError', 1]);
    });
  });

  describe('missingBpfCapabilities (CapEff bits: NET_ADMIN 12, SYS_ADMIN 21, PERFMON 38, BPF 39)', () => {
    const bits = (...caps: number[]) => caps.reduce((m, c) => m | (1n << BigInt(c)), 0n);
    it('names each capability a mask lacks', () => {
      expect(missingBpfCapabilities(0n)).to.deep.equal(['CAP_BPF', 'CAP_PERFMON', 'CAP_NET_ADMIN']);
      expect(missingBpfCapabilities(bits(39, 38))).to.deep.equal(['CAP_NET_ADMIN']);
      expect(missingBpfCapabilities(bits(12, 39))).to.deep.equal(['CAP_PERFMON']);
      expect(missingBpfCapabilities(bits(12, 38, 39))).to.deep.equal([]);
    });

    it('CAP_SYS_ADMIN alone stands in for all three', () => {
      expect(missingBpfCapabilities(bits(21))).to.deep.equal([]);
    });
  });
});
