// cgroup/connect6 (bpf/cgroup_sock.c cgroup_connect6_prog), re-hosted as xdp_connect6: every
// C6.* row of spec/branches/cgroup_sock.json. The context is the mock_sock_addr global; each test
// dials one destination and checks the context after the run, the socket storage, the map
// lookups made, the random numbers drawn, the tail calls and the log lines.
import { expect } from 'chai';
import type { CValue } from '../../src/btf/value';
import { ipAddr, KmeshMaps, LogLine } from '../../src/kmesh/fixtures';
import { useHarness } from '../../src/mock/harness';
import { LookupResult, mapId, StorageResult } from '../../src/mock/mocks';
import {
  AF_INET, AF_INET6, BPF_LOG_DEBUG, BpfSockAddr, CGROUP_SOCK_OK, decodeSockStorageData, DISABLE_KMESH_PORT,
  ENABLE_KMESH_PORT, encodeManagerKey, encodeSockStorageData, Init, IPPROTO_TCP, IPPROTO_UDP, ip4, ip6,
  LB_POLICY_FAILOVER, LB_POLICY_RANDOM, LB_POLICY_STRICT, port, SOCK_STREAM, SockStorageData, U32x4,
} from '../../src/structs';

const SK = 0x5eed_0001n;
const COOKIE = 0x1_c0ff_ee42n;
const T0 = 1_000_000_007n; // the mock clock: what connect_ns must become
const F_CREATE = 1n; // BPF_SK_STORAGE_GET_F_CREATE

const SID = 7; // service id of the frontends below
const VIP6 = 'fd00:10::1'; // a native IPv6 service address
const VIP4 = '10.96.0.1'; // an IPv4 service address, dialled as ::ffff:10.96.0.1

const MAP_NAMES = ['km_manage', 'km_frontend', 'km_service', 'km_endpoint', 'km_backend'];

