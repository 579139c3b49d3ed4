// struct_ops (run_struct_ops.c, a tcp_congestion_ops): the map and its programs loaded the way
// libbpf loads them (equal map definition, equal program tags), the map value laid out as the
// kernel's struct (offsets from bpftool's dump of the running kernel's BTF), nothing registered; a struct_ops
// program set in no map fails alone, and the object's other programs load and run.
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { Collection, LinkError, MapType, NotSupportedError, ObjectSpec, ProgType, SyscallError } from '../../src';
import { vmlinuxBtf } from '../../src/kernel/kernel-btf';
import { resolveStructOps } from '../../src/kernel/struct-ops';
import { itRequires } from '../../src/mocha';
import { expectThrow, fdinfo, fixture, libbpfRun } from './helpers';

const USED = { bpfunit_init: 'init', bpfunit_ssthresh: 'ssthresh', bpfunit_cong_avoid: 'cong_avoid', bpfunit_undo_cwnd: 'undo_cwnd' };
const LOADABLE = [...Object.keys(USED), 'plain_xdp'];

/** Size and member byte offsets of a struct, from `bpftool btf dump` of the kernel's BTF. */
function kernelStruct(dump: string, name: string): { size: number; at: Record<string, number> } {
  const m = new RegExp(`^\\[\\d+\\] STRUCT '${name}' size=(\\d+) vlen=\\d+\\n((?:\\t.*\\n)*)`, 'm').exec(dump);
  expect(m, `struct ${name} in the kernel's BTF`).to.not.equal(null);
  const at: Record<string, number> = {};
  for (const [, member, bits] of m![2].matchAll(/'(\w+)' type_id=\d+ bits_offset=(\d+)/g)) at[member] = Number(bits) / 8;
  return { size: Number(m![1]), at };
}

