// Module BTF: kfuncs, typed __ksym variables and the attach targets of tracing sections found in
// a loaded module's split BTF, as libbpf finds them. The pure part (where a symbol or target is,
// the fd_array slots, the instructions filled in, the module fds) runs on hand-built module BTF
// on top of this kernel's vmlinux; the kernel part loads nf_conntrack's XDP kfuncs
// (spec/fixtures/ext_kfunc_module.c) and fentry/fexit programs on nf_conntrack_in
// (spec/fixtures/ext_module_attach.c) and compares with libbpf. This host builds nf_conntrack
// into vmlinux (and refuses fentry), so the module path runs in a guest whose nf_conntrack is a
// module:
//   bpfunit vm --kernel 6.12 --modules nf_conntrack -- node_modules/.bin/mocha spec/loader/module_btf.spec.ts
// and the refusal where no BTF has the kfunc or function in a guest without it (--kernel 6.12 alone).
import { expect } from 'chai';
import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, existsSync, fstatSync, openSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { Collection, LinkError, ObjectSpec, SyscallError } from '../../src';
import { Btf, BtfKind } from '../../src/btf/btf';
import { fdArray, fdArraySlots, findKernelSymbol } from '../../src/btf/kernel-symbols';
import { AttachTargets } from '../../src/kernel/attach-target';
import { loadBtfBlob } from '../../src/kernel/btf';
import { ModuleBtfs, type OpenModuleBtf } from '../../src/kernel/kernel-btf';
import { Program } from '../../src/kernel/program';
import { KernelSymbols } from '../../src/kernel/ksyms';
import { itRequires } from '../../src/mocha';
import type { Instruction } from '../../src/object/insn';
import type { ProgramSpec } from '../../src/object/object';
import { sectionKind } from '../../src/object/sections';
import { bpfRaw, Cmd, scratch } from '../../src/sys/bpf';
import { btfBlob } from '../support/btf-blob';
import { bpftoolJson, expectThrow, fdinfo, fixture, libbpfRun, ROOT, TRAMPOLINES } from './helpers';

const VMLINUX = '/sys/kernel/btf/vmlinux';
const KIND_TYPEDEF = 8;
const KIND_FUNC = 12;
const KIND_VAR = 14;

/** bpftool's id of a named type in a /sys/kernel/btf file (split files print ids after vmlinux's). */
function bpftoolId(file: string, kind: string, name: string): { id: number; line: string } | undefined {
  const out = execFileSync('bpftool', ['btf', 'dump', 'file', file], { encoding: 'utf8', maxBuffer: 1 << 28 });
  const m = new RegExp(`^\\[(\\d+)\\] ${kind} '${name}'.*$`, 'm').exec(out);
  return m ? { id: Number(m[1]), line: m[0] } : undefined;
}

const vmlinuxBytes = readFileSync(VMLINUX);
const vmlinux = Btf.parse(vmlinuxBytes);
const vmlinuxStrLen = vmlinuxBytes.readUInt32LE(20);
const protoId = vmlinux.types.find((t) => t.kind === BtfKind.FuncProto)!.id;
const intId = vmlinux.find(BtfKind.Int, 'int')!.id;
/** A FUNC every vmlinux has (which one does not matter: only where it is). */
const vmFunc = vmlinux.types.find((t) => t.kind === BtfKind.Func)!;

/** Split BTF for a module with FUNCs, VARs and TYPEDEFs of these names: names are string
 * offsets past vmlinux's strings (no leading empty string: the kernel's module BTF has none), a
 * FUNC's type one of vmlinux's FUNC_PROTOs, a VAR's and a TYPEDEF's vmlinux's int. */
function moduleBtf(symbols: [kind: 'func' | 'var' | 'typedef', name: string][]): Btf {
  let strs = Buffer.alloc(0);
  const records: Buffer[] = [];
  for (const [kind, name] of symbols) {
    const nameOff = vmlinuxStrLen + strs.length;
    strs = Buffer.concat([strs, Buffer.from(name + '\0')]);
    const r = Buffer.alloc(kind === 'var' ? 16 : 12);
    r.writeUInt32LE(nameOff, 0);
    r.writeUInt32LE(({ func: KIND_FUNC, var: KIND_VAR, typedef: KIND_TYPEDEF }[kind] << 24) >>> 0, 4);
    r.writeUInt32LE(kind === 'func' ? protoId : intId, 8);
    if (kind === 'var') r.writeUInt32LE(1, 12); // global
    records.push(r);
  }
  return Btf.parse(btfBlob(Buffer.concat(records), strs), vmlinux);
}

