import assert from 'node:assert/strict';
import { MsgOp } from 'bpfunit';
import { useHarness } from 'bpfunit/mocha';

const SK_DROP = 0;
const SK_PASS = 1;

describe('msg_guard (sk_msg, re-hosted in XDP)', () => {
  const h = useHarness('build/bpf/msg_guard_harness.o', ['xdp_msg_guard']);
  const send = (text: string) => h().run('xdp_msg_guard', { data: Buffer.from(text) }).data.toString();

  it('prefixes IPv4 messages with "4:"', () => {
    h().mocks.setMsgSocket({ family: 2 });
    assert.equal(send('hello from the scaffold'), '4:hello from the scaffold');
    assert.equal(h().mocks.retval(), SK_PASS);
    assert.deepEqual(h().mocks.msgCalls(), [{ op: MsgOp.PUSH, start: 0, len: 2, flags: 0n, ret: 0n }]);
  });

  it('passes IPv6 messages untouched', () => {
    h().mocks.setMsgSocket({ family: 10 });
    assert.equal(send('hello from the scaffold'), 'hello from the scaffold');
    assert.equal(h().mocks.retval(), SK_PASS);
    assert.deepEqual(h().mocks.msgCalls(), []);
  });

  it('refuses an IPv4 message when the header cannot be pushed', () => {
    h().mocks.setMsgSocket({ family: 2 });
    h().mocks.pushDataFails(-12);
    assert.equal(send('hello from the scaffold'), 'hello from the scaffold');
    assert.equal(h().mocks.retval(), SK_DROP);
  });
});
