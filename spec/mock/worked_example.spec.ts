// The README's worked example, run as written but for the imports (the package's own sources)
// and the object paths (fixtures build to build/fixtures).
import { expect } from 'chai';
import { Collection, ObjectSpec, ProgType } from '../../src';
import { useHarness } from '../../src/mock/harness';
import { mapId, MsgOp } from '../../src/mock/mocks';

describe('tag_prog', () => {
  const h = useHarness('build/fixtures/tag_harness.o', ['xdp_tag', 'xdp_tag6']);
  const send = (payload: string) => h().run('xdp_tag', { data: Buffer.from(payload) }).data.toString();

  it('prefixes IPv4 messages', () => {
    h().mocks.ctx.msg.set({ family: 2 });
    expect(send('hello from bpfunit')).to.equal('TAG:hello from bpfunit');
    expect(h().mocks.msgCalls()).to.deep.equal([{ op: MsgOp.PUSH, start: 0, len: 4, flags: 0n, ret: 0n }]);
  });

  it('leaves the message alone when the push fails', () => {
    h().mocks.ctx.msg.set({ family: 2 });
    h().mocks.pushDataFails(-12);
    expect(send('hello from bpfunit')).to.equal('hello from bpfunit');
  });

  it('hands IPv6 messages to handlers[10]: the caller stops there, the handler tags them', () => {
    h().mocks.ctx.msg.set({ family: 10 });
    h().mocks.tailCallTarget('handlers', 10, 'xdp_tag6');
    expect(send('hello from bpfunit')).to.equal('V6: hello from bpfunit');
    expect(h().mocks.tailCalls()).to.deep.equal([{ map: mapId('handlers'), index: 10, taken: true }]);
    expect(h().get('unhandled')).to.equal(0);
  });

  it('passes IPv6 messages unchanged when handlers[10] is empty', () => {
    h().mocks.ctx.msg.set({ family: 10 });
    expect(send('hello from bpfunit')).to.equal('hello from bpfunit');
    expect(h().mocks.tailCalls()).to.deep.equal([{ map: mapId('handlers'), index: 10, taken: false }]);
    expect(h().get('unhandled')).to.equal(1);
  });

  it('loads unmodified as an sk_msg program: the verifier checks it as the kernel will run it', () => {
    const real = Collection.load(ObjectSpec.fromFile('build/fixtures/tag.o'));
    try {
      expect(real.program('tag_prog').type).to.equal(ProgType.SK_MSG);
    } finally {
      real.close();
    }
  });
});