describe('cgroup/connect6 (cgroup_connect6_prog via xdp_connect6)', () => {
  const h = useHarness('build/mocks/cgroup_sock_harness.o', ['xdp_connect6', 'xdp_waypoint_target']);
  const kmesh = (): KmeshMaps => new KmeshMaps(h());

  interface Dial {
    /** address text, or the four stored words */
    to: string | U32x4;
    port: number;
    family?: number;
    protocol?: number;
    sk?: bigint;
  }
  interface Connected {
    ret: number;
    before: BpfSockAddr;
    after: BpfSockAddr;
  }

  /** Runs connect6 for a socket dialling `to`:`port` (TCP, AF_INET6 unless told) and reads the context back. */
  function connect6(d: Dial): Connected {
    const before: BpfSockAddr = {
      user_family: d.family ?? AF_INET6,
      user_ip4: 0,
      user_ip6: ip6(d.to),
      user_port: port(d.port),
      family: AF_INET6,
      type: SOCK_STREAM,
      protocol: d.protocol ?? IPPROTO_TCP,
      msg_src_ip4: 0,
      msg_src_ip6: [0, 0, 0, 0],
      sk: d.sk ?? SK,
    };
    h().set('mock_sock_addr', before as unknown as CValue);
    h().run('xdp_connect6', { data: Buffer.alloc(14) });
    return { ret: h().mocks.retval(), before, after: h().get('mock_sock_addr') as unknown as BpfSockAddr };
  }

  function expectUnchanged(c: Connected): void {
    expect(c.ret).to.equal(CGROUP_SOCK_OK);
    expect(c.after).to.deep.equal(c.before);
  }

  /** Only user_ip6 / user_port may change, to `address`:`portNo`. */
  function expectRewritten(c: Connected, address: string, portNo: number): void {
    expect(c.ret).to.equal(CGROUP_SOCK_OK);
    expect(c.after).to.deep.equal({ ...c.before, user_ip6: ip6(address), user_port: port(portNo) });
  }

  /** The socket's km_sockstorage entry, compared field by field with the struct built from `expected`. */
  function expectStorage(expected: Init<SockStorageData>, sk = SK): void {
    const bytes = h().mocks.storage(sk, 64, 'km_sockstorage');
    expect(bytes, 'sk storage entry').to.not.equal(undefined);
    expect(decodeSockStorageData(bytes!)).to.deep.equal(decodeSockStorageData(encodeSockStorageData(expected)));
  }

  /** Storage after a connect that only ran observe_on_pre_connect. */
  const PRE_CONNECT_ONLY: Init<SockStorageData> = { connect_ns: T0 };

  function lookups(): string[] {
    const result = (r: number) => Object.entries(LookupResult).find(([, v]) => v === r)?.[0] ?? r;
    return h().mocks.lookupCalls().map((c) => `${MAP_NAMES.find((n) => mapId(n) === c.map) ?? c.map} ${result(c.result)}`);
  }

  function logLine(level: string, tag: string, text: string): LogLine {
    return { level, tag, text, ret: Buffer.byteLength(`[${tag}] ${level}: ${text}`) + 1 };
  }

  function storageCall(result: number, slot = 0) {
    return { sk: SK, flags: F_CREATE, map: mapId('km_sockstorage'), result, slot };
  }

  /** Endpoint (prio, 1-based index) of `sid` -> backend 1000 + 10 * prio + index at fd00:20::<prio>:<index>. */
  function endpoints(sid: number, prio: number, indices: number[], addr = (i: number) => `fd00:20::${prio}:${i}`): void {
    for (const i of indices) {
      const uid = 1000 + 10 * prio + i;
      kmesh().endpoint(sid, prio, i, uid);
      kmesh().backend(uid, { addr: ipAddr(addr(i)) });
    }
  }

  /** A service at `vip` whose own waypoint is `wp`:`wpPort` (it has one endpoint, which must not be used). */
  function waypointService(wp: string, wpPort: number, vip = VIP6): void {
    kmesh().frontend(vip, SID);
    kmesh().service(SID, {
      prio_endpoint_count: [1], service_port: [port(80)], target_port: [port(8080)], wp_addr: ipAddr(wp), waypoint_port: port(wpPort),
    });
    endpoints(SID, 0, [1]);
  }

  /** A service at VIP6 with service port 80 -> target port 8080, and the given policy / counts. */
  function service(lb_policy: number, prio_endpoint_count: number[], vip = VIP6): void {
    kmesh().frontend(vip, SID);
    kmesh().service(SID, { lb_policy, prio_endpoint_count, service_port: [port(80)], target_port: [port(8080)] });
  }

  it('C6.3: a namespace kmesh does not manage: nothing changes, only km_manage is asked', () => {
    h().mocks.setNetnsCookie(COOKIE);
    kmesh().manage(COOKIE + 1n); // another namespace is managed
    service(LB_POLICY_RANDOM, [1]);
    endpoints(SID, 0, [1]);
    const c = connect6({ to: VIP6, port: 80 });
    expectUnchanged(c);
    expect(lookups()).to.deep.equal(['km_manage MISS']);
    expect(h().mocks.netnsCookieCalls()).to.equal(1);
    expect(h().mocks.storageCalls()).to.deep.equal([]);
    expect(h().mocks.randomDrawn()).to.equal(0);
  });

  describe('control commands to ::2', () => {
    beforeEach(() => h().mocks.setNetnsCookie(COOKIE));

    it('C6.1: ::2 port 929 sets km_manage[netns cookie] = 0 (overwriting), logs INFO and does nothing else', () => {
      h().map('km_manage').update(encodeManagerKey({ netns_cookie: COOKIE }), Buffer.from([7, 0, 0, 0]));
      const c = connect6({ to: [0, 0, 0, 0x0200_0000 /* htonl(2) */], port: ENABLE_KMESH_PORT });
      expectUnchanged(c);
      expect(h().map('km_manage').entries()).to.deep.equal([[encodeManagerKey({ netns_cookie: COOKIE }), Buffer.alloc(4)]]);
      expect(kmesh().logs()).to.deep.equal([logLine('INFO', 'MANAGE', 'netns 1c0ffee42 managed\n')]);
      expect(lookups()).to.deep.equal([]);
      expect(h().mocks.storageCalls()).to.deep.equal([]);
    });

    it('C6.1: the cookie asked for is the key: an unmanaged namespace becomes managed', () => {
      const c = connect6({ to: '::2', port: 929 });
      expectUnchanged(c);
      expect(kmesh().managed(COOKIE)).to.equal(0);
      expect(h().mocks.netnsCookieCalls()).to.equal(1);
    });

    for (const near of ['1::2', '0:0:1::2', '::1:0:0:2', '::ffff:0.0.0.2', '::3']) {
      it(`C6.1: ${near} port 929 is no control command (every word of ::2 is compared)`, () => {
        const c = connect6({ to: near, port: 929 });
        expectUnchanged(c);
        expect(kmesh().managed(COOKIE)).to.equal(undefined);
        expect(lookups()).to.deep.equal(['km_manage MISS']); // went on to is_kmesh_enabled
        expect(kmesh().logs()).to.deep.equal([]);
      });
    }

    it('C6.1: ::2 port 929 from a socket whose user_family is not AF_INET6 is no control command', () => {
      const c = connect6({ to: '::2', port: 929, family: AF_INET });
      expectUnchanged(c);
      expect(kmesh().managed(COOKIE)).to.equal(undefined);
      expect(kmesh().logs()).to.deep.equal([]);
    });

    it('C6.2: ::2 port 930 deletes km_manage[netns cookie], logs INFO and does nothing else', () => {
      kmesh().manage(COOKIE);
      kmesh().manage(COOKIE + 1n);
      const c = connect6({ to: '::2', port: DISABLE_KMESH_PORT });
      expectUnchanged(c);
      expect(kmesh().managed(COOKIE)).to.equal(undefined);
      expect(kmesh().managed(COOKIE + 1n)).to.equal(0);
      expect(kmesh().logs()).to.deep.equal([logLine('INFO', 'MANAGE', 'netns 1c0ffee42 no longer managed\n')]);
      expect(lookups()).to.deep.equal([]);
      expect(h().mocks.storageCalls()).to.deep.equal([]);
    });

    it('C6.2: ::2 on another port (931) is no control command', () => {
      kmesh().manage(COOKIE);
      const c = connect6({ to: '::2', port: 931 });
      expectUnchanged(c);
      expect(kmesh().managed(COOKIE)).to.equal(0);
      expect(lookups()).to.deep.equal(['km_manage HIT', 'km_frontend MISS']);
    });
  });

  describe('in a managed namespace', () => {
    beforeEach(() => {
      h().mocks.setNetnsCookie(COOKIE);
      kmesh().manage(COOKIE);
      h().mocks.setClock(T0, 1000);
    });

    it('C6.5: a non-TCP socket is left alone: no storage, no frontend lookup', () => {
      service(LB_POLICY_RANDOM, [1]);
      endpoints(SID, 0, [1]);
      const c = connect6({ to: VIP6, port: 80, protocol: IPPROTO_UDP });
      expectUnchanged(c);
      expect(lookups()).to.deep.equal(['km_manage HIT']);
      expect(h().mocks.storageCalls()).to.deep.equal([]);
      expect(h().mocks.clockCalls()).to.equal(0);
    });

    it('C6.6: TCP: observe_on_pre_connect creates the storage (F_CREATE) with connect_ns = ktime', () => {
      const c = connect6({ to: 'fd00:99::1', port: 80 });
      expectUnchanged(c);
      expect(h().mocks.storageCalls()).to.deep.equal([storageCall(StorageResult.CREATED)]);
      expect(h().mocks.clockCalls()).to.equal(1);
      expectStorage(PRE_CONNECT_ONLY);
    });

    it('C6.6: an existing storage keeps its other fields; only connect_ns is rewritten', () => {
      const old: Init<SockStorageData> = { connect_ns: 5, last_report_ns: 6, direction: 2, has_encoded: true };
      h().mocks.setStorage(SK, encodeSockStorageData(old), 'km_sockstorage');
      connect6({ to: 'fd00:99::1', port: 80 });
      expect(h().mocks.storageCalls()).to.deep.equal([storageCall(StorageResult.FOUND)]);
      expectStorage({ ...old, connect_ns: T0 });
    });

    it('C6.6a: pre-connect storage NULL: ERR logged and traffic control carries on', () => {
      h().mocks.storageReturnsNull([0]);
      service(LB_POLICY_RANDOM, [1]);
      endpoints(SID, 0, [1]);
      const c = connect6({ to: VIP6, port: 80 });
      expectRewritten(c, 'fd00:20::0:1', 8080);
      expect(kmesh().logs()).to.deep.equal([logLine('ERR', 'PROBE', 'pre connect: no sk storage\n')]);
      expect(h().mocks.storageCalls()).to.deep.equal([storageCall(StorageResult.FORCED, 8), storageCall(StorageResult.CREATED)]);
      // the clock was never read: the entry set_original_dst_info6 created has connect_ns 0
      expect(h().mocks.clockCalls()).to.equal(0);
      expectStorage({ has_set_ip: true, sk_tuple: { ipv6: { daddr: ip6(VIP6), dport: port(80) } } });
    });

    describe('frontend', () => {
      it('C6.7: no km_frontend entry: no change, DEBUG "destination unchanged (-2)"', () => {
        h().set('bpf_log_level', BPF_LOG_DEBUG);
        kmesh().frontend('fd00:10::2', SID); // a neighbour address is no match
        const c = connect6({ to: VIP6, port: 80 });
        expectUnchanged(c);
        expect(lookups()).to.deep.equal(['km_manage HIT', 'km_frontend MISS']);
        expect(kmesh().logs()).to.deep.equal([logLine('DEBUG', 'KMESH', 'connect6: destination unchanged (-2)\n')]);
        expectStorage(PRE_CONNECT_ONLY);
      });

      it('C6.7: at the default log level (INFO) the DEBUG line is not logged', () => {
        const c = connect6({ to: VIP6, port: 80 });
        expectUnchanged(c);
        expect(kmesh().logs()).to.deep.equal([]);
      });

      it('C6.8: frontend hit, service miss: km_backend[upstream_id] is consulted', () => {
        kmesh().frontend(VIP6, 42);
        kmesh().service(43, { lb_policy: LB_POLICY_RANDOM, prio_endpoint_count: [1] });
        const c = connect6({ to: VIP6, port: 80 });
        expectUnchanged(c);
        expect(lookups()).to.deep.equal(['km_manage HIT', 'km_frontend HIT', 'km_service MISS', 'km_backend MISS']);
      });

      it('C6.8a: service miss and backend miss: no change', () => {
        h().set('bpf_log_level', BPF_LOG_DEBUG);
        kmesh().frontend(VIP6, 42);
        kmesh().backend(41, { addr: ipAddr('fd00:20::41'), wp_addr: ipAddr('fd00:30::1'), waypoint_port: port(15008) });
        const c = connect6({ to: VIP6, port: 80 });
        expectUnchanged(c);
        expect(kmesh().logs()).to.deep.equal([logLine('DEBUG', 'KMESH', 'connect6: destination unchanged (-2)\n')]);
        expectStorage(PRE_CONNECT_ONLY);
        expect(h().mocks.tailCalls()).to.deep.equal([]);
      });

      it('C6.8b: a workload address whose backend has a waypoint: DNAT to the waypoint, via_waypoint, tail call 1', () => {
        kmesh().frontend('fd00:20::41', 41);
        kmesh().backend(41, { addr: ipAddr('fd00:20::41'), wp_addr: ipAddr('fd00:30::1'), waypoint_port: port(15008) });
        const c = connect6({ to: 'fd00:20::41', port: 9000 });
        expectRewritten(c, 'fd00:30::1', 15008);
        expectStorage({
          connect_ns: T0, via_waypoint: true, has_set_ip: true,
          sk_tuple: { ipv6: { daddr: ip6('fd00:20::41'), dport: port(9000) } },
        });
        expect(h().mocks.tailCalls()).to.deep.equal([{ map: mapId('km_cgr_tail6'), index: 1, taken: false }]);
        expect(lookups()).to.deep.equal(['km_manage HIT', 'km_frontend HIT', 'km_service MISS', 'km_backend HIT']);
      });

      it('C6.8c: a workload address whose backend has no waypoint: no change', () => {
        h().set('bpf_log_level', BPF_LOG_DEBUG);
        kmesh().frontend('fd00:20::41', 41);
        kmesh().backend(41, { addr: ipAddr('fd00:20::41'), wp_addr: ipAddr('fd00:30::1') }); // waypoint_port 0
        const c = connect6({ to: 'fd00:20::41', port: 9000 });
        expectUnchanged(c);
        expect(kmesh().logs()).to.deep.equal([logLine('DEBUG', 'KMESH', 'connect6: destination unchanged (-2)\n')]);
        expectStorage(PRE_CONNECT_ONLY);
        expect(h().mocks.tailCalls()).to.deep.equal([]);
      });
    });

    describe('service waypoint', () => {
      it('C6.9: service with wp_addr and waypoint_port: DNAT to the waypoint, no endpoint picked', () => {
        waypointService('fd00:30::7', 15008);
        const c = connect6({ to: VIP6, port: 80 });
        expectRewritten(c, 'fd00:30::7', 15008);
        expect(h().mocks.randomDrawn()).to.equal(0);
        expect(lookups()).to.deep.equal(['km_manage HIT', 'km_frontend HIT', 'km_service HIT']);
        expectStorage({
          connect_ns: T0, via_waypoint: true, has_set_ip: true,
          sk_tuple: { ipv6: { daddr: ip6(VIP6), dport: port(80) } },
        });
        expect(h().mocks.tailCalls()).to.deep.equal([{ map: mapId('km_cgr_tail6'), index: 1, taken: false }]);
      });

      for (const [what, wp] of [
        ['waypoint_port 0', { wp_addr: ipAddr('fd00:30::7') }],
        ['wp_addr.ip4 (first word) 0', { wp_addr: ipAddr('::30:7'), waypoint_port: port(15008) }],
      ] as const) {
        it(`C6.9: ${what}: no waypoint, the endpoint is load-balanced`, () => {
          kmesh().frontend(VIP6, SID);
          kmesh().service(SID, { prio_endpoint_count: [1], service_port: [port(80)], target_port: [port(8080)], ...wp });
          endpoints(SID, 0, [1]);
          const c = connect6({ to: VIP6, port: 80 });
          expectRewritten(c, 'fd00:20::0:1', 8080);
          expect(h().mocks.randomDrawn()).to.equal(1);
          expect(h().mocks.tailCalls()).to.deep.equal([]);
        });
      }
    });

    describe('load balancing', () => {
      /** Dials VIP6:80 from a fresh socket per random value; each run's destination and the draws so far. */
      function dialEach(randoms: number[]): { to: U32x4; drawn: number }[] {
        h().mocks.setRandom(randoms);
        return randoms.map((_, i) => {
          const c = connect6({ to: VIP6, port: 80, sk: SK + BigInt(i) });
          expect(c.ret).to.equal(CGROUP_SOCK_OK);
          expect(c.after.user_port).to.equal(port(8080));
          return { to: c.after.user_ip6, drawn: h().mocks.randomDrawn() };
        });
      }

      it('C6.10: RANDOM picks endpoint {sid, 0, r % count + 1}, one draw per connect, endpoint by endpoint', () => {
        service(LB_POLICY_RANDOM, [3]);
        endpoints(SID, 0, [1, 2, 3]);
        // 0 % 3 = 0 -> index 1; 4 % 3 = 1 -> 2; 0xfffffffe % 3 = 2 -> 3; 0xffffffff % 3 = 0 -> 1
        expect(dialEach([0, 4, 0xffff_fffe, 0xffff_ffff])).to.deep.equal([
          { to: ip6('fd00:20::0:1'), drawn: 1 },
          { to: ip6('fd00:20::0:2'), drawn: 2 },
          { to: ip6('fd00:20::0:3'), drawn: 3 },
          { to: ip6('fd00:20::0:1'), drawn: 4 },
        ]);
      });

      it('C6.10: RANDOM: the chosen backend\'s address and target port, storage and lookups of one connect', () => {
        service(LB_POLICY_RANDOM, [2]);
        endpoints(SID, 0, [1, 2]);
        h().mocks.setRandom([5]); // 5 % 2 + 1 = 2
        const c = connect6({ to: VIP6, port: 80 });
        expectRewritten(c, 'fd00:20::0:2', 8080);
        expect(h().mocks.randomDrawn()).to.equal(1);
        expect(lookups()).to.deep.equal(['km_manage HIT', 'km_frontend HIT', 'km_service HIT', 'km_endpoint HIT', 'km_backend HIT']);
        expectStorage({ connect_ns: T0, has_set_ip: true, sk_tuple: { ipv6: { daddr: ip6(VIP6), dport: port(80) } } });
        expect(h().mocks.storageCalls()).to.deep.equal([storageCall(StorageResult.CREATED), storageCall(StorageResult.FOUND)]);
        expect(h().mocks.tailCalls()).to.deep.equal([]);
        expect(kmesh().logs()).to.deep.equal([]);
      });

      it('C6.10: RANDOM only looks at priority 0 (other priorities are ignored)', () => {
        service(LB_POLICY_RANDOM, [1, 4]);
        endpoints(SID, 0, [1]);
        endpoints(SID, 1, [1, 2, 3, 4]);
        h().mocks.setRandom([3]);
        expectRewritten(connect6({ to: VIP6, port: 80 }), 'fd00:20::0:1', 8080);
      });

      for (const [name, policy] of [['RANDOM', LB_POLICY_RANDOM], ['STRICT', LB_POLICY_STRICT]] as const) {
        it(`C6.10a: ${name} with prio_endpoint_count[0] == 0: no change, no random number drawn`, () => {
          service(policy, [0, 2]);
          endpoints(SID, 0, [1]);
          endpoints(SID, 1, [1, 2]);
          const c = connect6({ to: VIP6, port: 80 });
          expectUnchanged(c);
          expect(h().mocks.randomDrawn()).to.equal(0);
          expect(lookups()).to.deep.equal(['km_manage HIT', 'km_frontend HIT', 'km_service HIT']);
          expectStorage(PRE_CONNECT_ONLY);
        });

        it(`C6.10b: ${name} with endpoint {sid, 0, idx} missing: no change`, () => {
          h().set('bpf_log_level', BPF_LOG_DEBUG);
          service(policy, [3]);
          endpoints(SID, 0, [1, 3]); // no index 2
          h().mocks.setRandom([7]); // 7 % 3 + 1 = 2
          const c = connect6({ to: VIP6, port: 80 });
          expectUnchanged(c);
          expect(h().mocks.randomDrawn()).to.equal(1);
          expect(lookups()).to.deep.equal(['km_manage HIT', 'km_frontend HIT', 'km_service HIT', 'km_endpoint MISS']);
          expect(kmesh().logs()).to.deep.equal([logLine('DEBUG', 'KMESH', 'connect6: destination unchanged (-2)\n')]);
          expectStorage(PRE_CONNECT_ONLY);
        });
      }

      it('C6.11: STRICT picks {sid, 0, r % count + 1} like RANDOM, endpoint by endpoint', () => {
        service(LB_POLICY_STRICT, [2, 3]);
        endpoints(SID, 0, [1, 2]);
        endpoints(SID, 1, [1, 2, 3]);
        // 1 % 2 = 1 -> index 2; 2 % 2 = 0 -> 1; 0x80000001 % 2 = 1 -> 2
        expect(dialEach([1, 2, 0x8000_0001])).to.deep.equal([
          { to: ip6('fd00:20::0:2'), drawn: 1 },
          { to: ip6('fd00:20::0:1'), drawn: 2 },
          { to: ip6('fd00:20::0:2'), drawn: 3 },
        ]);
      });

      const strictFailures: [string, () => void, number][] = [
        ['count[0] == 0', () => { service(LB_POLICY_STRICT, [0, 1]); endpoints(SID, 1, [1]); }, 0],
        ['endpoint missing', () => { service(LB_POLICY_STRICT, [2]); endpoints(SID, 0, [2]); }, 1],
        ['backend missing', () => { service(LB_POLICY_STRICT, [1]); kmesh().endpoint(SID, 0, 1, 999); }, 1],
        ['no service port matches', () => {
          kmesh().frontend(VIP6, SID);
          kmesh().service(SID, { lb_policy: LB_POLICY_STRICT, prio_endpoint_count: [1], service_port: [port(443)], target_port: [port(8443)] });
          endpoints(SID, 0, [1]);
        }, 1],
      ];
      for (const [what, setup, drawn] of strictFailures) {
        it(`C6.11a: STRICT fails (${what}): no change, nothing stored, no tail call`, () => {
          setup();
          h().mocks.setRandom([0]);
          const c = connect6({ to: VIP6, port: 80 });
          expectUnchanged(c);
          expect(h().mocks.randomDrawn()).to.equal(drawn);
          expectStorage(PRE_CONNECT_ONLY);
          expect(h().mocks.storageCalls()).to.have.length(1);
          expect(h().mocks.tailCalls()).to.deep.equal([]);
        });
      }

      it('C6.12: FAILOVER uses the first priority with endpoints: {sid, 2, r % 2 + 1}, endpoint by endpoint', () => {
        service(LB_POLICY_FAILOVER, [0, 0, 2, 5]);
        endpoints(SID, 2, [1, 2]);
        endpoints(SID, 3, [1, 2, 3, 4, 5]);
        // 1 % 2 = 1 -> index 2; 2 % 2 = 0 -> 1; 0xffffffff % 2 = 1 -> 2
        expect(dialEach([1, 2, 0xffff_ffff])).to.deep.equal([
          { to: ip6('fd00:20::2:2'), drawn: 1 },
          { to: ip6('fd00:20::2:1'), drawn: 2 },
          { to: ip6('fd00:20::2:2'), drawn: 3 },
        ]);
      });

      const firstPrio: [number[], number, string][] = [
        [[1, 3], 5, 'fd00:20::0:1'], // prio 0 has endpoints: it wins
        [[0, 1, 5], 3, 'fd00:20::1:1'], // 3 % 1 + 1 = 1 at prio 1, although prio 2 has more
        [[0, 0, 0, 0, 0, 0, 4], 7, 'fd00:20::6:4'], // only the last priority: 7 % 4 + 1 = 4
      ];
      for (const [counts, r, expected] of firstPrio) {
        it(`C6.12a: FAILOVER with counts [${counts.join(',')}] and r = ${r} goes to ${expected}`, () => {
          service(LB_POLICY_FAILOVER, counts);
          counts.forEach((n, prio) => endpoints(SID, prio, Array.from({ length: n }, (_, i) => i + 1)));
          h().mocks.setRandom([r]);
          const c = connect6({ to: VIP6, port: 80 });
          expectRewritten(c, expected, 8080);
          expect(h().mocks.randomDrawn()).to.equal(1);
          expectStorage({ connect_ns: T0, has_set_ip: true, sk_tuple: { ipv6: { daddr: ip6(VIP6), dport: port(80) } } });
        });
      }

      it('C6.12b: FAILOVER with every prio_endpoint_count 0: no change, no random number drawn', () => {
        service(LB_POLICY_FAILOVER, [0, 0, 0, 0, 0, 0, 0]);
        endpoints(SID, 0, [1]);
        const c = connect6({ to: VIP6, port: 80 });
        expectUnchanged(c);
        expect(h().mocks.randomDrawn()).to.equal(0);
        expect(lookups()).to.deep.equal(['km_manage HIT', 'km_frontend HIT', 'km_service HIT']);
        expectStorage(PRE_CONNECT_ONLY);
      });

      it('C6.12c: FAILOVER with endpoint {sid, i, idx} missing: no change', () => {
        service(LB_POLICY_FAILOVER, [0, 2]);
        endpoints(SID, 1, [2]);
        endpoints(SID, 0, [1]); // not consulted: count[0] is 0
        h().mocks.setRandom([4]); // 4 % 2 + 1 = 1 at prio 1: missing
        const c = connect6({ to: VIP6, port: 80 });
        expectUnchanged(c);
        expect(h().mocks.randomDrawn()).to.equal(1);
        expect(lookups()).to.deep.equal(['km_manage HIT', 'km_frontend HIT', 'km_service HIT', 'km_endpoint MISS']);
        expectStorage(PRE_CONNECT_ONLY);
      });

      it('C6.13: an unknown lb_policy: no change, ERR "unsupported lb policy" with -EINVAL', () => {
        h().set('bpf_log_level', BPF_LOG_DEBUG);
        service(3, [1]);
        endpoints(SID, 0, [1]);
        const c = connect6({ to: VIP6, port: 80 });
        expectUnchanged(c);
        expect(h().mocks.randomDrawn()).to.equal(0);
        expect(kmesh().logs()).to.deep.equal([
          logLine('ERR', 'SERVICE', 'service 7: unsupported lb policy 3: -22\n'),
          logLine('DEBUG', 'KMESH', 'connect6: destination unchanged (-22)\n'),
        ]);
        expectStorage(PRE_CONNECT_ONLY);
      });
    });

    describe('backend', () => {
      it('C6.14: endpoint hit and backend found: backend_manager rewrites to the backend', () => {
        service(LB_POLICY_RANDOM, [1]);
        endpoints(SID, 0, [1]);
        const c = connect6({ to: VIP6, port: 80 });
        expectRewritten(c, 'fd00:20::0:1', 8080);
        expect(lookups()).to.deep.equal(['km_manage HIT', 'km_frontend HIT', 'km_service HIT', 'km_endpoint HIT', 'km_backend HIT']);
      });

      it('C6.14a: endpoint hit, backend missing: no change, WARN "backend <uid> not found"', () => {
        service(LB_POLICY_RANDOM, [1]);
        kmesh().endpoint(SID, 0, 1, 1001);
        const c = connect6({ to: VIP6, port: 80 });
        expectUnchanged(c);
        expect(kmesh().logs()).to.deep.equal([logLine('WARN', 'ENDPOINT', 'backend 1001 not found\n')]);
        expect(lookups()).to.deep.equal(['km_manage HIT', 'km_frontend HIT', 'km_service HIT', 'km_endpoint HIT', 'km_backend MISS']);
        expectStorage(PRE_CONNECT_ONLY);
      });

      it('C6.14b: backend with a waypoint: DNAT to backend.wp_addr:waypoint_port, via_waypoint, tail call 1', () => {
        service(LB_POLICY_RANDOM, [1]);
        kmesh().endpoint(SID, 0, 1, 1001);
        kmesh().backend(1001, { addr: ipAddr('fd00:20::0:1'), wp_addr: ipAddr('fd00:30::5'), waypoint_port: port(15019) });
        const c = connect6({ to: VIP6, port: 80 });
        expectRewritten(c, 'fd00:30::5', 15019);
        expectStorage({ connect_ns: T0, via_waypoint: true, has_set_ip: true, sk_tuple: { ipv6: { daddr: ip6(VIP6), dport: port(80) } } });
        expect(h().mocks.tailCalls()).to.deep.equal([{ map: mapId('km_cgr_tail6'), index: 1, taken: false }]);
      });

      const portCases: [number, number][] = [
        [80, 8000], // first of two entries with service port 80
        [8080, 9090],
        [9999, 7777], // last slot (index 9)
      ];
      for (const [dialled, target] of portCases) {
        it(`C6.14c: no backend waypoint: port ${dialled} -> backend address, target port ${target} (first matching slot)`, () => {
          kmesh().frontend(VIP6, SID);
          const service_port = [80, 8080, 80, 1, 2, 3, 4, 5, 6, 9999].map(port);
          const target_port = [8000, 9090, 7000, 11, 12, 13, 14, 15, 16, 7777].map(port);
          kmesh().service(SID, { lb_policy: LB_POLICY_RANDOM, prio_endpoint_count: [1], service_port, target_port });
          endpoints(SID, 0, [1]);
          const c = connect6({ to: VIP6, port: dialled });
          expectRewritten(c, 'fd00:20::0:1', target);
          expectStorage({ connect_ns: T0, has_set_ip: true, sk_tuple: { ipv6: { daddr: ip6(VIP6), dport: port(dialled) } } });
        });
      }

      it('C6.14d: no service port matches: no change, DEBUG "port 81 matches no service port"', () => {
        h().set('bpf_log_level', BPF_LOG_DEBUG);
        kmesh().frontend(VIP6, SID);
        kmesh().service(SID, { prio_endpoint_count: [1], service_port: [80, 82, 8080].map(port), target_port: [1, 2, 3].map(port) });
        endpoints(SID, 0, [1]);
        const c = connect6({ to: VIP6, port: 81 });
        expectUnchanged(c);
        expect(kmesh().logs()).to.deep.equal([
          logLine('DEBUG', 'BACKEND', 'port 81 matches no service port\n'),
          logLine('DEBUG', 'KMESH', 'connect6: destination unchanged (-2)\n'),
        ]);
        expectStorage(PRE_CONNECT_ONLY);
      });
    });

    describe('after traffic control', () => {
      it('C6.15: success: set_original_dst_info6 gets the same storage (F_CREATE, found) and records the dialled destination', () => {
        service(LB_POLICY_RANDOM, [1]);
        endpoints(SID, 0, [1]);
        connect6({ to: VIP6, port: 80 });
        expect(h().mocks.storageCalls()).to.deep.equal([storageCall(StorageResult.CREATED), storageCall(StorageResult.FOUND)]);
        expectStorage({ connect_ns: T0, via_waypoint: false, has_set_ip: true, sk_tuple: { ipv6: { daddr: ip6(VIP6), dport: port(80) } } });
      });

      it('C6.15x: no rewrite: DEBUG logged, context unchanged, nothing stored beyond connect_ns', () => {
        h().set('bpf_log_level', BPF_LOG_DEBUG);
        service(LB_POLICY_RANDOM, [0]);
        const c = connect6({ to: VIP6, port: 80 });
        expectUnchanged(c);
        expect(kmesh().logs()).to.deep.equal([logLine('DEBUG', 'KMESH', 'connect6: destination unchanged (-2)\n')]);
        expect(h().mocks.storageCalls()).to.deep.equal([storageCall(StorageResult.CREATED)]);
        expectStorage(PRE_CONNECT_ONLY);
        expect(h().mocks.tailCalls()).to.deep.equal([]);
      });

      it('C6.15a: set_original_dst_info6 gets NULL: ERR logged, the context is still rewritten and the tail call made', () => {
        h().mocks.storageReturnsNull([1]);
        kmesh().frontend('fd00:20::41', 41);
        kmesh().backend(41, { addr: ipAddr('fd00:20::41'), wp_addr: ipAddr('fd00:30::1'), waypoint_port: port(15008) });
        const c = connect6({ to: 'fd00:20::41', port: 9000 });
        expectRewritten(c, 'fd00:30::1', 15008);
        expect(kmesh().logs()).to.deep.equal([
          logLine('ERR', 'KMESH', 'original dst6: no sk storage\n'),
          logLine('ERR', 'KMESH', 'tail call km_cgr_tail6[1] failed\n'),
        ]);
        expect(h().mocks.storageCalls()).to.deep.equal([storageCall(StorageResult.CREATED), storageCall(StorageResult.FORCED, 8)]);
        expectStorage(PRE_CONNECT_ONLY); // via_waypoint and the destination were never written
        expect(h().mocks.tailCalls()).to.deep.equal([{ map: mapId('km_cgr_tail6'), index: 1, taken: false }]);
      });

      it('C6.15b: has_set_ip false: sk_tuple.ipv6 daddr/dport = the destination as dialled, has_set_ip = true', () => {
        const old: Init<SockStorageData> = { connect_ns: 1, direction: 2, connect_success: 1 };
        h().mocks.setStorage(SK, encodeSockStorageData(old), 'km_sockstorage');
        service(LB_POLICY_RANDOM, [1]);
        endpoints(SID, 0, [1]);
        const c = connect6({ to: VIP6, port: 80 });
        expectRewritten(c, 'fd00:20::0:1', 8080);
        expectStorage({ ...old, connect_ns: T0, has_set_ip: true, sk_tuple: { ipv6: { daddr: ip6(VIP6), dport: port(80) } } });
      });

      it('C6.15c: has_set_ip already true: the first destination is kept, only via_waypoint is updated', () => {
        const first: Init<SockStorageData> = {
          connect_ns: 1, via_waypoint: true, has_set_ip: true,
          sk_tuple: { ipv6: { daddr: ip6('fd00:99::9'), dport: port(9999) } },
        };
        h().mocks.setStorage(SK, encodeSockStorageData(first), 'km_sockstorage');
        service(LB_POLICY_RANDOM, [1]);
        endpoints(SID, 0, [1]);
        const c = connect6({ to: VIP6, port: 80 });
        expectRewritten(c, 'fd00:20::0:1', 8080);
        expectStorage({ ...first, connect_ns: T0, via_waypoint: false });
      });

      it('C6.16: user_family AF_INET6: user_ip6 and user_port are the DNAT address and port (nothing else changes)', () => {
        service(LB_POLICY_RANDOM, [1]);
        endpoints(SID, 0, [1], () => 'fd00:abcd:1:2:3:4:5:6');
        const c = connect6({ to: VIP6, port: 80 });
        expect(c.after).to.deep.equal({ ...c.before, user_ip6: [0xcdab00fd, 0x02000100, 0x04000300, 0x06000500], user_port: 0x901f });
      });

      it('C6.16a: user_family not AF_INET6: the context is not written, storage and tail call still happen', () => {
        kmesh().frontend('fd00:20::41', 41);
        kmesh().backend(41, { addr: ipAddr('fd00:20::41'), wp_addr: ipAddr('fd00:30::1'), waypoint_port: port(15008) });
        const c = connect6({ to: 'fd00:20::41', port: 9000, family: AF_INET });
        expectUnchanged(c);
        expectStorage({
          connect_ns: T0, via_waypoint: true, has_set_ip: true,
          sk_tuple: { ipv6: { daddr: ip6('fd00:20::41'), dport: port(9000) } },
        });
        expect(h().mocks.tailCalls()).to.deep.equal([{ map: mapId('km_cgr_tail6'), index: 1, taken: false }]);
      });

      it('C6.17: via_waypoint with an empty slot: tail call km_cgr_tail6[1] recorded, ERR "tail call ... failed"', () => {
        waypointService('fd00:30::7', 15008);
        const c = connect6({ to: VIP6, port: 80 });
        expectRewritten(c, 'fd00:30::7', 15008);
        expect(h().mocks.tailCalls()).to.deep.equal([{ map: mapId('km_cgr_tail6'), index: 1, taken: false }]);
        expect(kmesh().logs()).to.deep.equal([logLine('ERR', 'KMESH', 'tail call km_cgr_tail6[1] failed\n')]);
      });

      it('C6.17: via_waypoint with the slot filled: the tail call ends connect6, nothing after it runs, the target runs on the rewritten context', () => {
        h().mocks.tailCallTarget('km_cgr_tail6', 1, 'xdp_waypoint_target');
        waypointService('fd00:30::7', 15008);
        const c = connect6({ to: VIP6, port: 80 });
        expect(c.ret, "the target's return value").to.equal(0);
        expect(c.after, 'address from connect6, port from the target').to.deep.equal({ ...c.before, user_ip6: ip6('fd00:30::7'), user_port: port(15001) });
        expect(h().mocks.tailCalls()).to.deep.equal([{ map: mapId('km_cgr_tail6'), index: 1, taken: true }]);
        expect(kmesh().logs()).to.deep.equal([]);
      });

      it('C6.17: not via a waypoint: no tail call', () => {
        service(LB_POLICY_RANDOM, [1]);
        endpoints(SID, 0, [1]);
        expectRewritten(connect6({ to: VIP6, port: 80 }), 'fd00:20::0:1', 8080);
        expect(h().mocks.tailCalls()).to.deep.equal([]);
      });
    });

    describe('IPv4-mapped destinations', () => {
      /** Endpoints of SID at prio 0 whose backends have IPv4 addresses 10.244.0.<index>. */
      const v4Endpoints = (indices: number[]) => endpoints(SID, 0, indices, (i) => `10.244.0.${i}`);

      it('C6.M: ::ffff:a.b.c.d is looked up as the IPv4 frontend key {ip4 = a.b.c.d, rest 0}', () => {
        service(LB_POLICY_RANDOM, [2], VIP4);
        v4Endpoints([1, 2]);
        h().mocks.setRandom([1]); // 1 % 2 + 1 = 2
        const c = connect6({ to: `::ffff:${VIP4}`, port: 80 });
        expectRewritten(c, '::ffff:10.244.0.2', 8080);
        expect(lookups()).to.deep.equal(['km_manage HIT', 'km_frontend HIT', 'km_service HIT', 'km_endpoint HIT', 'km_backend HIT']);
      });

      it('C6.M: a frontend stored under the IPv6 form ::ffff:a.b.c.d is not found', () => {
        kmesh().frontend(`::ffff:${VIP4}`, SID);
        kmesh().service(SID, { prio_endpoint_count: [1], service_port: [port(80)], target_port: [port(8080)] });
        v4Endpoints([1]);
        const c = connect6({ to: `::ffff:${VIP4}`, port: 80 });
        expectUnchanged(c);
        expect(lookups()).to.deep.equal(['km_manage HIT', 'km_frontend MISS']);
      });

      for (const near of [`::fffe:${VIP4}`, `1::ffff:${VIP4}`, `0:0:1:0:0:ffff:${VIP4}`, `::${VIP4}`]) {
        it(`C6.M: ${near} is not IPv4-mapped: not looked up as ${VIP4}`, () => {
          service(LB_POLICY_RANDOM, [1], VIP4);
          v4Endpoints([1]);
          const c = connect6({ to: near, port: 80 });
          expectUnchanged(c);
          expect(lookups()).to.deep.equal(['km_manage HIT', 'km_frontend MISS']);
        });
      }

      it('C6.M: a native IPv6 destination is looked up with all 16 bytes', () => {
        kmesh().frontend(`fd00::${VIP4}`, SID); // same last word, other prefix
        kmesh().service(SID, { prio_endpoint_count: [1], service_port: [port(80)], target_port: [port(8080)] });
        endpoints(SID, 0, [1]);
        const c = connect6({ to: `fd01::${VIP4}`, port: 80 });
        expectUnchanged(c);
        expect(lookups()).to.deep.equal(['km_manage HIT', 'km_frontend MISS']);
      });

      it('C6.MB: an IPv4 result is written back as ::ffff:a.b.c.d; storage keeps the mapped address as dialled', () => {
        service(LB_POLICY_FAILOVER, [0, 3], VIP4);
        endpoints(SID, 1, [1, 2, 3], (i) => `10.244.1.${i}`);
        h().mocks.setRandom([5]); // 5 % 3 + 1 = 3
        const c = connect6({ to: `::ffff:${VIP4}`, port: 80 });
        expect(c.after).to.deep.equal({ ...c.before, user_ip6: [0, 0, 0xffff_0000, ip4('10.244.1.3')], user_port: port(8080) });
        expectStorage({
          connect_ns: T0, has_set_ip: true,
          sk_tuple: { ipv6: { daddr: [0, 0, 0xffff_0000, ip4(VIP4)], dport: port(80) } },
        });
      });

      it('C6.MB: an IPv4 waypoint of a mapped destination is mapped back too (via_waypoint, tail call 1)', () => {
        waypointService('10.10.0.9', 15008, VIP4);
        const c = connect6({ to: `::ffff:${VIP4}`, port: 80 });
        expectRewritten(c, '::ffff:10.10.0.9', 15008);
        expectStorage({
          connect_ns: T0, via_waypoint: true, has_set_ip: true,
          sk_tuple: { ipv6: { daddr: ip6(`::ffff:${VIP4}`), dport: port(80) } },
        });
        expect(h().mocks.tailCalls()).to.deep.equal([{ map: mapId('km_cgr_tail6'), index: 1, taken: false }]);
      });

      it('C6.MB: a result already IPv4-mapped is written as is (not mapped twice)', () => {
        service(LB_POLICY_RANDOM, [1], VIP4);
        endpoints(SID, 0, [1], () => '::ffff:10.244.0.77');
        const c = connect6({ to: `::ffff:${VIP4}`, port: 80 });
        expectRewritten(c, '::ffff:10.244.0.77', 8080);
      });

      it('C6.MB: a native IPv6 backend of an IPv4-mapped destination is dialled as it is (not mapped)', () => {
        service(LB_POLICY_RANDOM, [1], VIP4);
        endpoints(SID, 0, [1], () => 'fd00:20::5');
        const c = connect6({ to: `::ffff:${VIP4}`, port: 80 });
        expectRewritten(c, 'fd00:20::5', 8080);
      });

      it('C6.MB: a native IPv6 destination\'s result is written as is (no mapping)', () => {
        service(LB_POLICY_RANDOM, [1]);
        endpoints(SID, 0, [1], () => 'fd00:20::77');
        const c = connect6({ to: VIP6, port: 80 });
        expectRewritten(c, 'fd00:20::77', 8080);
      });
    });
  });
});


