// cgroup/sendmsg4 and cgroup/recvmsg4 (bpf/cgroup_sock.c), re-hosted as xdp_sendmsg4 and
// xdp_recvmsg4: the SM* and RM* rows of spec/branches/cgroup_sock.json. UDP DNS goes to the address
// of km_backend{0} (the DNS proxy) on sendmsg; replies appear to come from the address the app
// sent to on recvmsg. The context is the mock_sock_addr global.
import { expect } from 'chai';
import type { CValue } from '../../src/btf/value';
import { ipAddr, KmeshMaps, LogLine } from '../../src/kmesh/fixtures';
import { useHarness } from '../../src/mock/harness';
import { LookupResult, mapId, StorageResult } from '../../src/mock/mocks';
import {
  AF_INET, AF_INET6, BpfSockAddr, CGROUP_SOCK_OK, decodeSockStorageData, DISABLE_KMESH_PORT, DNS_PORT, ENABLE_KMESH_PORT,
  encodeManagerKey, encodeSockStorageData, Init, IPPROTO_UDP, ip4, port, SOCK_DGRAM, SockStorageData,
} from '../../src/structs';

const SK = 0x5eed_0053n;
const COOKIE = 0xd15_ea5en;
const F_CREATE = 1n; // BPF_SK_STORAGE_GET_F_CREATE
const DNS_SERVICE = '10.96.0.10'; // what the app sends its queries to
const DNS_PROXY = '10.244.0.5'; // km_backend{0}.addr

