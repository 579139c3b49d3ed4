import { expect } from 'chai';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import {
  AF_INET,
  AF_INET6,
  BACKEND_VALUE_SIZE,
  CONTROL_CMD_IP4,
  CONTROL_CMD_IP6,
  Codec,
  KMESH_MAPS,
  LayoutError,
  SERVICE_VALUE_SIZE,
  TLV_IP4_TOTAL,
  TLV_IP6_TOTAL,
  backendKeyCodec,
  backendValueCodec,
  decodeBackendValue,
  decodeEndpointKey,
  decodeFrontendKey,
  decodeIpAddr,
  encodeIpAddr,
  decodeLogEvent,
  decodeManagerKey,
  decodeServiceValue,
  decodeSockStorageData,
  encodeBackendValue,
  encodeEndpointKey,
  encodeFrontendKey,
  encodeFrontendValue,
  encodeLogEvent,
  encodeManagerKey,
  encodeServiceKey,
  encodeServiceValue,
  encodeSockStorageData,
  endpointKeyCodec,
  endpointValueCodec,
  frontendKeyCodec,
  frontendValueCodec,
  ip4,
  ip6,
  ipAddrCodec,
  logEventCodec,
  managerKeyCodec,
  port,
  serviceKeyCodec,
  serviceValueCodec,
  sockStorageDataCodec,
  tcpProbeInfoCodec,
  decodeTcpProbeInfo,
  encodeTcpProbeInfo,
} from '../../src/structs';
import { haveCompiler, measure } from './cc';

const off = (c: Codec<unknown>, path: string): number => {
  const o = c.offsets()[path];
  if (!o) throw new Error(`no member ${path} in ${c.name}`);
  return o.offset;
};