describe('struct_ops (run_struct_ops: tcp_congestion_ops)', function () {
  this.timeout(60000);
  let spec: ObjectSpec;
  let coll: Collection;
  before(() => {
    spec = ObjectSpec.fromFile(fixture('run_struct_ops'));
    coll = Collection.load(spec, { programs: LOADABLE });
  });
  after(() => coll?.close());

  it('parses .struct_ops into a STRUCT_OPS map named after the variable, each function pointer member set to its program', () => {
    const m = spec.map('bpfunit_ca');
    expect([m.type, m.keySize, m.maxEntries, m.flags, m.structOps!.struct]).to.deep.equal([MapType.STRUCT_OPS, 4, 1, 0, 'tcp_congestion_ops']);
    const setTo = Object.fromEntries(m.structOps!.members.filter((x) => x.program).map((x) => [x.program, x.name]));
    expect(setTo).to.deep.equal(USED);
    for (const [prog, member] of Object.entries(USED)) {
      expect([spec.program(prog).kind!.type, spec.program(prog).structOps]).to.deep.equal(['STRUCT_OPS', { map: 'bpfunit_ca', member }]);
    }
  });

  it('creates the map as libbpf does (type, key, value size of the kernel value type, entries, flags)', () => {
    const theirs = libbpfRun(fixture('run_struct_ops'), 'bpfunit_ssthresh', { norun: true });
    expect(theirs.ok, theirs.stderr).to.equal(true);
    const t = theirs.maps!.find((x) => x.name === 'bpfunit_ca')!;
    const info = fdinfo(coll.map('bpfunit_ca').fd);
    expect([Number(info.map_type), Number(info.key_size), Number(info.value_size), Number(info.max_entries), Number(info.map_flags)])
      .to.deep.equal([t.type, t.key, t.value, t.max, t.flags]);
  });

  it('loads every program set in the map with the kernel struct and member index: the tags libbpf loads', () => {
    for (const prog of Object.keys(USED)) {
      const theirs = libbpfRun(fixture('run_struct_ops'), prog, { norun: true });
      expect(theirs.ok, theirs.stderr).to.equal(true);
      const info = fdinfo(coll.program(prog).fd);
      expect([prog, Number(info.prog_type), info.prog_tag]).to.deep.equal([prog, ProgType.STRUCT_OPS, theirs.tag]);
    }
  });

  it('builds the value in the kernel layout: name and flags copied where clang puts them, program slots left 0 (nothing registered)', () => {
    const dump = execFileSync('bpftool', ['btf', 'dump', 'file', '/sys/kernel/btf/vmlinux', 'format', 'raw'], { encoding: 'utf8', maxBuffer: 1 << 30 });
    const outer = kernelStruct(dump, 'bpf_struct_ops_tcp_congestion_ops');
    const ops = kernelStruct(dump, 'tcp_congestion_ops');
    const [nameOff, flagsOff, size] = [outer.at.data + ops.at.name, outer.at.data + ops.at.flags, outer.size];
    const value = coll.map('bpfunit_ca').spec.structOps!.value!;
    expect(value.length).to.equal(size);
    expect(value.subarray(nameOff, nameOff + 16).toString('latin1')).to.equal('bpfunit_ca\0\0\0\0\0\0');
    expect(value.readUInt32LE(flagsOff)).to.equal(1);
    const rest = Buffer.from(value);
    rest.fill(0, nameOff, nameOff + 16);
    rest.fill(0, flagsOff, flagsOff + 4);
    expect(rest.equals(Buffer.alloc(size)), 'every other byte, the program slots included, is 0').to.equal(true);
  });

  it('a test run of a tcp_congestion_ops program: NotSupportedError (the kernel test-runs only bpf_dummy_ops)', () => {
    expectThrow(() => coll.program('bpfunit_ssthresh').run(), NotSupportedError, /STRUCT_OPS \(map bpfunit_ca\): the kernel test-runs only .*bpf_dummy_ops \(EOPNOTSUPP\)/);
  });

  it('the XDP program beside them loads and runs: XDP_PASS, as under libbpf', () => {
    const theirs = libbpfRun(fixture('run_struct_ops'), 'plain_xdp', { data: Buffer.alloc(14) });
    expect([coll.program('plain_xdp').run({ data: Buffer.alloc(14) }).retval, theirs.retval]).to.deep.equal([2, 2]);
    expect(fdinfo(coll.program('plain_xdp').fd).prog_tag).to.equal(theirs.tag);
  });

  // BPF_F_LINK struct_ops maps came with 6.4; before, the kernel refuses the map.
  itRequires({ kernel: '6.4' }, '.struct_ops.link: the map is created with BPF_F_LINK and its program loads (libbpf 1.1 does not know the section: it loads the program bare, ENOTSUPP)', {
    unmet: () => expectThrow(() => Collection.load(ObjectSpec.fromFile(fixture('run_struct_ops_link'))), SyscallError, /BPF_MAP_CREATE failed: EINVAL: map bpfunit_ca_link/),
    met: () => {
      const obj = fixture('run_struct_ops_link');
      const linked = ObjectSpec.fromFile(obj);
      expect(linked.map('bpfunit_ca_link').flags).to.equal(0x2000);
      const c = Collection.load(linked);
      try {
        const info = fdinfo(c.map('bpfunit_ca_link').fd);
        expect([Number(info.map_type), info.map_flags, Number(fdinfo(c.program('link_undo_cwnd').fd).prog_type)]).to.deep.equal([MapType.STRUCT_OPS, '0x2000', ProgType.STRUCT_OPS]);
      } finally {
        c.close();
      }
      const theirs = libbpfRun(obj, 'link_undo_cwnd', { norun: true });
      expect([theirs.ok, /failed to load: -524/.test(theirs.stderr)]).to.deep.equal([false, true]);
    },
  });

  it('a struct_ops program set in no map: a LinkError for it alone before any syscall (libbpf 1.1 loads it bare and the kernel refuses the object, ENOTSUPP)', () => {
    expect(spec.program('bpfunit_unused').error).to.be.instanceOf(LinkError);
    expectThrow(() => Collection.load(spec, { programs: ['bpfunit_unused'] }), LinkError, /struct_ops program bpfunit_unused is not set in any struct_ops map/);
    const theirs = libbpfRun(fixture('run_struct_ops'), 'bpfunit_unused', { norun: true });
    expect([theirs.ok, /failed to load: -524/.test(theirs.stderr)]).to.deep.equal([false, true]);
  });

  it('a struct_ops type vmlinux lacks: a LinkError naming it and saying module BTF is not searched (libbpf 1.1 searches vmlinux only)', () => {
    const m = spec.map('bpfunit_ca');
    const absent = { ...m, structOps: { ...m.structOps!, struct: 'bpfunit_no_such_ops' } };
    expectThrow(() => resolveStructOps(vmlinuxBtf(), [absent], []), LinkError,
      /^struct_ops map bpfunit_ca \(struct bpfunit_no_such_ops\): vmlinux BTF has no struct_ops type bpfunit_no_such_ops \(struct bpfunit_no_such_ops and struct bpf_struct_ops_bpfunit_no_such_ops\); module BTF is not searched for struct_ops types, as libbpf 1\.1 does not search it$/);
  });
});
