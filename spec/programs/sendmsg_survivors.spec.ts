// Written for survivors of `bpfunit mutate` over spec/programs/sendmsg.spec.ts: the push-failure
// path of the IPv6 copy of encode_org_dst ran (S6's retry test) but nothing checked its log line,
// so negating its log-level check or dropping its bpf_snprintf call survived. These assert it.
import { expect } from 'chai';
import { KmeshMaps } from '../../src/kmesh/fixtures';
import { useHarness } from '../../src/mock/harness';
import { MsgOp } from '../../src/mock/mocks';
import { AF_INET6, SK_PASS, encodeSockStorageData, ip6, port } from '../../src/structs';

const SK = 0x5eedn;
const ENOMEM = 12;
const PAYLOAD = Buffer.from('GET /reviews HTTP/1.1\r\n\r\n');

describe('sendmsg_prog survivors (re-hosted as xdp_sendmsg)', () => {
  const h = useHarness('build/mocks/sendmsg_harness.o', ['xdp_sendmsg']);

  it('S6 over IPv6: a failed push of 28 bytes logs its ERR line and passes the message unchanged', () => {
    h().mocks.pushDataFails(-ENOMEM);
    h().mocks.setMsgSocket({ sk: SK, family: AF_INET6 });
    h().mocks.setStorage(SK, encodeSockStorageData({
      via_waypoint: true, has_set_ip: true, sk_tuple: { ipv6: { daddr: ip6('fd00::1'), dport: port(8080) } },
    }), 'km_sockstorage');
    const r = h().run('xdp_sendmsg', { data: PAYLOAD });
    expect(h().mocks.retval()).to.equal(SK_PASS);
    expect(r.data).to.deep.equal(PAYLOAD);
    expect(h().mocks.msgCalls()).to.deep.equal([{ op: MsgOp.PUSH, start: 0, len: 28, flags: 0n, ret: BigInt(-ENOMEM) }]);
    const text = `push of 28 bytes failed: -${ENOMEM}\n`;
    expect(new KmeshMaps(h()).logs()).to.deep.equal([{ level: 'ERR', tag: 'SENDMSG', text, ret: `[SENDMSG] ERR: ${text}`.length + 1 }]);
  });
});
