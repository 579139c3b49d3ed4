// cgroup/connect4 after traffic control: the original destination in the socket storage (C15),
// the no-rewrite return (C15x), the context write (C16) and the waypoint tail call (C17).
import { expect } from 'chai';
import type { KmeshMaps } from '../../../src/kmesh/fixtures';
import { mapId } from '../../../src/mock/mocks';
import { AF_INET6, CGROUP_SOCK_OK, ip4, LB_POLICY_FAILOVER, LB_POLICY_RANDOM, LB_POLICY_STRICT, port } from '../../../src/structs';
import {
  connect4, EINVAL, ENOENT, logDebug, logLine, managedNetns, NOW, originalDst, pod, PRE_CONNECT_ONLY, redirected, service,
  SK, storageBytes, storageGets, storageHex, TAIL_CALL_FAILED, TAIL_TARGET, unchangedLine, useConnect4,
} from './helpers';

const VIP = '10.96.0.10';
const SID = 7;
const WAYPOINT: [string, number] = ['10.96.5.5', 15008];
const TAIL_CALL_0 = { map: mapId('km_cgr_tailcall'), index: 0 };
const ORIGINAL_DST_NULL = logLine('ERR', 'KMESH', 'original dst: no sk storage\n');

/** A service at VIP:80 that sends to pod 10.244.1.1:8080 (no waypoint anywhere). */
function plainService(k: KmeshMaps): void {
  k.frontend(VIP, SID);
  k.service(SID, service({ policy: LB_POLICY_RANDOM, counts: [1], ports: [[80, 8080]] }));
  k.endpoint(SID, 0, 1, 101);
  k.backend(101, pod('10.244.1.1'));
}

/** A service at VIP:80 behind the service waypoint WAYPOINT. */
function waypointService(k: KmeshMaps): void {
  k.frontend(VIP, SID);
  k.service(SID, service({ waypoint: WAYPOINT }));
}

/** The four ways traffic control rewrites a connect to VIP:80, with where it goes. */
const REWRITES: Array<{ row: string; setUp: (k: KmeshMaps) => void; to: [string, number]; viaWaypoint: boolean }> = [
  {
    row: 'C8b workload waypoint',
    setUp: (k) => {
      k.frontend(VIP, 301);
      k.backend(301, pod(VIP, ['10.96.6.6', 15009]));
    },
    to: ['10.96.6.6', 15009],
    viaWaypoint: true,
  },
  { row: 'C9 service waypoint', setUp: waypointService, to: WAYPOINT, viaWaypoint: true },
  {
    row: 'C14b backend waypoint',
    setUp: (k) => {
      plainService(k);
      k.backend(101, pod('10.244.1.1', ['10.96.7.7', 15010]));
    },
    to: ['10.96.7.7', 15010],
    viaWaypoint: true,
  },
  { row: 'C14c backend on the target port', setUp: plainService, to: ['10.244.1.1', 8080], viaWaypoint: false },
];

/** Connects to VIP:80 that traffic control leaves alone, with connect4's error code. */
const NO_REWRITES: Array<{ row: string; setUp: (k: KmeshMaps) => void; err: number }> = [
  { row: 'C7', setUp: () => undefined, err: ENOENT },
  { row: 'C8a', setUp: (k) => k.frontend(VIP, 301), err: ENOENT },
  { row: 'C8c', setUp: (k) => { k.frontend(VIP, 301); k.backend(301, pod(VIP)); }, err: ENOENT },
  { row: 'C10a', setUp: (k) => { k.frontend(VIP, SID); k.service(SID, service({ counts: [0, 1], ports: [[80, 8080]] })); }, err: ENOENT },
  { row: 'C10b', setUp: (k) => { plainService(k); k.service(SID, service({ counts: [2], ports: [[80, 8080]] })); }, err: ENOENT }, // random 1 -> index 2
  { row: 'C11a', setUp: (k) => { plainService(k); k.service(SID, service({ policy: LB_POLICY_STRICT, counts: [2], ports: [[80, 8080]] })); }, err: ENOENT },
  { row: 'C12b', setUp: (k) => { plainService(k); k.service(SID, service({ policy: LB_POLICY_FAILOVER, ports: [[80, 8080]] })); }, err: ENOENT },
  { row: 'C12c', setUp: (k) => { plainService(k); k.service(SID, service({ policy: LB_POLICY_FAILOVER, counts: [0, 1], ports: [[80, 8080]] })); }, err: ENOENT },
  { row: 'C13', setUp: (k) => { plainService(k); k.service(SID, service({ policy: 9, counts: [1], ports: [[80, 8080]] })); }, err: EINVAL },
  { row: 'C14a', setUp: (k) => { plainService(k); k.endpoint(SID, 0, 1, 999); }, err: ENOENT },
  { row: 'C14d', setUp: (k) => { plainService(k); k.service(SID, service({ counts: [1], ports: [[443, 8443]] })); }, err: ENOENT },
];

