// Program contexts and helper structs from <linux/bpf.h>, laid out as the uAPI defines them on
// x86_64 (sizes and offsets checked against gcc's offsetof, see spec/structs/uapi.spec.ts).
// Addresses and ports are the values as stored (see layout.ts: ip4(), ip6(), port()); pointer
// members (`__bpf_md_ptr`) are 8-byte bigints.

import { CUnion, Codec, Init, U32x4, array, codec, cstruct, cunion, pad, ptr, u16, u32, u64, u8 } from './layout';

// ---------------------------------------------------------------------------------------------
// struct xdp_md (24 bytes)

export interface XdpMd {
  data: number;
  data_end: number;
  data_meta: number;
  ingress_ifindex: number;
  rx_queue_index: number;
  egress_ifindex: number;
}

export const XDP_MD_SIZE = 24;
export const xdpMdLayout = cstruct<XdpMd>([
  u32('data'),
  u32('data_end'),
  u32('data_meta'),
  u32('ingress_ifindex'),
  u32('rx_queue_index'),
  u32('egress_ifindex'),
]);
export const xdpMdCodec: Codec<XdpMd> = codec(xdpMdLayout, XDP_MD_SIZE, 'struct xdp_md');
export const encodeXdpMd = (v: Init<XdpMd>): Buffer => xdpMdCodec.encode(v);
export const decodeXdpMd = (b: Uint8Array): XdpMd => xdpMdCodec.decode(b);

// ---------------------------------------------------------------------------------------------
// struct __sk_buff (192 bytes)

export interface SkBuff {
  len: number;
  pkt_type: number;
  mark: number;
  queue_mapping: number;
  protocol: number;
  vlan_present: number;
  vlan_tci: number;
  vlan_proto: number;
  priority: number;
  ingress_ifindex: number;
  ifindex: number;
  tc_index: number;
  /** __u32 cb[5] */
  cb: number[];
  hash: number;
  tc_classid: number;
  data: number;
  data_end: number;
  napi_id: number;
  family: number;
  remote_ip4: number;
  local_ip4: number;
  remote_ip6: U32x4;
  local_ip6: U32x4;
  remote_port: number;
  /** host byte order (unlike remote_port) */
  local_port: number;
  data_meta: number;
  flow_keys: bigint;
  tstamp: bigint;
  wire_len: number;
  gso_segs: number;
  sk: bigint;
  gso_size: number;
  tstamp_type: number;
  hwtstamp: bigint;
}

export const SK_BUFF_SIZE = 192;
export const skBuffLayout = cstruct<SkBuff>([
  u32('len'), // 0
  u32('pkt_type'), // 4
  u32('mark'), // 8
  u32('queue_mapping'), // 12
  u32('protocol'), // 16
  u32('vlan_present'), // 20
  u32('vlan_tci'), // 24
  u32('vlan_proto'), // 28
  u32('priority'), // 32
  u32('ingress_ifindex'), // 36
  u32('ifindex'), // 40
  u32('tc_index'), // 44
  array(u32(), 5, 'cb'), // 48
  u32('hash'), // 68
  u32('tc_classid'), // 72
  u32('data'), // 76
  u32('data_end'), // 80
  u32('napi_id'), // 84
  u32('family'), // 88
  u32('remote_ip4'), // 92
  u32('local_ip4'), // 96
  array(u32(), 4, 'remote_ip6'), // 100
  array(u32(), 4, 'local_ip6'), // 116
  u32('remote_port'), // 132
  u32('local_port'), // 136
  u32('data_meta'), // 140
  ptr('flow_keys'), // 144
  u64('tstamp'), // 152
  u32('wire_len'), // 160
  u32('gso_segs'), // 164
  ptr('sk'), // 168
  u32('gso_size'), // 176
  u8('tstamp_type'), // 180
  pad(3), // 181: __u32 :24
  u64('hwtstamp'), // 184
]);
export const skBuffCodec: Codec<SkBuff> = codec(skBuffLayout, SK_BUFF_SIZE, 'struct __sk_buff');
export const encodeSkBuff = (v: Init<SkBuff>): Buffer => skBuffCodec.encode(v);
export const decodeSkBuff = (b: Uint8Array): SkBuff => skBuffCodec.decode(b);

