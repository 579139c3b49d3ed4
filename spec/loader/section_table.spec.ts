// The section table against libbpf's own (Debian's libbpf 1.1, libbpf_prog_type_by_name through
// spec/loader/section_names.c): every section name libbpf knows maps to the same program type and
// expected attach type here, and the names bpfunit takes beyond libbpf 1.1 are exactly the stated
// ones (README "What the loader supports and refuses").
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { Collection, LinkError, ObjectSpec, ProgType, sectionKind } from '../../src';
import { expectThrow, fixture, tmp } from './helpers';

const NAMES = [
  'socket', 'sk_reuseport', 'sk_reuseport/migrate', 'kprobe/do_unlinkat', 'kretprobe/do_unlinkat', 'kprobe.multi/do_*',
  'kretprobe.multi/do_*', 'uprobe/bin:fn', 'uretprobe/bin:fn', 'uprobe.s/bin:fn', 'uretprobe.s/bin:fn', 'usdt/bin:p:n',
  'tc', 'classifier', 'action', 'tracepoint/syscalls/sys_enter_openat', 'tp/syscalls/sys_enter_openat',
  'raw_tracepoint/sys_enter', 'raw_tp/sys_enter', 'raw_tracepoint.w/sys_enter', 'raw_tp.w/sys_enter', 'tp_btf/sys_enter',
  'fentry/do_unlinkat', 'fmod_ret/do_unlinkat', 'fexit/do_unlinkat', 'fentry.s/do_unlinkat', 'fmod_ret.s/do_unlinkat',
  'fexit.s/do_unlinkat', 'lsm/file_open', 'lsm.s/file_open', 'lsm_cgroup/socket_bind', 'iter/task', 'iter.s/task', 'syscall',
  'xdp.frags/devmap', 'xdp/devmap', 'xdp.frags/cpumap', 'xdp/cpumap', 'xdp.frags', 'xdp', 'perf_event', 'lwt_in', 'lwt_out',
  'lwt_xmit', 'lwt_seg6local', 'sockops', 'sk_skb/stream_parser', 'sk_skb/stream_verdict', 'sk_skb', 'sk_msg', 'lirc_mode2',
  'flow_dissector', 'cgroup_skb/ingress', 'cgroup_skb/egress', 'cgroup/skb', 'cgroup/sock_create', 'cgroup/sock_release',
  'cgroup/sock', 'cgroup/post_bind4', 'cgroup/post_bind6', 'cgroup/bind4', 'cgroup/bind6', 'cgroup/connect4',
  'cgroup/connect6', 'cgroup/sendmsg4', 'cgroup/sendmsg6', 'cgroup/recvmsg4', 'cgroup/recvmsg6', 'cgroup/getpeername4',
  'cgroup/getpeername6', 'cgroup/getsockname4', 'cgroup/getsockname6', 'cgroup/sysctl', 'cgroup/getsockopt',
  'cgroup/setsockopt', 'cgroup/dev', 'struct_ops/test_1', 'struct_ops.s/test_1', 'sk_lookup', 'netfilter', 'tcx/ingress',
  'tcx/egress', 'netkit/primary', 'netkit/peer', 'tc/ingress', 'xdp/anything', 'socket/anything', 'freplace/fn',
  'sk_msg/anything', 'unknown', '',
];

/** Names libbpf 1.1 does not know that bpfunit takes: later libbpf's sections, and prefixes of
 * xdp, tc and socket bpfunit reads as their type. */
const BEYOND_LIBBPF_1_1 = [
  'struct_ops.s/test_1', 'netfilter', 'tcx/ingress', 'tcx/egress', 'netkit/primary', 'netkit/peer', 'tc/ingress',
  'xdp/anything', 'socket/anything',
];

function libbpfTable(names: string[]): Map<string, [number, number] | undefined> {
  const bin = path.join(tmp(), 'section_names');
  execFileSync('gcc', ['-O1', '-Wall', '-o', bin, path.join(__dirname, 'section_names.c'), '-lbpf'], { stdio: 'pipe' });
  const out = execFileSync(bin, names, { encoding: 'utf8' }).split('\n');
  const table = new Map<string, [number, number] | undefined>();
  names.forEach((name, i) => {
    const f = out[i].slice(name.length + 1).split(' ');
    table.set(name, f[0] === '-' ? undefined : [Number(f[0]), Number(f[1])]);
  });
  return table;
}

describe('the section table against libbpf 1.1\'s', () => {
  it('every name libbpf knows gets its program type and expected attach type; beyond it, only the stated ones', () => {
    const libbpf = libbpfTable(NAMES);
    const ours = (name: string) => {
      const k = sectionKind(name);
      return k && ([ProgType[k.type], k.attachType] as [number, number]);
    };
    const differ = NAMES.filter((n) => libbpf.get(n) && n !== 'freplace/fn').filter((n) => JSON.stringify(ours(n)) !== JSON.stringify(libbpf.get(n)));
    expect(differ.map((n) => [n, ours(n), libbpf.get(n)])).to.deep.equal([]);
    expect(NAMES.filter((n) => !libbpf.get(n) && ours(n))).to.deep.equal(BEYOND_LIBBPF_1_1);
    expect(libbpf.get('kprobe/do_unlinkat'), 'the oracle answered').to.deep.equal([ProgType.KPROBE, 0]);
  });

  it('sleepable probes carry BPF_F_SLEEPABLE; freplace, which libbpf knows, is refused naming why', () => {
    expect(['uprobe.s/bin:fn', 'uretprobe.s/bin:fn', 'uprobe/bin:fn'].map((n) => sectionKind(n)!.flags)).to.deep.equal([16, 16, 0]);
    expect(libbpfTable(['freplace/fn']).get('freplace/fn')).to.deep.equal([28, 0]);
    const spec = ObjectSpec.fromFile(fixture('ext_freplace'));
    expect(spec.program('drop_all').error).to.be.instanceOf(LinkError).with.property('message')
      .match(/drop_all: section 'freplace\/classify': freplace \(EXT\) programs replace a function of another loaded program \(attach_prog_fd\)/);
    expectThrow(() => Collection.load(spec), LinkError, /freplace/);
    const coll = Collection.load(spec, { programs: ['pass_all'] });
    try {
      expect(coll.program('pass_all').run({ data: Buffer.alloc(14) }).retval).to.equal(2);
    } finally {
      coll.close();
    }
  });
});
