// XDP sections as libbpf names them (xdp, xdp.frags, xdp/devmap, xdp/cpumap, xdp.frags/devmap):
// their expected attach types and the frags flag, loaded and run as libbpf does (libbpf is the
// oracle), and what the kernel's XDP test run accepts in an xdp_md.
import { expect } from 'chai';
import { Collection, InputError, NotSupportedError, ObjectSpec, sectionKind } from '../../src';
import { expectThrow, fdinfo, fixture, libbpfRun } from './helpers';

const FRAGS = 1 << 5;
const PROGRAMS = ['linear_len', 'frags_len', 'hairpin_drop', 'frags_hairpin_drop', 'on_cpu'];

/** An xdp_md: offsets into the packet (data: after the metadata; data_end: the linear part's
 * end), then ingress_ifindex, rx_queue_index, egress_ifindex. */
function xdpMd(f: { data?: number; dataEnd: number; dataMeta?: number; ingress?: number; egress?: number }): Buffer {
  const b = Buffer.alloc(24);
  b.writeUInt32LE(f.data ?? 0, 0);
  b.writeUInt32LE(f.dataEnd, 4);
  b.writeUInt32LE(f.dataMeta ?? 0, 8);
  b.writeUInt32LE(f.ingress ?? 0, 12);
  b.writeUInt32LE(f.egress ?? 0, 20);
  return b;
}

describe('XDP section kinds', function () {
  this.timeout(30000);
  let coll: Collection;
  before(() => {
    coll = Collection.load(ObjectSpec.fromFile(fixture('run_xdp_kinds')));
  });
  after(() => coll.close());

  it('map to XDP with libbpf 1.1 expected attach types (BPF_XDP 37, DEVMAP 33, CPUMAP 35) and the frags flag (pure)', () => {
    const got = (s: string) => {
      const k = sectionKind(s)!;
      return [k.type, k.attachType, k.flags];
    };
    expect(got('xdp')).to.deep.equal(['XDP', 37, 0]);
    expect(got('xdp.frags')).to.deep.equal(['XDP', 37, FRAGS]);
    expect(got('xdp/devmap')).to.deep.equal(['XDP', 33, 0]);
    expect(got('xdp.frags/devmap')).to.deep.equal(['XDP', 33, FRAGS]);
    expect(got('xdp/cpumap')).to.deep.equal(['XDP', 35, 0]);
    expect(got('xdp.frags/cpumap')).to.deep.equal(['XDP', 35, FRAGS]);
  });

  it('every program loads as under libbpf: the same tag (a devmap program may read egress_ifindex)', () => {
    for (const name of PROGRAMS) {
      const ref = libbpfRun(fixture('run_xdp_kinds'), name, { norun: true });
      expect(ref.ok, `${name}: ${ref.stderr}`).to.equal(true);
      expect([name, fdinfo(coll.program(name).fd).prog_tag]).to.deep.equal([name, ref.tag]);
    }
  });

  it('metadata and a frags program\'s linear part run as under libbpf', () => {
    const data = Buffer.alloc(64, 0xab);
    const cases: [string, Buffer][] = [
      ['linear_len', xdpMd({ data: 8, dataEnd: 64 })],
      ['frags_len', xdpMd({ dataEnd: 64 })],
      ['frags_len', xdpMd({ dataEnd: 30 })],
    ];
    const got = cases.map(([name, ctx]) => coll.program(name).run({ data, ctx }).retval);
    const ref = cases.map(([name, ctx]) => libbpfRun(fixture('run_xdp_kinds'), name, { data, ctx }).retval);
    expect(got).to.deep.equal(ref);
    expect(got).to.deep.equal([56, (64 << 16) | 64, (64 << 16) | 30]); // 8 bytes of metadata; 30 linear of 64
  });

  it('an xdp_md the kernel refuses, or one giving a plain program part of its packet, is an InputError naming the field', () => {
    const run = (name: string, ctx: Buffer) => () => coll.program(name).run({ data: Buffer.alloc(64), ctx });
    expectThrow(run('linear_len', Buffer.alloc(24)), InputError, /xdp_md data_end is 0 but the packet is 64 bytes: set it to 64 \(only an xdp\.frags program/);
    expectThrow(run('linear_len', xdpMd({ dataEnd: 30 })), InputError, /xdp_md data_end is 30 but the packet is 64 bytes/);
    expectThrow(run('frags_len', xdpMd({ dataEnd: 65 })), InputError, /xdp_md data_end is 65 and data 0, for 64 bytes of data/);
    expectThrow(run('linear_len', xdpMd({ data: 6, dataEnd: 64 })), InputError, /xdp_md data is 6: the metadata before the packet is whole u32s, at most 32 bytes/);
    expectThrow(run('linear_len', xdpMd({ data: 36, dataEnd: 64 })), InputError, /xdp_md data is 36/);
    expectThrow(run('linear_len', xdpMd({ dataEnd: 64, dataMeta: 4 })), InputError, /xdp_md data_meta is 4: it must be 0/);
    expectThrow(run('linear_len', xdpMd({ dataEnd: 64, egress: 1 })), InputError, /xdp_md egress_ifindex is 1: a test run has no egress device/);
  });

  it('devmap and cpumap programs cannot be test-run (the kernel refuses them): NotSupportedError before the syscall', () => {
    for (const name of ['hairpin_drop', 'frags_hairpin_drop', 'on_cpu']) {
      expectThrow(() => coll.program(name).run({ data: Buffer.alloc(64) }), NotSupportedError, /XDP \(devmap\/cpumap\).*refuses programs that run from a devmap or cpumap/);
      expect(libbpfRun(fixture('run_xdp_kinds'), name, { data: Buffer.alloc(64) }).ok, `${name} under libbpf`).to.equal(false);
    }
  });
});
