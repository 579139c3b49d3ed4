// cgroup/connect4 re-hosted (build/mocks/cgroup_sock_harness.o, entry xdp_connect4): the context
// is the global mock_sock_addr. These helpers dial a destination, read the context back, and turn
// the mocks' recordings into readable values. Expected values come from PROGRAMS.md, not a run.
import { expect } from 'chai';
import type { Harness } from '../../../src/mock/harness';
import { useHarness } from '../../../src/mock/harness';
import { LookupResult, mapId, StorageResult } from '../../../src/mock/mocks';
import type { LogLine } from '../../../src/kmesh/fixtures';
import { KmeshMaps } from '../../../src/kmesh/fixtures';
import {
  AF_INET, BackendValue, BpfSockAddr, decodeSockStorageData, encodeSockStorageData, Init, IPPROTO_TCP, ip4, port,
  ServiceValue, SOCK_DGRAM, SOCK_STORAGE_DATA_SIZE, SOCK_STREAM, SockStorageData,
} from '../../../src/structs';

export const OBJECT = 'build/mocks/cgroup_sock_harness.o';
export const ENTRY = 'xdp_connect4';
/** The harness's stand-in for the program in km_cgr_tailcall: sets the port to 15001, returns 0. */
export const TAIL_TARGET = 'xdp_waypoint_target';
const XDP_PASS = 2;
const BPF_SK_STORAGE_GET_F_CREATE = 1n;

/** The network namespace the tests run in, and the socket that connects (a plain number). */
export const COOKIE = 0x0123_4567_89ab_cdefn;
export const SK = 0xffff_8880_0abc_d000n;
/** What the mock clock reads at the pre-connect observation. */
export const NOW = 1_700_000_000_123n;

/** Load the harness once for the describe(), reset before each test; a fresh KmeshMaps per call. */
export function useConnect4(): { h: () => Harness; kmesh: () => KmeshMaps } {
  const h = useHarness(OBJECT, [ENTRY, TAIL_TARGET]);
  return { h, kmesh: () => new KmeshMaps(h()) };
}

/** Kmesh manages the test namespace (km_manage[COOKIE] = 0) and the clock reads NOW. */
export function managedNetns(h: Harness): void {
  h.mocks.setNetnsCookie(COOKIE);
  new KmeshMaps(h).manage(COOKIE);
  h.mocks.setClock(NOW);
}

export interface Dial {
  /** destination address and host port */
  to: string;
  port: number;
  protocol?: number;
  /** user_family (AF_INET unless given) */
  family?: number;
  sk?: bigint;
}

export interface Connected {
  /** cgroup_connect4_prog's return value */
  retval: number;
  /** the context as written before the run */
  sent: BpfSockAddr;
  /** the context after the run */
  ctx: BpfSockAddr;
}

/** Builds the connect's bpf_sock_addr, runs connect4 once and reads the context back. */
export function connect4(h: Harness, d: Dial): Connected {
  const protocol = d.protocol ?? IPPROTO_TCP;
  const sent: BpfSockAddr = {
    user_family: d.family ?? AF_INET,
    user_ip4: ip4(d.to),
    user_ip6: [0, 0, 0, 0],
    user_port: port(d.port),
    family: AF_INET,
    type: protocol === IPPROTO_TCP ? SOCK_STREAM : SOCK_DGRAM,
    protocol,
    msg_src_ip4: 0,
    msg_src_ip6: [0, 0, 0, 0],
    sk: d.sk ?? SK,
  };
  h.set('mock_sock_addr', sent as never);
  const run = h.run(ENTRY, { data: Buffer.alloc(14) });
  expect(run.retval, 'the XDP entry').to.equal(XDP_PASS);
  return { retval: h.mocks.retval(), sent, ctx: h.get('mock_sock_addr') as unknown as BpfSockAddr };
}

/** The context the app would see after connect4 sent it to address:port. */
export function redirected(c: Connected, address: string, hostPort: number): BpfSockAddr {
  return { ...c.sent, user_ip4: ip4(address), user_port: port(hostPort) };
}

// --- workload map values -----------------------------------------------------------------------

export interface ServiceSpec {
  policy?: number;
  /** prio_endpoint_count[0..] */
  counts?: number[];
  /** [service port, target port] pairs, host numbers, in slot order */
  ports?: Array<[number, number]>;
  /** service waypoint address and host port */
  waypoint?: [string, number];
}

