// Kmesh workload-mode map keys/values, ring buffer records and constants, as laid out in
// /work/shared/design/PROGRAMS.md. Addresses and ports are the values as stored (network order
// in memory): build them with ip4() / ip6() / port() from layout.ts.

import {
  CStruct,
  CUnion,
  Codec,
  Init,
  LayoutError,
  U32x4,
  array,
  bool,
  chars,
  codec,
  cstruct,
  cunion,
  pad,
  u32,
  u64,
  u8,
} from './layout';
import { BpfSockTuple, bpfSockTuple } from './uapi';

// ---------------------------------------------------------------------------------------------
// Constants

export const AF_INET = 2;
export const AF_INET6 = 10;
export const SOCK_STREAM = 1;
export const SOCK_DGRAM = 2;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;
export const SK_DROP = 0;
export const SK_PASS = 1;
export const CGROUP_SOCK_OK = 1;

/** TLV record types of the metadata sendmsg prepends. */
export const TLV_ORG_DST_ADDR = 0x01;
export const TLV_PAYLOAD = 0xfe;
/** type (1 byte) + big-endian length (4 bytes) */
export const TLV_HEADER_SIZE = 5;
export const TLV_IP4_VALUE_LEN = 6;
export const TLV_IP6_VALUE_LEN = 18;
export const TLV_ORG_DST_ADDR4_SIZE = TLV_HEADER_SIZE + TLV_IP4_VALUE_LEN; // 11
export const TLV_ORG_DST_ADDR6_SIZE = TLV_HEADER_SIZE + TLV_IP6_VALUE_LEN; // 23
export const TLV_END_SIZE = TLV_HEADER_SIZE; // 5
/** whole prefix: address TLV + end block */
export const TLV_IP4_TOTAL = TLV_HEADER_SIZE + TLV_IP4_VALUE_LEN + TLV_HEADER_SIZE; // 16
export const TLV_IP6_TOTAL = TLV_HEADER_SIZE + TLV_IP6_VALUE_LEN + TLV_HEADER_SIZE; // 28

/** The control address as a host number (0.0.0.2 / ::2); CONTROL_CMD_IP4 / _IP6 are as stored. */
export const CONTROL_CMD_IP = 2;
export const CONTROL_CMD_IP4_TEXT = '0.0.0.2';
export const CONTROL_CMD_IP6_TEXT = '::2';
/** 0.0.0.2 as stored in a __u32 (= htonl(2)) */
export const CONTROL_CMD_IP4 = 0x0200_0000;
/** ::2 as stored in __u32[4] */
export const CONTROL_CMD_IP6: Readonly<U32x4> = [0, 0, 0, 0x0200_0000];
/** Host port numbers; the programs compare them in network order (use port()). */
export const ENABLE_KMESH_PORT = 929;
export const DISABLE_KMESH_PORT = 930;
export const DNS_PORT = 53;

export const MAX_PORT_COUNT = 10;
export const MAX_SERVICE_COUNT = 10;
export const PRIO_COUNT = 7;

export const LB_POLICY_RANDOM = 0;
export const LB_POLICY_STRICT = 1;
export const LB_POLICY_FAILOVER = 2;

export const INBOUND = 1;
export const OUTBOUND = 2;

/** Tail call slots (km_cgr_tailcall[0] for connect4, km_cgr_tail6[1] for connect6). */
export const TAIL_CALL_CONNECT4_INDEX = 0;
export const TAIL_CALL_CONNECT6_INDEX = 1;

export const LONG_CONN_THRESHOLD_TIME_NS = 5_000_000_000n;

export const BPF_LOG_ERR = 0;
export const BPF_LOG_WARN = 1;
export const BPF_LOG_INFO = 2;
export const BPF_LOG_DEBUG = 3;

export const MAX_MSG_LEN = 255;

/** tcp_probe_info.type of a periodic report */
export const TCP_PROBE_PERIODIC = 1;

// ---------------------------------------------------------------------------------------------
// struct ip_addr { union { __u32 ip4; __u32 ip6[4]; }; } (16 bytes)

/** Decoding yields both views (ip4 === ip6[0]); encode { ip4 } or { ip6 }. */
export interface IpAddr {
  ip4: number;
  ip6: U32x4;
}

export const IP_ADDR_SIZE = 16;
/** The layout of an ip_addr member called `property`. */
export function ipAddr(property?: string): CUnion<IpAddr> {
  return cunion<IpAddr>([u32('ip4'), array(u32(), 4, 'ip6')], IP_ADDR_SIZE, property);
}
export const ipAddrLayout = ipAddr();
export const ipAddrCodec: Codec<IpAddr> = codec(ipAddrLayout, IP_ADDR_SIZE, 'struct ip_addr');
export const encodeIpAddr = (v: Init<IpAddr>): Buffer => ipAddrCodec.encode(v);
export const decodeIpAddr = (b: Uint8Array): IpAddr => ipAddrCodec.decode(b);