describe('structs/kmesh', () => {
  describe('sizes and offsets from PROGRAMS.md', () => {
    it('has the documented sizes', () => {
      const sizes: [Codec<unknown>, number][] = [
        [ipAddrCodec, 16], [managerKeyCodec, 16], [sockStorageDataCodec, 64], [frontendKeyCodec, 16],
        [frontendValueCodec, 4], [serviceKeyCodec, 4], [serviceValueCodec, 132], [endpointKeyCodec, 12],
        [endpointValueCodec, 4], [backendKeyCodec, 4], [backendValueCodec, 80], [logEventCodec, 260], [tcpProbeInfoCodec, 120],
      ];
      for (const [c, size] of sizes) {
        expect(c.size, c.name).to.equal(size);
        expect(c.layout.span, c.name).to.equal(size);
      }
    });
    it('sock_storage_data: flags @16..20, sk_tuple @24, v4 daddr @28 / dport @34, v6 daddr @40 / dport @58', () => {
      const c = sockStorageDataCodec;
      expect([
        off(c, 'connect_ns'), off(c, 'last_report_ns'), off(c, 'direction'), off(c, 'connect_success'),
        off(c, 'via_waypoint'), off(c, 'has_encoded'), off(c, 'has_set_ip'), off(c, 'sk_tuple'),
        off(c, 'sk_tuple.ipv4.daddr'), off(c, 'sk_tuple.ipv4.dport'), off(c, 'sk_tuple.ipv6.daddr'), off(c, 'sk_tuple.ipv6.dport'),
      ]).to.deep.equal([0, 8, 16, 17, 18, 19, 20, 24, 28, 34, 40, 58]);
    });
    it('service_value: counts @0, lb_policy @28, service_port @32, target_port @72, wp_addr @112, waypoint_port @128', () => {
      const c = serviceValueCodec;
      expect(['prio_endpoint_count', 'lb_policy', 'service_port', 'target_port', 'wp_addr', 'waypoint_port'].map((p) => off(c, p)))
        .to.deep.equal([0, 28, 32, 72, 112, 128]);
      expect(c.offsets().prio_endpoint_count.size).to.equal(28);
      expect(c.offsets().service_port.size).to.equal(40);
    });
    it('backend_value: addr @0, service_count @16, service @20, wp_addr @60, waypoint_port @76', () => {
      const c = backendValueCodec;
      expect(['addr', 'service_count', 'service', 'wp_addr', 'waypoint_port'].map((p) => off(c, p))).to.deep.equal([0, 16, 20, 60, 76]);
    });
    it('endpoint_key: service_id @0, prio @4, backend_index @8', () => {
      expect(['service_id', 'prio', 'backend_index'].map((p) => off(endpointKeyCodec, p))).to.deep.equal([0, 4, 8]);
    });
    it('the map table uses these sizes', () => {
      expect(KMESH_MAPS.km_service.valueSize).to.equal(SERVICE_VALUE_SIZE);
      expect(KMESH_MAPS.km_backend.valueSize).to.equal(BACKEND_VALUE_SIZE);
      expect(KMESH_MAPS.km_endpoint.keySize).to.equal(12);
      expect(KMESH_MAPS.km_sockstorage.valueSize).to.equal(64);
    });
  });

  describe("layouts match gcc offsetof on the programs' own headers, bpf/include (live)", function () {
    const INCLUDE = join(__dirname, '..', '..', 'bpf', 'include');
    const HEADERS = ['common.h', 'workload.h', 'bpf_log.h', 'probe.h'];
    const CASES: [string, Codec<unknown>][] = [
      ['struct ip_addr', ipAddrCodec], ['struct manager_key', managerKeyCodec],
      ['struct sock_storage_data', sockStorageDataCodec], ['struct frontend_key', frontendKeyCodec],
      ['struct frontend_value', frontendValueCodec], ['struct service_key', serviceKeyCodec],
      ['struct service_value', serviceValueCodec], ['struct endpoint_key', endpointKeyCodec],
      ['struct endpoint_value', endpointValueCodec], ['struct backend_key', backendKeyCodec],
      ['struct backend_value', backendValueCodec], ['struct log_event', logEventCodec],
      ['struct tcp_probe_info', tcpProbeInfoCodec],
    ];
    let measured: ReturnType<typeof measure>;
    before(function () {
      if (!haveCompiler() || !HEADERS.every((h) => existsSync(join(INCLUDE, h)))) this.skip();
      this.timeout(20000);
      measured = measure(
        HEADERS.map((h) => `#include "${h}"`).join('\n'),
        CASES.map(([type, c]) => ({ type, members: Object.keys(c.offsets()) })),
        [INCLUDE, '/usr/include/x86_64-linux-gnu'],
      );
    });
    for (const [type, c] of CASES) {
      it(type, () => {
        expect(measured[type].size, 'sizeof').to.equal(c.size);
        expect(measured[type].members).to.deep.equal(c.offsets());
      });
    }
  });

  describe('ip_addr / frontend_key / manager_key', () => {
    it('an IPv4 key is the network-order address then 12 zero bytes', () => {
      const buf = encodeFrontendKey({ addr: { ip4: ip4('10.96.0.10') } });
      expect(buf.toString('hex')).to.equal('0a60000a' + '00'.repeat(12));
      expect(decodeFrontendKey(buf)).to.deep.equal({ addr: { ip4: ip4('10.96.0.10'), ip6: [ip4('10.96.0.10'), 0, 0, 0] } });
      expect(encodeIpAddr({ ip4: ip4('10.96.0.10') }).equals(buf)).to.equal(true);
    });
    it('an IPv6 key is the 16 network-order bytes', () => {
      const buf = encodeFrontendKey({ addr: { ip6: ip6('fd00::1') } });
      expect(buf.toString('hex')).to.equal('fd000000000000000000000000000001');
      expect(decodeFrontendKey(buf).addr.ip6).to.deep.equal(ip6('fd00::1'));
      expect(decodeIpAddr(buf).ip6).to.deep.equal(ip6('fd00::1'));
    });
    it('manager_key holds the netns cookie as a little-endian u64', () => {
      const buf = encodeManagerKey({ netns_cookie: 0x1_0000_0001n });
      expect(buf.toString('hex')).to.equal('0100000001000000' + '00'.repeat(8));
      const d = decodeManagerKey(buf);
      expect(d.netns_cookie).to.equal(0x1_0000_0001n);
      expect(d.addr.ip6).to.deep.equal([1, 1, 0, 0]);
      expect(decodeManagerKey(encodeManagerKey({ addr: { ip4: CONTROL_CMD_IP4 } })).addr.ip4).to.equal(ip4('0.0.0.2'));
    });
    it('the control addresses are 0.0.0.2 and ::2 as stored', () => {
      expect(CONTROL_CMD_IP4).to.equal(ip4('0.0.0.2'));
      expect(CONTROL_CMD_IP6).to.deep.equal(ip6('::2'));
    });
    it('rejects wrong sizes, naming the struct', () => {
      expect(() => decodeFrontendKey(Buffer.alloc(4))).to.throw(LayoutError, /struct frontend_key: expected 16 bytes, got 4/);
      expect(() => decodeManagerKey(Buffer.alloc(8))).to.throw(LayoutError, /struct manager_key: expected 16 bytes, got 8/);
    });
  });

  describe('sock_storage_data', () => {
    it('round trips, the IPv4 destination landing at @28 / @34', () => {
      const v = {
        connect_ns: 1_000_000_000n, last_report_ns: 2n ** 63n + 5n, direction: 2, connect_success: 1,
        via_waypoint: true, has_encoded: false, has_set_ip: true,
        sk_tuple: { ipv4: { saddr: 0, daddr: ip4('192.168.1.1'), sport: 0, dport: port(8080) } },
      };
      const buf = encodeSockStorageData(v);
      expect(buf.length).to.equal(64);
      expect(buf.readBigUInt64LE(8)).to.equal(2n ** 63n + 5n);
      expect([...buf.subarray(16, 24)]).to.deep.equal([2, 1, 1, 0, 1, 0, 0, 0]);
      expect(buf.subarray(28, 32).toString('hex')).to.equal('c0a80101');
      expect(buf.subarray(34, 36).toString('hex')).to.equal('1f90');
      const d = decodeSockStorageData(buf);
      expect(d.sk_tuple.ipv4).to.deep.equal(v.sk_tuple.ipv4);
      expect({ ...d, sk_tuple: undefined }).to.deep.equal({ ...v, sk_tuple: undefined });
    });
    it('the IPv6 destination lands at @40..55 / @58', () => {
      const buf = encodeSockStorageData({ sk_tuple: { ipv6: { daddr: ip6('fd00::5'), dport: port(15001) } } });
      expect(buf.subarray(40, 56).toString('hex')).to.equal('fd000000000000000000000000000005');
      expect(buf.readUInt16BE(58)).to.equal(15001);
      expect(decodeSockStorageData(buf).sk_tuple.ipv6.daddr).to.deep.equal(ip6('fd00::5'));
    });
    it('defaults to all zero and decodes flags as booleans', () => {
      expect(encodeSockStorageData({}).equals(Buffer.alloc(64))).to.equal(true);
      const raw = Buffer.alloc(64);
      raw[18] = 1;
      const d = decodeSockStorageData(raw);
      expect([d.via_waypoint, d.has_encoded, d.has_set_ip]).to.deep.equal([true, false, false]);
      expect(d.connect_ns).to.equal(0n);
    });
    it('rejects wrong sizes and bad values', () => {
      expect(() => decodeSockStorageData(Buffer.alloc(60))).to.throw(/struct sock_storage_data: expected 64 bytes, got 60/);
      expect(() => encodeSockStorageData({ via_waypoint: 2 as never })).to.throw(/struct sock_storage_data: via_waypoint: expected a boolean/);
      expect(() => encodeSockStorageData({ direction: 256 })).to.throw(LayoutError, /struct sock_storage_data: direction: .*out of range/);
      expect(() => encodeSockStorageData({ sk_tuple: { ipv4: { dport: 70000 } } }))
        .to.throw(LayoutError, /struct sock_storage_data: sk_tuple\.ipv4\.dport: .*out of range/);
      expect(() => encodeSockStorageData({ sk_tuple: { ipv6: { daddr: [1, 2, 3, 4, 5] } } }))
        .to.throw(LayoutError, /sk_tuple\.ipv6\.daddr: 5 elements given, the array holds 4/);
      expect(() => encodeServiceValue({ service_port: [1, -1] })).to.throw(LayoutError, /struct service_value: service_port\[1\]: /);
      expect(() => encodeManagerKey({ addr: { ip5: 1 } } as never)).to.throw(LayoutError, /struct manager_key: addr: unknown field 'ip5' \(fields: ip4, ip6\)/);
    });
  });

  describe('service / endpoint / backend', () => {
    it('service_value round trips and zero-fills the arrays', () => {
      const v = {
        prio_endpoint_count: [3, 0, 1], lb_policy: 2, service_port: [port(80), port(443)], target_port: [port(8080), port(8443)],
        wp_addr: { ip4: ip4('10.0.0.9') }, waypoint_port: port(15008),
      };
      const buf = encodeServiceValue(v);
      expect(buf.length).to.equal(132);
      expect(buf.readUInt32LE(8)).to.equal(1);
      expect(buf.readUInt32LE(28)).to.equal(2);
      expect(buf.readUInt16BE(36)).to.equal(443);
      expect(buf.readUInt16BE(72)).to.equal(8080);
      expect(buf.subarray(112, 116).toString('hex')).to.equal('0a000009');
      expect(buf.readUInt16BE(128)).to.equal(15008);
      const d = decodeServiceValue(buf);
      expect(d.prio_endpoint_count).to.deep.equal([3, 0, 1, 0, 0, 0, 0]);
      expect(d.service_port).to.deep.equal([port(80), port(443), 0, 0, 0, 0, 0, 0, 0, 0]);
      expect(d.wp_addr.ip4).to.equal(ip4('10.0.0.9'));
      expect(encodeServiceValue(d).equals(buf)).to.equal(true);
    });
    it('rejects too many ports or priorities', () => {
      expect(() => encodeServiceValue({ service_port: new Array(11).fill(1) })).to.throw(/struct service_value: service_port: 11 elements given, the array holds 10/);
      expect(() => encodeServiceValue({ prio_endpoint_count: new Array(8).fill(0) })).to.throw(/holds 7/);
    });
    it('endpoint_key is service_id, prio, backend_index in that order', () => {
      const buf = encodeEndpointKey({ service_id: 7, prio: 1, backend_index: 2 });
      expect(buf.toString('hex')).to.equal('070000000100000002000000');
      expect(decodeEndpointKey(buf)).to.deep.equal({ service_id: 7, prio: 1, backend_index: 2 });
      expect(() => decodeEndpointKey(Buffer.alloc(8))).to.throw(/struct endpoint_key: expected 12 bytes, got 8/);
    });
    it('backend_value round trips with addr @0 and waypoint @60/@76', () => {
      const v = {
        addr: { ip6: ip6('fd00::10') }, service_count: 2, service: [11, 12], wp_addr: { ip6: ip6('fd00::99') }, waypoint_port: port(15008),
      };
      const buf = encodeBackendValue(v);
      expect(buf.subarray(0, 16).toString('hex')).to.equal('fd000000000000000000000000000010');
      expect(buf.readUInt32LE(16)).to.equal(2);
      expect(buf.readUInt32LE(24)).to.equal(12);
      expect(buf.subarray(60, 76).toString('hex')).to.equal('fd000000000000000000000000000099');
      expect(buf.readUInt16BE(76)).to.equal(15008);
      const d = decodeBackendValue(buf);
      expect(d.addr.ip6).to.deep.equal(ip6('fd00::10'));
      expect(d.service).to.deep.equal([11, 12, 0, 0, 0, 0, 0, 0, 0, 0]);
      expect(() => decodeBackendValue(Buffer.alloc(132))).to.throw(/struct backend_value: expected 80 bytes, got 132/);
    });
    it('single-u32 keys and values', () => {
      expect(encodeServiceKey({ service_id: 0x01020304 }).toString('hex')).to.equal('04030201');
      expect(encodeFrontendValue({ upstream_id: 5 }).toString('hex')).to.equal('05000000');
      expect(() => encodeServiceKey({ id: 1 } as never)).to.throw(/struct service_key: .*unknown field 'id'/);
    });
  });

  describe('log event', () => {
    it('decodes msg up to the first NUL', () => {
      const raw = Buffer.alloc(260);
      raw.writeUInt32LE(0xffff_fff2, 0);
      raw.write('[sendmsg] push_data failed', 4);
      raw.write('garbage after NUL', 4 + 40);
      expect(decodeLogEvent(raw)).to.deep.equal({ ret: 0xffff_fff2, msg: '[sendmsg] push_data failed' });
    });
    it('accepts a full 254-character message and a 259-byte (packed) record', () => {
      const msg = 'x'.repeat(254);
      const buf = encodeLogEvent({ ret: 1, msg });
      expect(buf.length).to.equal(260);
      expect(buf[258]).to.equal(0);
      expect(decodeLogEvent(buf).msg).to.equal(msg);
      expect(decodeLogEvent(buf.subarray(0, 259))).to.deep.equal({ ret: 1, msg });
      const unterminated = Buffer.alloc(260, 0x41);
      expect(decodeLogEvent(unterminated).msg).to.equal('A'.repeat(255));
    });
    it('rejects a message too long for char[255] and a wrong record size', () => {
      expect(() => encodeLogEvent({ msg: 'x'.repeat(255) })).to.throw(/struct log_event: msg: 255 bytes do not fit char\[255\]/);
      expect(() => decodeLogEvent(Buffer.alloc(100))).to.throw(/struct log_event: expected 260 \(or 259\) bytes, got 100/);
    });
  });

  describe('tcp probe record', () => {
    it('round trips with the tuple @8, the u64s @48..80 and conn_success @116', () => {
      const v = {
        type: 1, family: AF_INET,
        tuple: { ipv4: { saddr: ip4('10.0.0.1'), daddr: ip4('10.0.0.2'), sport: port(40000), dport: port(80) } },
        direction: 2, start_ns: 1n, report_ns: 6_000_000_001n, duration_ns: 6_000_000_000n, sent_bytes: 100n,
        received_bytes: 2n ** 33n, srtt_us: 8000, rtt_min: 900, total_retrans: 3, lost_out: 1, segs_in: 10, segs_out: 11,
        snd_cwnd: 10, conn_success: 1,
      };
      const buf = encodeTcpProbeInfo(v);
      expect(buf.length).to.equal(120);
      expect(buf.subarray(12, 16).toString('hex')).to.equal('0a000002');
      expect(buf.readUInt32LE(44)).to.equal(2);
      expect(buf.readBigUInt64LE(80)).to.equal(2n ** 33n);
      expect(buf.readUInt32LE(116)).to.equal(1);
      const d = decodeTcpProbeInfo(buf);
      expect(d.tuple.ipv4).to.deep.equal(v.tuple.ipv4);
      expect({ ...d, tuple: undefined }).to.deep.equal({ ...v, tuple: undefined });
      expect(() => decodeTcpProbeInfo(Buffer.alloc(112))).to.throw(/struct tcp_probe_info: expected 120 bytes, got 112/);
    });
  });

  it('constants', () => {
    expect([AF_INET, AF_INET6, TLV_IP4_TOTAL, TLV_IP6_TOTAL]).to.deep.equal([2, 10, 16, 28]);
  });
});