export function service(s: ServiceSpec): Init<ServiceValue> {
  const ports = s.ports ?? [];
  const value: Init<ServiceValue> = {
    prio_endpoint_count: s.counts ?? [],
    lb_policy: s.policy ?? 0,
    service_port: ports.map(([p]) => port(p)),
    target_port: ports.map(([, t]) => port(t)),
  };
  if (s.waypoint) {
    value.wp_addr = { ip4: ip4(s.waypoint[0]) };
    value.waypoint_port = port(s.waypoint[1]);
  }
  return value;
}

/** A workload (pod) at `address`, behind a waypoint when one is given. */
export function pod(address: string, waypoint?: [string, number]): Init<BackendValue> {
  const value: Init<BackendValue> = { addr: { ip4: ip4(address) } };
  if (waypoint) {
    value.wp_addr = { ip4: ip4(waypoint[0]) };
    value.waypoint_port = port(waypoint[1]);
  }
  return value;
}

// --- what the run left behind ----------------------------------------------------------------

/** The socket's km_sockstorage value (64 bytes), or undefined when it has none. */
export function storageBytes(h: Harness, sk: bigint = SK): Buffer | undefined {
  return h.mocks.storage(sk, SOCK_STORAGE_DATA_SIZE, 'km_sockstorage');
}

export function storageOf(h: Harness, sk: bigint = SK): SockStorageData {
  const bytes = storageBytes(h, sk);
  expect(bytes, 'sk storage').to.not.equal(undefined);
  return decodeSockStorageData(bytes!);
}

/** The 64 bytes expected in the storage (every field not given is 0), as hex for readable diffs. */
export function storageHex(v: Init<SockStorageData>): string {
  return encodeSockStorageData(v).toString('hex');
}

/** Storage written by the pre-connect observation only. */
export const PRE_CONNECT_ONLY: Init<SockStorageData> = { connect_ns: NOW };

/** The original destination set_original_dst_info4 records: has_set_ip, ipv4.daddr, ipv4.dport. */
export function originalDst(address: string, hostPort: number, viaWaypoint: boolean, connectNs: bigint = NOW): Init<SockStorageData> {
  return {
    connect_ns: connectNs,
    via_waypoint: viaWaypoint,
    has_set_ip: true,
    sk_tuple: { ipv4: { daddr: ip4(address), dport: port(hostPort) } },
  };
}

/** bpf_sk_storage_get calls on km_sockstorage for the socket: one result name per call. */
export function storageGets(h: Harness, sk: bigint = SK): string[] {
  const names = Object.fromEntries(Object.entries(StorageResult).map(([k, v]) => [v, k]));
  return h.mocks.storageCalls().map((c) => {
    expect(c.map, 'storage map').to.equal(mapId('km_sockstorage'));
    expect(c.sk, 'storage socket').to.equal(sk);
    expect(c.flags, 'storage flags').to.equal(BPF_SK_STORAGE_GET_F_CREATE);
    return names[c.result];
  });
}

const LOOKUP_MAPS = ['km_manage', 'km_frontend', 'km_service', 'km_endpoint', 'km_backend'];

/** The map lookups of the run, in order, as "map:HIT" / "map:MISS" / "map:FORCED". */
export function lookups(h: Harness): string[] {
  const byId = new Map(LOOKUP_MAPS.map((n) => [mapId(n), n]));
  const results = Object.fromEntries(Object.entries(LookupResult).map(([k, v]) => [v, k]));
  return h.mocks.lookupCalls().map((c) => `${byId.get(c.map) ?? c.map}:${results[c.result]}`);
}

/** A log line as BPF_LOG writes it; ret is bpf_snprintf's length of "[TAG] LEVEL: text" plus the NUL. */
export function logLine(level: string, tag: string, text: string): LogLine {
  return { level, tag, text, ret: Buffer.byteLength(`[${tag}] ${level}: ${text}`) + 1 };
}

/** connect4's DEBUG line when traffic control left the destination alone. */
export function unchangedLine(err: number): LogLine {
  return logLine('DEBUG', 'KMESH', `connect4: destination unchanged (${err})\n`);
}

/** The ERR line of a tail call that found km_cgr_tailcall[0] empty. */
export const TAIL_CALL_FAILED = logLine('ERR', 'KMESH', 'tail call km_cgr_tailcall[0] failed\n');

export const ENOENT = -2;
export const EINVAL = -22;

/** Log every level (connect4's "unchanged" lines are DEBUG). */
export function logDebug(h: Harness): void {
  h.set('bpf_log_level', 3);
}
