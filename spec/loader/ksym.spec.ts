// __ksym externs resolved against this kernel: untyped symbols to their /proc/kallsyms address,
// typed variables and kfuncs to their vmlinux BTF ids (bpftool is the oracle for ids), weak
// absent ones to 0, strong absent ones failing only their programs.
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Collection, LinkError, ObjectSpec, Program, VerifierError } from '../../src';
import { KernelSymbols } from '../../src/kernel/ksyms';
import { itRequires } from '../../src/mocha';
import type { ProgramSpec } from '../../src/object/object';
import { CAST_TO_KERN_CTX, expectThrow, fixture, KALLSYMS_ALL } from './helpers';

/** BTF id of a named VAR or FUNC in vmlinux, as bpftool prints it. */
function vmlinuxId(kind: 'VAR' | 'FUNC', name: string): number {
  const out = execFileSync('bpftool', ['btf', 'dump', 'file', '/sys/kernel/btf/vmlinux'], { encoding: 'utf8', maxBuffer: 1 << 28 });
  const m = new RegExp(`^\\[(\\d+)\\] ${kind} '${name}'`, 'm').exec(out);
  expect(m, `${kind} ${name} in vmlinux BTF`).to.not.equal(null);
  return Number(m![1]);
}

function kallsymsAddress(name: string): bigint {
  const line = readFileSync('/proc/kallsyms', 'latin1').split('\n').find((l) => l.split(/\s+/)[2] === name);
  expect(line, `${name} in /proc/kallsyms`).to.not.equal(undefined);
  return BigInt('0x' + line!.split(' ')[0]);
}

const LD_IMM64 = 0x18;

/** The program with its kernel symbols resolved (no module BTF is loaded here, so no fd is kept). */
function resolveKernelSymbols(spec: ObjectSpec, name: string): ProgramSpec {
  const symbols = new KernelSymbols();
  try {
    return symbols.resolve(spec.program(name), spec.btf);
  } finally {
    symbols.close();
  }
}

