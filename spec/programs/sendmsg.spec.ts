// sendmsg_prog (bpf/sendmsg.c, SEC("sk_msg")) re-hosted: the XDP entry xdp_sendmsg of
// build/mocks/sendmsg_harness.o runs it with data_in as the message; data_out is the message after
// the program ran (TLVs prepended). Rows S1-S9 of spec/branches/sendmsg.json; the ten test points of
// the seed notes are named in the titles ("seed: ...").
import { expect } from 'chai';
import { KmeshMaps } from '../../src/kmesh/fixtures';
import { useHarness } from '../../src/mock/harness';
import { MsgOp, StorageResult, mapId } from '../../src/mock/mocks';
import {
  AF_INET, AF_INET6, SK_PASS, SockStorageData, decodeOriginalDst, decodeSockStorageData, encodeSockStorageData, Init, ip4,
  ip4Bytes, ip6, ip6Bytes, port,
} from '../../src/structs';

const OBJ = 'build/mocks/sendmsg_harness.o';
const SK = 0x5eedn; // socket identity of msg->sk
const AF_UNIX = 1;
const ENOMEM = 12;
const PAYLOAD = Buffer.from('GET /reviews HTTP/1.1\r\nHost: reviews\r\n\r\n');

/** What PROGRAMS.md says is prepended, built by hand: 01 | htonl(ip + 2) | ip | port | fe | 00000000. */
function tlv(address: string, hostPort: number): Buffer {
  const ip = address.includes(':') ? ip6Bytes(address) : ip4Bytes(address);
  const out = Buffer.alloc(1 + 4 + ip.length + 2 + 1 + 4);
  out[0] = 0x01;
  out.writeUInt32BE(ip.length + 2, 1);
  ip.copy(out, 5);
  out.writeUInt16BE(hostPort, 5 + ip.length);
  out[7 + ip.length] = 0xfe; // end marker, length 0 follows
  return out;
}

/** Storage of a socket whose connect went to a waypoint, original destination address:port. */
function waypointStorage(address: string, hostPort: number, extra: Init<SockStorageData> = {}): Init<SockStorageData> {
  const sk_tuple = address.includes(':')
    ? { ipv6: { daddr: ip6(address), dport: port(hostPort) } }
    : { ipv4: { daddr: ip4(address), dport: port(hostPort) } };
  return { via_waypoint: true, has_set_ip: true, sk_tuple, ...extra };
}