const CALL = 0x85;
const LD_IMM64 = 0x18;
// The object's BTF in these specs is vmlinux itself: its declarations are the kernel's types
// (the module FUNCs' prototype, vmFunc's, int), so they always fit.
const kfuncCall = (name: string, weak = false): Instruction =>
  ({ opcode: CALL, dst: 0, src: 2, off: 0, imm: 0, ksym: { name, kind: 'kfunc', weak, type: name === vmFunc.name ? vmFunc.type! : protoId } });
const typedLoad = (name: string, weak = false): Instruction => ({ opcode: LD_IMM64, dst: 1, src: 3, off: 0, imm: 0, imm2: 0, ksym: { name, kind: 'typed', weak, type: intId } });
const program = (name: string, instructions: Instruction[]): ProgramSpec => ({ name, section: 'xdp', kind: sectionKind('xdp'), license: 'GPL', instructions });
const fields = (i: Instruction) => ({ src: i.src, imm: i.imm, imm2: i.imm2, off: i.off });
/** A program of `section` that only returns 0. */
const traced = (section: string): ProgramSpec => ({
  name: 'traced', section, kind: sectionKind(section), license: 'GPL',
  instructions: [{ opcode: 0xb7, dst: 0, src: 0, off: 0, imm: 0 }, { opcode: 0x95, dst: 0, src: 0, off: 0, imm: 0 }],
});
const target = (p: ProgramSpec) => [p.attachBtfId, p.attachBtfObj];

const isOpen = (fd: number) => {
  try {
    fstatSync(fd);
    return true;
  } catch {
    return false;
  }
};

/** The BTF object id of a kernel BTF (vmlinux or a module), from bpftool. */
function btfObjectId(name: string): number {
  const btf = bpftoolJson<{ id: number; name?: string; kernel?: boolean }[]>(['btf', 'show']).find((b) => b.kernel && b.name === name);
  expect(btf, `kernel BTF object ${name}`).to.not.equal(undefined);
  return btf!.id;
}

/** The module BTF objects bpftool lists, in id order (what the loader enumerates). */
function moduleBtfNames(): string[] {
  return bpftoolJson<{ id: number; name?: string; kernel?: boolean }[]>(['btf', 'show'])
    .filter((b) => b.kernel && b.name !== 'vmlinux').sort((x, y) => x.id - y.id).map((b) => b.name!);
}

const PROG_INFO_SIZE = 232; // struct bpf_prog_info up to attach_btf_id (6.0+), padded
/** The BTF object and type id a loaded program was loaded against (bpf_prog_info). */
function attachBtfOf(progFd: number): { objId: number; id: number } {
  const buf = scratch.prepare(PROG_INFO_SIZE);
  buf.fill(0, scratch.ptrOffset(0), scratch.ptrOffset(PROG_INFO_SIZE));
  buf.writeUInt32LE(progFd, 0);
  buf.writeUInt32LE(PROG_INFO_SIZE, 4);
  buf.writeBigUInt64LE(scratch.ptr(0), 8);
  const r = bpfRaw(Cmd.OBJ_GET_INFO_BY_FD, 16);
  expect(r.value, `BPF_OBJ_GET_INFO_BY_FD errno ${r.errno}`).to.equal(0);
  return { objId: buf.readUInt32LE(scratch.ptrOffset(220)), id: buf.readUInt32LE(scratch.ptrOffset(224)) };
}

/** An fd of the kernel BTF object `id` (BPF_BTF_GET_FD_BY_ID). */
function btfFdById(id: number): number {
  const buf = scratch.prepare(0);
  buf.writeUInt32LE(id, 0);
  const r = bpfRaw(Cmd.BTF_GET_FD_BY_ID, 12);
  expect(r.value, `BPF_BTF_GET_FD_BY_ID errno ${r.errno}`).to.be.at.least(0);
  return r.value;
}

