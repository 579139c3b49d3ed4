// A pull's window across a tail call (spec/fixtures/msg_pull_tail.c): in the kernel msg->data and
// msg->data_end are fields of the context the target gets, so the target sees the window the
// caller pulled (net/core/filter.c bpf_msg_pull_data sets them; a tail call passes the context).
import { expect } from 'chai';
import { useHarness } from '../../src/mock/harness';

const PAYLOAD = 'a message of some forty bytes, or so....';

describe('message mock: a pull, then a tail call (msg_pull_tail.c)', () => {
  const h = useHarness('build/fixtures/msg_pull_tail_harness.o', ['xdp_look', 'xdp_pull_then_jump']);

  it('the target sees the caller\'s window (bytes 4..12, msg->size the whole message); data_out is the whole message', () => {
    h().mocks.tailCallTarget('next', 0, 'xdp_look');
    const data = h().run('xdp_pull_then_jump', { data: Buffer.from(PAYLOAD) }).data.toString();
    expect({ data, window: h().get('window'), size: h().get('size'), ret: h().mocks.retval() }).to.deep.equal({
      data: 'a me*sage of some forty bytes, or so....', window: 8n, size: 40n, ret: 1 });
    expect(h().get('mock_runs')).to.equal(2);
  });

  it('the target run alone sees the whole message', () => {
    const data = h().run('xdp_look', { data: Buffer.from(PAYLOAD) }).data.toString();
    expect({ data, window: h().get('window'), size: h().get('size') }).to.deep.equal({ data: '*' + PAYLOAD.slice(1), window: 40n, size: 40n });
  });
});
