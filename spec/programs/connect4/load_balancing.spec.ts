// cgroup/connect4 load balancing (service.h): RANDOM (C10), STRICT (C11), FAILOVER (C12) and an
// unknown policy (C13). The endpoint picked is checked index by index from scripted random
// numbers: index = random % count + 1 (1-based), computed here, and every endpoint of the service
// leads to a backend with its own address, 10.244.<prio>.<index>.
import { expect } from 'chai';
import {
  CGROUP_SOCK_OK, encodeBackendKey, encodeEndpointKey, LB_POLICY_FAILOVER, LB_POLICY_RANDOM, LB_POLICY_STRICT, PRIO_COUNT,
} from '../../../src/structs';
import {
  connect4, Connected, EINVAL, ENOENT, logDebug, logLine, lookups, managedNetns, originalDst, pod, PRE_CONNECT_ONLY,
  redirected, service, storageBytes, storageHex, unchangedLine, useConnect4,
} from './helpers';

const VIP = '10.96.0.10';
const SID = 7;
const SERVICE_PORT = 80;
const TARGET_PORT = 8080;
/** u32 values near the top make a signed modulo or a 0-based index show. */
const RANDOMS = [0, 1, 2, 3, 7, 0xfffffffe, 0xffffffff];

describe('cgroup/connect4: load balancing', () => {
  const { h, kmesh } = useConnect4();

  beforeEach(() => managedNetns(h()));

  /** The address of the backend behind endpoint {SID, prio, index}. */
  const podAt = (prio: number, index: number): string => `10.244.${prio}.${index}`;
  const expectedIndex = (random: number, count: number): number => (random % count) + 1;

  /** Service SID at VIP with these per-priority counts; endpoints {SID, prio, 1..endpoints[prio]}. */
  function lbService(policy: number, counts: number[], endpoints: number[] = counts): void {
    kmesh().frontend(VIP, SID);
    kmesh().service(SID, service({ policy, counts, ports: [[SERVICE_PORT, TARGET_PORT]] }));
    endpoints.forEach((n, prio) => {
      for (let index = 1; index <= n; index++) {
        const uid = 1000 + prio * 100 + index;
        kmesh().endpoint(SID, prio, index, uid);
        kmesh().backend(uid, pod(podAt(prio, index)));
      }
    });
  }

  /** Dials VIP:80 once per scripted random number; returns the connects in order. */
  function dialEach(randoms: number[]): Connected[] {
    h().mocks.setRandom(randoms);
    return randoms.map(() => connect4(h(), { to: VIP, port: SERVICE_PORT }));
  }

  /** Each connect went to the endpoint {SID, prio, random % count + 1}, drawing one random number. */
  function expectPicks(conns: Connected[], randoms: number[], prio: number, count: number): void {
    conns.forEach((c, n) => {
      const index = expectedIndex(randoms[n], count);
      expect(c.retval).to.equal(CGROUP_SOCK_OK);
      expect(c.ctx, `random ${randoms[n]} -> {${SID}, ${prio}, ${index}}`).to.deep.equal(redirected(c, podAt(prio, index), TARGET_PORT));
    });
    expect(h().mocks.randomDrawn(), 'one random number per connect').to.equal(conns.length);
  }

  /** No rewrite: context as sent, pre-connect storage only, the DEBUG line of connect4 (when on). */
  function expectNoChange(c: Connected): void {
    expect(c.retval).to.equal(CGROUP_SOCK_OK);
    expect(c.ctx).to.deep.equal(c.sent);
    expect(storageBytes(h())?.toString('hex')).to.equal(storageHex(PRE_CONNECT_ONLY));
    expect(h().mocks.tailCalls()).to.deep.equal([]);
  }

  describe('C10: RANDOM', () => {
    it('C10: count 3, random 7: index 7 % 3 + 1 = 2, the backend of endpoint {7, 0, 2}', () => {
      lbService(LB_POLICY_RANDOM, [3, 2]);
      h().mocks.setRandom([7]);
      const c = connect4(h(), { to: VIP, port: SERVICE_PORT });
      expect(c.ctx).to.deep.equal(redirected(c, '10.244.0.2', 8080));
      expect(h().mocks.randomDrawn()).to.equal(1);
      expect(lookups(h())).to.deep.equal(['km_manage:HIT', 'km_frontend:HIT', 'km_service:HIT', 'km_endpoint:HIT', 'km_backend:HIT']);
      expect(storageBytes(h())?.toString('hex')).to.equal(storageHex(originalDst(VIP, 80, false)));
    });

    it('C10: endpoint by endpoint, index = random % count[0] + 1 over u32 randoms (prio 1 never used)', () => {
      lbService(LB_POLICY_RANDOM, [3, 2]);
      expectPicks(dialEach(RANDOMS), RANDOMS, 0, 3);
    });

    it('C10: a single endpoint is picked for any random number', () => {
      lbService(LB_POLICY_RANDOM, [1]);
      const randoms = [0, 5, 0xffffffff];
      expectPicks(dialEach(randoms), randoms, 0, 1);
    });

    it('C10a: count[0] == 0: no change and no random number drawn, even with endpoints at prio 1', () => {
      logDebug(h());
      lbService(LB_POLICY_RANDOM, [0, 2], [1, 2]);
      const c = connect4(h(), { to: VIP, port: SERVICE_PORT });
      expectNoChange(c);
      expect(h().mocks.randomDrawn()).to.equal(0);
      expect(lookups(h())).to.deep.equal(['km_manage:HIT', 'km_frontend:HIT', 'km_service:HIT']);
      expect(kmesh().logs()).to.deep.equal([unchangedLine(ENOENT)]);
    });

    it('C10b: endpoint {7, 0, idx} missing (random 4, count 3 -> index 2 absent, 1 and 3 present): no change', () => {
      logDebug(h());
      lbService(LB_POLICY_RANDOM, [3]);
      h().map('km_endpoint').delete(encodeEndpointKey({ service_id: SID, prio: 0, backend_index: 2 }));
      h().mocks.setRandom([4]);
      const c = connect4(h(), { to: VIP, port: SERVICE_PORT });
      expectNoChange(c);
      expect(h().mocks.randomDrawn()).to.equal(1);
      expect(lookups(h()).slice(-1)).to.deep.equal(['km_endpoint:MISS']);
      expect(kmesh().logs()).to.deep.equal([unchangedLine(ENOENT)]);
    });
  });

  describe('C11: STRICT', () => {
    it('C11: endpoint by endpoint on prio 0, as RANDOM', () => {
      lbService(LB_POLICY_STRICT, [4, 3]);
      expectPicks(dialEach(RANDOMS), RANDOMS, 0, 4);
    });

    it('C11: a backend waypoint chosen by STRICT is used (via_waypoint)', () => {
      lbService(LB_POLICY_STRICT, [2]);
      kmesh().backend(1002, pod(podAt(0, 2), ['10.96.7.7', 15010]));
      h().mocks.setRandom([3]); // 3 % 2 + 1 = 2
      const c = connect4(h(), { to: VIP, port: SERVICE_PORT });
      expect(c.ctx).to.deep.equal(redirected(c, '10.96.7.7', 15010));
      expect(storageBytes(h())?.toString('hex')).to.equal(storageHex(originalDst(VIP, 80, true)));
    });

    const failures: Array<[string, () => void]> = [
      ['count[0] == 0 (prio 1 has endpoints)', () => lbService(LB_POLICY_STRICT, [0, 2], [0, 2])],
      ['endpoint missing', () => lbService(LB_POLICY_STRICT, [3], [1])], // random 1 -> index 2
      ['backend missing', () => {
        lbService(LB_POLICY_STRICT, [2]);
        h().map('km_backend').delete(encodeBackendKey({ backend_uid: 1002 })); // the backend of {7, 0, 2}
      }],
      ['no port match', () => {
        lbService(LB_POLICY_STRICT, [2]);
        kmesh().service(SID, service({ policy: LB_POLICY_STRICT, counts: [2], ports: [[443, 8443]] }));
      }],
    ];
    for (const [what, setUp] of failures) {
      it(`C11a: STRICT failure (${what}): no change, no fallback to another endpoint or priority`, () => {
        logDebug(h());
        setUp();
        h().mocks.setRandom([1]);
        const c = connect4(h(), { to: VIP, port: SERVICE_PORT });
        expectNoChange(c);
        expect(kmesh().logs().slice(-1)).to.deep.equal([unchangedLine(ENOENT)]);
      });
    }
  });

  describe('C12: FAILOVER', () => {
    it('C12: counts [0, 0, 4, 2, ...]: prio 2, index = random % 4 + 1, endpoint by endpoint', () => {
      lbService(LB_POLICY_FAILOVER, [0, 0, 4, 2], [1, 1, 4, 2]);
      expectPicks(dialEach(RANDOMS), RANDOMS, 2, 4);
    });

    it('C12a: the first priority with endpoints is used: prio 0 when count[0] > 0', () => {
      lbService(LB_POLICY_FAILOVER, [2, 3, 4]);
      const randoms = [0, 1, 7];
      expectPicks(dialEach(randoms), randoms, 0, 2);
    });

    it('C12a: prio 1 when only count[0] is 0, endpoint by endpoint', () => {
      lbService(LB_POLICY_FAILOVER, [0, 3, 4], [2, 3, 4]);
      const randoms = [0, 1, 2, 0xffffffff];
      expectPicks(dialEach(randoms), randoms, 1, 3);
    });

    it('C12a: a priority with a single endpoint (count 1) counts as having endpoints', () => {
      lbService(LB_POLICY_FAILOVER, [0, 1, 3], [1, 1, 3]);
      const randoms = [0, 2];
      expectPicks(dialEach(randoms), randoms, 1, 1);
    });

    it('C12a: the last priority (6) is reached', () => {
      const counts = [0, 0, 0, 0, 0, 0, 2];
      expect(counts).to.have.length(PRIO_COUNT);
      lbService(LB_POLICY_FAILOVER, counts);
      const randoms = [4, 5];
      expectPicks(dialEach(randoms), randoms, 6, 2);
    });

    it('C12b: every count is 0: no change, no random number drawn', () => {
      logDebug(h());
      lbService(LB_POLICY_FAILOVER, [0, 0, 0, 0, 0, 0, 0], [1, 1, 1, 1, 1, 1, 1]);
      const c = connect4(h(), { to: VIP, port: SERVICE_PORT });
      expectNoChange(c);
      expect(h().mocks.randomDrawn()).to.equal(0);
      expect(lookups(h())).to.deep.equal(['km_manage:HIT', 'km_frontend:HIT', 'km_service:HIT']);
      expect(kmesh().logs()).to.deep.equal([unchangedLine(ENOENT)]);
    });

    it('C12c: endpoint {7, 1, idx} missing: no change, no fallback to the next priority', () => {
      logDebug(h());
      lbService(LB_POLICY_FAILOVER, [0, 2, 2], [0, 1, 2]); // {7, 1, 2} absent
      h().mocks.setRandom([3]); // 3 % 2 + 1 = 2
      const c = connect4(h(), { to: VIP, port: SERVICE_PORT });
      expectNoChange(c);
      expect(h().mocks.randomDrawn()).to.equal(1);
      expect(lookups(h()).slice(-1)).to.deep.equal(['km_endpoint:MISS']);
      expect(kmesh().logs()).to.deep.equal([unchangedLine(ENOENT)]);
    });
  });

  describe('C13: unknown policy', () => {
    it('C13: lb_policy 3: no change, ERR "service 7: unsupported lb policy 3: -22", no random number drawn', () => {
      lbService(3, [2, 2]);
      const c = connect4(h(), { to: VIP, port: SERVICE_PORT });
      expectNoChange(c);
      expect(h().mocks.randomDrawn()).to.equal(0);
      expect(lookups(h())).to.deep.equal(['km_manage:HIT', 'km_frontend:HIT', 'km_service:HIT']);
      expect(kmesh().logs()).to.deep.equal([logLine('ERR', 'SERVICE', 'service 7: unsupported lb policy 3: -22\n')]);
    });

    it('C13: with DEBUG on, connect4 also logs "destination unchanged (-22)"', () => {
      logDebug(h());
      lbService(0xffffffff, [1]);
      const c = connect4(h(), { to: VIP, port: SERVICE_PORT });
      expectNoChange(c);
      expect(kmesh().logs()).to.deep.equal([
        logLine('ERR', 'SERVICE', `service 7: unsupported lb policy ${0xffffffff}: -22\n`),
        unchangedLine(EINVAL),
      ]);
    });
  });
});
