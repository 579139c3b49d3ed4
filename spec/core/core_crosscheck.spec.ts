// CO-RE against libbpf: every CO-RE fixture loaded program by program by libbpf
// (spec/loader/libbpf_run.c, btf_custom_path for a named BTF) and by bpfunit. Both must agree on
// which programs load, load the same relocated instructions (equal program tags) and give the
// same test-run results, which must also be the values bpftool's dump of the target BTF implies.
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { Collection, InputError, LinkError, ObjectSpec, VerifierError } from '../../src';
import { POISON_HELPER, relocateInstructions } from '../../src/core/relocate';
import { CoreTarget } from '../../src/core/target';
import { expectThrow, fdinfo, fixture, libbpfRun, tmp } from '../loader/helpers';
import { ALT_BTF, AMBIG_BTF, bpftoolTypes, byteSize, DumpType, editMember, enumValue, field, named, rewriteCoreKinds, VMLINUX } from './btf_dump';

interface Outcome { loads: boolean; tag?: string; retval?: number; out?: Buffer; error?: unknown }

const HDR = 32;
/** The header bytes the XDP programs read: distinct, with both signs in the bitfield words. */
const PACKET = Buffer.concat([Buffer.from(Array.from({ length: HDR }, (_, i) => (i * 37 + 11) & 0xff)), Buffer.alloc(64)]);

function ours(obj: string, prog: string, input: { data?: Buffer; ctx?: Buffer }, targetBtf?: string): Outcome {
  let coll: Collection;
  try {
    coll = Collection.load(ObjectSpec.fromFile(obj), { programs: [prog], targetBtf });
  } catch (error) {
    return { loads: false, error };
  }
  try {
    const r = coll.program(prog).run(input);
    return { loads: true, tag: fdinfo(coll.program(prog).fd).prog_tag, retval: r.retval, out: input.data ? r.data : r.ctx };
  } finally {
    coll.close();
  }
}

function theirs(obj: string, prog: string, input: { data?: Buffer; ctx?: Buffer }, btf?: string): Outcome {
  const r = libbpfRun(obj, prog, { ...input, syscall: input.ctx !== undefined, btf });
  return r.ok ? { loads: true, tag: r.tag, retval: r.retval, out: input.data ? r.data : r.ctx } : { loads: false, error: r.stderr };
}

function words(...v: number[]): Buffer {
  const b = Buffer.alloc(v.length * 4);
  v.forEach((x, i) => b.writeUInt32LE(x >>> 0, i * 4));
  return b;
}

/** Both loaded the program with the same instructions and got `retval` and `out`. */
function expectAgreement(a: Outcome, b: Outcome, retval: number, out: Buffer): void {
  expect(b.loads, `libbpf: ${b.error}`).to.equal(true);
  expect(a.loads, `bpfunit: ${a.error}`).to.equal(true);
  expect(a.tag, 'program tag').to.equal(b.tag);
  expect(b.retval, 'libbpf retval').to.equal(retval);
  expect(b.out!.toString('hex'), 'libbpf output').to.equal(out.toString('hex'));
  expect(a.retval, 'bpfunit retval').to.equal(retval);
  expect(a.out!.toString('hex'), 'bpfunit output').to.equal(out.toString('hex'));
}

