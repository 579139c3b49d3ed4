// Differential: the cgroup/sock context (mock/ctx.h's mock_sock) against the kernel's.
// spec/fixtures/diff_sock.c's cgroup/sock_create and cgroup/post_bind4 programs, attached for real
// to a cgroup the attaching tool moves into, see a socket() or bind() of that process; re-hosted,
// they get the socket as the kernel describes it at that hook (family, type, the protocol
// inet_create resolved, and for post_bind4 the bound address). Compared: whether the call was
// refused (the program returned 0: EPERM), the mark and priority the socket ends up with, and what
// the program recorded in its globals.
import { expect } from 'chai';
import { Harness, useHarness } from '../../src/mock/harness';
import { AF_INET, IPPROTO_TCP, IPPROTO_UDP, ip4, SOCK_DGRAM, SOCK_STREAM } from '../../src/structs';
import { attachReal, hex, itDifferential, sectionGlobals } from './real';

const OBJECT = 'build/fixtures/diff_sock.o';
const EPERM = 1;
const SOCK_RAW = 3;
const IPPROTO_ICMP = 1;

function u32(n: number): string {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0);
  return hex(b);
}

describe('differential: cgroup/sock programs attached to a cgroup vs re-hosted', () => {
  const h = useHarness('build/fixtures/diff_sock_harness.o', ['xdp_sock_policy', 'xdp_bind_policy']);

  describe('cgroup/sock_create', () => {
    const cases: [string, 'tcp' | 'udp' | 'raw', { type: number; protocol: number }][] = [
      ['a UDP socket gets the mark and priority the program writes', 'udp', { type: SOCK_DGRAM, protocol: IPPROTO_UDP }],
      ['a TCP socket is left as it was', 'tcp', { type: SOCK_STREAM, protocol: IPPROTO_TCP }],
      ['a raw socket is refused: socket() fails with EPERM', 'raw', { type: SOCK_RAW, protocol: IPPROTO_ICMP }],
    ];
    for (const [title, proto, socket] of cases) {
      itDifferential(`sock_create: ${title}`, () => {
        const r = attachReal(['sock', OBJECT, 'sock_policy', 'sock_create', '--op', 'socket', '--proto', proto]);
        const kernel = r.socket === 0 ? { socket: 0, mark: r.mark, priority: r.priority } : { socket: r.socket };
        const hh: Harness = h();
        hh.reset();
        hh.mocks.ctx.sock.set({ family: AF_INET, ...socket });
        hh.run('xdp_sock_policy', { data: Buffer.alloc(14) });
        const sk = hh.mocks.ctx.sock.get();
        const predicted = hh.mocks.retval() === 0 ? { socket: -EPERM } : { socket: 0, mark: u32(sk.mark), priority: u32(sk.priority) };
        expect(predicted).to.deep.equal(kernel);
      });
    }
  });

  describe('cgroup/post_bind4', () => {
    const cases: [string, number][] = [
      ['a bind to port 18091 stands; the program saw the address and port', 18091],
      ['a bind to port 7 is refused: bind() fails with EPERM', 7],
    ];
    for (const [title, p] of cases) {
      itDifferential(`post_bind4: ${title}`, () => {
        const r = attachReal(['sock', OBJECT, 'bind_policy', 'post_bind4', '--op', 'bind', '--proto', 'udp', '--to', '127.0.0.1', '--port', String(p), '--dump', '.bss']);
        const g = sectionGlobals(OBJECT, '.bss', Buffer.from(r.maps!['.bss']['00000000'], 'hex'));
        const kernel = { bind: r.bind, bound_ip4: g.bound_ip4.readUInt32LE(0), bound_port: g.bound_port.readUInt32LE(0) };

        const hh: Harness = h();
        hh.reset();
        hh.mocks.ctx.sock.set({ family: AF_INET, type: SOCK_DGRAM, protocol: IPPROTO_UDP, src_ip4: ip4('127.0.0.1'), src_port: p });
        hh.run('xdp_bind_policy', { data: Buffer.alloc(14) });
        const predicted = { bind: hh.mocks.retval() === 0 ? -EPERM : 0, bound_ip4: hh.get('bound_ip4'), bound_port: hh.get('bound_port') };
        expect(predicted).to.deep.equal(kernel);
      });
    }
  });
});
