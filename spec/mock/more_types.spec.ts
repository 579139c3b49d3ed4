// Re-hosting beyond sk_msg / sock_addr / skb: sock_ops, cgroup/sock_create and cgroup/getsockopt
// programs (spec/fixtures/more_types.c), each through its library entry macro and context global.
// Expected values follow the kernel's rules for each context and helper.
import { expect } from 'chai';
import { Collection, ObjectSpec } from '../../src';
import { useHarness } from '../../src/mock/harness';
import { mapId, StorageResult } from '../../src/mock/mocks';
import { AF_INET, port } from '../../src/structs';

const BPF_SOCK_OPS_RTT_CB = 12;
const BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB = 4;
const BPF_SOCK_OPS_STATE_CB_FLAG = 1 << 2;
const EINVAL = 22;
const IPPROTO_TCP = 6;
const IPPROTO_UDP = 17;
const SOL_SOCKET = 1;
const SO_MARK = 36;

describe('re-hosted sock_ops, cgroup/sock_create, cgroup/getsockopt (spec/fixtures/more_types.c)', () => {
  const h = useHarness('build/fixtures/more_types.o', ['xdp_ops', 'xdp_sock_create', 'xdp_getsockopt', 'xdp_verdict']);
  const run = (entry: string, data = Buffer.alloc(16)) => h().run(entry, { data });

  describe('sock_ops', () => {
    const established = { op: BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB, family: AF_INET, is_fullsock: 1, sk: 3n };

    it('bpf_sock_ops_cb_flags_set on a full socket: the known flags are set, the unknown bits returned; reply written', () => {
      h().mocks.ctx.sockOps.set(established);
      h().mocks.ctx.sockOpsSock.set({ family: AF_INET, dst_port: port(9080) });
      run('xdp_ops');
      expect(h().get('ops_seen_port')).to.equal(port(9080));
      expect(h().get('ops_cb_ret')).to.equal(0x100n);
      expect(h().mocks.ctx.sockOps.get()).to.deep.include({ bpf_sock_ops_cb_flags: BPF_SOCK_OPS_STATE_CB_FLAG, reply: 1 });
      expect(h().get('mock_cb_flags_calls')).to.deep.include({ count: 1 });
      expect(h().mocks.retval()).to.equal(1);
    });

    it('not a full socket: -EINVAL, the flags stay', () => {
      h().mocks.ctx.sockOps.set({ ...established, is_fullsock: 0, bpf_sock_ops_cb_flags: 1 });
      h().mocks.ctx.sockOpsSock.set({ dst_port: port(9080) });
      run('xdp_ops');
      expect(h().get('ops_cb_ret')).to.equal(BigInt(-EINVAL));
      expect(h().mocks.ctx.sockOps.get()).to.deep.include({ bpf_sock_ops_cb_flags: 1 });
    });

    it('another callback: reply -1; ops->sk NULL: nothing read', () => {
      h().mocks.ctx.sockOps.set({ op: BPF_SOCK_OPS_RTT_CB, sk: 3n });
      run('xdp_ops');
      expect(h().mocks.ctx.sockOps.get()).to.deep.include({ reply: 0xffffffff });
      h().mocks.ctx.sockOps.set({ op: BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB, sk: 0n, reply: 0 });
      run('xdp_ops');
      expect(h().mocks.ctx.sockOps.get()).to.deep.include({ reply: 0 });
      expect(h().get('mock_cb_flags_calls')).to.deep.include({ count: 0 });
    });
  });

  describe('cgroup/sock_create', () => {
    it('a TCP socket gets its mark and a storage entry (F_CREATE) under its identity', () => {
      h().mocks.ctx.sock.set({ family: AF_INET, protocol: IPPROTO_TCP });
      h().set('mock_sock_id', 77n);
      h().mocks.setClock(123_456n);
      run('xdp_sock_create');
      expect(h().mocks.ctx.sock.get()).to.deep.include({ mark: 0x4b4d, protocol: IPPROTO_TCP });
      expect(h().mocks.storageCalls()).to.deep.equal([{ sk: 77n, flags: 1n, map: mapId('created'), result: StorageResult.CREATED, slot: 0 }]);
      expect(h().mocks.storage(77n, 8, 'created')!.readBigUInt64LE(0)).to.equal(123_456n);
    });

    it('a UDP socket is left alone', () => {
      h().mocks.ctx.sock.set({ family: AF_INET, protocol: IPPROTO_UDP, mark: 5 });
      run('xdp_sock_create');
      expect(h().mocks.ctx.sock.get()).to.deep.include({ mark: 5 });
      expect(h().mocks.storageCalls()).to.deep.equal([]);
    });
  });

  describe('cgroup/getsockopt', () => {
    it('SOL_SOCKET/SO_MARK: the option value (the packet) is rewritten, optlen 4, retval 0', () => {
      h().mocks.ctx.sockopt.set({ level: SOL_SOCKET, optname: SO_MARK, optlen: 16, retval: -EINVAL });
      const r = run('xdp_getsockopt', Buffer.alloc(16, 0xee));
      expect(r.data.subarray(0, 4).readUInt32LE(0)).to.equal(0x4b4d);
      expect(r.data.subarray(4)).to.deep.equal(Buffer.alloc(12, 0xee));
      expect(h().mocks.ctx.sockopt.get()).to.deep.include({ optlen: 4, retval: 0 });
      expect(h().mocks.retval()).to.equal(1);
    });

    it('another option: value, optlen and retval as the kernel left them', () => {
      h().mocks.ctx.sockopt.set({ level: SOL_SOCKET, optname: 7, optlen: 16, retval: 0 });
      const r = run('xdp_getsockopt', Buffer.alloc(16, 0xee));
      expect(r.data).to.deep.equal(Buffer.alloc(16, 0xee));
      expect(h().mocks.ctx.sockopt.get()).to.deep.include({ optlen: 16, retval: 0 });
    });
  });

  describe('sk_skb stream verdict: bpf_sk_redirect_map', () => {
    const SK_DROP = 0n;
    const SK_PASS = 1n;
    const BPF_F_INGRESS = 1n;

    it('a key holding a socket: SK_PASS, the redirect recorded with its direction', () => {
      h().mocks.redirectTargets([0]);
      h().mocks.ctx.skb.set({ local_port: 15006 });
      run('xdp_verdict');
      expect(h().mocks.retval()).to.equal(1);
      expect(h().mocks.redirects()).to.deep.equal([{ map: mapId('peers'), key: 0, flags: BPF_F_INGRESS, ret: SK_PASS }]);
    });

    it('an empty key: SK_DROP', () => {
      h().mocks.redirectTargets([0]);
      h().mocks.ctx.skb.set({ local_port: 80 });
      run('xdp_verdict');
      expect(h().mocks.retval()).to.equal(0);
      expect(h().mocks.redirects()).to.deep.equal([{ map: mapId('peers'), key: 1, flags: 0n, ret: SK_DROP }]);
    });
  });
});

// sk_lookup is the one socket-level type of the list the kernel test-runs itself: it is tested
// natively, with no harness.
describe('sk_lookup runs natively (spec/fixtures/sk_lookup.c)', () => {
  let coll: Collection;
  before(() => {
    coll = Collection.load(ObjectSpec.fromFile('build/fixtures/sk_lookup.o'));
  });
  after(() => coll.close());

  /** struct bpf_sk_lookup (72 bytes): family @8, protocol @12, local_port @60 (host order). */
  function lookup(localPort: number): number {
    const ctx = Buffer.alloc(72);
    ctx.writeUInt32LE(AF_INET, 8);
    ctx.writeUInt32LE(IPPROTO_TCP, 12);
    ctx.writeUInt32LE(localPort, 60);
    return coll.program('deny_ssh').run({ ctx }).retval;
  }

  it('the kernel runs it on a crafted struct bpf_sk_lookup: SK_DROP for port 22, SK_PASS otherwise', () => {
    expect([lookup(22), lookup(80)]).to.deep.equal([0, 1]);
  });
});

