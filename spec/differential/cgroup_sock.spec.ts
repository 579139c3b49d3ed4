// Differential: bpf/cgroup_sock.c's cgroup_sock_addr programs attached for real to a cgroup of the
// guest (spec/differential/attach.c moves itself into it and dials through real sockets on
// loopback), against the same programs re-hosted (build/mocks/cgroup_sock_harness.o) on the same
// destination, maps and socket storage. Compared: whether the call was let through (a program
// returning 0 makes it fail with EPERM), where it went (getpeername after connect, the datagram
// arriving at the rewritten address, the source recvfrom shows), the socket's storage afterwards,
// km_manage, and the lines BPF_LOG put in the km_log_event ring buffer.
// Mocks exercised: the sock_addr context (ctx.h), bpf_map_lookup/update_elem (map_lookup.h),
// bpf_sk_storage_get (sk_storage.h), bpf_get_netns_cookie (netns.h: the mock is given the guest's
// real cookie), bpf_ringbuf_reserve/submit (ringbuf.h), bpf_tail_call (tail_call.h: a real
// cgroup/connect4 program in km_cgr_tailcall, spec/fixtures/diff_waypoint_target.c),
// bpf_get_prandom_u32 and bpf_ktime_get_ns (prandom.h, ktime.h: see mocks.spec.ts for what is
// compared of them).
import { expect } from 'chai';
import { KmeshMaps } from '../../src/kmesh/fixtures';
import { Harness, useHarness } from '../../src/mock/harness';
import {
  AF_INET, AF_INET6, BpfSockAddr, decodeLogEvent, DNS_PORT, ENABLE_KMESH_PORT, encodeSockStorageData, Init, IPPROTO_TCP,
  IPPROTO_UDP, ip4, ip6, port, SOCK_DGRAM, SOCK_STORAGE_DATA_SIZE, SOCK_STREAM, SockStorageData,
} from '../../src/structs';
import { attachReal, hex, itDifferential, Real, realNetnsCookie } from './real';

const EPERM = 1;
const SK = 0x5eedn;
const LISTEN = 18080;
const SERVICE = 7;
const BACKEND = 70;
/** What the mock clock reads: the real one reads the time, so only "read or not" is compared. */
const NOW = 1_700_000_000_123n;
const RINGBUF_SUBMITTED = 2;

type Program = 'connect4' | 'connect6' | 'sendmsg4' | 'recvmsg4';

interface Scenario {
  program: Program;
  proto: 'tcp' | 'udp';
  to: string;
  port: number;
  /** a listener (TCP) or bound socket (UDP) at this address and port */
  listen?: [string, number];
  /** km_manage holds the guest's netns cookie before the call */
  managed: boolean;
  maps?: (k: KmeshMaps) => void;
  /** storage of the socket under test before the call */
  storage?: Init<SockStorageData>;
  /** km_cgr_tailcall[0] holds the waypoint stand-in (harness) / diff_waypoint_target (real) */
  tail?: boolean;
  /** the real connect cannot reach the destination (no route): only the program's verdict is compared */
  unroutable?: boolean;
}

interface Observed {
  /** the program returned 1 */
  allowed: boolean;
  /** where the call went: "address port" (recvmsg4: the source address the app is shown) */
  destination?: string;
  /** storage afterwards, connect_ns zeroed (see clockRead) */
  storage: string | null;
  /** connect_ns was written from the clock */
  clockRead: boolean;
  manage: Record<string, string>;
  /** submitted km_log_event records: bpf_snprintf's result and the line */
  logs: string[];
}

const endpoint = (address: string, p: number) => `${address} ${p}`;

/** Map entries as KmeshMaps encodes them, to write the same bytes on both sides. */
function entries(fill?: (k: KmeshMaps) => void): [string, Buffer, Buffer][] {
  const out: [string, Buffer, Buffer][] = [];
  const recorder = { map: (name: string) => ({ update: (k: Buffer, v: Buffer) => out.push([name, Buffer.from(k), Buffer.from(v)]) }) };
  fill?.(new KmeshMaps(recorder as unknown as Harness));
  return out;
}

function storageFields(bytes: Buffer | null): { storage: string | null; clockRead: boolean } {
  if (!bytes) return { storage: null, clockRead: false };
  const clockRead = bytes.readBigUInt64LE(0) !== 0n;
  const zeroed = Buffer.from(bytes);
  zeroed.fill(0, 0, 8);
  return { storage: hex(zeroed), clockRead };
}

function logLines(records: Buffer[]): string[] {
  return records.map((r) => {
    const e = decodeLogEvent(r);
    return `${e.ret} ${e.msg}`;
  });
}