describe('sendmsg_prog (sk_msg, re-hosted as xdp_sendmsg)', () => {
  const h = useHarness(OBJ, ['xdp_sendmsg']);

  /** Sends one message on socket SK (family, storage) and returns what the program left. */
  function send(opts: { family: number; storage?: Init<SockStorageData> | Buffer; message?: Buffer }) {
    h().mocks.setMsgSocket({ sk: SK, family: opts.family });
    if (opts.storage) {
      const bytes = Buffer.isBuffer(opts.storage) ? opts.storage : encodeSockStorageData(opts.storage);
      h().mocks.setStorage(SK, bytes, 'km_sockstorage');
    }
    const r = h().run('xdp_sendmsg', { data: opts.message ?? PAYLOAD });
    return { message: r.data, retval: h().mocks.retval(), pushes: h().mocks.msgCalls(), logs: new KmeshMaps(h()).logs() };
  }

  const storageAfter = () => decodeSockStorageData(h().mocks.storage(SK, 64, 'km_sockstorage')!);
  const push = (len: number, ret = 0n) => ({ op: MsgOp.PUSH, start: 0, len, flags: 0n, ret });
  const errLine = (text: string) => ({ level: 'ERR', tag: 'SENDMSG', text, ret: `[SENDMSG] ERR: ${text}`.length + 1 });

  describe('S1: family neither AF_INET nor AF_INET6', () => {
    for (const family of [0, AF_UNIX]) {
      it(`S1: seed "non-INET family": family ${family} passes the message unchanged without reading storage`, () => {
        const r = send({ family, storage: waypointStorage('192.168.1.1', 8080) });
        expect(r.retval).to.equal(SK_PASS);
        expect(r.message).to.deep.equal(PAYLOAD);
        expect(r.pushes).to.deep.equal([]);
        expect(h().mocks.storageCalls()).to.deep.equal([]);
        expect(storageAfter().has_encoded).to.equal(false);
      });
    }
  });

  describe('S2: no socket storage', () => {
    it('S2: seed "storage NULL": bpf_sk_storage_get returning NULL passes the message unchanged', () => {
      h().mocks.storageReturnsNull();
      const r = send({ family: AF_INET, storage: waypointStorage('192.168.1.1', 8080) });
      expect(r.retval).to.equal(SK_PASS);
      expect(r.message).to.deep.equal(PAYLOAD);
      expect(r.pushes).to.deep.equal([]);
      expect(h().mocks.storageCalls()).to.deep.equal([
        { sk: SK, flags: 0n, map: mapId('km_sockstorage'), result: StorageResult.FORCED, slot: 8 },
      ]);
      expect(storageAfter().has_encoded, 'the seeded storage is not touched').to.equal(false);
    });

    it('S2: a socket without storage passes unchanged, and the lookup (flags 0) creates none', () => {
      const r = send({ family: AF_INET6 });
      expect(r.retval).to.equal(SK_PASS);
      expect(r.message).to.deep.equal(PAYLOAD);
      expect(r.pushes).to.deep.equal([]);
      expect(h().mocks.storageCalls()).to.deep.equal([
        { sk: SK, flags: 0n, map: mapId('km_sockstorage'), result: StorageResult.ABSENT, slot: 8 },
      ]);
      expect(h().mocks.storage(SK, 64, 'km_sockstorage')).to.equal(undefined);
    });
  });

  describe('S3: not sent to a waypoint', () => {
    it('S3: seed "no via_waypoint": via_waypoint false passes unchanged and leaves has_encoded false', () => {
      const r = send({ family: AF_INET, storage: waypointStorage('192.168.1.1', 8080, { via_waypoint: false }) });
      expect(r.retval).to.equal(SK_PASS);
      expect(r.message).to.deep.equal(PAYLOAD);
      expect(r.pushes).to.deep.equal([]);
      expect(storageAfter()).to.deep.include({ via_waypoint: false, has_encoded: false });
    });
  });

  describe('S4: already encoded', () => {
    it('S4: seed "has_encoded": has_encoded true passes unchanged, without a push', () => {
      const r = send({ family: AF_INET, storage: waypointStorage('192.168.1.1', 8080, { has_encoded: true }) });
      expect(r.retval).to.equal(SK_PASS);
      expect(r.message).to.deep.equal(PAYLOAD);
      expect(r.pushes).to.deep.equal([]);
      expect(r.logs).to.deep.equal([]);
    });
  });

  describe('S5: encode', () => {
    it('S5: seed "fresh storage": a socket not yet encoded gets the TLV once; has_encoded is set and the next message passes unchanged', () => {
      const first = send({ family: AF_INET, storage: waypointStorage('10.244.1.7', 9080) });
      expect(first.message).to.deep.equal(Buffer.concat([tlv('10.244.1.7', 9080), PAYLOAD]));
      expect(storageAfter()).to.deep.include({ via_waypoint: true, has_encoded: true });

      const second = h().run('xdp_sendmsg', { data: PAYLOAD });
      expect(second.data).to.deep.equal(PAYLOAD);
      expect(h().mocks.msgCalls(), 'one push in both runs').to.have.length(1);
      expect(h().mocks.storageCalls().map((c) => c.result)).to.deep.equal([StorageResult.FOUND, StorageResult.FOUND]);
    });

    it('S5: the destination comes from sk_tuple: its IPv4 view when AF_INET, its IPv6 view otherwise', () => {
      // Both views in one storage: v4 daddr @28 / dport @34, v6 daddr @40..55 / dport @58 (PROGRAMS.md).
      const both = encodeSockStorageData({ via_waypoint: true });
      ip4Bytes('172.16.0.9').copy(both, 28);
      both.writeUInt16BE(15001, 34);
      ip6Bytes('fd00:10::9').copy(both, 40);
      both.writeUInt16BE(15006, 58);

      const v4 = send({ family: AF_INET, storage: both });
      expect(v4.message).to.deep.equal(Buffer.concat([tlv('172.16.0.9', 15001), PAYLOAD]));
      h().reset();
      const v6 = send({ family: AF_INET6, storage: both });
      expect(v6.message).to.deep.equal(Buffer.concat([tlv('fd00:10::9', 15006), PAYLOAD]));
    });

    it('S5: seed "push_data called with enough room": bpf_msg_push_data(msg, start 0, len TLV + 5, flags 0), once', () => {
      send({ family: AF_INET, storage: waypointStorage('192.168.1.1', 8080) });
      expect(h().mocks.msgCalls()).to.deep.equal([push(11 + 5)]);
      h().reset();
      send({ family: AF_INET6, storage: waypointStorage('fd00::1', 8080) });
      expect(h().mocks.msgCalls()).to.deep.equal([push(23 + 5)]);
    });
  });

  describe('S6: push fails', () => {
    it('S6: a failed push logs the ERR line, passes the message unchanged, and has_encoded stays set', () => {
      h().mocks.pushDataFails(-ENOMEM);
      const r = send({ family: AF_INET, storage: waypointStorage('192.168.1.1', 8080) });
      expect(r.retval).to.equal(SK_PASS);
      expect(r.message).to.deep.equal(PAYLOAD);
      expect(r.pushes).to.deep.equal([push(16, BigInt(-ENOMEM))]);
      expect(r.logs).to.deep.equal([errLine(`push of 16 bytes failed: -${ENOMEM}\n`)]);
      expect(storageAfter().has_encoded, 'encode once per socket, even after a failure').to.equal(true);
    });

    it('S6: after a failed push, the next message is not retried', () => {
      h().mocks.pushDataFails(-ENOMEM);
      send({ family: AF_INET6, storage: waypointStorage('fd00::1', 8080) });
      h().set('mock_msg_cfg', { push_ret: 0n });
      const again = h().run('xdp_sendmsg', { data: PAYLOAD });
      expect(again.data).to.deep.equal(PAYLOAD);
      expect(h().mocks.msgCalls()).to.deep.equal([push(28, BigInt(-ENOMEM))]);
    });
  });

  describe('S7: IPv4 success', () => {
    it('S7: seed "IPv4 TLV": 192.168.1.1:8080 is prepended as 01 00000006 c0a80101 1f90 fe 00000000, then the payload', () => {
      const r = send({ family: AF_INET, storage: waypointStorage('192.168.1.1', 8080) });
      expect(r.retval).to.equal(SK_PASS);
      expect(r.message.subarray(0, 16).toString('hex')).to.equal('01' + '00000006' + 'c0a80101' + '1f90' + 'fe' + '00000000');
      expect(r.message.subarray(16)).to.deep.equal(PAYLOAD);
      expect(r.logs).to.deep.equal([]);
      expect(decodeOriginalDst(r.message)).to.deep.include({ family: AF_INET, addr: '192.168.1.1', port: 8080, endAt: 16 });
    });

    it('S7: seed "end marker": the 5 bytes before the payload are fe 00000000 (type TLV_PAYLOAD, length 0)', () => {
      const message = Buffer.from('ping\r\nping\r\nping\r\n');
      const r = send({ family: AF_INET, storage: waypointStorage('10.0.0.1', 80), message });
      expect(r.message).to.have.length(16 + message.length);
      expect(r.message.subarray(11, 16)).to.deep.equal(Buffer.from([0xfe, 0, 0, 0, 0]));
      expect(r.message.subarray(16)).to.deep.equal(message);
    });
  });

  describe('S8: IPv6 success', () => {
    it('S8: seed "IPv6 TLV": fd00::1:8080 is prepended as 01 00000012 <16 bytes> 1f90 fe 00000000, then the payload', () => {
      const r = send({ family: AF_INET6, storage: waypointStorage('fd00::1', 8080) });
      expect(r.retval).to.equal(SK_PASS);
      expect(r.message.subarray(0, 28).toString('hex')).to.equal(
        '01' + '00000012' + 'fd000000000000000000000000000001' + '1f90' + 'fe' + '00000000',
      );
      expect(r.message.subarray(28)).to.deep.equal(PAYLOAD);
      expect(decodeOriginalDst(r.message)).to.deep.include({ family: AF_INET6, addr: 'fd00::1', port: 8080, endAt: 28 });
    });

    it('S8: an IPv4-mapped destination on an AF_INET6 socket is encoded as its 16-byte IPv6 form', () => {
      const r = send({ family: AF_INET6, storage: waypointStorage('::ffff:10.96.0.10', 53) });
      expect(r.message).to.deep.equal(Buffer.concat([tlv('::ffff:10.96.0.10', 53), PAYLOAD]));
    });
  });

  describe('S9: a write past data_end', () => {
    it('S9: seed "overflow guard": a message cut to 14 bytes keeps the writes that fit and logs the one that does not', () => {
      h().mocks.limitMessage(14);
      const r = send({ family: AF_INET, storage: waypointStorage('192.168.1.1', 8080) });
      expect(r.retval).to.equal(SK_PASS);
      // type, length, ip, port, end type fit (12 bytes); the end length (4 bytes at 12) would end at
      // 16, so bytes 12..13 keep the pushed room's zeros
      expect(r.message.toString('hex')).to.equal('01' + '00000006' + 'c0a80101' + '1f90' + 'fe' + '0000');
      expect(r.logs).to.deep.equal([errLine('write of 4 bytes at offset 12 passes data_end\n')]);
    });

    it('S9: a skipped write does not advance the offset: the next write lands where it would have gone', () => {
      h().mocks.limitMessage(22);
      const r = send({ family: AF_INET6, storage: waypointStorage('fd00::1', 8080) });
      // ip6 ends at 21; the port (2 bytes at 21) would end at 23 > 22: skipped, so the end type
      // lands at 21, and the end length (4 bytes at 22) is skipped too.
      const expected = Buffer.concat([Buffer.from([0x01, 0, 0, 0, 18]), ip6Bytes('fd00::1'), Buffer.from([0xfe])]);
      expect(r.message).to.deep.equal(expected);
      expect(r.logs).to.deep.equal([
        errLine('write of 2 bytes at offset 21 passes data_end\n'),
        errLine('write of 4 bytes at offset 22 passes data_end\n'),
      ]);
    });

    it('S9: with 14 bytes an IPv6 address (16) is skipped and the port, end type and end length follow at offset 5', () => {
      h().mocks.limitMessage(14);
      const r = send({ family: AF_INET6, storage: waypointStorage('fd00::1', 8080) });
      // 01 | 00000012 | port @5 | fe @7 | 00000000 @8..11 | 2 bytes of the pushed room (zero)
      expect(r.message.toString('hex')).to.equal('01' + '00000012' + '1f90' + 'fe' + '00000000' + '0000');
      expect(r.logs).to.deep.equal([errLine('write of 16 bytes at offset 5 passes data_end\n')]);
    });
  });
});
