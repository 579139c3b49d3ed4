// Module BTF: kfuncs and typed __ksym variables found in a loaded module's split BTF, as libbpf
// finds them. The pure part (where a symbol is, the fd_array slots, the instructions filled in)
// runs on hand-built module BTF on top of this kernel's vmlinux; the kernel part loads
// nf_conntrack's XDP kfuncs (spec/fixtures/ext_kfunc_module.c) and compares with libbpf. This
// host builds nf_conntrack into vmlinux, so the module path runs in a guest whose nf_conntrack
// is a module:
//   bpfunit vm --kernel 6.12 --modules nf_conntrack -- node_modules/.bin/mocha spec/loader/module_btf.spec.ts
// and the refusal where no BTF has the kfunc in a guest without it (--kernel 6.12 alone).
import { expect } from 'chai';
import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, fstatSync, openSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { Collection, LinkError, ObjectSpec } from '../../src';
import { Btf, BtfKind } from '../../src/btf/btf';
import { fdArray, fdArraySlots, findKernelSymbol } from '../../src/btf/kernel-symbols';
import type { OpenModuleBtf } from '../../src/kernel/kernel-btf';
import { KernelSymbols } from '../../src/kernel/ksyms';
import { itRequires } from '../../src/mocha';
import type { Instruction } from '../../src/object/insn';
import type { ProgramSpec } from '../../src/object/object';
import { sectionKind } from '../../src/object/sections';
import { btfBlob } from '../support/btf-blob';
import { expectThrow, fdinfo, fixture, libbpfRun, ROOT } from './helpers';

const VMLINUX = '/sys/kernel/btf/vmlinux';
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

/** Split BTF for a module with FUNCs and VARs of these names: names are string offsets past
 * vmlinux's strings (no leading empty string: the kernel's module BTF has none), a FUNC's type
 * one of vmlinux's FUNC_PROTOs, a VAR's vmlinux's int. */
function moduleBtf(symbols: [kind: 'func' | 'var', name: string][]): Btf {
  let strs = Buffer.alloc(0);
  const records: Buffer[] = [];
  for (const [kind, name] of symbols) {
    const nameOff = vmlinuxStrLen + strs.length;
    strs = Buffer.concat([strs, Buffer.from(name + '\0')]);
    const r = Buffer.alloc(kind === 'func' ? 12 : 16);
    r.writeUInt32LE(nameOff, 0);
    r.writeUInt32LE(((kind === 'func' ? KIND_FUNC : KIND_VAR) << 24) >>> 0, 4);
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
        return new KernelSymbols(() => (opened++, mods));
      };
      const isOpen = (fd: number) => {
        try {
          fstatSync(fd);
          return true;
        } catch {
          return false;
        }
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
