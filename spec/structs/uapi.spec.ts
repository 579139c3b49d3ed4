import { expect } from 'chai';
import {
  Codec,
  LayoutError,
  bpfSockAddrCodec,
  bpfSockTupleCodec,
  bpfTcpSockCodec,
  decodeBpfSockAddr,
  decodeBpfSockTuple,
  decodeBpfTcpSock,
  decodeSkBuff,
  decodeSkMsgMd,
  decodeXdpMd,
  encodeBpfSockAddr,
  encodeBpfSockTuple,
  encodeBpfTcpSock,
  encodeSkBuff,
  encodeSkMsgMd,
  encodeXdpMd,
  ip4,
  ip6,
  port,
  skBuffCodec,
  skMsgMdCodec,
  xdpMdCodec,
} from '../../src/structs';
import { haveCompiler, measure } from './cc';

// sizeof / offsetof / member sizeof as measured once with gcc 12.2.0 (Debian 12) against
// <linux/bpf.h> from linux-libc-dev 6.1.192 (x86_64), with the program spec/structs/cc.ts
// generates (the same check runs live below when gcc is present). [offset, size] per member.
const MEASURED: Record<string, { size: number; offsets: Record<string, [number, number]> }> = {
  'struct xdp_md': {
    size: 24,
    offsets: {
      data: [0, 4], data_end: [4, 4], data_meta: [8, 4], ingress_ifindex: [12, 4], rx_queue_index: [16, 4],
      egress_ifindex: [20, 4],
    },
  },
  'struct __sk_buff': {
    size: 192,
    offsets: {
      len: [0, 4], pkt_type: [4, 4], mark: [8, 4], queue_mapping: [12, 4], protocol: [16, 4], vlan_present: [20, 4],
      vlan_tci: [24, 4], vlan_proto: [28, 4], priority: [32, 4], ingress_ifindex: [36, 4], ifindex: [40, 4],
      tc_index: [44, 4], cb: [48, 20], hash: [68, 4], tc_classid: [72, 4], data: [76, 4], data_end: [80, 4],
      napi_id: [84, 4], family: [88, 4], remote_ip4: [92, 4], local_ip4: [96, 4], remote_ip6: [100, 16],
      local_ip6: [116, 16], remote_port: [132, 4], local_port: [136, 4], data_meta: [140, 4], flow_keys: [144, 8],
      tstamp: [152, 8], wire_len: [160, 4], gso_segs: [164, 4], sk: [168, 8], gso_size: [176, 4],
      tstamp_type: [180, 1], hwtstamp: [184, 8],
    },
  },
  'struct sk_msg_md': {
    size: 80,
    offsets: {
      data: [0, 8], data_end: [8, 8], family: [16, 4], remote_ip4: [20, 4], local_ip4: [24, 4], remote_ip6: [28, 16],
      local_ip6: [44, 16], remote_port: [60, 4], local_port: [64, 4], size: [68, 4], sk: [72, 8],
    },
  },
  'struct bpf_sock_addr': {
    size: 72,
    offsets: {
      user_family: [0, 4], user_ip4: [4, 4], user_ip6: [8, 16], user_port: [24, 4], family: [28, 4], type: [32, 4],
      protocol: [36, 4], msg_src_ip4: [40, 4], msg_src_ip6: [44, 16], sk: [64, 8],
    },
  },
  'struct bpf_sock_tuple': {
    size: 36,
    offsets: {
      ipv4: [0, 12], 'ipv4.saddr': [0, 4], 'ipv4.daddr': [4, 4], 'ipv4.sport': [8, 2], 'ipv4.dport': [10, 2],
      ipv6: [0, 36], 'ipv6.saddr': [0, 16], 'ipv6.daddr': [16, 16], 'ipv6.sport': [32, 2], 'ipv6.dport': [34, 2],
    },
  },
  'struct bpf_tcp_sock': {
    size: 112,
    offsets: {
      snd_cwnd: [0, 4], srtt_us: [4, 4], rtt_min: [8, 4], snd_ssthresh: [12, 4], rcv_nxt: [16, 4], snd_nxt: [20, 4],
      snd_una: [24, 4], mss_cache: [28, 4], ecn_flags: [32, 4], rate_delivered: [36, 4], rate_interval_us: [40, 4],
      packets_out: [44, 4], retrans_out: [48, 4], total_retrans: [52, 4], segs_in: [56, 4], data_segs_in: [60, 4],
      segs_out: [64, 4], data_segs_out: [68, 4], lost_out: [72, 4], sacked_out: [76, 4], bytes_received: [80, 8],
      bytes_acked: [88, 8], dsack_dups: [96, 4], delivered: [100, 4], delivered_ce: [104, 4],
      icsk_retransmits: [108, 4],
    },
  },
};

const CODECS: Record<string, Codec<any>> = {
  'struct xdp_md': xdpMdCodec,
  'struct __sk_buff': skBuffCodec,
  'struct sk_msg_md': skMsgMdCodec,
  'struct bpf_sock_addr': bpfSockAddrCodec,
  'struct bpf_sock_tuple': bpfSockTupleCodec,
  'struct bpf_tcp_sock': bpfTcpSockCodec,
};