describe('cgroup/connect4: original destination, context write, tail call', () => {
  const { h, kmesh } = useConnect4();

  beforeEach(() => managedNetns(h()));

  describe('C15: set_original_dst_info4 after a rewrite', () => {
    for (const r of REWRITES) {
      it(`C15: after ${r.row}: storage (F_CREATE) holds the original ${VIP}:80, has_set_ip, via_waypoint ${r.viaWaypoint}`, () => {
        r.setUp(kmesh());
        const c = connect4(h(), { to: VIP, port: 80 });
        expect(c.retval).to.equal(CGROUP_SOCK_OK);
        expect(c.ctx).to.deep.equal(redirected(c, ...r.to));
        expect(storageGets(h()), 'pre-connect creates, set_original_dst_info4 finds').to.deep.equal(['CREATED', 'FOUND']);
        expect(storageBytes(h())?.toString('hex')).to.equal(storageHex(originalDst(VIP, 80, r.viaWaypoint)));
        expect(kmesh().logs(), 'km_cgr_tailcall is empty').to.deep.equal(r.viaWaypoint ? [TAIL_CALL_FAILED] : []);
      });
    }

    it('C15a: the original-destination storage get returns NULL: ERR "original dst: no sk storage", the rewrite and tail call still happen', () => {
      waypointService(kmesh());
      h().mocks.storageReturnsNull([1]);
      const c = connect4(h(), { to: VIP, port: 80 });
      expect(c.retval).to.equal(CGROUP_SOCK_OK);
      expect(c.ctx).to.deep.equal(redirected(c, ...WAYPOINT));
      expect(storageGets(h())).to.deep.equal(['CREATED', 'FORCED']);
      expect(storageBytes(h())?.toString('hex')).to.equal(storageHex(PRE_CONNECT_ONLY));
      expect(h().mocks.tailCalls()).to.deep.equal([{ ...TAIL_CALL_0, taken: false }]);
      expect(kmesh().logs()).to.deep.equal([ORIGINAL_DST_NULL, TAIL_CALL_FAILED]);
    });

    it('C15a: no storage at all (both gets NULL): both ERR lines, the context is still rewritten', () => {
      plainService(kmesh());
      h().mocks.storageReturnsNull();
      const c = connect4(h(), { to: VIP, port: 80 });
      expect(c.ctx).to.deep.equal(redirected(c, '10.244.1.1', 8080));
      expect(storageBytes(h())).to.equal(undefined);
      expect(kmesh().logs()).to.deep.equal([logLine('ERR', 'PROBE', 'pre connect: no sk storage\n'), ORIGINAL_DST_NULL]);
    });

    it('C15b: has_set_ip false: ipv4.daddr/dport = original destination, has_set_ip set, via_waypoint overwritten, the rest kept', () => {
      plainService(kmesh());
      const seeded = {
        last_report_ns: 42n, direction: 2, has_encoded: true, via_waypoint: true,
        sk_tuple: { ipv4: { saddr: ip4('10.244.9.9'), daddr: ip4('1.2.3.4'), sport: port(5555), dport: port(1111) } },
      };
      h().mocks.setStorage(SK, Buffer.from(storageHex(seeded), 'hex'), 'km_sockstorage');
      connect4(h(), { to: VIP, port: 80 });
      expect(storageBytes(h())?.toString('hex')).to.equal(storageHex({
        ...seeded, connect_ns: NOW, via_waypoint: false, has_set_ip: true,
        sk_tuple: { ipv4: { saddr: ip4('10.244.9.9'), daddr: ip4(VIP), sport: port(5555), dport: port(80) } },
      }));
    });

    it('C15c: has_set_ip already true: the stored destination is kept, only via_waypoint (and connect_ns) change', () => {
      waypointService(kmesh());
      h().mocks.setStorage(SK, Buffer.from(storageHex(originalDst('1.2.3.4', 1111, false, 1n)), 'hex'), 'km_sockstorage');
      connect4(h(), { to: VIP, port: 80 });
      expect(storageBytes(h())?.toString('hex')).to.equal(storageHex(originalDst('1.2.3.4', 1111, true, NOW)));
    });

    it('C15c: a second connect on the same socket keeps the first original destination', () => {
      plainService(kmesh());
      kmesh().frontend('10.96.0.20', 8);
      kmesh().service(8, service({ waypoint: WAYPOINT }));
      connect4(h(), { to: VIP, port: 80 });
      h().mocks.setClock(NOW + 1000n);
      const second = connect4(h(), { to: '10.96.0.20', port: 81 });
      expect(second.ctx).to.deep.equal(redirected(second, ...WAYPOINT));
      expect(storageBytes(h())?.toString('hex')).to.equal(storageHex(originalDst(VIP, 80, true, NOW + 1000n)));
    });
  });

  describe('C15x: traffic control did not rewrite', () => {
    for (const r of NO_REWRITES) {
      it(`C15x: after ${r.row}: DEBUG "destination unchanged (${r.err})", context unchanged, only the pre-connect storage`, () => {
        logDebug(h());
        h().mocks.setRandom([1]);
        r.setUp(kmesh());
        const c = connect4(h(), { to: VIP, port: 80 });
        expect(c.retval).to.equal(CGROUP_SOCK_OK);
        expect(c.ctx).to.deep.equal(c.sent);
        expect(kmesh().logs().slice(-1)).to.deep.equal([unchangedLine(r.err)]);
        expect(storageGets(h()), 'set_original_dst_info4 not called').to.deep.equal(['CREATED']);
        expect(storageBytes(h())?.toString('hex')).to.equal(storageHex(PRE_CONNECT_ONLY));
        expect(h().mocks.tailCalls()).to.deep.equal([]);
      });
    }

    it('C15x: at the default level (INFO) the DEBUG line is not logged', () => {
      const c = connect4(h(), { to: VIP, port: 80 });
      expect(c.ctx).to.deep.equal(c.sent);
      expect(kmesh().logs()).to.deep.equal([]);
    });
  });

  describe('C16: the context write', () => {
    it('C16: user_family AF_INET: user_ip4 and user_port become the DNAT address and port, every other field kept', () => {
      plainService(kmesh());
      const c = connect4(h(), { to: VIP, port: 80 });
      expect(c.ctx).to.deep.equal({ ...c.sent, user_ip4: ip4('10.244.1.1'), user_port: port(8080) });
    });

    for (const family of [AF_INET6, 0]) {
      it(`C16a: user_family ${family}: the context is not written, the original destination is still stored and the tail call made`, () => {
        waypointService(kmesh());
        const c = connect4(h(), { to: VIP, port: 80, family });
        expect(c.retval).to.equal(CGROUP_SOCK_OK);
        expect(c.ctx).to.deep.equal(c.sent);
        expect(storageBytes(h())?.toString('hex')).to.equal(storageHex(originalDst(VIP, 80, true)));
        expect(h().mocks.tailCalls()).to.deep.equal([{ ...TAIL_CALL_0, taken: false }]);
      });
    }
  });

  describe('C17: the waypoint tail call', () => {
    it('C17: via_waypoint and an empty km_cgr_tailcall[0]: tail call index 0 recorded, ERR "tail call km_cgr_tailcall[0] failed", return 1', () => {
      waypointService(kmesh());
      h().mocks.tailCallTarget('km_cgr_tailcall', 1, TAIL_TARGET); // another slot: index 0 still empty
      const c = connect4(h(), { to: VIP, port: 80 });
      expect(c.retval).to.equal(CGROUP_SOCK_OK);
      expect(c.ctx).to.deep.equal(redirected(c, ...WAYPOINT));
      expect(h().mocks.tailCalls()).to.deep.equal([{ ...TAIL_CALL_0, taken: false }]);
      expect(kmesh().logs()).to.deep.equal([TAIL_CALL_FAILED]);
    });

    it('C17: a taken tail call (slot 0 filled) ends connect4: nothing after it runs, the target runs on the rewritten context', () => {
      waypointService(kmesh());
      h().mocks.tailCallTarget('km_cgr_tailcall', 0, TAIL_TARGET);
      const c = connect4(h(), { to: VIP, port: 80 });
      expect(c.retval, "the target's return value, not connect4's").to.equal(0);
      expect(c.ctx, 'the waypoint address written before the call, the port by the target').to.deep.equal(redirected(c, WAYPOINT[0], 15001));
      expect(h().mocks.tailCalls()).to.deep.equal([{ ...TAIL_CALL_0, taken: true }]);
      expect(kmesh().logs(), 'the failure log after the call never runs').to.deep.equal([]);
      expect(h().get('mock_runs'), 'connect4 entry, then the target entry').to.equal(2);
    });

    it('C17: no waypoint, no tail call', () => {
      plainService(kmesh());
      h().mocks.tailCallTarget('km_cgr_tailcall', 0, TAIL_TARGET);
      connect4(h(), { to: VIP, port: 80 });
      expect(h().mocks.tailCalls()).to.deep.equal([]);
      expect(kmesh().logs()).to.deep.equal([]);
    });
  });
});
