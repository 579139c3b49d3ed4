// Differential: bpf_sock_ops_cb_flags_set in a sockops program (spec/fixtures/diff_sock_ops.c)
// attached for real to a cgroup around a loopback TCP connect, against the same program re-hosted
// with the sock_ops mock (mock/sock_ops.h) on a full socket at BPF_SOCK_OPS_TCP_CONNECT_CB:
// what the helper returned (the bits the kernel does not know) and the callback flags the
// program reads back; and on the passive side's request socket (not a full socket), where the
// kernel refuses the helper, at whichever callback the kernel ran there first.
import { expect } from 'chai';
import { useHarness } from '../../src/mock/harness';
import { attachReal, itDifferential, sectionGlobals } from './real';

const BPF_SOCK_OPS_TCP_CONNECT_CB = 3;
const LISTEN = 18081;

describe('differential: bpf_sock_ops_cb_flags_set attached to a cgroup vs re-hosted', () => {
  const h = useHarness('build/fixtures/diff_sock_ops_harness.o', ['xdp_cb_flags', 'xdp_cb_flags_request']);

  itDifferential('at the active connect of a full socket: the unknown bits returned, the known ones set', () => {
    const r = attachReal(['sockaddr', 'build/fixtures/diff_sock_ops.o', 'cb_flags', 'sockops', '--op', 'connect', '--proto', 'tcp',
      '--to', '127.0.0.1', '--port', String(LISTEN), '--listen', `127.0.0.1:${LISTEN}`, '--dump', '.bss']);
    expect(r.connect, 'the connect went through').to.equal(0);
    const g = sectionGlobals('build/fixtures/diff_sock_ops.o', '.bss', Buffer.from(r.maps!['.bss']['00000000'], 'hex'));
    const kernel = { ret: g.ret.readBigInt64LE(0), flags_after: g.flags_after.readUInt32LE(0), calls: g.calls.readUInt32LE(0) };

    h().mocks.ctx.sockOps.set({ op: BPF_SOCK_OPS_TCP_CONNECT_CB, is_fullsock: 1, family: 2 });
    h().run('xdp_cb_flags', { data: Buffer.alloc(14) });
    expect({ ret: h().get('ret'), flags_after: h().get('flags_after'), calls: h().get('calls') }).to.deep.equal(kernel);
  });

  itDifferential('on the request socket of the passive side (not a full socket): -EINVAL', () => {
    const r = attachReal(['sockaddr', 'build/fixtures/diff_sock_ops.o', 'cb_flags_request', 'sockops', '--op', 'connect', '--proto', 'tcp',
      '--to', '127.0.0.1', '--port', String(LISTEN), '--listen', `127.0.0.1:${LISTEN}`, '--dump', '.bss']);
    expect(r.connect, 'the connect went through').to.equal(0);
    const g = sectionGlobals('build/fixtures/diff_sock_ops.o', '.bss', Buffer.from(r.maps!['.bss']['00000000'], 'hex'));
    const kernel = { req_ret: g.req_ret.readBigInt64LE(0), req_op: g.req_op.readUInt32LE(0), req_calls: g.req_calls.readUInt32LE(0) };
    expect(kernel.req_calls, 'a callback ran on a request socket').to.equal(1);

    h().reset();
    h().mocks.ctx.sockOps.set({ op: kernel.req_op, is_fullsock: 0, family: 2 });
    h().run('xdp_cb_flags_request', { data: Buffer.alloc(14) });
    expect({ req_ret: h().get('req_ret'), req_op: h().get('req_op'), req_calls: h().get('req_calls') }).to.deep.equal(kernel);
  });
});
