// cgroup/connect4 traffic control outside load balancing: frontend (C7), a workload address with
// no service (C8), the service waypoint (C9) and the chosen backend (C14).
import { expect } from 'chai';
import { mapId } from '../../../src/mock/mocks';
import { CGROUP_SOCK_OK, ip4, LB_POLICY_RANDOM } from '../../../src/structs';
import {
  connect4, ENOENT, logDebug, logLine, lookups, managedNetns, originalDst, pod, PRE_CONNECT_ONLY, redirected, service,
  storageBytes, storageHex, TAIL_CALL_FAILED, unchangedLine, useConnect4,
} from './helpers';

const VIP = '10.96.0.10';
const SID = 7;
const WAYPOINT: [string, number] = ['10.96.5.5', 15008];

describe('cgroup/connect4: frontend, workload, service waypoint, backend', () => {
  const { h, kmesh } = useConnect4();

  beforeEach(() => managedNetns(h()));

  /** A RANDOM service SID at VIP with one endpoint {SID, 0, 1} -> backend 101 (given by the test). */
  function oneEndpointService(ports: Array<[number, number]>): void {
    kmesh().frontend(VIP, SID);
    kmesh().service(SID, service({ policy: LB_POLICY_RANDOM, counts: [1], ports }));
    kmesh().endpoint(SID, 0, 1, 101);
  }

  it('C7: no km_frontend entry for the destination: no change, DEBUG "destination unchanged (-2)"', () => {
    logDebug(h());
    kmesh().frontend('10.96.0.11', SID); // a neighbour address
    kmesh().service(SID, service({ waypoint: WAYPOINT }));
    const c = connect4(h(), { to: VIP, port: 80 });
    expect(c.retval).to.equal(CGROUP_SOCK_OK);
    expect(c.ctx).to.deep.equal(c.sent);
    expect(lookups(h())).to.deep.equal(['km_manage:HIT', 'km_frontend:MISS']);
    expect(kmesh().logs()).to.deep.equal([unchangedLine(ENOENT)]);
    expect(storageBytes(h())?.toString('hex')).to.equal(storageHex(PRE_CONNECT_ONLY));
  });

  describe('C8: frontend hit, no service (the address is a workload)', () => {
    it('C8: the upstream id is looked up as a backend uid after the service miss', () => {
      kmesh().frontend('10.244.3.3', 301);
      kmesh().service(302, service({ waypoint: WAYPOINT })); // another id: not consulted
      kmesh().backend(301, pod('10.244.3.3', ['10.96.6.6', 15009]));
      const c = connect4(h(), { to: '10.244.3.3', port: 8080 });
      expect(c.retval).to.equal(CGROUP_SOCK_OK);
      expect(lookups(h())).to.deep.equal(['km_manage:HIT', 'km_frontend:HIT', 'km_service:MISS', 'km_backend:HIT']);
      expect(c.ctx).to.deep.equal(redirected(c, '10.96.6.6', 15009));
    });

    it('C8a: no backend with that uid: no change', () => {
      logDebug(h());
      kmesh().frontend('10.244.3.3', 301);
      kmesh().backend(300, pod('10.244.3.3', ['10.96.6.6', 15009]));
      const c = connect4(h(), { to: '10.244.3.3', port: 8080 });
      expect(c.retval).to.equal(CGROUP_SOCK_OK);
      expect(c.ctx).to.deep.equal(c.sent);
      expect(lookups(h())).to.deep.equal(['km_manage:HIT', 'km_frontend:HIT', 'km_service:MISS', 'km_backend:MISS']);
      expect(kmesh().logs()).to.deep.equal([unchangedLine(ENOENT)]);
      expect(storageBytes(h())?.toString('hex')).to.equal(storageHex(PRE_CONNECT_ONLY));
    });

    it('C8b: the workload has a waypoint: DNAT to backend.wp_addr:waypoint_port, via_waypoint, tail call 0', () => {
      kmesh().frontend('10.244.3.3', 301);
      kmesh().backend(301, pod('10.244.3.3', ['10.96.6.6', 15009]));
      const c = connect4(h(), { to: '10.244.3.3', port: 8080 });
      expect(c.retval).to.equal(CGROUP_SOCK_OK);
      expect(c.ctx).to.deep.equal(redirected(c, '10.96.6.6', 15009));
      expect(storageBytes(h())?.toString('hex')).to.equal(storageHex(originalDst('10.244.3.3', 8080, true)));
      expect(h().mocks.tailCalls()).to.deep.equal([{ map: mapId('km_cgr_tailcall'), index: 0, taken: false }]);
      expect(kmesh().logs()).to.deep.equal([TAIL_CALL_FAILED]);
    });

    it('C8c: the workload has no waypoint (waypoint_port 0, even with a wp_addr): no change', () => {
      logDebug(h());
      kmesh().frontend('10.244.3.3', 301);
      kmesh().backend(301, { ...pod('10.244.3.3'), wp_addr: { ip4: ip4('10.96.6.6') } });
      const c = connect4(h(), { to: '10.244.3.3', port: 8080 });
      expect(c.retval).to.equal(CGROUP_SOCK_OK);
      expect(c.ctx).to.deep.equal(c.sent);
      expect(kmesh().logs()).to.deep.equal([unchangedLine(ENOENT)]);
      expect(h().mocks.tailCalls()).to.deep.equal([]);
      expect(storageBytes(h())?.toString('hex')).to.equal(storageHex(PRE_CONNECT_ONLY));
    });
  });

  describe('C9: service waypoint', () => {
    it('C9: wp_addr.ip4 != 0 and waypoint_port != 0: DNAT to the service waypoint before any load balancing', () => {
      kmesh().frontend(VIP, SID);
      kmesh().service(SID, service({ policy: LB_POLICY_RANDOM, counts: [1], ports: [[80, 8080]], waypoint: WAYPOINT }));
      kmesh().endpoint(SID, 0, 1, 101);
      kmesh().backend(101, pod('10.244.1.1'));
      const c = connect4(h(), { to: VIP, port: 80 });
      expect(c.retval).to.equal(CGROUP_SOCK_OK);
      expect(c.ctx).to.deep.equal(redirected(c, '10.96.5.5', 15008));
      expect(lookups(h())).to.deep.equal(['km_manage:HIT', 'km_frontend:HIT', 'km_service:HIT']);
      expect(h().mocks.randomDrawn()).to.equal(0);
      expect(storageBytes(h())?.toString('hex')).to.equal(storageHex(originalDst(VIP, 80, true)));
      expect(h().mocks.tailCalls()).to.deep.equal([{ map: mapId('km_cgr_tailcall'), index: 0, taken: false }]);
    });

    it('C9: a waypoint address without a port, or a port without an address, is no waypoint: the service load-balances', () => {
      kmesh().frontend(VIP, SID);
      kmesh().endpoint(SID, 0, 1, 101);
      kmesh().backend(101, pod('10.244.1.1'));
      const halfWaypoints = [
        { ...service({ policy: LB_POLICY_RANDOM, counts: [1], ports: [[80, 8080]], waypoint: WAYPOINT }), waypoint_port: 0 },
        { ...service({ policy: LB_POLICY_RANDOM, counts: [1], ports: [[80, 8080]], waypoint: WAYPOINT }), wp_addr: { ip4: 0 } },
      ];
      for (const [n, value] of halfWaypoints.entries()) {
        kmesh().service(SID, value);
        const c = connect4(h(), { to: VIP, port: 80 });
        expect(c.ctx, `case ${n}`).to.deep.equal(redirected(c, '10.244.1.1', 8080));
        expect(h().mocks.randomDrawn(), `case ${n}`).to.equal(n + 1);
      }
      expect(h().mocks.tailCalls()).to.deep.equal([]);
    });
  });

  describe('C14: the endpoint\'s backend', () => {
    it('C14: endpoint hit and backend found: backend_manager decides (endpoint -> backend uid lookup)', () => {
      oneEndpointService([[80, 8080]]);
      kmesh().backend(101, pod('10.244.1.1'));
      kmesh().backend(1, pod('10.244.9.9')); // the index, not a uid
      const c = connect4(h(), { to: VIP, port: 80 });
      expect(c.retval).to.equal(CGROUP_SOCK_OK);
      expect(lookups(h())).to.deep.equal(['km_manage:HIT', 'km_frontend:HIT', 'km_service:HIT', 'km_endpoint:HIT', 'km_backend:HIT']);
      expect(c.ctx).to.deep.equal(redirected(c, '10.244.1.1', 8080));
    });

    it('C14a: endpoint hit but backend missing: no change, WARN "backend 101 not found"', () => {
      logDebug(h());
      oneEndpointService([[80, 8080]]);
      kmesh().backend(102, pod('10.244.1.2'));
      const c = connect4(h(), { to: VIP, port: 80 });
      expect(c.retval).to.equal(CGROUP_SOCK_OK);
      expect(c.ctx).to.deep.equal(c.sent);
      expect(lookups(h()).slice(-1)).to.deep.equal(['km_backend:MISS']);
      expect(kmesh().logs()).to.deep.equal([logLine('WARN', 'ENDPOINT', 'backend 101 not found\n'), unchangedLine(ENOENT)]);
      expect(storageBytes(h())?.toString('hex')).to.equal(storageHex(PRE_CONNECT_ONLY));
    });

    it('C14a: the WARN line is logged at the default level (INFO)', () => {
      oneEndpointService([[80, 8080]]);
      connect4(h(), { to: VIP, port: 80 });
      expect(kmesh().logs()).to.deep.equal([logLine('WARN', 'ENDPOINT', 'backend 101 not found\n')]);
    });

    it('C14b: the backend has a waypoint (waypoint_port != 0): DNAT to it, via_waypoint, ports ignored, tail call 0', () => {
      oneEndpointService([[80, 8080]]);
      kmesh().backend(101, pod('10.244.1.1', ['10.96.7.7', 15010]));
      const c = connect4(h(), { to: VIP, port: 80 });
      expect(c.retval).to.equal(CGROUP_SOCK_OK);
      expect(c.ctx).to.deep.equal(redirected(c, '10.96.7.7', 15010));
      expect(storageBytes(h())?.toString('hex')).to.equal(storageHex(originalDst(VIP, 80, true)));
      expect(h().mocks.tailCalls()).to.deep.equal([{ map: mapId('km_cgr_tailcall'), index: 0, taken: false }]);
    });

    it('C14b: a backend waypoint wins even when the dialled port matches no service port', () => {
      oneEndpointService([[443, 8443]]);
      kmesh().backend(101, pod('10.244.1.1', ['10.96.7.7', 15010]));
      const c = connect4(h(), { to: VIP, port: 80 });
      expect(c.ctx).to.deep.equal(redirected(c, '10.96.7.7', 15010));
    });

    it('C14c: no backend waypoint: DNAT to backend.addr on the target port of the matching service port', () => {
      oneEndpointService([[80, 9080], [8080, 8081], [443, 9443]]);
      kmesh().backend(101, pod('10.244.1.1'));
      const c = connect4(h(), { to: VIP, port: 8080 });
      expect(c.retval).to.equal(CGROUP_SOCK_OK);
      expect(c.ctx).to.deep.equal(redirected(c, '10.244.1.1', 8081));
      expect(storageBytes(h())?.toString('hex')).to.equal(storageHex(originalDst(VIP, 8080, false)));
      expect(h().mocks.tailCalls()).to.deep.equal([]);
      expect(kmesh().logs()).to.deep.equal([]);
    });

    it('C14c: the first matching slot wins, and the last slot (9) is searched', () => {
      const ports: Array<[number, number]> = [[80, 7001], [8080, 7002], [8080, 7003]];
      for (let i = 3; i < 9; i++) ports.push([1000 + i, 2000 + i]);
      ports.push([9999, 7999]); // slot 9
      oneEndpointService(ports);
      kmesh().backend(101, pod('10.244.1.1'));
      const first = connect4(h(), { to: VIP, port: 8080 });
      expect(first.ctx).to.deep.equal(redirected(first, '10.244.1.1', 7002));
      const last = connect4(h(), { to: VIP, port: 9999 });
      expect(last.ctx).to.deep.equal(redirected(last, '10.244.1.1', 7999));
    });

    it('C14d: the dialled port matches no service port: no change, DEBUG "port 8080 matches no service port"', () => {
      logDebug(h());
      oneEndpointService([[80, 9080], [443, 9443]]);
      kmesh().backend(101, pod('10.244.1.1'));
      const c = connect4(h(), { to: VIP, port: 8080 });
      expect(c.retval).to.equal(CGROUP_SOCK_OK);
      expect(c.ctx).to.deep.equal(c.sent);
      expect(kmesh().logs()).to.deep.equal([
        logLine('DEBUG', 'BACKEND', 'port 8080 matches no service port\n'),
        unchangedLine(ENOENT),
      ]);
      expect(storageBytes(h())?.toString('hex')).to.equal(storageHex(PRE_CONNECT_ONLY));
      expect(h().mocks.tailCalls()).to.deep.equal([]);
    });
  });
});