// ---------------------------------------------------------------------------------------------
// struct sk_msg_md (80 bytes)

export interface SkMsgMd {
  data: bigint;
  data_end: bigint;
  family: number;
  remote_ip4: number;
  local_ip4: number;
  remote_ip6: U32x4;
  local_ip6: U32x4;
  remote_port: number;
  /** host byte order */
  local_port: number;
  /** total size of the message */
  size: number;
  sk: bigint;
}

export const SK_MSG_MD_SIZE = 80;
export const skMsgMdLayout = cstruct<SkMsgMd>([
  ptr('data'), // 0
  ptr('data_end'), // 8
  u32('family'), // 16
  u32('remote_ip4'), // 20
  u32('local_ip4'), // 24
  array(u32(), 4, 'remote_ip6'), // 28
  array(u32(), 4, 'local_ip6'), // 44
  u32('remote_port'), // 60
  u32('local_port'), // 64
  u32('size'), // 68
  ptr('sk'), // 72
]);
export const skMsgMdCodec: Codec<SkMsgMd> = codec(skMsgMdLayout, SK_MSG_MD_SIZE, 'struct sk_msg_md');
export const encodeSkMsgMd = (v: Init<SkMsgMd>): Buffer => skMsgMdCodec.encode(v);
export const decodeSkMsgMd = (b: Uint8Array): SkMsgMd => skMsgMdCodec.decode(b);

// ---------------------------------------------------------------------------------------------
// struct bpf_sock_addr (72 bytes)

export interface BpfSockAddr {
  user_family: number;
  user_ip4: number;
  user_ip6: U32x4;
  user_port: number;
  family: number;
  type: number;
  protocol: number;
  msg_src_ip4: number;
  msg_src_ip6: U32x4;
  sk: bigint;
}

export const BPF_SOCK_ADDR_SIZE = 72;
export const bpfSockAddrLayout = cstruct<BpfSockAddr>([
  u32('user_family'), // 0
  u32('user_ip4'), // 4
  array(u32(), 4, 'user_ip6'), // 8
  u32('user_port'), // 24
  u32('family'), // 28
  u32('type'), // 32
  u32('protocol'), // 36
  u32('msg_src_ip4'), // 40
  array(u32(), 4, 'msg_src_ip6'), // 44
  pad(4), // 60: alignment of the 8-byte pointer
  ptr('sk'), // 64
]);
export const bpfSockAddrCodec: Codec<BpfSockAddr> = codec(bpfSockAddrLayout, BPF_SOCK_ADDR_SIZE, 'struct bpf_sock_addr');
export const encodeBpfSockAddr = (v: Init<BpfSockAddr>): Buffer => bpfSockAddrCodec.encode(v);
export const decodeBpfSockAddr = (b: Uint8Array): BpfSockAddr => bpfSockAddrCodec.decode(b);

// ---------------------------------------------------------------------------------------------
// struct bpf_sock_tuple (36 bytes): an anonymous union of ipv4 and ipv6. All fields are __be32 /
// __be16 in memory; here they are the values as stored, read as little-endian u32/u16 (make them
// with ip4(), ip6(), port(); the u16 port equals what a `__u32 user_port` holds).

export interface BpfSockTupleV4 {
  saddr: number;
  daddr: number;
  sport: number;
  dport: number;
}

export interface BpfSockTupleV6 {
  saddr: U32x4;
  daddr: U32x4;
  sport: number;
  dport: number;
}

/** Decoding yields both views; encode only the one you mean ({ ipv4: {...} } or { ipv6: {...} }). */
export interface BpfSockTuple {
  ipv4: BpfSockTupleV4;
  ipv6: BpfSockTupleV6;
}

