// libbpf's section table beyond the classic types: tracing sections name their attach target,
// whose vmlinux BTF id goes into the load (bpftool is the oracle for ids); tcx/ and netkit/ are
// tc programs with their own attach types. Numbers below are the uapi enum values.
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { Collection, LinkError, ObjectSpec, ProgType, sectionKind, SyscallError } from '../../src';
import { AttachTargets } from '../../src/kernel/attach-target';
import type { ProgramSpec } from '../../src/object/object';
import { itRequires } from '../../src/mocha';
import { expectThrow, fdinfo, fixture, FMOD_RET, TRAMPOLINES } from './helpers';

/** The program with its attach target resolved against the running kernel (module fds closed). */
function resolveAttachTarget(p: ProgramSpec): ProgramSpec {
  const targets = new AttachTargets();
  try {
    return targets.resolve(p);
  } finally {
    targets.close();
  }
}

function vmlinuxId(kind: 'FUNC' | 'TYPEDEF', name: string): number {
  const out = execFileSync('bpftool', ['btf', 'dump', 'file', '/sys/kernel/btf/vmlinux'], { encoding: 'utf8', maxBuffer: 1 << 28 });
  const m = new RegExp(`^\\[(\\d+)\\] ${kind} '${name}'`, 'm').exec(out);
  expect(m, `${kind} ${name} in vmlinux BTF`).to.not.equal(null);
  return Number(m![1]);
}

describe('sections: tracing targets, tcx and netkit', function () {
  this.timeout(30000);

  it('maps each section to its program type, attach type, flags and target (pure)', () => {
    const TRACING = 26, LSM = 29, SCHED_CLS = 3, SLEEPABLE = 16;
    const got = (s: string) => {
      const k = sectionKind(s);
      return k && [{ TRACING, LSM, SCHED_CLS }[k.type as 'TRACING'], k.attachType, k.flags, k.attachTo?.name];
    };
    expect(got('fentry/bpf_fentry_test1')).to.deep.equal([TRACING, 24, 0, 'bpf_fentry_test1']);
    expect(got('fexit/bpf_fentry_test1')).to.deep.equal([TRACING, 25, 0, 'bpf_fentry_test1']);
    expect(got('fmod_ret/bpf_modify_return_test')).to.deep.equal([TRACING, 26, 0, 'bpf_modify_return_test']);
    expect(got('tp_btf/sys_enter')).to.deep.equal([TRACING, 23, 0, 'btf_trace_sys_enter']);
    expect(got('iter/task')).to.deep.equal([TRACING, 28, 0, 'bpf_iter_task']);
    expect(got('lsm/file_open')).to.deep.equal([LSM, 27, 0, 'bpf_lsm_file_open']);
    expect(got('fentry.s/do_sys_open')).to.deep.equal([TRACING, 24, SLEEPABLE, 'do_sys_open']);
    expect(got('tcx/ingress')).to.deep.equal([SCHED_CLS, 46, 0, undefined]);
    expect(got('tcx/egress')).to.deep.equal([SCHED_CLS, 47, 0, undefined]);
    expect(got('netkit/primary')).to.deep.equal([SCHED_CLS, 54, 0, undefined]);
    expect(got('netkit/peer')).to.deep.equal([SCHED_CLS, 55, 0, undefined]);
    expect([sectionKind('tp_btf.s/x'), sectionKind('fentry')]).to.deep.equal([undefined, undefined]);
  });

  it('tp_btf and iter programs load with the vmlinux BTF id of their target', () => {
    const spec = ObjectSpec.fromFile(fixture('ext_sections'));
    expect(resolveAttachTarget(spec.program('sec_tp_btf')).attachBtfId).to.equal(vmlinuxId('TYPEDEF', 'btf_trace_sys_enter'));
    expect(resolveAttachTarget(spec.program('sec_iter')).attachBtfId).to.equal(vmlinuxId('FUNC', 'bpf_iter_task'));
    const coll = Collection.load(spec, { programs: ['sec_tp_btf', 'sec_iter'] });
    coll.close();
  });

  it('a target neither vmlinux nor a module has fails that program with LinkError', () => {
    const p = { ...ObjectSpec.fromFile(fixture('ext_sections')).program('sec_fentry') };
    p.section = 'fentry/bpfunit_no_such_function';
    p.kind = sectionKind(p.section);
    expectThrow(() => resolveAttachTarget(p), LinkError, /program sec_fentry: section 'fentry\/bpfunit_no_such_function' attaches to function 'bpfunit_no_such_function', which is not in vmlinux BTF/);
  });

  const TRAMPOLINED = ['sec_fentry', 'sec_fexit', 'sec_lsm'];
  itRequires(TRAMPOLINES, 'fentry, fexit and lsm: load as TRACING / LSM where the kernel has trampolines, else refused even to root (EPERM, as under libbpf)', {
    met: () => {
      const spec = ObjectSpec.fromFile(fixture('ext_sections'));
      const coll = Collection.load(spec, { programs: TRAMPOLINED });
      try {
        expect(TRAMPOLINED.map((p) => Number(fdinfo(coll.program(p).fd).prog_type))).to.deep.equal([ProgType.TRACING, ProgType.TRACING, ProgType.LSM]);
      } finally {
        coll.close();
      }
    },
    unmet: () => {
      const spec = ObjectSpec.fromFile(fixture('ext_sections'));
      for (const p of TRAMPOLINED) {
        const err = expectThrow(() => Collection.load(spec, { programs: [p] }), SyscallError, /EPERM: .*refuses this program type or attach point even to root/);
        expect(err.constructor.name, p).to.equal('SyscallError');
      }
    },
  });

  itRequires(FMOD_RET, 'fmod_ret: loads as TRACING where the kernel lets it modify its target, else is refused (EPERM without trampolines, or not modifiable)', {
    met: () => {
      const coll = Collection.load(ObjectSpec.fromFile(fixture('ext_sections')), { programs: ['sec_fmod_ret'] });
      try {
        expect(Number(fdinfo(coll.program('sec_fmod_ret').fd).prog_type)).to.equal(ProgType.TRACING);
      } finally {
        coll.close();
      }
    },
    unmet: () => {
      const spec = ObjectSpec.fromFile(fixture('ext_sections'));
      expect(() => Collection.load(spec, { programs: ['sec_fmod_ret'] })).to.throw(/EPERM: .*even to root|bpf_modify_return_test\(\) is not modifiable/);
    },
  });

  it('tcx/ingress and netkit/primary test-run as tc programs: first byte + 7', () => {
    const coll = Collection.load(ObjectSpec.fromFile(fixture('ext_sections')), { programs: ['sec_tcx', 'sec_netkit'] });
    try {
      const data = Buffer.from('abcdefghijklmnop');
      expect([coll.program('sec_tcx').run({ data }).retval, coll.program('sec_netkit').run({ data }).retval]).to.deep.equal([0x61 + 7, 0x61 + 7]);
    } finally {
      coll.close();
    }
  });
});
