// cgroup/connect4 before traffic control: control commands (C1, C2), the managed-namespace check
// (C3), DNS (C4), the protocol filter (C5) and the pre-connect observation (C6).
import { expect } from 'chai';
import { mapId } from '../../../src/mock/mocks';
import { AF_INET6, CGROUP_SOCK_OK, encodeManagerKey, IPPROTO_TCP, IPPROTO_UDP, ip4 } from '../../../src/structs';
import {
  connect4, COOKIE, logLine, lookups, managedNetns, NOW, originalDst, pod, PRE_CONNECT_ONLY, redirected, service, SK,
  storageBytes, storageGets, storageHex, TAIL_CALL_FAILED, useConnect4,
} from './helpers';

const ENABLE = 929;
const DISABLE = 930;
const OTHER_COOKIE = 0x77n;

describe('cgroup/connect4: control commands, managed netns, DNS, protocol', () => {
  const { h, kmesh } = useConnect4();

  /** A namespace whose cookie is COOKIE, with no km_manage entry unless a test adds one. */
  function inNetns(): void {
    h().mocks.setNetnsCookie(COOKIE);
    h().mocks.setClock(NOW);
  }

  describe('C1/C2: control connects to 0.0.0.2', () => {
    it('C1: a connect to 0.0.0.2:929 sets km_manage[netns cookie] = 0, logs INFO and leaves the context alone', () => {
      inNetns();
      kmesh().manage(OTHER_COOKIE);
      const c = connect4(h(), { to: '0.0.0.2', port: ENABLE });
      expect(c.retval).to.equal(CGROUP_SOCK_OK);
      expect(c.ctx).to.deep.equal(c.sent);
      expect(kmesh().managed(COOKIE)).to.equal(0);
      expect(kmesh().managed(OTHER_COOKIE), 'other namespaces untouched').to.equal(0);
      expect([...h().map('km_manage').keys()]).to.have.length(2);
      expect(h().mocks.netnsCookieCalls()).to.equal(1);
      expect(kmesh().logs()).to.deep.equal([logLine('INFO', 'MANAGE', `netns ${COOKIE.toString(16)} managed\n`)]);
      expect(lookups(h()), 'no enabled check, no traffic control').to.deep.equal([]);
      expect(storageBytes(h())).to.equal(undefined);
    });

    it('C1: an existing km_manage value for the namespace is overwritten with 0 (BPF_ANY)', () => {
      inNetns();
      h().map('km_manage').update(encodeManagerKey({ netns_cookie: COOKIE }), Buffer.from([5, 0, 0, 0]));
      const c = connect4(h(), { to: '0.0.0.2', port: ENABLE, protocol: IPPROTO_UDP });
      expect(c.retval).to.equal(CGROUP_SOCK_OK);
      expect(c.ctx).to.deep.equal(c.sent);
      expect(kmesh().managed(COOKIE)).to.equal(0);
    });

    it('C2: a connect to 0.0.0.2:930 deletes km_manage[netns cookie] only, logs INFO and leaves the context alone', () => {
      inNetns();
      kmesh().manage(COOKIE);
      kmesh().manage(OTHER_COOKIE);
      const c = connect4(h(), { to: '0.0.0.2', port: DISABLE });
      expect(c.retval).to.equal(CGROUP_SOCK_OK);
      expect(c.ctx).to.deep.equal(c.sent);
      expect(kmesh().managed(COOKIE)).to.equal(undefined);
      expect(kmesh().managed(OTHER_COOKIE)).to.equal(0);
      expect(kmesh().logs()).to.deep.equal([logLine('INFO', 'MANAGE', `netns ${COOKIE.toString(16)} no longer managed\n`)]);
      expect(lookups(h())).to.deep.equal([]);
      expect(storageBytes(h())).to.equal(undefined);
    });

    it('C2: disabling a namespace that is not managed changes nothing and still returns 1', () => {
      inNetns();
      kmesh().manage(OTHER_COOKIE);
      const c = connect4(h(), { to: '0.0.0.2', port: DISABLE });
      expect(c.retval).to.equal(CGROUP_SOCK_OK);
      expect(c.ctx).to.deep.equal(c.sent);
      expect([...h().map('km_manage').keys()].map((k) => k.readBigUInt64LE(0))).to.deep.equal([OTHER_COOKIE]);
    });

    it('C1/C2: 0.0.0.2 on another port, 929 on another address, or a non-AF_INET user_family is no control command', () => {
      inNetns();
      for (const d of [
        { to: '0.0.0.2', port: 931 },
        { to: '0.0.0.3', port: ENABLE },
        { to: '2.0.0.0', port: ENABLE }, // host-order 2: the address must be compared in network order
        { to: '0.0.0.2', port: ENABLE, family: AF_INET6 },
        { to: '0.0.0.2', port: DISABLE, family: AF_INET6 },
      ]) {
        const c = connect4(h(), d);
        expect(c.retval, JSON.stringify(d)).to.equal(CGROUP_SOCK_OK);
        expect(c.ctx, JSON.stringify(d)).to.deep.equal(c.sent);
      }
      expect(kmesh().managed(COOKIE), 'never enabled').to.equal(undefined);
      expect(kmesh().logs()).to.deep.equal([]);
      // each went on to the enabled check (C3), which missed
      expect(lookups(h())).to.deep.equal(Array(5).fill('km_manage:MISS'));
    });
  });

  describe('C3: the namespace is not managed', () => {
    it('C3: without a km_manage entry for the cookie the connect is left alone (another namespace managed)', () => {
      inNetns();
      kmesh().manage(OTHER_COOKIE);
      kmesh().frontend('10.96.0.10', 7);
      kmesh().service(7, service({ waypoint: ['10.96.5.5', 15008] }));
      const c = connect4(h(), { to: '10.96.0.10', port: 80 });
      expect(c.retval).to.equal(CGROUP_SOCK_OK);
      expect(c.ctx).to.deep.equal(c.sent);
      expect(lookups(h())).to.deep.equal(['km_manage:MISS']);
      expect(storageBytes(h())).to.equal(undefined);
      expect(h().mocks.tailCalls()).to.deep.equal([]);
      expect(h().mocks.clockCalls()).to.equal(0);
    });

    it('C3: a managed namespace goes on to traffic control (the enabled check hits)', () => {
      managedNetns(h());
      const c = connect4(h(), { to: '10.96.0.10', port: 80 });
      expect(c.retval).to.equal(CGROUP_SOCK_OK);
      expect(lookups(h())).to.deep.equal(['km_manage:HIT', 'km_frontend:MISS']);
    });
  });

  describe('C4: DNS (port 53)', () => {
    it('C4: port 53 never reaches traffic control or the pre-connect observation, whatever the frontend says', () => {
      managedNetns(h());
      kmesh().frontend('10.96.0.53', 7);
      kmesh().service(7, service({ waypoint: ['10.96.5.5', 15008] }));
      kmesh().backend(0, pod('10.244.0.53'));
      const c = connect4(h(), { to: '10.96.0.53', port: 53 });
      expect(c.retval).to.equal(CGROUP_SOCK_OK);
      expect(c.ctx).to.deep.equal({ ...c.sent, user_ip4: ip4('10.244.0.53') });
      expect(lookups(h())).to.deep.equal(['km_manage:HIT', 'km_backend:HIT']);
      expect(h().mocks.clockCalls(), 'no connect_ns').to.equal(0);
      expect(h().mocks.randomDrawn()).to.equal(0);
      expect(h().mocks.tailCalls()).to.deep.equal([]);
    });

    it('C4a: port 53 without km_backend{0}: no change and no storage', () => {
      managedNetns(h());
      kmesh().backend(1, pod('10.244.0.53'));
      const c = connect4(h(), { to: '8.8.8.8', port: 53 });
      expect(c.retval).to.equal(CGROUP_SOCK_OK);
      expect(c.ctx).to.deep.equal(c.sent);
      expect(lookups(h())).to.deep.equal(['km_manage:HIT', 'km_backend:MISS']);
      expect(h().mocks.storageCalls()).to.deep.equal([]);
      expect(storageBytes(h())).to.equal(undefined);
    });

    it('C4b: TCP port 53 with km_backend{0}: user_ip4 = backend 0 address, port kept, original destination stored (F_CREATE)', () => {
      managedNetns(h());
      kmesh().backend(0, pod('10.244.0.53', ['10.96.5.5', 15008])); // a waypoint on backend 0 plays no part
      const c = connect4(h(), { to: '8.8.8.8', port: 53 });
      expect(c.retval).to.equal(CGROUP_SOCK_OK);
      expect(c.ctx).to.deep.equal({ ...c.sent, user_ip4: ip4('10.244.0.53') });
      expect(storageGets(h())).to.deep.equal(['CREATED']);
      expect(storageBytes(h())?.toString('hex')).to.equal(storageHex(originalDst('8.8.8.8', 53, false, 0n)));
      expect(h().mocks.tailCalls()).to.deep.equal([]);
    });

    it('C4b: UDP port 53 is redirected the same way (any protocol)', () => {
      managedNetns(h());
      kmesh().backend(0, pod('10.244.0.53'));
      const c = connect4(h(), { to: '1.1.1.1', port: 53, protocol: IPPROTO_UDP });
      expect(c.retval).to.equal(CGROUP_SOCK_OK);
      expect(c.ctx).to.deep.equal({ ...c.sent, user_ip4: ip4('10.244.0.53') });
      expect(storageBytes(h())?.toString('hex')).to.equal(storageHex(originalDst('1.1.1.1', 53, false, 0n)));
    });

    it('C4b: a socket whose storage already holds an original destination keeps it; via_waypoint is reset', () => {
      managedNetns(h());
      kmesh().backend(0, pod('10.244.0.53'));
      h().mocks.setStorage(SK, Buffer.from(storageHex(originalDst('9.9.9.9', 5353, true, 5n)), 'hex'), 'km_sockstorage');
      const c = connect4(h(), { to: '1.1.1.1', port: 53 });
      expect(c.ctx.user_ip4).to.equal(ip4('10.244.0.53'));
      expect(storageGets(h())).to.deep.equal(['FOUND']);
      expect(storageBytes(h())?.toString('hex')).to.equal(storageHex(originalDst('9.9.9.9', 5353, false, 5n)));
    });
  });

  describe('C5/C6: protocol and the pre-connect observation', () => {
    it('C5: a UDP connect is left alone: no storage, no clock, no frontend lookup', () => {
      managedNetns(h());
      kmesh().frontend('10.96.0.10', 7);
      kmesh().service(7, service({ waypoint: ['10.96.5.5', 15008] }));
      const c = connect4(h(), { to: '10.96.0.10', port: 80, protocol: IPPROTO_UDP });
      expect(c.retval).to.equal(CGROUP_SOCK_OK);
      expect(c.ctx).to.deep.equal(c.sent);
      expect(lookups(h())).to.deep.equal(['km_manage:HIT']);
      expect(h().mocks.storageCalls()).to.deep.equal([]);
      expect(h().mocks.clockCalls()).to.equal(0);
    });

    it('C6: a TCP connect creates the socket storage (F_CREATE) with connect_ns = ktime, then goes to traffic control', () => {
      managedNetns(h());
      const c = connect4(h(), { to: '10.96.0.10', port: 80, protocol: IPPROTO_TCP });
      expect(c.retval).to.equal(CGROUP_SOCK_OK);
      expect(c.ctx).to.deep.equal(c.sent);
      expect(h().mocks.clockCalls()).to.equal(1);
      expect(storageGets(h())).to.deep.equal(['CREATED']);
      expect(storageBytes(h())?.toString('hex')).to.equal(storageHex(PRE_CONNECT_ONLY));
      expect(lookups(h())).to.deep.equal(['km_manage:HIT', 'km_frontend:MISS']);
    });

    it('C6: an existing storage gets only connect_ns rewritten', () => {
      managedNetns(h());
      h().mocks.setStorage(SK, Buffer.from(storageHex({ connect_ns: 1n, last_report_ns: 2n, direction: 2, has_encoded: true }), 'hex'), 'km_sockstorage');
      connect4(h(), { to: '10.96.0.10', port: 80 });
      expect(storageGets(h())).to.deep.equal(['FOUND']);
      expect(storageBytes(h())?.toString('hex')).to.equal(storageHex({ connect_ns: NOW, last_report_ns: 2n, direction: 2, has_encoded: true }));
    });

    it('C6a: pre-connect storage NULL: ERR "pre connect: no sk storage", and traffic control carries on', () => {
      managedNetns(h());
      h().mocks.storageReturnsNull([0]);
      kmesh().frontend('10.96.0.10', 7);
      kmesh().service(7, service({ waypoint: ['10.96.5.5', 15008] }));
      const c = connect4(h(), { to: '10.96.0.10', port: 80 });
      expect(c.retval).to.equal(CGROUP_SOCK_OK);
      expect(c.ctx).to.deep.equal(redirected(c, '10.96.5.5', 15008));
      expect(kmesh().logs()).to.deep.equal([logLine('ERR', 'PROBE', 'pre connect: no sk storage\n'), TAIL_CALL_FAILED]);
      expect(h().mocks.clockCalls(), 'no clock read without storage').to.equal(0);
      expect(storageGets(h())).to.deep.equal(['FORCED', 'CREATED']);
      expect(storageBytes(h())?.toString('hex')).to.equal(storageHex(originalDst('10.96.0.10', 80, true, 0n)));
      expect(h().mocks.tailCalls()).to.deep.equal([{ map: mapId('km_cgr_tailcall'), index: 0, taken: false }]);
    });
  });
});