function real(s: Scenario, cookie: bigint): Observed {
  const managed = s.managed ? entries((k) => k.manage(cookie)) : [];
  const args = ['sockaddr', 'build/bpf/cgroup_sock.o', `cgroup_${s.program}_prog`, s.program,
    '--op', s.program.slice(0, -1), '--proto', s.proto, '--to', s.to, '--port', String(s.port),
    '--storage', s.storage ? `km_sockstorage:${hex(encodeSockStorageData(s.storage))}` : 'km_sockstorage',
    '--dump', 'km_manage', '--ringbuf', 'km_log_event'];
  for (const [map, k, v] of [...managed, ...entries(s.maps)]) args.push('--set', `${map}:${hex(k)}=${hex(v)}`);
  if (s.listen) args.push('--listen', s.listen[0].includes(':') ? `[${s.listen[0]}]:${s.listen[1]}` : `${s.listen[0]}:${s.listen[1]}`);
  if (s.tail) args.push('--tail', 'km_cgr_tailcall:0=build/fixtures/diff_waypoint_target.o:waypoint_target');
  const r = attachReal(args) as Real & {
    connect?: number; sent?: number; received?: string | number;
    peer?: { address: string; port: number }; from?: { address: string; port: number };
  };
  let allowed: boolean;
  let destination: string | undefined;
  if (s.program === 'recvmsg4') {
    allowed = typeof r.received === 'string';
    destination = r.from?.address;
  } else if (s.program === 'sendmsg4') {
    allowed = r.sent !== -EPERM;
    destination = typeof r.received === 'string' && s.listen ? endpoint(...s.listen) : undefined;
    expect(r.received, 'the datagram arrived where the program sent it').to.equal(hex(Buffer.from('x')));
  } else {
    allowed = r.connect !== -EPERM;
    if (r.peer) destination = endpoint(r.peer.address, r.peer.port);
    if (s.proto === 'tcp' && r.connect === 0) expect(r.accepted, 'the listener accepted the connection').to.equal(true);
  }
  if (s.unroutable) {
    expect(r.connect, 'the destination is not routable').to.be.lessThan(0);
  } else if (allowed) {
    expect(destination, `the real ${s.program} went somewhere`).to.be.a('string');
  }
  return {
    allowed, destination,
    ...storageFields(r.storage ? Buffer.from(r.storage, 'hex') : null),
    manage: r.maps!.km_manage,
    logs: logLines((r.ringbufs!.km_log_event ?? []).map((x) => Buffer.from(x, 'hex'))),
  };
}

function rehosted(h: Harness, s: Scenario, cookie: bigint): Observed {
  h.reset();
  h.mocks.setNetnsCookie(cookie);
  h.mocks.setClock(NOW);
  for (const [map, k, v] of [...(s.managed ? entries((k) => k.manage(cookie)) : []), ...entries(s.maps)]) h.map(map).update(k, v);
  if (s.storage) h.mocks.setStorage(SK, encodeSockStorageData(s.storage), 'km_sockstorage');
  if (s.tail) h.mocks.tailCallTarget('km_cgr_tailcall', 0, 'xdp_waypoint_target');
  const v6 = s.to.includes(':');
  // recvmsg4: the context holds the sender's address (the other socket, on 127.0.0.1)
  const from = s.program === 'recvmsg4' ? '127.0.0.1' : s.to;
  const sent: BpfSockAddr = {
    user_family: v6 ? AF_INET6 : AF_INET,
    user_ip4: v6 ? 0 : ip4(from),
    user_ip6: v6 ? ip6(from) : [0, 0, 0, 0],
    user_port: port(s.port),
    family: v6 ? AF_INET6 : AF_INET,
    type: s.proto === 'tcp' ? SOCK_STREAM : SOCK_DGRAM,
    protocol: s.proto === 'tcp' ? IPPROTO_TCP : IPPROTO_UDP,
    msg_src_ip4: 0,
    msg_src_ip6: [0, 0, 0, 0],
    sk: SK,
  };
  h.set('mock_sock_addr', sent as never);
  h.run(`xdp_${s.program}`, { data: Buffer.alloc(14) });
  const ctx = h.get('mock_sock_addr') as unknown as BpfSockAddr;
  const address = v6 ? ip6Text(ctx.user_ip6) : ip4Text(ctx.user_ip4);
  const allowed = h.mocks.retval() === 1;
  const storage = h.mocks.storage(SK, SOCK_STORAGE_DATA_SIZE, 'km_sockstorage') ?? null;
  const manage = Object.fromEntries(h.map('km_manage').entries().map(([k, v]) => [hex(k), hex(v)]));
  const logs = logLines(h.mocks.ringbuf('km_log_event').filter((r) => r.state === RINGBUF_SUBMITTED).map((r) => r.data));
  let destination: string | undefined;
  if (s.program === 'recvmsg4') destination = address;
  else if (allowed && !s.unroutable) destination = endpoint(address, portOf(ctx.user_port));
  return { allowed, destination, ...storageFields(storage), manage, logs };
}