// ---------------------------------------------------------------------------------------------
// struct manager_key { union { __u64 netns_cookie; struct ip_addr addr; }; } (16 bytes)

export interface ManagerKey {
  netns_cookie: bigint;
  addr: IpAddr;
}

export const MANAGER_KEY_SIZE = 16;
export const managerKeyLayout = cunion<ManagerKey>([u64('netns_cookie'), ipAddr('addr')], MANAGER_KEY_SIZE);
export const managerKeyCodec: Codec<ManagerKey> = codec(managerKeyLayout, MANAGER_KEY_SIZE, 'struct manager_key');
export const encodeManagerKey = (v: Init<ManagerKey>): Buffer => managerKeyCodec.encode(v);
export const decodeManagerKey = (b: Uint8Array): ManagerKey => managerKeyCodec.decode(b);

// ---------------------------------------------------------------------------------------------
// struct sock_storage_data (64 bytes, natural alignment)

export interface SockStorageData {
  connect_ns: bigint;
  last_report_ns: bigint;
  direction: number;
  connect_success: number;
  via_waypoint: boolean;
  has_encoded: boolean;
  has_set_ip: boolean;
  sk_tuple: BpfSockTuple;
}

export const SOCK_STORAGE_DATA_SIZE = 64;
export const sockStorageDataLayout: CStruct<SockStorageData> = cstruct<SockStorageData>([
  u64('connect_ns'), // 0
  u64('last_report_ns'), // 8
  u8('direction'), // 16
  u8('connect_success'), // 17
  bool('via_waypoint'), // 18
  bool('has_encoded'), // 19
  bool('has_set_ip'), // 20
  pad(3), // 21
  bpfSockTuple('sk_tuple'), // 24 (ipv4.daddr @28, ipv4.dport @34, ipv6.daddr @40, ipv6.dport @58)
  pad(4), // 60: struct size rounded to the u64 alignment
]);
export const sockStorageDataCodec: Codec<SockStorageData> = codec(
  sockStorageDataLayout,
  SOCK_STORAGE_DATA_SIZE,
  'struct sock_storage_data',
);
export const encodeSockStorageData = (v: Init<SockStorageData>): Buffer => sockStorageDataCodec.encode(v);
export const decodeSockStorageData = (b: Uint8Array): SockStorageData => sockStorageDataCodec.decode(b);

// ---------------------------------------------------------------------------------------------
// Workload maps (#pragma pack(1))

/** km_frontend key: `struct frontend_key { struct ip_addr addr; }` (16 bytes). */
export interface FrontendKey {
  addr: IpAddr;
}
export const FRONTEND_KEY_SIZE = 16;
export const frontendKeyLayout = cstruct<FrontendKey>([ipAddr('addr')]);
export const frontendKeyCodec: Codec<FrontendKey> = codec(frontendKeyLayout, FRONTEND_KEY_SIZE, 'struct frontend_key');
export const encodeFrontendKey = (v: Init<FrontendKey>): Buffer => frontendKeyCodec.encode(v);
export const decodeFrontendKey = (b: Uint8Array): FrontendKey => frontendKeyCodec.decode(b);

export interface FrontendValue {
  upstream_id: number;
}
export const FRONTEND_VALUE_SIZE = 4;
export const frontendValueLayout = cstruct<FrontendValue>([u32('upstream_id')]);
export const frontendValueCodec: Codec<FrontendValue> = codec(frontendValueLayout, FRONTEND_VALUE_SIZE, 'struct frontend_value');
export const encodeFrontendValue = (v: Init<FrontendValue>): Buffer => frontendValueCodec.encode(v);
export const decodeFrontendValue = (b: Uint8Array): FrontendValue => frontendValueCodec.decode(b);

export interface ServiceKey {
  service_id: number;
}
export const SERVICE_KEY_SIZE = 4;
export const serviceKeyLayout = cstruct<ServiceKey>([u32('service_id')]);
export const serviceKeyCodec: Codec<ServiceKey> = codec(serviceKeyLayout, SERVICE_KEY_SIZE, 'struct service_key');
export const encodeServiceKey = (v: Init<ServiceKey>): Buffer => serviceKeyCodec.encode(v);
export const decodeServiceKey = (b: Uint8Array): ServiceKey => serviceKeyCodec.decode(b);

