// The running kernel's config is where kconfig externs are read from: a distribution's
// /boot/config-<release> or the kernel's own /proc/config.gz. Debian's kernels have no
// /proc/config.gz, so a bpfunit guest installs the booted kernel's config in its /boot; this
// checks, on every kernel of the matrix, that one is found and that it is this kernel's.
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { release } from 'node:os';

describe('the kernel config', () => {
  it('is found at /boot/config-<release> or /proc/config.gz and describes the running kernel (version, BTF)', () => {
    const boot = `/boot/config-${release()}`;
    const found = [boot, '/proc/config.gz'].filter((f) => existsSync(f));
    expect(found, 'a kernel config').to.not.deep.equal([]);
    const text = found[0] === boot ? readFileSync(boot, 'latin1') : execFileSync('zcat', ['/proc/config.gz'], { encoding: 'latin1' });
    const version = /^# Linux\/\S+ (\d+\.\d+)\.\d+\S* Kernel Configuration$/m.exec(text)?.[1];
    expect(version, 'the config header names the version').to.equal(/^\d+\.\d+/.exec(release())![0]);
    // vmlinux BTF is what bpfunit loads against: the config of this kernel says it is built in.
    expect(existsSync('/sys/kernel/btf/vmlinux')).to.equal(true);
    expect(text).to.match(/^CONFIG_DEBUG_INFO_BTF=y$/m);
  });
});