describe('module BTF', function () {
  this.timeout(60000);

  describe('where kernel symbols are, and the fd_array (pure, on hand-built module BTF)', () => {
    const first = vmlinux.types.length;
    const modA = moduleBtf([['func', 'zeta_kfunc'], ['func', 'beta_kfunc'], ['var', 'mod_counter']]);
    const modB = moduleBtf([['func', 'alpha_kfunc'], ['func', 'beta_kfunc']]);
    const a = { name: 'mod_a', btf: modA, firstId: first };
    const b = { name: 'mod_b', btf: modB, firstId: first };

    it("a module's split BTF numbers its types after vmlinux's and reads its names past vmlinux's strings", () => {
      expect(modA.types.length).to.equal(first + 3);
      expect([modA.type(first).name, modA.type(first + 1).name, modA.type(first + 2).name]).to.deep.equal(['zeta_kfunc', 'beta_kfunc', 'mod_counter']);
      expect(modA.type(first + 2).kind).to.equal(BtfKind.Var);
      expect(modA.type(protoId)).to.equal(vmlinux.type(protoId));
    });

    it('vmlinux first (modules not even enumerated), then the first module that has it, by its own id', () => {
      let asked = 0;
      const modules = () => (asked++, [a, b]);
      expect(findKernelSymbol(vmlinux, modules, BtfKind.Func, vmFunc.name)).to.deep.equal({ id: vmFunc.id });
      expect(asked).to.equal(0);
      expect(findKernelSymbol(vmlinux, modules, BtfKind.Func, 'beta_kfunc')).to.deep.equal({ id: first + 1, module: a });
      expect(findKernelSymbol(vmlinux, modules, BtfKind.Func, 'alpha_kfunc')).to.deep.equal({ id: first, module: b });
      expect(findKernelSymbol(vmlinux, modules, BtfKind.Var, 'mod_counter')).to.deep.equal({ id: first + 2, module: a });
      expect(findKernelSymbol(vmlinux, modules, BtfKind.Var, 'zeta_kfunc')).to.equal(undefined); // a FUNC, not a VAR
      expect(findKernelSymbol(vmlinux, modules, BtfKind.Func, 'nowhere_kfunc')).to.equal(undefined);
    });

    it("fd_array slots as libbpf numbers them: index 0 unused, one per module in the order of the kfuncs' names", () => {
      const site = (n: string) => findKernelSymbol(vmlinux, () => [a, b], BtfKind.Func, n);
      // alpha (mod_b) takes 1, beta and zeta (mod_a) share 2; vmlinux and absent kfuncs take none.
      const slots = fdArraySlots(['zeta_kfunc', 'beta_kfunc', 'alpha_kfunc', 'nowhere_kfunc', vmFunc.name, 'zeta_kfunc'], site);
      expect([...slots].map(([m, s]) => [m.name, s])).to.deep.equal([['mod_b', 1], ['mod_a', 2]]);
      expect(fdArray(slots, (m) => (m === a ? 41 : 42))).to.deep.equal([0, 42, 41]);
      expect(fdArray(fdArraySlots([vmFunc.name], site), () => 7)).to.equal(undefined);
    });

    describe('the instructions, and the module fds', () => {
      let fds: number[] = [];
      let opened = 0;
      const symbols = () => {
        fds = [openSync('/dev/null', 'r'), openSync('/dev/null', 'r')];
        const mods: OpenModuleBtf[] = [{ ...a, objectId: 100, fd: fds[0] }, { ...b, objectId: 101, fd: fds[1] }];
        return new KernelSymbols(new ModuleBtfs(() => (opened++, mods)));
      };
      afterEach(() => fds.filter(isOpen).forEach((fd) => closeSync(fd)));

      it('a kfunc call gets its module id and slot, a typed variable its module id and BTF fd; close() closes every fd', () => {
        const s = symbols();
        const p = program('p', [kfuncCall('zeta_kfunc'), kfuncCall('alpha_kfunc'), typedLoad('mod_counter'), kfuncCall(vmFunc.name)]);
        s.planFdArray([p, program('other', [kfuncCall('beta_kfunc')])]);
        const r = s.resolve(p, vmlinux).instructions;
        expect(r.map(fields)).to.deep.equal([
          { src: 2, imm: first, imm2: undefined, off: 2 },
          { src: 2, imm: first, imm2: undefined, off: 1 },
          { src: 3, imm: first + 2, imm2: fds[0], off: 0 },
          { src: 2, imm: vmFunc.id, imm2: undefined, off: 0 },
        ]);
        expect(r.some((i) => i.ksym)).to.equal(false);
        expect(s.fdArray()).to.deep.equal([0, fds[1], fds[0]]);
        expect(fds.map(isOpen)).to.deep.equal([true, true]);
        s.close();
        expect(fds.map(isOpen)).to.deep.equal([false, false]);
      });

      it('weak symbols found nowhere: a kfunc call with imm 0 and off 0, a typed variable the constant 0', () => {
        const s = symbols();
        try {
          const p = program('p', [kfuncCall('nowhere_kfunc', true), typedLoad('nowhere_var', true)]);
          s.planFdArray([p]);
          expect(s.resolve(p, vmlinux).instructions.map(fields)).to.deep.equal([
            { src: 2, imm: 0, imm2: undefined, off: 0 },
            { src: 0, imm: 0, imm2: 0, off: 0 },
          ]);
          expect(s.fdArray()).to.equal(undefined);
        } finally {
          s.close();
        }
      });

      it('a strong kfunc found nowhere fails its program with a LinkError naming it and the modules searched', () => {
        const s = symbols();
        try {
          const p = program('needs_it', [kfuncCall('nowhere_kfunc')]);
          s.planFdArray([p]);
          expectThrow(() => s.resolve(p, vmlinux), LinkError, /program needs_it: the kfunc \(in BTF\) 'nowhere_kfunc' does not exist on this kernel \(not in vmlinux BTF nor in the BTF of the loaded modules \(mod_a, mod_b\)\)/);
        } finally {
          s.close();
        }
      });

      it('vmlinux symbols alone never enumerate modules, and need no fd_array', () => {
        const s = symbols();
        opened = 0;
        const p = program('p', [kfuncCall(vmFunc.name)]);
        s.planFdArray([p]);
        expect(s.resolve(p, vmlinux).instructions[0].off).to.equal(0);
        expect([opened, s.fdArray()]).to.deep.equal([0, undefined]);
        s.close();
      });
    });
  });

  describe('attach targets of tracing sections (pure, on hand-built module BTF)', () => {
    const first = vmlinux.types.length;
    const modA = moduleBtf([['func', 'mod_traced'], ['typedef', 'btf_trace_mod_event'], ['func', 'bpf_lsm_mod_hook']]);
    const modB = moduleBtf([['func', 'only_in_b'], ['func', 'mod_traced'], ['func', 'bpf_iter_mod_things']]);
    let fds: number[] = [];
    let opened = 0;
    const targets = () => {
      fds = [openSync('/dev/null', 'r'), openSync('/dev/null', 'r')];
      opened = 0;
      const mods: OpenModuleBtf[] = [
        { name: 'mod_a', btf: modA, firstId: first, objectId: 100, fd: fds[0] },
        { name: 'mod_b', btf: modB, firstId: first, objectId: 101, fd: fds[1] },
      ];
      return new AttachTargets(new ModuleBtfs(() => (opened++, mods)));
    };
    afterEach(() => fds.filter(isOpen).forEach((fd) => closeSync(fd)));

    it('vmlinux first (modules not enumerated), then the first module that has it: its own id and BTF fd; close() closes the fds', () => {
      const t = targets();
      expect(target(t.resolve(traced(`fentry/${vmFunc.name}`)))).to.deep.equal([vmFunc.id, undefined]);
      expect(opened).to.equal(0);
      const a = { module: 'mod_a', fd: fds[0] };
      const b = { module: 'mod_b', fd: fds[1] };
      expect(target(t.resolve(traced('fexit/mod_traced')))).to.deep.equal([first, a]); // mod_b has one too: libbpf takes the first
      expect(target(t.resolve(traced('fentry/only_in_b')))).to.deep.equal([first, b]);
      expect(target(t.resolve(traced('fmod_ret/only_in_b')))).to.deep.equal([first, b]);
      // libbpf's prefixes and kinds: tp_btf/ a TYPEDEF btf_trace_*, lsm/ a FUNC bpf_lsm_*, iter/ a FUNC bpf_iter_*.
      expect(target(t.resolve(traced('tp_btf/mod_event')))).to.deep.equal([first + 1, a]);
      expect(target(t.resolve(traced('lsm/mod_hook')))).to.deep.equal([first + 2, a]);
      expect(target(t.resolve(traced('iter/mod_things')))).to.deep.equal([first + 2, b]);
      expect(opened).to.equal(1); // enumerated once per load
      expect(fds.map(isOpen)).to.deep.equal([true, true]);
      t.close();
      expect(fds.map(isOpen)).to.deep.equal([false, false]);
    });

    it('a program with no attach target is returned as it is, and enumerates nothing', () => {
      const t = targets();
      const p = program('p', []);
      expect(t.resolve(p)).to.equal(p);
      t.close();
      expect(opened).to.equal(0);
    });

    it('kinds are kept apart: a TYPEDEF is no fentry target, a FUNC no tp_btf one', () => {
      const t = targets();
      try {
        expectThrow(() => t.resolve(traced('fentry/btf_trace_mod_event')), LinkError, /attaches to function 'btf_trace_mod_event'/);
        expectThrow(() => t.resolve(traced('tp_btf/traced')), LinkError, /attaches to typedef 'btf_trace_traced'/);
      } finally {
        t.close();
      }
    });

    it('found nowhere: a LinkError naming the program, section, target and the modules searched', () => {
      const t = targets();
      try {
        expectThrow(() => t.resolve(traced('fentry/nowhere_fn')), LinkError,
          /^program traced: section 'fentry\/nowhere_fn' attaches to function 'nowhere_fn', which is not in vmlinux BTF nor in the BTF of the loaded modules \(mod_a, mod_b\)$/);
        const none = new AttachTargets(new ModuleBtfs(() => []));
        expectThrow(() => none.resolve(traced('fentry/nowhere_fn')), LinkError, /'nowhere_fn', which is not in vmlinux BTF, and no module BTF is loaded$/);
      } finally {
        t.close();
      }
    });

    it("fentry/module:function (libbpf 1.5's form) is looked up whole, as libbpf 1.1 does, and the error says so", () => {
      const t = targets();
      try {
        expectThrow(() => t.resolve(traced('fentry/mod_a:mod_traced')), LinkError,
          /attaches to function 'mod_a:mod_traced', which is not in vmlinux BTF nor in the BTF of the loaded modules \(mod_a, mod_b\); the 'module:function' form is libbpf 1\.5's: libbpf 1\.1 looks the whole name up$/);
      } finally {
        t.close();
      }
    });
  });

  it("the load passes the target's BTF fd as attach_btf_obj_fd: vmlinux's own BTF object loads, a program's BTF is refused (ENOTSUPP)", () => {
    const p = traced('tp_btf/sys_enter'); // loads on every kernel here (no trampoline)
    const id = bpftoolId(VMLINUX, 'TYPEDEF', 'btf_trace_sys_enter')!.id;
    const vmlinuxFd = btfFdById(btfObjectId('vmlinux'));
    const progBtf = loadBtfBlob(ObjectSpec.fromFile(fixture('ext_module_attach')).btfForKernel()!, 'ext_module_attach')!;
    try {
      const prog = Program.load({ ...p, attachBtfId: id, attachBtfObj: { module: 'vmlinux', fd: vmlinuxFd } }, { mapFd: () => -1 });
      try {
        expect(attachBtfOf(prog.fd)).to.deep.equal({ objId: btfObjectId('vmlinux'), id });
      } finally {
        prog.close();
      }
      const err = expectThrow(() => Program.load({ ...p, attachBtfId: id, attachBtfObj: { module: 'x', fd: progBtf } }, { mapFd: () => -1 }), SyscallError);
      expect(err.code).to.equal('ENOTSUPP'); // the kernel read the fd: not a kernel BTF
    } finally {
      closeSync(vmlinuxFd);
      closeSync(progBtf);
    }
  });

  it('a process that may not enumerate BTF objects (nobody) sees no module BTF, as libbpf skips it, instead of failing', function () {
    this.timeout(120_000); // a child transpiling src/ as nobody
    const script = `
      const { openModuleBtfs } = require('./src/kernel/kernel-btf');
      try {
        console.log(JSON.stringify({ modules: openModuleBtfs().length }));
      } catch (e) {
        console.log(JSON.stringify({ error: e.name + ': ' + e.message }));
      }`;
    const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all', process.execPath, '-r', 'ts-node/register', '-e', script],
      { cwd: ROOT, encoding: 'utf8', env: { ...process.env, HOME: '/nonexistent' } });
    expect(r.status, r.stderr).to.equal(0);
    expect(JSON.parse(r.stdout.trim().split('\n').pop()!)).to.deep.equal({ modules: 0 });
  });

  describe("nf_conntrack's XDP kfuncs (ext_kfunc_module)", () => {
    /** Where this kernel has the kfunc: vmlinux, or the nf_conntrack module's BTF. */
    const where = () => {
      const inVmlinux = bpftoolId(VMLINUX, 'FUNC', 'bpf_xdp_ct_lookup');
      return inVmlinux ? { file: VMLINUX, slot: 0, ...inVmlinux } : { file: '/sys/kernel/btf/nf_conntrack', slot: 1, ...bpftoolId('/sys/kernel/btf/nf_conntrack', 'FUNC', 'bpf_xdp_ct_lookup')! };
    };
    // Ethernet + IPv4 (10.0.0.1 -> 10.0.0.2, TCP): conntrack has no such connection.
    const packet = Buffer.from('ffffffffffff' + '000000000001' + '0800' + '45000028000100004006' + '0000' + '0a000001' + '0a000002' + '00'.repeat(20), 'hex');

    itRequires({ kfunc: 'bpf_xdp_ct_lookup' }, 'loads with the kfuncs where the kernel has them and runs as under libbpf (tag, retval, data)', {
      met: () => {
        const obj = fixture('ext_kfunc_module');
        const w = where();
        const opts = bpftoolId(w.file, 'STRUCT', 'bpf_ct_opts')!;
        const optsSize = Number(/size=(\d+)/.exec(opts.line)![1]);
        const btfFds = () => readdirFds().filter((l) => l === 'anon_inode:btf').length;
        const before = btfFds();
        const coll = Collection.load(ObjectSpec.fromFile(obj));
        try {
          const prog = coll.program('ct_lookup');
          const calls = prog.spec.instructions.filter((i) => i.opcode === CALL && i.src === 2);
          // lookup (module slot 1 or vmlinux), the absent weak kfunc (0/0), release (same BTF).
          expect(calls.map((i) => [i.imm, i.off])).to.deep.equal([[w.id, w.slot], [0, 0], [bpftoolId(w.file, 'FUNC', 'bpf_ct_release')!.id, w.slot]]);
          const r = prog.run({ data: packet });
          const ref = libbpfRun(obj, 'ct_lookup', { data: packet });
          expect(ref.ok, ref.stderr).to.equal(true);
          expect(fdinfo(prog.fd).prog_tag).to.equal(ref.tag);
          expect(r.retval).to.equal(ref.retval);
          expect(r.data).to.deep.equal(ref.data);
          // No connection: XDP_DROP, opts.error -ENOENT, and the options size of this kernel's BTF.
          expect([r.retval, r.data.readInt32LE(0), r.data.readUInt32LE(4)]).to.deep.equal([1, -2, optsSize]);
        } finally {
          coll.close();
        }
        expect(btfFds()).to.equal(before); // the module BTF fds went with the load
      },
      unmet: () => {
        expectThrow(() => Collection.load(ObjectSpec.fromFile(fixture('ext_kfunc_module'))), LinkError,
          /program ct_lookup: the kfunc \(in BTF\) 'bpf_(xdp_ct_lookup|ct_release)' does not exist on this kernel \(not in vmlinux BTF/);
      },
    });
  });

  describe('fentry/fexit on nf_conntrack_in (ext_module_attach)', () => {
    const PROGS = ['ct_in_entry', 'ct_in_exit'];
    const NF_CONNTRACK_BTF = '/sys/kernel/btf/nf_conntrack';
    /** Where this kernel's BTF has nf_conntrack_in (bpftool's id): vmlinux, nf_conntrack's module
     * BTF, or nowhere. */
    const where = (): { module?: string; id: number } | undefined => {
      const v = bpftoolId(VMLINUX, 'FUNC', 'nf_conntrack_in');
      if (v) return { id: v.id };
      const m = existsSync(NF_CONNTRACK_BTF) ? bpftoolId(NF_CONNTRACK_BTF, 'FUNC', 'nf_conntrack_in') : undefined;
      return m && { module: 'nf_conntrack', id: m.id };
    };
    const HAS_TARGET = { feature: "nf_conntrack_in in the kernel's BTF (vmlinux, or nf_conntrack's as a loaded module)", probe: () => where() !== undefined };
    const LOADS = { feature: `${HAS_TARGET.feature}, and ${TRAMPOLINES.feature}`, probe: () => HAS_TARGET.probe() && TRAMPOLINES.probe() };
    const obj = () => fixture('ext_module_attach');
    const refused = /^program ct_in_entry: section 'fentry\/nf_conntrack_in' attaches to function 'nf_conntrack_in', which is not in vmlinux BTF(.*)$/;
    /** What the refusal must say about modules: every module BTF the kernel has, in id order. */
    const searched = () => {
      const mods = moduleBtfNames();
      return mods.length ? ` nor in the BTF of the loaded modules (${mods.join(', ')})` : ', and no module BTF is loaded';
    };

    itRequires(HAS_TARGET, 'both programs get the id bpftool shows, in vmlinux or in the module BTF with its fd, closed with the load', {
      met: () => {
        const w = where()!;
        const spec = ObjectSpec.fromFile(obj());
        const t = new AttachTargets();
        let fd: number | undefined;
        try {
          for (const name of PROGS) {
            const p = t.resolve(spec.program(name));
            expect([name, p.attachBtfId, p.attachBtfObj?.module]).to.deep.equal([name, w.id, w.module]);
            fd = p.attachBtfObj?.fd;
          }
          // The fd the load passes is the module's BTF object.
          if (w.module) expect(readlinkSync(`/proc/self/fd/${fd}`)).to.equal('anon_inode:btf');
        } finally {
          t.close();
        }
        if (fd !== undefined) expect(isOpen(fd)).to.equal(false);
      },
      unmet: () => {
        const err = expectThrow(() => Collection.load(ObjectSpec.fromFile(obj())), LinkError, refused);
        expect(refused.exec(err.message)![1]).to.equal(searched());
        const ref = libbpfRun(obj(), 'ct_in_entry', { norun: true });
        expect(ref.ok).to.equal(false);
        expect(ref.stderr).to.include("failed to find kernel BTF type ID of 'nf_conntrack_in'");
      },
    });

    itRequires(LOADS, 'both load against that BTF as under libbpf: equal tags, the same BTF object and type id, no fd left open', {
      met: () => {
        const w = where()!;
        const btfFds = () => readdirFds().filter((l) => l === 'anon_inode:btf').length;
        const before = btfFds();
        const coll = Collection.load(ObjectSpec.fromFile(obj()));
        try {
          expect(btfFds()).to.equal(before + 1); // the object's BTF; the module's went with the load
          for (const name of PROGS) {
            const ref = libbpfRun(obj(), name, { norun: true });
            expect(ref.ok, ref.stderr).to.equal(true);
            const fd = coll.program(name).fd;
            expect([name, fdinfo(fd).prog_tag]).to.deep.equal([name, ref.tag]);
            expect(attachBtfOf(fd)).to.deep.equal(ref.attachBtf);
            expect(ref.attachBtf).to.deep.equal({ objId: btfObjectId(w.module ?? 'vmlinux'), id: w.id });
          }
        } finally {
          coll.close();
        }
        expect(btfFds()).to.equal(before);
      },
      unmet: () => {
        // No target: the LinkError above; a target without trampolines: EPERM, as under libbpf.
        if (where()) expectThrow(() => Collection.load(ObjectSpec.fromFile(obj())), SyscallError, /EPERM: program ct_in_entry \(TRACING, section fentry\/nf_conntrack_in\)/);
        else expectThrow(() => Collection.load(ObjectSpec.fromFile(obj())), LinkError, refused);
        for (const name of PROGS) {
          const ref = libbpfRun(obj(), name, { norun: true });
          expect([name, ref.ok]).to.deep.equal([name, false]);
        }
      },
    });
  });
});

/** What each of this process's fds links to. */
function readdirFds(): string[] {
  return readdirSync('/proc/self/fd').flatMap((n) => {
    try {
      return [readlinkSync(`/proc/self/fd/${n}`)];
    } catch {
      return [];
    }
  });
}