describe('CO-RE cross-check with libbpf', function () {
  describe('core_local against another BTF (build/core_btf/alt.btf, btf_custom_path)', () => {
    const obj = fixture('core_local');
    let alt: Map<number, DumpType>;
    before(() => {
      alt = bpftoolTypes(ALT_BTF);
    });

    it('hdr_read reads the fields at the target offsets with the target sizes, as libbpf relocates them', () => {
      const hdr = named(alt, 'STRUCT', 'core_hdr');
      const at = (name: string) => field(alt, 'core_hdr', name);
      const u = (bit: number, bytes: number) => PACKET.readUIntLE(bit / 8, bytes);
      const len = at('len');
      expect(byteSize(alt, len.type_id)).to.equal(2); // the load shrinks from 4 to 2 bytes
      // A bitfield: its bits of the little-endian header, sign-extended when the type is signed.
      const bits = (name: string) => {
        const m = at(name);
        const raw = (PACKET.readBigUInt64LE(0) | (PACKET.readBigUInt64LE(8) << 64n) | (PACKET.readBigUInt64LE(16) << 128n)) >> BigInt(m.bit);
        const v = raw & ((1n << BigInt(m.bitfield_size!)) - 1n);
        return Number(m.type.encoding === 'SIGNED' ? BigInt.asIntN(m.bitfield_size!, v) : v);
      };
      expect(hdr.size).to.be.at.most(HDR);
      const out = Buffer.concat([
        words(
          u(at('kind').bit, 1), u(len.bit, 2), u(at('flags').bit, 2), u(at('tag').bit + 16, 1),
          bits('mid'), bits('level'),
          0xdead, // only_local is not in the target: the guarded load is poisoned and dead
          0xee, // CORE_PURPLE is not in the target: the poisoned 64-bit immediate is dead
        ),
        Buffer.alloc(32),
      ]);
      expect(bits('level'), 'the fixture exercises a negative signed bitfield').to.be.below(0);
      expectAgreement(ours(obj, 'hdr_read', { data: PACKET }, ALT_BTF), theirs(obj, 'hdr_read', { data: PACKET }, ALT_BTF), 3, Buffer.concat([PACKET.subarray(0, HDR), out]));
    });

    it('hdr_info gets every relocated constant libbpf gets, each the value the target BTF holds', () => {
      const local = bpftoolTypes(obj);
      const out = words(
        1, 0, 0, // field exists: len; only_local (not in target); len_old of flavour core_hdr___v1
        byteSize(alt, field(alt, 'core_hdr', 'len').type_id),
        field(alt, 'core_hdr', 'flags').bit / 8,
        field(alt, 'core_hdr', 'level').type.encoding === 'SIGNED' ? 1 : 0,
        0, // struct core_gone is not in the target
        named(alt, 'STRUCT', 'core_hdr').size!,
        1, 1, // core_pair and core_hdr exist
        enumValue(alt, 'core_color', 'CORE_BLUE'),
        0, // CORE_PURPLE of the core_color___new flavour is not in the target
        named(alt, 'STRUCT', 'core_hdr').id, // target type id
        named(local, 'STRUCT', 'core_hdr').id, // local type id
        1, // size of tag[1]
        field(alt, 'core_hdr', 'tag').bit / 8 + 3, // offset of tag[3]
      );
      const data = Buffer.alloc(HDR + 64);
      expectAgreement(ours(obj, 'hdr_info', { data }, ALT_BTF), theirs(obj, 'hdr_info', { data }, ALT_BTF), 3, Buffer.concat([Buffer.alloc(HDR), out]));
    });

    it('hdr_bad_size: a signed field of another size is poisoned; reached, both refuse the program', () => {
      const a = ours(obj, 'hdr_bad_size', { data: PACKET }, ALT_BTF);
      const b = theirs(obj, 'hdr_bad_size', { data: PACKET }, ALT_BTF);
      expect(b.loads).to.equal(false);
      expect(String(b.error)).to.match(/accesses field incorrectly[^]*6: <invalid CO-RE relocation>/); // libbpf rewrites the log line
      expect(a.loads).to.equal(false);
      expect(a.error).to.be.instanceOf(VerifierError);
      expect((a.error as VerifierError).log).to.contain(`unknown#${POISON_HELPER}`);
      expect((a.error as VerifierError).summary).to.contain('h->sval');
      // The error names the relocation libbpf names (libbpf numbers them per section too).
      const relo = /relo #(\d+): insn #\d+ \(LDX\/ST\/STX\) accesses field incorrectly/.exec(String(b.error))![1];
      expect((a.error as VerifierError).summary).to.contain(`CO-RE relocation #${relo} (byte_off of struct core_hdr.sval) could not be applied: it has another size and signedness`);
    });

    it('TYPE_MATCHES (records rewritten from TYPE_EXISTS): core_pair matches, core_hdr does not, as under libbpf', () => {
      const copy = path.join(tmp(), 'core_local_matches.o');
      expect(rewriteCoreKinds(obj, copy, 8 /* TYPE_EXISTS */, 12 /* TYPE_MATCHES */)).to.equal(3);
      // core_pair has the same members (reordered) of the same int types; core_hdr's len is a
      // u32 locally and a u16 in the target.
      expect(field(alt, 'core_pair', 'x').type.size).to.equal(4);
      const data = Buffer.alloc(HDR + 64);
      const a = ours(copy, 'hdr_info', { data }, ALT_BTF);
      const b = theirs(copy, 'hdr_info', { data }, ALT_BTF);
      expect([a.loads, b.loads], `${a.error} / ${b.error}`).to.deep.equal([true, true]);
      expect(a.tag).to.equal(b.tag);
      const pick = (o: Outcome) => [6, 8, 9].map((w) => o.out!.readUInt32LE(HDR + w * 4));
      expect(pick(b)).to.deep.equal([0, 1, 0]);
      expect(pick(a)).to.deep.equal([0, 1, 0]);
    });

    it('two candidates placing a field differently: both refuse (field offset ambiguity)', () => {
      const b = theirs(obj, 'hdr_read', { data: PACKET }, AMBIG_BTF);
      expect(b.loads).to.equal(false);
      expect(String(b.error)).to.match(/ambiguity/);
      const a = ours(obj, 'hdr_read', { data: PACKET }, AMBIG_BTF);
      expect(a.loads).to.equal(false);
      expect(a.error).to.be.instanceOf(LinkError);
      expect((a.error as Error).message).to.match(/field offset ambiguity/);
    });

    it('hdr_write stores at the target offsets, the u32 store to a u16 field shrunk to 2 bytes', () => {
      const want = Buffer.from(PACKET);
      const at = (name: string) => field(alt, 'core_hdr', name).bit / 8;
      expect(byteSize(alt, field(alt, 'core_hdr', 'len').type_id)).to.equal(2);
      want.writeUInt16LE(0x3344, at('flags'));
      want.writeUInt16LE(0x0102, at('len'));
      want[at('tag') + 1] = 0xab;
      expectAgreement(ours(obj, 'hdr_write', { data: PACKET }, ALT_BTF), theirs(obj, 'hdr_write', { data: PACKET }, ALT_BTF), 3, want);
    });

    it('hdr_guarded: kind read at its target offset, the missing only_local skipped', () => {
      const kind = field(alt, 'core_hdr', 'kind').bit / 8;
      expectAgreement(ours(obj, 'hdr_guarded', { data: PACKET }, ALT_BTF), theirs(obj, 'hdr_guarded', { data: PACKET }, ALT_BTF), PACKET[kind], PACKET);
    });

    it('against the running kernel: hdr_guarded loads (every poisoned access is dead) and returns 0, as under libbpf', () => {
      expectAgreement(ours(obj, 'hdr_guarded', { data: PACKET }), theirs(obj, 'hdr_guarded', { data: PACKET }), 0, PACKET);
    });

    it('against the running kernel (no core_hdr there): both refuse the programs whose poisoned loads are reached', () => {
      for (const prog of ['hdr_read', 'hdr_info', 'hdr_bad_size']) {
        const a = ours(obj, prog, { data: PACKET });
        const b = theirs(obj, prog, { data: PACKET });
        expect(a.loads, prog).to.equal(b.loads);
        expect(a.loads, prog).to.equal(false);
        expect((a.error as VerifierError).log, prog).to.contain(`unknown#${POISON_HELPER}`);
        expect((a.error as VerifierError).summary, prog).to.match(/CO-RE relocation #\d+ \(\w+ of struct core_hdr\.\w+\) could not be applied: not found in vmlinux/);
      }
    });

    it('a target BTF file that does not exist is an InputError naming it', () => {
      expectThrow(() => Collection.load(ObjectSpec.fromFile(obj), { programs: ['hdr_info'], targetBtf: '/nonexistent/x.btf' }), InputError, /\/nonexistent\/x\.btf/);
    });
  });

  describe('core_kernel against the running kernel (/sys/kernel/btf/vmlinux, vmlinux.h)', () => {
    const obj = fixture('core_kernel');

    it('task_read: tgid read through CO-RE equals the helper\'s, the state read through the right flavour', () => {
      const ctx = Buffer.alloc(48);
      const vm = bpftoolTypes(VMLINUX);
      const task = named(vm, 'STRUCT', 'task_struct');
      const hasState = (name: string) => (task.members!.some((m) => m.name === name) ? 1 : 0);
      expect(hasState('__state') + hasState('state'), 'one of the two layouts').to.equal(1);
      expectAgreement(ours(obj, 'task_read', { ctx }), theirs(obj, 'task_read', { ctx }), 3, ctx);
    });

    it('kernel_info: every constant equals libbpf\'s and bpftool\'s dump of the kernel BTF', () => {
      const vm = bpftoolTypes(VMLINUX);
      const task = named(vm, 'STRUCT', 'task_struct');
      const has = (name: string) => (task.members!.some((m) => m.name === name) ? 1 : 0);
      const out = words(
        has('state'), has('__state'),
        field(vm, 'task_struct', 'tgid').bit / 8,
        byteSize(vm, field(vm, 'task_struct', 'comm').type_id),
        0,
        named(vm, 'STRUCT', 'sk_buff').size!,
        enumValue(vm, 'bpf_map_type', 'BPF_MAP_TYPE_RINGBUF'),
        0,
        field(vm, 'sk_buff', 'len').bit / 8,
        1,
        has('__state') ? byteSize(vm, field(vm, 'task_struct', '__state').type_id) : 0,
        1,
      );
      const ctx = Buffer.alloc(48);
      expectAgreement(ours(obj, 'kernel_info', { ctx }), theirs(obj, 'kernel_info', { ctx }), 0, out);
    });

    describe('against bpftool gen min_core_btf of vmlinux, and an "older kernel" edit of it', () => {
      let min: string;
      let old: string;
      before(() => {
        min = path.join(tmp(), 'core_kernel.min.btf');
        execFileSync('bpftool', ['gen', 'min_core_btf', VMLINUX, min, obj]);
        // The layout before 5.14: `state` rather than `__state`, and tgid elsewhere.
        old = path.join(tmp(), 'core_kernel.old.btf');
        const renamed = editMember(readFileSync(min), 'task_struct', '__state', { dropPrefix: 2 });
        writeFileSync(old, editMember(renamed, 'task_struct', 'tgid', { bitOffset: 4096 }));
      });

      it('the minimal BTF relocates every program exactly as the kernel BTF does, under both loaders', () => {
        const ctx = Buffer.alloc(48);
        for (const prog of ['task_read', 'kernel_info']) {
          const kernel = ours(obj, prog, { ctx });
          const a = ours(obj, prog, { ctx }, min);
          const b = theirs(obj, prog, { ctx }, min);
          expect([a.loads, b.loads], `${prog}: ${a.error} / ${b.error}`).to.deep.equal([true, true]);
          expect(a.tag, prog).to.equal(b.tag);
          expect(a.tag, `${prog} as against the kernel`).to.equal(kernel.tag);
        }
      });

      it('the older layout: task_read takes the ___old branch at the edited offsets; same tags as libbpf', () => {
        const t = bpftoolTypes(old);
        expect(named(t, 'STRUCT', 'task_struct').members!.map((m) => m.name)).to.include('state').and.not.include('__state');
        expect(field(t, 'task_struct', 'tgid').bit).to.equal(4096);
        const ctx = Buffer.alloc(48);
        const a = ours(obj, 'task_read', { ctx }, old);
        const b = theirs(obj, 'task_read', { ctx }, old);
        expect([a.loads, b.loads], `${a.error} / ${b.error}`).to.deep.equal([true, true]);
        expect(a.tag).to.equal(b.tag);
        expect(a.tag).to.not.equal(ours(obj, 'task_read', { ctx }).tag);
        // Relocated immediates, without a kernel: tgid's byte offset is the edited one.
        const spec = ObjectSpec.fromFile(obj);
        const relocated = relocateInstructions(spec.program('task_read').instructions, spec.btf!, CoreTarget.fromBytes(readFileSync(old), 'old'), 'task_read');
        expect(relocated.filter((i) => i.opcode === 0xb7 && i.imm === 4096 / 8), 'r1 = 512 (was tgid\'s kernel offset)').to.have.length(1);
      });

      it('the older layout: kernel_info reads the size of the missing __state unguarded, so both refuse it', () => {
        const ctx = Buffer.alloc(48);
        const a = ours(obj, 'kernel_info', { ctx }, old);
        const b = theirs(obj, 'kernel_info', { ctx }, old);
        expect([a.loads, b.loads]).to.deep.equal([false, false]);
        expect(String(b.error)).to.contain('<invalid CO-RE relocation>');
        expect((a.error as VerifierError).summary).to.match(/\(byte_sz of struct task_struct___new\.__state\) could not be applied: not found in /);
      });
    });
  });
});
