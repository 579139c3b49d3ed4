// Differential: bpf_sk_fullsock and bpf_tcp_sock in a cgroup_skb egress program
// (spec/fixtures/diff_skb_sock.c) attached for real to a cgroup around a loopback TCP connect and
// a UDP send, against the same program re-hosted with skb->sk described as the socket the test
// made (mock/ctx.h, mock/skb.h, mock/tcp_sock.h). What the program saw on its first packet is
// compared: whether skb->sk, bpf_sk_fullsock and bpf_tcp_sock gave a socket, the socket's family,
// type and protocol, and the bpf_tcp_sock fields it read. Those fields come from the live
// connection, which no input controls: the re-hosted run is given the kernel's values, so what
// is compared for them is that they reach the program through the mock the same way. A tc
// program on the loopback device's egress (the same object) sees the SYN-ACK, whose socket is the
// listener's request socket: whether bpf_sk_fullsock gave it (the kernel: never) is compared too.
import { expect } from 'chai';
import { Harness, useHarness } from '../../src/mock/harness';
import { AF_INET, IPPROTO_TCP, IPPROTO_UDP, SOCK_DGRAM, SOCK_STREAM } from '../../src/structs';
import { kernelMeets } from '../../src/kernel/requires';
import { attachReal, itDifferential, sectionGlobals } from './real';

const OBJECT = 'build/fixtures/diff_skb_sock.o';
const LISTEN = 18090;
const BPF_TCP_NEW_SYN_RECV = 12;
const U32_FIELDS = ['has_sk', 'full', 'tcp', 'family', 'type', 'protocol', 'snd_cwnd', 'snd_ssthresh', 'mss_cache', 'srtt_us'];

type First = Record<string, number | bigint>;

function real(proto: 'tcp' | 'udp'): First {
  const r = attachReal(['sockaddr', OBJECT, 'tcp_monitor', 'egress', '--op', proto === 'tcp' ? 'connect' : 'sendmsg', '--proto', proto,
    '--to', '127.0.0.1', '--port', String(LISTEN), '--listen', `127.0.0.1:${LISTEN}`, '--dump', '.bss']);
  expect(r.connect ?? r.sent, 'the call went through').to.be.oneOf([0, 1]);
  const b = sectionGlobals(OBJECT, '.bss', Buffer.from(r.maps!['.bss']['00000000'], 'hex')).first;
  expect(b.readUInt32LE(0), 'the program saw packets').to.be.greaterThan(0);
  const out: First = {};
  U32_FIELDS.forEach((f, i) => { out[f] = b.readUInt32LE(4 + 4 * i); });
  out.bytes_acked = b.readBigUInt64LE(48);
  return out;
}

function rehosted(h: Harness, socket: { type: number; protocol: number }, tcp: Record<string, number | bigint>): First {
  h.reset();
  h.mocks.ctx.skb.set({ family: AF_INET, sk: 1n });
  h.mocks.ctx.skbSock.set({ family: AF_INET, ...socket });
  h.mocks.setTcpSock(tcp);
  h.run('xdp_tcp_monitor', { data: Buffer.alloc(64) });
  const first = h.get('first') as Record<string, number | bigint>;
  expect(first.packets, 'one run').to.equal(1);
  const out: First = {};
  for (const f of U32_FIELDS) out[f] = first[f];
  out.bytes_acked = first.bytes_acked;
  return out;
}

describe('differential: bpf_sk_fullsock and bpf_tcp_sock in a cgroup_skb program attached to a cgroup vs re-hosted', () => {
  const h = useHarness('build/fixtures/diff_skb_sock_harness.o', ['xdp_tcp_monitor', 'xdp_request_monitor']);

  itDifferential('the SYN of a TCP connect: a full TCP socket, its bpf_tcp_sock fields read the same', () => {
    const kernel = real('tcp');
    const given = { snd_cwnd: kernel.snd_cwnd, snd_ssthresh: kernel.snd_ssthresh, mss_cache: kernel.mss_cache,
      srtt_us: (kernel.srtt_us as number) << 3, bytes_acked: kernel.bytes_acked };
    expect(rehosted(h(), { type: SOCK_STREAM, protocol: IPPROTO_TCP }, given)).to.deep.equal(kernel);
  });

  itDifferential('the SYN-ACK of a request socket (tc egress through tcx, kernel 6.6 or later): bpf_sk_fullsock gives NULL', () => {
    const args = ['sockaddr', OBJECT, 'request_monitor', 'tc_egress', '--op', 'connect', '--proto', 'tcp',
      '--to', '127.0.0.1', '--port', String(LISTEN), '--listen', `127.0.0.1:${LISTEN}`, '--dump', '.bss'];
    if (!kernelMeets({ kernel: '6.6' })) {
      // the guests have no qdisc modules, so tc programs attach through tcx only, which 6.1 lacks
      expect(() => attachReal(args)).to.throw(/attach to lo egress: Invalid argument/);
      return;
    }
    const r = attachReal(args);
    expect(r.connect, 'the connect went through').to.equal(0);
    const b = sectionGlobals(OBJECT, '.bss', Buffer.from(r.maps!['.bss']['00000000'], 'hex')).not_full;
    const kernel = { seen: b.readUInt32LE(0), family: b.readUInt32LE(4), state: b.readUInt32LE(8), full: b.readUInt32LE(12) };
    expect(kernel.seen, 'a packet of a request socket went out').to.equal(1);

    h().reset();
    h().mocks.ctx.skb.set({ family: AF_INET, sk: 1n });
    h().mocks.ctx.skbSock.set({ family: AF_INET, state: BPF_TCP_NEW_SYN_RECV });
    h().run('xdp_request_monitor', { data: Buffer.alloc(64) });
    expect(h().get('not_full')).to.deep.equal(kernel);
  });

  itDifferential('a UDP datagram: a full socket, and bpf_tcp_sock gives NULL', () => {
    const kernel = real('udp');
    // tcp_sock values the program would copy if the mock handed them out
    expect(rehosted(h(), { type: SOCK_DGRAM, protocol: IPPROTO_UDP }, { snd_cwnd: 10, mss_cache: 1460 })).to.deep.equal(kernel);
  });
});
