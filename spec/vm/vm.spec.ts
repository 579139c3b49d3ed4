// The VM runner's pure parts: argument parsing, package ordering, the matrix text. Booting a
// guest is exercised by `make test-kernels` (minutes under emulation), not here.
import { expect } from 'chai';
import { parseVmArgs } from '../../src/vm/cli';
import { byVersion, softdepsBefore } from '../../src/vm/kernels';
import { formatMatrix, KernelRun } from '../../src/vm/matrix';

describe('bpfunit vm', () => {
  describe('arguments', () => {
    it('takes the kernel, accelerator and sizes before -- and the command after it verbatim', () => {
      expect(parseVmArgs(['--kernel', '6.1', '--accel', 'tcg', '--memory', '2048', '--', 'sh', '-c', 'exit 3'])).to.deep.equal({
        kernel: '6.1', accel: 'tcg', memoryMiB: 2048, command: ['sh', '-c', 'exit 3'],
      });
      expect(parseVmArgs(['--kernel-image', '/boot/vmlinuz', '--', 'true'])).to.deep.equal({ image: '/boot/vmlinuz', accel: 'auto', command: ['true'] });
      // --opt=value, as every command takes it; an = after -- belongs to the command
      expect(parseVmArgs(['--kernel=6.1', '--cpus=2', '--', 'env', 'A=b'])).to.deep.equal({ kernel: '6.1', accel: 'auto', cpus: 2, command: ['env', 'A=b'] });
    });

    it('refuses a missing command, both or neither kernel, a bad accelerator, a stray word', () => {
      expect(() => parseVmArgs(['--kernel', '6.1'])).to.throw(/no command given/);
      expect(() => parseVmArgs(['--', 'true'])).to.throw(/exactly one of --kernel/);
      expect(() => parseVmArgs(['--kernel', '6.1', '--kernel-image', 'x', '--', 'true'])).to.throw(/exactly one of --kernel/);
      expect(() => parseVmArgs(['--kernel', '6.1', '--accel', 'hvf', '--', 'true'])).to.throw(/--accel is auto, kvm or tcg, got 'hvf'/);
      expect(() => parseVmArgs(['--kernel', '6.1', 'true'])).to.throw(/unexpected 'true'/);
      expect(() => parseVmArgs(['--kernel', '6.1', '--cpus', '0', '--', 'true'])).to.throw(/--cpus needs a positive integer, got '0'/);
    });
  });

  it('--modules: comma lists and repeats add up, and only with --kernel (an image has no package to take them from)', () => {
    expect(parseVmArgs(['--kernel', '6.12', '--modules', 'nf_conntrack,nf_nat', '--modules', 'veth', '--', 'true']).modules).to.deep.equal(['nf_conntrack', 'nf_nat', 'veth']);
    expect(() => parseVmArgs(['--kernel-image', '/boot/vmlinuz', '--modules', 'veth', '--', 'true'])).to.throw(/--modules takes modules from a Debian kernel package: use it with --kernel/);
  });

  it("a module's softdep loads its pre: modules first, not its post: ones", () => {
    expect(softdepsBefore('pre: crc32c')).to.deep.equal(['crc32c']);
    expect(softdepsBefore('pre: a b post: c')).to.deep.equal(['a', 'b']);
    expect(softdepsBefore('post: c pre: d')).to.deep.equal(['d']);
    expect(softdepsBefore('')).to.deep.equal([]);
  });

  it('orders kernel packages by their numbers, not as text (6.1.0-9 < 6.1.0-50; 6.12.9 < 6.12.100)', () => {
    const names = ['linux-image-6.1.0-50-amd64', 'linux-image-6.1.0-9-amd64', 'linux-image-6.1.0-47-amd64'];
    expect(names.sort(byVersion)).to.deep.equal(['linux-image-6.1.0-9-amd64', 'linux-image-6.1.0-47-amd64', 'linux-image-6.1.0-50-amd64']);
    expect(['linux-image-6.12.100+deb12-amd64', 'linux-image-6.12.9+deb12-amd64'].sort(byVersion)[1]).to.equal('linux-image-6.12.100+deb12-amd64');
  });

  describe('the matrix', () => {
    const run = (label: string, outcomes: [string, 'pass' | 'FAIL' | 'pending', string?][], requirements: [string, boolean][] = []): KernelRun => ({
      label, release: label, wallSeconds: 1,
      outcomes: new Map(outcomes.map(([k, state, message]) => [k, { state, message }])),
      requirements: new Map(requirements),
    });

    it('counts per kernel and per file, and lists each differing spec with every failing kernel\'s message', () => {
      const text = formatMatrix([
        run('host', [['a.spec.ts › loads', 'pass'], ['a.spec.ts › runs', 'pass']]),
        run('6.1', [['a.spec.ts › loads', 'FAIL', 'verifier rejected p (EINVAL): unknown func bpf_x#1\nmore\nlines\nhere\ncut'], ['a.spec.ts › runs', 'pass']]),
      ]);
      expect(text).to.match(/^pass\s+2\s+1\s*$/m);
      expect(text).to.match(/^FAIL\s+0\s+1\s*$/m);
      expect(text).to.match(/^a\.spec\.ts\s+2\/2\s+1\/2\s*$/m);
      expect(text).to.include('specs whose outcome differs between kernels (1):\n  a.spec.ts › loads\n    host: pass, 6.1: FAIL\n    6.1: verifier rejected p (EINVAL): unknown func bpf_x#1');
      expect(text).to.not.include('cut');
    });

    it('shows which side of a stated requirement each kernel passed', () => {
      const k = 'r.spec.ts › calls x [requires x in xdp programs]';
      const text = formatMatrix([run('host', [[k, 'pass']], [[k, true]]), run('6.1', [[k, 'pass']], [[k, false]])]);
      expect(text).to.include('every spec has the same outcome on every kernel that ran');
      expect(text).to.include(`stated differences (itRequires, itDifferential: each kernel ran the side it met) (1):\n  ${k}\n    host: pass (met), 6.1: pass (unmet)`);
    });

    it('a stated difference whose outcomes differ (skipped on the host, passed in a guest) is not an unexplained one; a failing side is', () => {
      const k = 'd.spec.ts › same bytes [requires a bpfunit guest: attaches for real]';
      const skipped = formatMatrix([run('host', [[k, 'pending']], [[k, false]]), run('6.12', [[k, 'pass']], [[k, true]])]);
      expect(skipped).to.include('every spec has the same outcome on every kernel that ran');
      expect(skipped).to.include(`  ${k}\n    host: pending (unmet), 6.12: pass (met)`);
      const failed = formatMatrix([run('host', [[k, 'pending']], [[k, false]]), run('6.12', [[k, 'FAIL', 'expected a to equal b']], [[k, true]])]);
      expect(failed).to.include(`specs whose outcome differs between kernels (1):\n  ${k}\n    host: pending, 6.12: FAIL\n    6.12: expected a to equal b`);
    });

    it('says which kernel gave no results and why', () => {
      const broken: KernelRun = { ...run('6.12', []), release: undefined, error: 'the guest stopped' };
      expect(formatMatrix([run('host', [['a › b', 'pass']]), broken])).to.include('6.12: no results: the guest stopped');
    });
  });
});