export const BPF_SOCK_TUPLE_SIZE = 36;
export const bpfSockTupleV4Layout = cstruct<BpfSockTupleV4>(
  [u32('saddr'), u32('daddr'), u16('sport'), u16('dport')],
  'ipv4',
);
export const bpfSockTupleV6Layout = cstruct<BpfSockTupleV6>(
  [array(u32(), 4, 'saddr'), array(u32(), 4, 'daddr'), u16('sport'), u16('dport')],
  'ipv6',
);
/** The tuple's layout; pass a property name to embed it in another struct. */
export function bpfSockTuple(property?: string): CUnion<BpfSockTuple> {
  return cunion<BpfSockTuple>([bpfSockTupleV4Layout, bpfSockTupleV6Layout], BPF_SOCK_TUPLE_SIZE, property);
}
export const bpfSockTupleLayout = bpfSockTuple();
export const bpfSockTupleCodec: Codec<BpfSockTuple> = codec(bpfSockTupleLayout, BPF_SOCK_TUPLE_SIZE, 'struct bpf_sock_tuple');
export const encodeBpfSockTuple = (v: Init<BpfSockTuple>): Buffer => bpfSockTupleCodec.encode(v);
export const decodeBpfSockTuple = (b: Uint8Array): BpfSockTuple => bpfSockTupleCodec.decode(b);


// ---------------------------------------------------------------------------------------------
// struct bpf_tcp_sock (112 bytes), what bpf_tcp_sock() returns a pointer to

export interface BpfTcpSock {
  snd_cwnd: number;
  srtt_us: number;
  rtt_min: number;
  snd_ssthresh: number;
  rcv_nxt: number;
  snd_nxt: number;
  snd_una: number;
  mss_cache: number;
  ecn_flags: number;
  rate_delivered: number;
  rate_interval_us: number;
  packets_out: number;
  retrans_out: number;
  total_retrans: number;
  segs_in: number;
  data_segs_in: number;
  segs_out: number;
  data_segs_out: number;
  lost_out: number;
  sacked_out: number;
  bytes_received: bigint;
  bytes_acked: bigint;
  dsack_dups: number;
  delivered: number;
  delivered_ce: number;
  icsk_retransmits: number;
}

export const BPF_TCP_SOCK_SIZE = 112;
export const bpfTcpSockLayout = cstruct<BpfTcpSock>([
  u32('snd_cwnd'), // 0
  u32('srtt_us'), // 4
  u32('rtt_min'), // 8
  u32('snd_ssthresh'), // 12
  u32('rcv_nxt'), // 16
  u32('snd_nxt'), // 20
  u32('snd_una'), // 24
  u32('mss_cache'), // 28
  u32('ecn_flags'), // 32
  u32('rate_delivered'), // 36
  u32('rate_interval_us'), // 40
  u32('packets_out'), // 44
  u32('retrans_out'), // 48
  u32('total_retrans'), // 52
  u32('segs_in'), // 56
  u32('data_segs_in'), // 60
  u32('segs_out'), // 64
  u32('data_segs_out'), // 68
  u32('lost_out'), // 72
  u32('sacked_out'), // 76
  u64('bytes_received'), // 80
  u64('bytes_acked'), // 88
  u32('dsack_dups'), // 96
  u32('delivered'), // 100
  u32('delivered_ce'), // 104
  u32('icsk_retransmits'), // 108
]);
export const bpfTcpSockCodec: Codec<BpfTcpSock> = codec(bpfTcpSockLayout, BPF_TCP_SOCK_SIZE, 'struct bpf_tcp_sock');
export const encodeBpfTcpSock = (v: Init<BpfTcpSock>): Buffer => bpfTcpSockCodec.encode(v);
export const decodeBpfTcpSock = (b: Uint8Array): BpfTcpSock => bpfTcpSockCodec.decode(b);