export interface ServiceValue {
  /** endpoints per priority, [PRIO_COUNT] */
  prio_endpoint_count: number[];
  lb_policy: number;
  /** stored ports ([MAX_PORT_COUNT], port()) */
  service_port: number[];
  target_port: number[];
  wp_addr: IpAddr;
  waypoint_port: number;
}
export const SERVICE_VALUE_SIZE = 132;
export const serviceValueLayout = cstruct<ServiceValue>([
  array(u32(), PRIO_COUNT, 'prio_endpoint_count'), // 0
  u32('lb_policy'), // 28
  array(u32(), MAX_PORT_COUNT, 'service_port'), // 32
  array(u32(), MAX_PORT_COUNT, 'target_port'), // 72
  ipAddr('wp_addr'), // 112
  u32('waypoint_port'), // 128
]);
export const serviceValueCodec: Codec<ServiceValue> = codec(serviceValueLayout, SERVICE_VALUE_SIZE, 'struct service_value');
export const encodeServiceValue = (v: Init<ServiceValue>): Buffer => serviceValueCodec.encode(v);
export const decodeServiceValue = (b: Uint8Array): ServiceValue => serviceValueCodec.decode(b);

export interface EndpointKey {
  service_id: number;
  prio: number;
  /** 1-based */
  backend_index: number;
}
export const ENDPOINT_KEY_SIZE = 12;
export const endpointKeyLayout = cstruct<EndpointKey>([u32('service_id'), u32('prio'), u32('backend_index')]);
export const endpointKeyCodec: Codec<EndpointKey> = codec(endpointKeyLayout, ENDPOINT_KEY_SIZE, 'struct endpoint_key');
export const encodeEndpointKey = (v: Init<EndpointKey>): Buffer => endpointKeyCodec.encode(v);
export const decodeEndpointKey = (b: Uint8Array): EndpointKey => endpointKeyCodec.decode(b);

export interface EndpointValue {
  backend_uid: number;
}
export const ENDPOINT_VALUE_SIZE = 4;
export const endpointValueLayout = cstruct<EndpointValue>([u32('backend_uid')]);
export const endpointValueCodec: Codec<EndpointValue> = codec(endpointValueLayout, ENDPOINT_VALUE_SIZE, 'struct endpoint_value');
export const encodeEndpointValue = (v: Init<EndpointValue>): Buffer => endpointValueCodec.encode(v);
export const decodeEndpointValue = (b: Uint8Array): EndpointValue => endpointValueCodec.decode(b);

export interface BackendKey {
  backend_uid: number;
}
export const BACKEND_KEY_SIZE = 4;
export const backendKeyLayout = cstruct<BackendKey>([u32('backend_uid')]);
export const backendKeyCodec: Codec<BackendKey> = codec(backendKeyLayout, BACKEND_KEY_SIZE, 'struct backend_key');
export const encodeBackendKey = (v: Init<BackendKey>): Buffer => backendKeyCodec.encode(v);
export const decodeBackendKey = (b: Uint8Array): BackendKey => backendKeyCodec.decode(b);

export interface BackendValue {
  addr: IpAddr;
  service_count: number;
  /** service ids, [MAX_SERVICE_COUNT] */
  service: number[];
  wp_addr: IpAddr;
  waypoint_port: number;
}
export const BACKEND_VALUE_SIZE = 80;
export const backendValueLayout = cstruct<BackendValue>([
  ipAddr('addr'), // 0
  u32('service_count'), // 16
  array(u32(), MAX_SERVICE_COUNT, 'service'), // 20
  ipAddr('wp_addr'), // 60
  u32('waypoint_port'), // 76
]);
export const backendValueCodec: Codec<BackendValue> = codec(backendValueLayout, BACKEND_VALUE_SIZE, 'struct backend_value');
export const encodeBackendValue = (v: Init<BackendValue>): Buffer => backendValueCodec.encode(v);
export const decodeBackendValue = (b: Uint8Array): BackendValue => backendValueCodec.decode(b);

// ---------------------------------------------------------------------------------------------
// km_log_event record: struct { __u32 ret; char msg[255]; } — sizeof is 260 (one byte of tail
// padding from the u32 alignment); a 259-byte record (packed) is accepted too.