function ip4Text(stored: number): string {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(stored >>> 0);
  return [...b].join('.');
}

function ip6Text(stored: readonly number[]): string {
  const b = Buffer.alloc(16);
  stored.forEach((w, i) => b.writeUInt32LE(w >>> 0, 4 * i));
  const groups = [...Array(8).keys()].map((i) => b.readUInt16BE(2 * i).toString(16));
  // the same compressed form inet_ntop prints for the addresses used here (one run of zeros)
  return groups.join(':').replace(/(^|:)0(:0)+(:|$)/, '::');
}

function portOf(stored: number): number {
  return ((stored & 0xff) << 8) | ((stored >> 8) & 0xff);
}

const toLocalService = (k: KmeshMaps, address: string, backendAddress: string, waypoint?: [string, number]) => {
  k.frontend(address, SERVICE);
  k.service(SERVICE, {
    prio_endpoint_count: [1],
    lb_policy: 0,
    service_port: [port(80)],
    target_port: [port(LISTEN)],
    ...(waypoint ? { wp_addr: { ip4: ip4(waypoint[0]) }, waypoint_port: port(waypoint[1]) } : {}),
  });
  k.endpoint(SERVICE, 0, 1, BACKEND);
  k.backend(BACKEND, { addr: backendAddress.includes(':') ? { ip6: ip6(backendAddress) } : { ip4: ip4(backendAddress) } });
};

const SCENARIOS: [string, Scenario][] = [
  ['connect4, TCP to a service: rewritten to its one endpoint, original destination stored',
    { program: 'connect4', proto: 'tcp', to: '10.96.0.10', port: 80, listen: ['127.0.0.1', LISTEN], managed: true, maps: (k) => toLocalService(k, '10.96.0.10', '127.0.0.1') }],
  ['connect4, TCP in a namespace Kmesh does not manage: unchanged, no storage',
    { program: 'connect4', proto: 'tcp', to: '127.0.0.1', port: LISTEN, listen: ['127.0.0.1', LISTEN], managed: false, maps: (k) => toLocalService(k, '127.0.0.1', '127.0.0.1') }],
  ['connect4, UDP control connect to 0.0.0.2:929: km_manage gets the namespace, an INFO line is logged',
    { program: 'connect4', proto: 'udp', to: '0.0.0.2', port: ENABLE_KMESH_PORT, managed: false, unroutable: true }],
  ['connect4, UDP to port 53: redirected to backend 0, port kept',
    { program: 'connect4', proto: 'udp', to: '10.0.0.53', port: DNS_PORT, managed: true, maps: (k) => k.backend(0, { addr: { ip4: ip4('127.0.0.1') } }) }],
  ['connect4, TCP to a service behind a waypoint: tail call into km_cgr_tailcall[0], which refuses the connect',
    { program: 'connect4', proto: 'tcp', to: '10.96.0.10', port: 80, listen: ['127.0.0.1', LISTEN], managed: true, tail: true, maps: (k) => toLocalService(k, '10.96.0.10', '127.0.0.1', ['127.0.0.1', LISTEN]) }],
  ['connect6, TCP to an IPv6 service: rewritten to its IPv6 endpoint',
    { program: 'connect6', proto: 'tcp', to: 'fd00::10', port: 80, listen: ['::1', LISTEN], managed: true, maps: (k) => toLocalService(k, 'fd00::10', '::1') }],
  ['sendmsg4, UDP datagram to port 53: sent to backend 0 instead',
    { program: 'sendmsg4', proto: 'udp', to: '10.0.0.53', port: DNS_PORT, listen: ['127.0.0.1', DNS_PORT], managed: true, maps: (k) => k.backend(0, { addr: { ip4: ip4('127.0.0.1') } }) }],
  ['recvmsg4: the source the app is shown is the original destination kept in storage',
    { program: 'recvmsg4', proto: 'udp', to: '127.0.0.1', port: 18053, listen: ['127.0.0.1', 18053], managed: true, storage: { has_set_ip: true, sk_tuple: { ipv4: { daddr: ip4('10.0.0.53'), dport: port(DNS_PORT) } } } }],
];

describe('differential: cgroup_sock_addr programs attached to a cgroup vs re-hosted', () => {
  const h = useHarness('build/mocks/cgroup_sock_harness.o', ['xdp_connect4', 'xdp_connect6', 'xdp_sendmsg4', 'xdp_recvmsg4', 'xdp_waypoint_target']);
  let cookie: bigint | undefined;

  for (const [title, s] of SCENARIOS) {
    itDifferential(`${title}: the same verdict, destination, storage, km_manage and log lines`, () => {
      cookie ??= realNetnsCookie();
      const kernel = real(s, cookie);
      expect(rehosted(h(), s, cookie)).to.deep.equal(kernel);
    });
  }
});
