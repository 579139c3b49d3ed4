// Re-hosted contexts carry sockets the program can dereference: skb->sk, msg->sk and a
// sock_addr's ctx->sk point at a struct bpf_sock whose fields the test sets
// (spec/fixtures/socks.c); 0 in the context's sk field makes the pointer NULL.
import { expect } from 'chai';
import { useHarness } from '../../src/mock/harness';
import { AF_INET, AF_INET6, ip4, port } from '../../src/structs';

const IPPROTO_TCP = 6;
const IPPROTO_UDP = 17;
const BPF_TCP_ESTABLISHED = 1;

describe('re-hosted sockets (spec/fixtures/socks.c)', () => {
  const h = useHarness('build/fixtures/socks.o', ['xdp_skb_sock', 'xdp_msg_sock', 'xdp_addr_sock']);
  const seen = () => h().get('seen') as Record<string, number>;
  const run = (entry: string) => h().run(entry, { data: Buffer.alloc(64) });

  describe('cgroup_skb: skb->sk, bpf_sk_fullsock, bpf_tcp_sock', () => {
    it('reads the socket fields set from TypeScript, through bpf_sk_fullsock and bpf_tcp_sock', () => {
      h().mocks.ctx.skb.set({ family: AF_INET, sk: 5n });
      h().mocks.ctx.skbSock.set({ family: AF_INET, protocol: IPPROTO_TCP, src_ip4: ip4('10.0.0.1'), dst_port: port(9080), state: BPF_TCP_ESTABLISHED });
      h().mocks.setTcpSock({ snd_cwnd: 10 });
      run('xdp_skb_sock');
      expect(seen()).to.deep.include({
        null_sk: 0, not_full: 0, family: AF_INET, protocol: IPPROTO_TCP, src_ip4: ip4('10.0.0.1'),
        dst_port: port(9080), state: BPF_TCP_ESTABLISHED, snd_cwnd: 10,
      });
      expect(h().get('mock_tcp_sock_calls')).to.deep.include({ count: 1, last_sk: 5n });
    });

    it('a socket whose protocol is not TCP (UDP here): bpf_tcp_sock returns NULL, as the kernel does', () => {
      h().mocks.ctx.skb.set({ family: AF_INET, sk: 5n });
      h().mocks.ctx.skbSock.set({ family: AF_INET, protocol: IPPROTO_UDP });
      h().mocks.setTcpSock({ snd_cwnd: 10 });
      run('xdp_skb_sock');
      expect(seen()).to.deep.include({ not_full: 0, protocol: IPPROTO_UDP, snd_cwnd: 0 });
      expect(h().get('mock_tcp_sock_calls')).to.deep.include({ count: 1, last_sk: 5n });
    });

    it('a socket whose state is a request socket\'s (BPF_TCP_NEW_SYN_RECV) or time-wait: bpf_sk_fullsock returns NULL, as the kernel does', () => {
      for (const state of [12, 6]) {
        h().reset();
        h().mocks.ctx.skb.set({ sk: 5n });
        h().mocks.ctx.skbSock.set({ family: AF_INET, protocol: IPPROTO_TCP, state });
        run('xdp_skb_sock');
        expect(seen(), `state ${state}`).to.deep.include({ null_sk: 0, not_full: 1, protocol: 0 });
      }
    });

    it('sk 0: skb->sk is NULL', () => {
      h().mocks.ctx.skb.set({ family: AF_INET, sk: 0n });
      h().mocks.ctx.skbSock.set({ family: AF_INET });
      run('xdp_skb_sock');
      expect(seen()).to.deep.include({ null_sk: 1, family: 0 });
    });

    it('a socket that is not a full socket (request / time-wait): bpf_sk_fullsock returns NULL', () => {
      h().mocks.ctx.skb.set({ sk: 5n });
      h().mocks.ctx.skbSock.set({ family: AF_INET6 });
      h().set('mock_sk_fullsock_cfg', { not_full: 1 });
      run('xdp_skb_sock');
      expect(seen()).to.deep.include({ null_sk: 0, not_full: 1, family: AF_INET6, protocol: 0 });
    });
  });

  describe('sk_msg: msg->sk', () => {
    it('reads the socket fields', () => {
      h().mocks.ctx.msg.set({ family: AF_INET, sk: 9n });
      h().mocks.ctx.msgSock.set({ family: AF_INET, src_port: 45678, protocol: IPPROTO_TCP });
      run('xdp_msg_sock');
      expect(seen()).to.deep.include({ null_sk: 0, family: AF_INET, src_port: 45678, protocol: IPPROTO_TCP });
    });

    it('sk 0: msg->sk is NULL', () => {
      run('xdp_msg_sock');
      expect(seen()).to.deep.include({ null_sk: 1 });
    });
  });

  describe('cgroup_sock_addr: ctx->sk', () => {
    it('reads the socket fields; the context keeps the socket identity the test wrote', () => {
      h().mocks.ctx.sockAddr.set({ user_family: AF_INET, sk: 11n });
      h().mocks.ctx.sockAddrSock.set({ family: AF_INET, protocol: IPPROTO_TCP, src_ip4: ip4('10.1.2.3') });
      run('xdp_addr_sock');
      expect(seen()).to.deep.include({ null_sk: 0, family: AF_INET, protocol: IPPROTO_TCP, src_ip4: ip4('10.1.2.3') });
      expect(h().mocks.ctx.sockAddr.get().sk).to.equal(11n);
    });

    it('sk 0: ctx->sk is NULL', () => {
      h().mocks.ctx.sockAddr.set({ user_family: AF_INET });
      run('xdp_addr_sock');
      expect(seen()).to.deep.include({ null_sk: 1 });
    });
  });
});