describe('__ksym externs', function () {
  this.timeout(30000);

  it('an untyped symbol becomes its kallsyms address; weak absent ones (typed or not) become 0', () => {
    const p = resolveKernelSymbols(ObjectSpec.fromFile(fixture('ext_ksym')), 'ksym_untyped');
    const loads = p.instructions.filter((i) => i.opcode === LD_IMM64);
    const addr = kallsymsAddress('__start_rodata');
    const value = (i: (typeof loads)[0]) => (BigInt.asUintN(32, BigInt(i.imm2 ?? 0)) << 32n) | BigInt.asUintN(32, BigInt(i.imm));
    // clang orders the three loads as it likes: compare them as a set.
    expect(loads.map((i) => [i.src, value(i)]).sort((a, b) => (a[1] < b[1] ? -1 : 1))).to.deep.equal([[0, 0n], [0, 0n], [0, addr]]);
    expect(loads.some((i) => i.ksym)).to.equal(false);
  });

  // ext_ksym's kfunc came with 6.2: where it is absent, only ksym_kfunc is refused.
  const kfuncAbsent = () =>
    expectThrow(() => Collection.load(ObjectSpec.fromFile(fixture('ext_ksym')), { programs: ['ksym_kfunc'] }), LinkError,
      /ksym_kfunc: the kfunc \(in (vmlinux )?BTF\) 'bpf_cast_to_kern_ctx' does not exist on this kernel/);

  itRequires(CAST_TO_KERN_CTX, "a kfunc call carries the function's vmlinux BTF id (BPF_PSEUDO_KFUNC_CALL)", {
    met: () => {
      const p = resolveKernelSymbols(ObjectSpec.fromFile(fixture('ext_ksym')), 'ksym_kfunc');
      const call = p.instructions.find((i) => i.opcode === 0x85)!;
      expect([call.src, call.imm, call.off]).to.deep.equal([2, vmlinuxId('FUNC', 'bpf_cast_to_kern_ctx'), 0]);
    },
    unmet: kfuncAbsent,
  });

  it("a typed variable carries its vmlinux BTF id (BPF_PSEUDO_BTF_ID)", () => {
    const p = resolveKernelSymbols(ObjectSpec.fromFile(fixture('ext_ksym_typed')), 'ksym_typed');
    const ld = p.instructions.find((i) => i.opcode === LD_IMM64)!;
    expect([ld.src, ld.imm, ld.imm2]).to.deep.equal([3, vmlinuxId('VAR', 'bpf_prog_active'), 0]);
  });

  itRequires(CAST_TO_KERN_CTX, 'runs: kernel addresses have bit 63 set and the weak ones are 0 (1); the kfunc returns the xdp_buff (XDP_PASS)', {
    met: () => {
      const coll = Collection.load(ObjectSpec.fromFile(fixture('ext_ksym')));
      try {
        expect(coll.program('ksym_untyped').run({ data: Buffer.alloc(14) }).retval).to.equal(1);
        expect(coll.program('ksym_kfunc').run({ data: Buffer.alloc(14) }).retval).to.equal(2);
      } finally {
        coll.close();
      }
    },
    unmet: () => {
      const coll = Collection.load(ObjectSpec.fromFile(fixture('ext_ksym')), { programs: ['ksym_untyped'] });
      try {
        expect(coll.program('ksym_untyped').run({ data: Buffer.alloc(14) }).retval).to.equal(1);
      } finally {
        coll.close();
      }
      kfuncAbsent();
    },
  });

  // The kernel places a typed variable through kallsyms (KALLSYMS_ALL: see helpers).
  itRequires(KALLSYMS_ALL, 'a typed variable: loads and runs where the kernel can place it, else the verifier refuses that instruction', {
    met: () => {
      const coll = Collection.load(ObjectSpec.fromFile(fixture('ext_ksym_typed')));
      try {
        expect(coll.program('ksym_typed').run({ data: Buffer.alloc(14) }).retval).to.equal(1); // bpf_this_cpu_ptr gave a pointer
      } finally {
        coll.close();
      }
    },
    unmet: () => {
      const err = expectThrow(() => Collection.load(ObjectSpec.fromFile(fixture('ext_ksym_typed'))), VerifierError);
      expect(err.log).to.match(/failed to find the address for kernel symbol 'bpf_prog_active'/);
    },
  });

  it('strong symbols the kernel lacks fail only the programs using them, naming the symbol', () => {
    const spec = ObjectSpec.fromFile(fixture('ext_ksym_missing'));
    expectThrow(() => Collection.load(spec, { programs: ['missing_symbol'] }), LinkError,
      /missing_symbol: the kernel symbol \(in \/proc\/kallsyms\) 'bpfunit_missing_symbol' does not exist on this kernel/);
    expectThrow(() => Collection.load(spec, { programs: ['missing_kfunc'] }), LinkError,
      // A guest booted with modules names the ones it searched.
      /missing_kfunc: the kfunc \(in BTF\) 'bpfunit_missing_kfunc' does not exist on this kernel \(not in vmlinux BTF(, and no module BTF is loaded| nor in the BTF of the loaded modules \(\w+(, \w+)*\))\)/);
    const coll = Collection.load(spec, { programs: ['missing_plain'] });
    try {
      expect(coll.program('missing_plain').run({ data: Buffer.alloc(14) }).retval).to.equal(2);
    } finally {
      coll.close();
    }
  });

  it('Program.load alone refuses a program with unresolved kernel symbols instead of loading zeros', () => {
    const p = ObjectSpec.fromFile(fixture('ext_ksym')).program('ksym_kfunc');
    expectThrow(() => Program.load(p, { mapFd: () => -1 }), LinkError, /uses the __ksym 'bpf_cast_to_kern_ctx': load it with Collection.load/);
  });
});