const asPairs = (o: Record<string, { offset: number; size: number }>): Record<string, [number, number]> =>
  Object.fromEntries(Object.entries(o).map(([k, v]) => [k, [v.offset, v.size]]));

describe('structs/uapi', () => {
  describe('layouts match the measured sizes and offsets', () => {
    for (const [type, want] of Object.entries(MEASURED)) {
      it(`${type}: sizeof ${want.size}, every member at its offset`, () => {
        const c = CODECS[type];
        expect(c.size).to.equal(want.size);
        expect(c.layout.span).to.equal(want.size);
        expect(c.name).to.equal(type);
        expect(asPairs(c.offsets())).to.deep.equal(want.offsets);
      });
    }
  });

  describe('layouts match gcc offsetof on <linux/bpf.h> (live)', function () {
    let measured: ReturnType<typeof measure>;
    before(function () {
      if (!haveCompiler()) this.skip();
      this.timeout(20000);
      measured = measure(
        '#include <linux/bpf.h>',
        Object.entries(CODECS).map(([type, c]) => ({ type, members: Object.keys(c.offsets()) })),
        ['/usr/include/x86_64-linux-gnu'],
      );
    });
    for (const [type, c] of Object.entries(CODECS)) {
      it(type, () => {
        expect(measured[type].size, 'sizeof').to.equal(c.size);
        expect(measured[type].members).to.deep.equal(c.offsets());
      });
    }
  });

  describe('struct xdp_md', () => {
    it('round trips and writes little-endian u32s at their offsets', () => {
      const v = { data: 0, data_end: 64, data_meta: 0, ingress_ifindex: 3, rx_queue_index: 1, egress_ifindex: 0 };
      const buf = encodeXdpMd(v);
      expect(buf.length).to.equal(24);
      expect(buf.readUInt32LE(4)).to.equal(64);
      expect(buf.readUInt32LE(12)).to.equal(3);
      expect(decodeXdpMd(buf)).to.deep.equal(v);
    });
    it('zero-fills fields not given', () => {
      expect(encodeXdpMd({ data_end: 14 }).equals(Buffer.from('000000000e' + '00'.repeat(19), 'hex'))).to.equal(true);
      expect(decodeXdpMd(Buffer.alloc(24))).to.deep.equal({
        data: 0, data_end: 0, data_meta: 0, ingress_ifindex: 0, rx_queue_index: 0, egress_ifindex: 0,
      });
    });
    it('rejects a buffer of the wrong size, naming the struct', () => {
      expect(() => decodeXdpMd(Buffer.alloc(20))).to.throw(LayoutError, /struct xdp_md: expected 24 bytes, got 20/);
    });
  });

  describe('struct __sk_buff', () => {
    it('round trips every field, including pointers and u64s as bigints', () => {
      const v = decodeSkBuff(Buffer.alloc(192));
      const full = {
        ...v,
        len: 98, protocol: 0x0008, cb: [1, 2, 3, 4, 5], family: 2, remote_ip4: ip4('10.0.0.1'),
        local_ip6: ip6('fd00::2'), remote_port: port(443), local_port: 51000, flow_keys: 0x1122334455667788n,
        tstamp: 2n ** 63n, sk: 0xffff_8880_0000_1000n, gso_size: 1448, tstamp_type: 1, hwtstamp: 0xffff_ffff_ffff_ffffn,
      };
      const buf = encodeSkBuff(full);
      expect(buf.length).to.equal(192);
      expect(buf.readUInt32LE(48 + 16)).to.equal(5); // cb[4]
      expect(buf.readBigUInt64LE(168)).to.equal(0xffff_8880_0000_1000n);
      expect(buf[180]).to.equal(1);
      expect(buf.subarray(181, 184).equals(Buffer.alloc(3))).to.equal(true); // __u32 :24 stays zero
      expect(decodeSkBuff(buf)).to.deep.equal(full);
    });
    it('rejects more cb words than cb[5] holds', () => {
      expect(() => encodeSkBuff({ cb: [1, 2, 3, 4, 5, 6] })).to.throw(LayoutError, /struct __sk_buff: .*6 elements given, the array holds 5/);
    });
    it('rejects unknown fields and out-of-range values', () => {
      expect(() => encodeSkBuff({ lenn: 1 } as never)).to.throw(LayoutError, /struct __sk_buff: .*unknown field 'lenn'/);
      expect(() => encodeSkBuff({ mark: 2 ** 32 })).to.throw(LayoutError, /struct __sk_buff/);
      expect(() => encodeSkBuff({ tstamp: -1n })).to.throw(LayoutError, /tstamp: -1 does not fit/);
    });
    it('rejects a 184-byte buffer', () => {
      expect(() => decodeSkBuff(Buffer.alloc(184))).to.throw(/struct __sk_buff: expected 192 bytes, got 184/);
    });
  });

  describe('struct sk_msg_md', () => {
    it('puts family @16, the ports @60/@64, size @68 and the 8-byte sk @72', () => {
      const buf = encodeSkMsgMd({ family: 10, remote_port: port(8080), local_port: 40000, size: 5, sk: 0xabcdn });
      expect(buf.length).to.equal(80);
      expect(buf.readUInt32LE(16)).to.equal(10);
      expect(buf.subarray(60, 62).toString('hex')).to.equal('1f90');
      expect(buf.readUInt32LE(64)).to.equal(40000);
      expect(buf.readUInt32LE(68)).to.equal(5);
      expect(buf.readBigUInt64LE(72)).to.equal(0xabcdn);
      const d = decodeSkMsgMd(buf);
      expect(d.sk).to.equal(0xabcdn);
      expect(d.remote_ip6).to.deep.equal([0, 0, 0, 0]);
    });
    it('rejects a wrong size', () => {
      expect(() => decodeSkMsgMd(Buffer.alloc(72))).to.throw(/struct sk_msg_md: expected 80 bytes, got 72/);
    });
  });

  describe('struct bpf_sock_addr', () => {
    it('stores user_ip4 / user_port in network order and round trips', () => {
      const v = {
        user_family: 2, user_ip4: ip4('192.168.1.1'), user_ip6: ip6('::'), user_port: port(8080), family: 2, type: 1,
        protocol: 6, msg_src_ip4: 0, msg_src_ip6: ip6('fd00::1'), sk: 7n,
      };
      const buf = encodeBpfSockAddr(v);
      expect(buf.length).to.equal(72);
      expect(buf.subarray(4, 8).toString('hex')).to.equal('c0a80101');
      expect(buf.subarray(24, 28).toString('hex')).to.equal('1f900000');
      expect(buf.subarray(44, 60).toString('hex')).to.equal('fd000000000000000000000000000001');
      expect(buf.readBigUInt64LE(64)).to.equal(7n);
      expect(decodeBpfSockAddr(buf)).to.deep.equal(v);
    });
    it('rejects a wrong size', () => {
      expect(() => decodeBpfSockAddr(Buffer.alloc(68))).to.throw(/struct bpf_sock_addr: expected 72 bytes, got 68/);
    });
  });

  describe('struct bpf_sock_tuple', () => {
    it('encodes the ipv4 view (daddr @4, dport @10) and decodes both views of the same bytes', () => {
      const buf = encodeBpfSockTuple({ ipv4: { saddr: ip4('10.0.0.1'), daddr: ip4('10.0.0.2'), sport: port(1234), dport: port(80) } });
      expect(buf.length).to.equal(36);
      expect(buf.toString('hex')).to.equal('0a0000010a00000204d20050' + '00'.repeat(24));
      const d = decodeBpfSockTuple(buf);
      expect(d.ipv4).to.deep.equal({ saddr: ip4('10.0.0.1'), daddr: ip4('10.0.0.2'), sport: port(1234), dport: port(80) });
      expect(d.ipv6.saddr).to.deep.equal([ip4('10.0.0.1'), ip4('10.0.0.2'), 0x5000d204, 0]);
    });
    it('encodes the ipv6 view (daddr @16, dport @34)', () => {
      const buf = encodeBpfSockTuple({ ipv6: { daddr: ip6('fd00::1'), dport: port(8080) } });
      expect(buf.subarray(16, 32).toString('hex')).to.equal('fd000000000000000000000000000001');
      expect(buf.subarray(34, 36).toString('hex')).to.equal('1f90');
      expect(decodeBpfSockTuple(buf).ipv6.daddr).to.deep.equal(ip6('fd00::1'));
    });
    it('rejects unknown members and wrong sizes', () => {
      expect(() => encodeBpfSockTuple({ ip4: {} } as never)).to.throw(/struct bpf_sock_tuple: .*unknown field 'ip4'/);
      expect(() => decodeBpfSockTuple(Buffer.alloc(40))).to.throw(/struct bpf_sock_tuple: expected 36 bytes, got 40/);
    });
  });

  describe('struct bpf_tcp_sock', () => {
    it('round trips, with bytes_received/bytes_acked as u64 @80/@88', () => {
      const v = { ...decodeBpfTcpSock(Buffer.alloc(112)), snd_cwnd: 10, srtt_us: 800, total_retrans: 2, bytes_received: 2n ** 40n, bytes_acked: 12345n, icsk_retransmits: 1 };
      const buf = encodeBpfTcpSock(v);
      expect(buf.readBigUInt64LE(80)).to.equal(2n ** 40n);
      expect(buf.readBigUInt64LE(88)).to.equal(12345n);
      expect(buf.readUInt32LE(108)).to.equal(1);
      expect(decodeBpfTcpSock(buf)).to.deep.equal(v);
    });
    it('rejects a wrong size', () => {
      expect(() => decodeBpfTcpSock(Buffer.alloc(104))).to.throw(/struct bpf_tcp_sock: expected 112 bytes, got 104/);
    });
  });
});
