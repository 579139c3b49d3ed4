// The README's worked example, run as written (only the object path differs).
import { expect } from 'chai';
import { useHarness } from '../../src/mock/harness';
import { MsgOp } from '../../src/mock/mocks';

describe('tag_prog', () => {
  const h = useHarness('build/fixtures/tag_harness.o', ['xdp_tag']);
  const send = (payload: string) => h().run('xdp_tag', { data: Buffer.from(payload) }).data.toString();

  it('prefixes IPv4 messages', () => {
    h().mocks.setMsgSocket({ family: 2 });
    expect(send('hello from bpfunit')).to.equal('TAG:hello from bpfunit');
    expect(h().mocks.msgCalls()).to.deep.equal([{ op: MsgOp.PUSH, start: 0, len: 4, flags: 0n, ret: 0n }]);
  });

  it('leaves the message alone when the push fails', () => {
    h().mocks.setMsgSocket({ family: 2 });
    h().mocks.pushDataFails(-12);
    expect(send('hello from bpfunit')).to.equal('hello from bpfunit');
  });
});