export interface LogEvent {
  ret: number;
  /** up to the first NUL */
  msg: string;
}
export const LOG_EVENT_SIZE = 260;
export const logEventLayout = cstruct<LogEvent>([u32('ret'), chars(MAX_MSG_LEN, 'msg'), pad(1)]);
export const logEventCodec: Codec<LogEvent> = codec(logEventLayout, LOG_EVENT_SIZE, 'struct log_event');
export const encodeLogEvent = (v: Init<LogEvent>): Buffer => logEventCodec.encode(v);
export function decodeLogEvent(b: Uint8Array): LogEvent {
  if (b instanceof Uint8Array && b.length === LOG_EVENT_SIZE - 1) {
    const full = Buffer.alloc(LOG_EVENT_SIZE);
    full.set(b);
    return logEventCodec.decode(full);
  }
  if (b instanceof Uint8Array && b.length !== LOG_EVENT_SIZE) {
    throw new LayoutError(`struct log_event: expected ${LOG_EVENT_SIZE} (or ${LOG_EVENT_SIZE - 1}) bytes, got ${b.length}`);
  }
  return logEventCodec.decode(b);
}

// ---------------------------------------------------------------------------------------------
// km_tcp_probe record: struct tcp_probe_info (120 bytes), as bpf/include/probe.h declares it
// (not in PROGRAMS.md; checked against that header by gcc in spec/structs/kmesh.spec.ts).

export interface TcpProbeInfo {
  /** TCP_PROBE_PERIODIC */
  type: number;
  family: number;
  /** saddr/sport local, daddr/dport remote, as stored */
  tuple: BpfSockTuple;
  direction: number;
  start_ns: bigint;
  report_ns: bigint;
  duration_ns: bigint;
  sent_bytes: bigint;
  received_bytes: bigint;
  srtt_us: number;
  rtt_min: number;
  total_retrans: number;
  lost_out: number;
  segs_in: number;
  segs_out: number;
  snd_cwnd: number;
  conn_success: number;
}
export const TCP_PROBE_INFO_SIZE = 120;
export const tcpProbeInfoLayout = cstruct<TcpProbeInfo>([
  u32('type'), // 0
  u32('family'), // 4
  bpfSockTuple('tuple'), // 8
  u32('direction'), // 44
  u64('start_ns'), // 48
  u64('report_ns'), // 56
  u64('duration_ns'), // 64
  u64('sent_bytes'), // 72
  u64('received_bytes'), // 80
  u32('srtt_us'), // 88
  u32('rtt_min'), // 92
  u32('total_retrans'), // 96
  u32('lost_out'), // 100
  u32('segs_in'), // 104
  u32('segs_out'), // 108
  u32('snd_cwnd'), // 112
  u32('conn_success'), // 116
]);
export const tcpProbeInfoCodec: Codec<TcpProbeInfo> = codec(tcpProbeInfoLayout, TCP_PROBE_INFO_SIZE, 'struct tcp_probe_info');
export const encodeTcpProbeInfo = (v: Init<TcpProbeInfo>): Buffer => tcpProbeInfoCodec.encode(v);
export const decodeTcpProbeInfo = (b: Uint8Array): TcpProbeInfo => tcpProbeInfoCodec.decode(b);

// ---------------------------------------------------------------------------------------------
// Maps

export interface KmeshMapInfo {
  type: 'HASH' | 'SK_STORAGE' | 'PROG_ARRAY' | 'RINGBUF';
  keySize: number;
  valueSize: number;
  maxEntries: number;
}

/** The maps of PROGRAMS.md, by name (sizes in bytes; ring buffers have no key/value). */
export const KMESH_MAPS: Readonly<Record<string, KmeshMapInfo>> = {
  km_manage: { type: 'HASH', keySize: MANAGER_KEY_SIZE, valueSize: 4, maxEntries: 8192 },
  km_sockstorage: { type: 'SK_STORAGE', keySize: 4, valueSize: SOCK_STORAGE_DATA_SIZE, maxEntries: 0 },
  km_frontend: { type: 'HASH', keySize: FRONTEND_KEY_SIZE, valueSize: FRONTEND_VALUE_SIZE, maxEntries: 105000 },
  km_service: { type: 'HASH', keySize: SERVICE_KEY_SIZE, valueSize: SERVICE_VALUE_SIZE, maxEntries: 5000 },
  km_endpoint: { type: 'HASH', keySize: ENDPOINT_KEY_SIZE, valueSize: ENDPOINT_VALUE_SIZE, maxEntries: 105000 },
  km_backend: { type: 'HASH', keySize: BACKEND_KEY_SIZE, valueSize: BACKEND_VALUE_SIZE, maxEntries: 100000 },
  km_cgr_tailcall: { type: 'PROG_ARRAY', keySize: 4, valueSize: 4, maxEntries: 8 },
  km_cgr_tail6: { type: 'PROG_ARRAY', keySize: 4, valueSize: 4, maxEntries: 8 },
  km_log_event: { type: 'RINGBUF', keySize: 0, valueSize: 0, maxEntries: 256 * 1024 },
  km_tcp_probe: { type: 'RINGBUF', keySize: 0, valueSize: 0, maxEntries: 256 * 1024 },
};
