// __kconfig externs: the .kconfig map's layout and bytes by libbpf's rules (pure, with made-up
// kernel facts, so configs with and without a file are both covered), and loads on this kernel
// with and without spec overrides. The libbpf cross-check compares the same loads with libbpf.
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { release } from 'node:os';
import { Collection, InputError, LinkError, ObjectSpec } from '../../src';
import { kconfigData, KconfigExtern, KernelFacts } from '../../src/object/kconfig';
import { expectThrow, fixture } from './helpers';

const ext = (name: string, kind: KconfigExtern['kind'], offset: number, size: number, more: Partial<KconfigExtern> = {}): KconfigExtern =>
  ({ name, kind, offset, size, signed: false, weak: false, ...more });

const FACTS: KernelFacts = { release: '6.1.0-18-amd64', config: undefined, hasSyscallWrapper: true, hasBpfCookie: false };

describe('kconfig externs', () => {
  describe('the .kconfig bytes (pure)', () => {
    it('LINUX_ values: KERNEL_VERSION(6, 1, 0), the two feature flags, a weak unknown LINUX_ name left 0', () => {
      const externs = [
        ext('LINUX_KERNEL_VERSION', 'int', 0, 4), ext('LINUX_HAS_SYSCALL_WRAPPER', 'bool', 4, 1),
        ext('LINUX_HAS_BPF_COOKIE', 'bool', 5, 1), ext('LINUX_NOT_A_THING', 'int', 8, 4, { weak: true }),
      ];
      const { data, problems } = kconfigData(externs, { ...FACTS, release: '6.1.300-foo' });
      // patch level 300 is capped at 255
      expect(data.toString('hex')).to.equal('ff0106000100000000000000');
      expect([...problems]).to.deep.equal([]);
    });

    it('CONFIG_ values of every kind from a config file, overrides winning', () => {
      const config = ['CONFIG_B=y', 'CONFIG_T=m', 'CONFIG_C=n', 'CONFIG_I=-2', 'CONFIG_H=0x10', 'CONFIG_O=010', 'CONFIG_S="hello world"', '# CONFIG_X is not set', 'CONFIG_OV=y'].join('\n');
      const externs = [
        ext('CONFIG_B', 'bool', 0, 1), ext('CONFIG_T', 'tristate', 4, 4), ext('CONFIG_C', 'char', 8, 1),
        ext('CONFIG_I', 'int', 12, 4, { signed: true }), ext('CONFIG_H', 'int', 16, 2), ext('CONFIG_O', 'int', 18, 1),
        ext('CONFIG_S', 'chars', 19, 6), ext('CONFIG_X', 'bool', 25, 1, { weak: true }), ext('CONFIG_OV', 'tristate', 28, 4),
        ext('CONFIG_NUM', 'int', 32, 8, { weak: true }),
      ];
      const { data, problems } = kconfigData(externs, { ...FACTS, config }, { CONFIG_OV: 'n', CONFIG_NUM: 1234 });
      expect([...problems]).to.deep.equal([]);
      expect(data.toString('hex')).to.equal(
        '01000000' + '02000000' + '6e000000' + 'feffffff' + '1000' + '08' + '68656c6c6f00' /* cut to 5 + NUL */ + '00' /* X */ + '0000' + '00000000' /* OV */ + 'd204000000000000',
      );
    });

    it('without a config file: weak CONFIG_ externs are 0, strong ones are problems naming the files looked for', () => {
      const { data, problems } = kconfigData([ext('CONFIG_W', 'int', 0, 4, { weak: true }), ext('CONFIG_S', 'int', 4, 4)], FACTS);
      expect(data.toString('hex')).to.equal('0000000000000000');
      expect(problems.get('CONFIG_S')).to.match(/no kernel config found \(\/boot\/config-6\.1\.0-18-amd64 or \/proc\/config\.gz\)/);
      expect(problems.has('CONFIG_W')).to.equal(false);
    });

    it('refuses values that do not fit the extern type, as libbpf does', () => {
      const config = 'CONFIG_BM=m\nCONFIG_BIG=256\nCONFIG_STR="x"\nCONFIG_TRI=5\nCONFIG_NEG=-129';
      const externs = [
        ext('CONFIG_BM', 'bool', 0, 1), ext('CONFIG_BIG', 'int', 1, 1), ext('CONFIG_STR', 'int', 4, 4),
        ext('CONFIG_TRI', 'tristate', 8, 4), ext('CONFIG_NEG', 'char', 12, 1, { signed: true }),
      ];
      const { problems } = kconfigData(externs, { ...FACTS, config });
      expect(Object.fromEntries(problems)).to.deep.equal({
        CONFIG_BM: "kconfig extern 'CONFIG_BM' is a bool, but its value is 'm' (use a tristate or char)",
        CONFIG_BIG: "kconfig extern 'CONFIG_BIG': 256 does not fit in 1 bytes",
        CONFIG_STR: "kconfig extern 'CONFIG_STR': a string value needs a char array",
        CONFIG_TRI: "kconfig extern 'CONFIG_TRI': an integer value needs an integer or char type",
        CONFIG_NEG: "kconfig extern 'CONFIG_NEG': 18446744073709551487 does not fit in 1 bytes",
      });
    });
  });

  describe('on this kernel', () => {
    // Where the kernel's config is: a distribution's /boot/config-<release> (Debian kernels, and
    // bpfunit's guests, have no /proc/config.gz), else the kernel's own /proc/config.gz.
    const config = () => {
      const boot = `/boot/config-${release()}`;
      return existsSync(boot) ? readFileSync(boot, 'latin1') : execFileSync('zcat', ['/proc/config.gz'], { encoding: 'latin1' });
    };
    const option = (name: string) => new RegExp(`^${name}=(.*)$`, 'm').exec(config())?.[1];

    it('lays the externs out as libbpf does (alignment down, then size up, then name)', () => {
      const spec = ObjectSpec.fromFile(fixture('ext_kconfig'));
      expect(spec.kconfig.map((e) => [e.name, e.offset, e.size])).to.deep.equal([
        ['CONFIG_ARCH_MMAP_RND_BITS', 0, 8], ['CONFIG_HZ', 8, 4], ['CONFIG_IPV6', 12, 4], ['LINUX_BPFUNIT_UNKNOWN', 16, 4],
        ['LINUX_KERNEL_VERSION', 20, 4], ['CONFIG_BPFUNIT_ABSENT', 24, 1], ['CONFIG_BPF_SYSCALL', 25, 1], ['CONFIG_VETH', 26, 1],
        ['LINUX_HAS_BPF_COOKIE', 27, 1], ['LINUX_HAS_SYSCALL_WRAPPER', 28, 1], ['CONFIG_DEFAULT_HOSTNAME', 29, 8],
      ]);
      // BPF_F_RDONLY_PROG | BPF_F_MMAPABLE, as libbpf creates it (the cross-check compares them)
      expect(spec.map('.kconfig')).to.deep.include({ keySize: 4, valueSize: 37, maxEntries: 1, flags: 0x80 | 0x400 });
    });

    it('kconfig_values sees the kernel release and its config (/boot/config-<release> or /proc/config.gz)', () => {
      const coll = Collection.load(ObjectSpec.fromFile(fixture('ext_kconfig')), { programs: ['kconfig_values'] });
      try {
        const out = coll.program('kconfig_values').run({ data: Buffer.alloc(48) }).data;
        // major.minor.patch lead the release; what follows varies (6.12.117+deb12-amd64, 6.1.0-57-amd64)
        const [major, minor, patch] = /^(\d+)\.(\d+)\.(\d+)/.exec(release())!.slice(1).map(Number);
        expect(out.readUInt32LE(0)).to.equal((major << 16) + (minor << 8) + Math.min(patch, 255));
        expect(option('CONFIG_BPF_SYSCALL')).to.equal('y');
        expect(out[6]).to.equal(1);
        expect(String.fromCharCode(out[7])).to.equal(option('CONFIG_VETH'));
        expect(out.readUInt32LE(8)).to.equal(Number(option('CONFIG_HZ')));
        expect(out.readUInt32LE(12)).to.equal({ y: 1, m: 2 }[option('CONFIG_IPV6') as 'y' | 'm']);
        expect(out.readBigInt64LE(16)).to.equal(BigInt(option('CONFIG_ARCH_MMAP_RND_BITS')!));
        expect([out.readInt32LE(24), out[28]]).to.deep.equal([0, 0]); // the weak externs nobody sets
        const hostname = JSON.parse(option('CONFIG_DEFAULT_HOSTNAME')!) as string;
        expect(out.subarray(32, 40).toString('latin1')).to.equal(hostname.slice(0, 7).padEnd(8, '\0'));
      } finally {
        coll.close();
      }
    });

    it('an override reaches the branch the kernel config does not: CONFIG_BPF_SYSCALL=n gives XDP_DROP', () => {
      const spec = ObjectSpec.fromFile(fixture('ext_kconfig'));
      const run = (kconfig?: Record<string, 'y' | 'n'>) => {
        const coll = Collection.load(spec, { programs: ['kconfig_branch'], kconfig });
        try {
          return coll.program('kconfig_branch').run({ data: Buffer.alloc(14) }).retval;
        } finally {
          coll.close();
        }
      };
      expect([run(), run({ CONFIG_BPF_SYSCALL: 'n' }), run({ CONFIG_BPF_SYSCALL: 'y' })]).to.deep.equal([2, 1, 2]);
    });

    it('the .kconfig map is frozen: programs and userspace only read it', () => {
      const coll = Collection.load(ObjectSpec.fromFile(fixture('ext_kconfig')), { programs: ['kconfig_branch'] });
      try {
        expect(() => coll.map('.kconfig').update(Buffer.alloc(4), Buffer.alloc(37))).to.throw(/EPERM|frozen/);
      } finally {
        coll.close();
      }
    });

    it('a strong extern no config has fails only the program reading it; an override lets it load', () => {
      const spec = ObjectSpec.fromFile(fixture('ext_kconfig_strong'));
      expectThrow(() => Collection.load(spec, { programs: ['strong_reader'] }), LinkError,
        /program strong_reader: kconfig extern 'CONFIG_BPFUNIT_MISSING' is not set in the kernel config/);
      const plain = Collection.load(spec, { programs: ['strong_plain'] });
      plain.close();
      const coll = Collection.load(spec, { programs: ['strong_reader'], kconfig: { CONFIG_BPFUNIT_MISSING: 5 } });
      try {
        expect(coll.program('strong_reader').run({ data: Buffer.alloc(14) }).retval).to.equal(5);
      } finally {
        coll.close();
      }
    });

    it('only CONFIG_ options can be overridden', () => {
      const spec = ObjectSpec.fromFile(fixture('ext_kconfig'));
      expectThrow(() => Collection.load(spec, { kconfig: { LINUX_KERNEL_VERSION: 1 } }), InputError, /'LINUX_KERNEL_VERSION': only CONFIG_ options/);
    });
  });
});