describe('cgroup/sendmsg4 and cgroup/recvmsg4 (via xdp_sendmsg4, xdp_recvmsg4)', () => {
  const h = useHarness('build/mocks/cgroup_sock_harness.o', ['xdp_sendmsg4', 'xdp_recvmsg4']);
  const kmesh = (): KmeshMaps => new KmeshMaps(h());

  interface Ran {
    ret: number;
    before: BpfSockAddr;
    after: BpfSockAddr;
  }

  /** Runs `entry` on a UDP socket whose context holds `address`:`portNo` (AF_INET unless told). */
  function runUdp(entry: 'xdp_sendmsg4' | 'xdp_recvmsg4', address: string, portNo: number, family = AF_INET): Ran {
    const before: BpfSockAddr = {
      user_family: family,
      user_ip4: ip4(address),
      user_ip6: [0, 0, 0, 0],
      user_port: port(portNo),
      family: AF_INET,
      type: SOCK_DGRAM,
      protocol: IPPROTO_UDP,
      msg_src_ip4: ip4('10.244.1.9'),
      msg_src_ip6: [0, 0, 0, 0],
      sk: SK,
    };
    h().set('mock_sock_addr', before as unknown as CValue);
    h().run(entry, { data: Buffer.alloc(14) });
    return { ret: h().mocks.retval(), before, after: h().get('mock_sock_addr') as unknown as BpfSockAddr };
  }
  /** sendmsg4: the app sends a datagram to `to`:`portNo`. */
  const sendTo = (to: string, portNo: number, family?: number): Ran => runUdp('xdp_sendmsg4', to, portNo, family);
  /** recvmsg4: the app receives a datagram from `from`:`portNo`. */
  const receiveFrom = (from: string, portNo: number, family?: number): Ran => runUdp('xdp_recvmsg4', from, portNo, family);

  function expectUnchanged(r: Ran): void {
    expect(r.ret).to.equal(CGROUP_SOCK_OK);
    expect(r.after).to.deep.equal(r.before);
  }

  function expectIp4(r: Ran, address: string): void {
    expect(r.ret).to.equal(CGROUP_SOCK_OK);
    expect(r.after).to.deep.equal({ ...r.before, user_ip4: ip4(address) });
  }

  function expectStorage(expected: Init<SockStorageData>): void {
    const bytes = h().mocks.storage(SK, 64, 'km_sockstorage');
    expect(bytes, 'sk storage entry').to.not.equal(undefined);
    expect(decodeSockStorageData(bytes!)).to.deep.equal(decodeSockStorageData(encodeSockStorageData(expected)));
  }

  function storageCall(result: number, slot = 0) {
    return { sk: SK, flags: F_CREATE, map: mapId('km_sockstorage'), result, slot };
  }

  function logLine(level: string, tag: string, text: string): LogLine {
    return { level, tag, text, ret: Buffer.byteLength(`[${tag}] ${level}: ${text}`) + 1 };
  }

  function lookups(): string[] {
    const names = ['km_manage', 'km_backend', 'km_frontend'];
    const result = (r: number) => Object.entries(LookupResult).find(([, v]) => v === r)?.[0] ?? r;
    return h().mocks.lookupCalls().map((c) => `${names.find((n) => mapId(n) === c.map) ?? c.map} ${result(c.result)}`);
  }

  const dnsProxy = (): void => kmesh().backend(0, { addr: ipAddr(DNS_PROXY) });

  for (const [prefix, run] of [['SM', sendTo], ['RM', receiveFrom]] as const) {
    describe(`${prefix === 'SM' ? 'sendmsg4' : 'recvmsg4'} control commands`, () => {
      beforeEach(() => h().mocks.setNetnsCookie(COOKIE));

      it(`${prefix}1: 0.0.0.2 port 929 sets km_manage[netns cookie] = 0, logs INFO, context unchanged`, () => {
        h().map('km_manage').update(encodeManagerKey({ netns_cookie: COOKIE }), Buffer.from([9, 0, 0, 0]));
        const r = run('0.0.0.2', ENABLE_KMESH_PORT);
        expectUnchanged(r);
        expect(h().map('km_manage').entries()).to.deep.equal([[encodeManagerKey({ netns_cookie: COOKIE }), Buffer.alloc(4)]]);
        expect(kmesh().logs()).to.deep.equal([logLine('INFO', 'MANAGE', 'netns d15ea5e managed\n')]);
        expect(lookups()).to.deep.equal([]);
        expect(h().mocks.storageCalls()).to.deep.equal([]);
      });

      it(`${prefix}1: 0.0.0.2 port 929 with a user_family other than AF_INET is no control command`, () => {
        const r = run('0.0.0.2', ENABLE_KMESH_PORT, AF_INET6);
        expectUnchanged(r);
        expect(kmesh().managed(COOKIE)).to.equal(undefined);
        expect(lookups()).to.deep.equal(['km_manage MISS']);
      });

      it(`${prefix}1: 0.0.0.3 port 929 is no control command`, () => {
        const r = run('0.0.0.3', ENABLE_KMESH_PORT);
        expectUnchanged(r);
        expect(kmesh().managed(COOKIE)).to.equal(undefined);
        expect(kmesh().logs()).to.deep.equal([]);
      });

      it(`${prefix}2: 0.0.0.2 port 930 deletes km_manage[netns cookie], logs INFO, context unchanged`, () => {
        kmesh().manage(COOKIE);
        kmesh().manage(COOKIE + 1n);
        const r = run('0.0.0.2', DISABLE_KMESH_PORT);
        expectUnchanged(r);
        expect(kmesh().managed(COOKIE)).to.equal(undefined);
        expect(kmesh().managed(COOKIE + 1n)).to.equal(0);
        expect(kmesh().logs()).to.deep.equal([logLine('INFO', 'MANAGE', 'netns d15ea5e no longer managed\n')]);
        expect(lookups()).to.deep.equal([]);
        expect(h().mocks.storageCalls()).to.deep.equal([]);
      });
    });
  }

  describe('sendmsg4', () => {
    beforeEach(() => h().mocks.setNetnsCookie(COOKIE));

    it('SM3: a namespace kmesh does not manage: DNS is not redirected', () => {
      kmesh().manage(COOKIE + 1n);
      dnsProxy();
      const r = sendTo(DNS_SERVICE, DNS_PORT);
      expectUnchanged(r);
      expect(lookups()).to.deep.equal(['km_manage MISS']);
      expect(h().mocks.storageCalls()).to.deep.equal([]);
    });

    describe('in a managed namespace', () => {
      beforeEach(() => kmesh().manage(COOKIE));

      for (const p of [52, 54, 5353, 13568 /* 0x3500: 53 in the other byte order */]) {
        it(`SM4: port ${p} (not 53): no change, backend{0} not even looked up`, () => {
          dnsProxy();
          const r = sendTo(DNS_SERVICE, p);
          expectUnchanged(r);
          expect(lookups()).to.deep.equal(['km_manage HIT']);
          expect(h().mocks.storageCalls()).to.deep.equal([]);
        });
      }

      it('SM5: port 53 and no km_backend{0}: no change, no storage', () => {
        kmesh().backend(1, { addr: ipAddr(DNS_PROXY) });
        const r = sendTo(DNS_SERVICE, DNS_PORT);
        expectUnchanged(r);
        expect(lookups()).to.deep.equal(['km_manage HIT', 'km_backend MISS']);
        expect(h().mocks.storageCalls()).to.deep.equal([]);
      });

      it('SM6: port 53 and km_backend{0}: user_ip4 = the proxy (port kept), original destination stored', () => {
        dnsProxy();
        const r = sendTo(DNS_SERVICE, DNS_PORT);
        expectIp4(r, DNS_PROXY);
        expect(r.after.user_port).to.equal(0x3500); // htons(53), unchanged
        expect(h().mocks.storageCalls()).to.deep.equal([storageCall(StorageResult.CREATED)]);
        expectStorage({ via_waypoint: false, has_set_ip: true, sk_tuple: { ipv4: { daddr: ip4(DNS_SERVICE), dport: port(53) } } });
        expect(lookups()).to.deep.equal(['km_manage HIT', 'km_backend HIT']);
        expect(kmesh().logs()).to.deep.equal([]);
      });

      it('SM6: a second query keeps the first original destination (has_set_ip) and clears via_waypoint', () => {
        const first: Init<SockStorageData> = {
          connect_ns: 3, via_waypoint: true, has_set_ip: true, sk_tuple: { ipv4: { daddr: ip4('10.96.0.11'), dport: port(53) } },
        };
        h().mocks.setStorage(SK, encodeSockStorageData(first), 'km_sockstorage');
        dnsProxy();
        const r = sendTo(DNS_SERVICE, DNS_PORT);
        expectIp4(r, DNS_PROXY);
        expect(h().mocks.storageCalls()).to.deep.equal([storageCall(StorageResult.FOUND)]);
        expectStorage({ ...first, via_waypoint: false });
      });

      it('SM7: port 53, proxy present, storage NULL: ERR logged, user_ip4 still rewritten', () => {
        h().mocks.storageReturnsNull();
        dnsProxy();
        const r = sendTo(DNS_SERVICE, DNS_PORT);
        expectIp4(r, DNS_PROXY);
        expect(kmesh().logs()).to.deep.equal([logLine('ERR', 'KMESH', 'original dst: no sk storage\n')]);
        expect(h().mocks.storageCalls()).to.deep.equal([storageCall(StorageResult.FORCED, 8)]);
        expect(h().mocks.storage(SK, 64)).to.equal(undefined);
      });
    });
  });

  describe('recvmsg4', () => {
    beforeEach(() => h().mocks.setNetnsCookie(COOKIE));

    it('RM3: a namespace kmesh does not manage: the source is not rewritten, no storage', () => {
      h().mocks.setStorage(SK, encodeSockStorageData({ has_set_ip: true, sk_tuple: { ipv4: { daddr: ip4(DNS_SERVICE) } } }), 'km_sockstorage');
      const r = receiveFrom(DNS_PROXY, DNS_PORT);
      expectUnchanged(r);
      expect(lookups()).to.deep.equal(['km_manage MISS']);
      expect(h().mocks.storageCalls()).to.deep.equal([]);
    });

    describe('in a managed namespace', () => {
      beforeEach(() => kmesh().manage(COOKIE));

      it('RM4: storage get (F_CREATE) returns NULL: no change', () => {
        h().mocks.storageReturnsNull();
        const r = receiveFrom(DNS_PROXY, DNS_PORT);
        expectUnchanged(r);
        expect(h().mocks.storageCalls()).to.deep.equal([storageCall(StorageResult.FORCED, 8)]);
        expect(kmesh().logs()).to.deep.equal([]);
      });

      it('RM5: storage present: user_ip4 = sk_tuple.ipv4.daddr (the address the app sent to), port kept', () => {
        h().mocks.setStorage(
          SK,
          encodeSockStorageData({ has_set_ip: true, sk_tuple: { ipv4: { saddr: ip4('10.0.0.99'), daddr: ip4(DNS_SERVICE), dport: port(53) } } }),
          'km_sockstorage',
        );
        const r = receiveFrom(DNS_PROXY, DNS_PORT);
        expectIp4(r, DNS_SERVICE);
        expect(r.after.user_port).to.equal(port(53));
        expect(h().mocks.storageCalls()).to.deep.equal([storageCall(StorageResult.FOUND)]);
      });

      it('RM5: a fresh socket (entry created by F_CREATE, zero-filled): user_ip4 = 0.0.0.0', () => {
        const r = receiveFrom(DNS_PROXY, DNS_PORT);
        expectIp4(r, '0.0.0.0');
        expect(h().mocks.storageCalls()).to.deep.equal([storageCall(StorageResult.CREATED)]);
        expectStorage({});
      });

      it('RM5: a DNS round trip: sendmsg4 to the service then recvmsg4 from the proxy shows the service address', () => {
        dnsProxy();
        expectIp4(sendTo(DNS_SERVICE, DNS_PORT), DNS_PROXY);
        expectIp4(receiveFrom(DNS_PROXY, DNS_PORT), DNS_SERVICE);
        expect(h().mocks.storageCalls()).to.deep.equal([storageCall(StorageResult.CREATED), storageCall(StorageResult.FOUND)]);
      });
    });
  });
});
