// One program per test-runnable type (loader_types.c): the section name picks the program type,
// and each type runs with its own data and context rules (tc is L2, socket filters and
// cgroup_skb see the packet without its Ethernet header, syscall programs take only a context
// that the kernel writes back).
import { expect } from 'chai';
import { Collection, ObjectSpec } from '../../src';
import { fdinfo, fixture, libbpfRun } from './helpers';

/** UAPI enum bpf_prog_type values (linux/bpf.h). */
const PROG_TYPE = { SOCKET_FILTER: 1, SCHED_CLS: 3, XDP: 6, CGROUP_SKB: 8, SYSCALL: 31 };
const BPF_CGROUP_INET_INGRESS = 0;
const BPF_F_SLEEPABLE = 1 << 4;
const ALPHABET = Buffer.from('abcdefghijklmnopqrstuvwxyz');
const SK_BUFF_SIZE = 192; // sizeof(struct __sk_buff)
const SK_BUFF_MARK = 8; // offsetof(struct __sk_buff, mark)

function sysArgs(a: number, b: number, sum = 0): Buffer {
  const buf = Buffer.alloc(12); // struct sys_args { int a; int b; int sum; }
  buf.writeInt32LE(a, 0);
  buf.writeInt32LE(b, 4);
  buf.writeInt32LE(sum, 8);
  return buf;
}

describe('program types (loader_types)', () => {
  let obj: string;
  let spec: ObjectSpec;
  let coll: Collection;

  before(() => {
    obj = fixture('loader_types');
    spec = ObjectSpec.fromFile(obj);
    coll = Collection.load(spec);
  });
  after(() => coll?.close());

  it('maps each section name to its program type, attach type and flags', () => {
    expect(spec.programs.map((p) => [p.name, p.section, p.kind])).to.deep.equal([
      ['types_tc', 'tc', { type: 'SCHED_CLS', attachType: 0, flags: 0 }],
      ['types_sock', 'socket', { type: 'SOCKET_FILTER', attachType: 0, flags: 0 }],
      ['types_syscall', 'syscall', { type: 'SYSCALL', attachType: 0, flags: BPF_F_SLEEPABLE }],
      ['types_cgskb', 'cgroup_skb/ingress', { type: 'CGROUP_SKB', attachType: BPF_CGROUP_INET_INGRESS, flags: 0 }],
    ]);
    expect(spec.programs.every((p) => p.license === 'GPL')).to.equal(true);
  });

  it('loads each program as that type in the kernel (fdinfo prog_type)', () => {
    const types = Object.fromEntries([...coll.programs.values()].map((p) => [p.name, Number(fdinfo(p.fd).prog_type)]));
    expect(types).to.deep.equal({
      types_tc: PROG_TYPE.SCHED_CLS, types_sock: PROG_TYPE.SOCKET_FILTER, types_syscall: PROG_TYPE.SYSCALL, types_cgskb: PROG_TYPE.CGROUP_SKB,
    });
  });

  describe('tc (SCHED_CLS)', () => {
    it('sees the whole frame: data[1] = skb->len (26), returns 1026', () => {
      const r = coll.program('types_tc').run({ data: ALPHABET });
      expect(r.retval).to.equal(1026);
      expect(r.data.toString('latin1')).to.equal('a\x1acdefghijklmnopqrstuvwxyz');
    });

    it('writes skb->mark = 0x5a5a into the __sk_buff context passed in', () => {
      const r = coll.program('types_tc').run({ data: ALPHABET, ctx: Buffer.alloc(SK_BUFF_SIZE) });
      expect(r.ctx).to.have.length(SK_BUFF_SIZE);
      expect(r.ctx!.readUInt32LE(SK_BUFF_MARK)).to.equal(0x5a5a);
    });
  });

  describe('socket filter', () => {
    it('returns skb->len - 4, where len excludes the 14-byte Ethernet header', () => {
      expect(coll.program('types_sock').run({ data: ALPHABET }).retval).to.equal(26 - 14 - 4);
      expect(coll.program('types_sock').run({ data: Buffer.alloc(100) }).retval).to.equal(100 - 14 - 4);
    });
  });

  describe('cgroup_skb', () => {
    it('drops (0) a packet with 20 bytes after the Ethernet header, allows (1) one with 21', () => {
      const p = coll.program('types_cgskb');
      expect([p.run({ data: Buffer.alloc(34) }).retval, p.run({ data: Buffer.alloc(35) }).retval]).to.deep.equal([0, 1]);
    });
  });

  describe('syscall', () => {
    it('takes a context only and returns the context the program wrote: sum = a + b, retval a * b', () => {
      const r = coll.program('types_syscall').run({ ctx: sysArgs(6, 7) });
      expect(r.retval).to.equal(42);
      expect(r.ctx?.toString('hex')).to.equal(sysArgs(6, 7, 13).toString('hex'));
    });

    it('gives the same retval and context as libbpf', () => {
      const theirs = libbpfRun(obj, 'types_syscall', { ctx: sysArgs(-3, 9), syscall: true });
      expect(theirs.ok, theirs.stderr).to.equal(true);
      expect([theirs.retval, theirs.ctx!.toString('hex')]).to.deep.equal([(-27 >>> 0), sysArgs(-3, 9, 6).toString('hex')]);
      const ours = coll.program('types_syscall').run({ ctx: sysArgs(-3, 9) });
      expect([ours.retval, ours.ctx?.toString('hex')]).to.deep.equal([theirs.retval, theirs.ctx!.toString('hex')]);
    });
  });
});
