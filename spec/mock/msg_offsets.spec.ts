// The message mock (mock/msg.h) at a start other than 0, on spec/fixtures/diff_msg_ops.c: pop
// removes bytes inside the message, a pull moves msg->data to its start, and a push inside the
// message followed by a pull lets the program write the pushed bytes where they are. The
// expected messages are the kernel's rules for these helpers (include/uapi/linux/bpf.h), which
// spec/differential/msg_ops.spec.ts checks against a real sockmap in a guest.
import { expect } from 'chai';
import { useHarness } from '../../src/mock/harness';
import { AF_INET } from '../../src/structs';

const PAYLOAD = 'a message of some forty bytes, or so....';

describe('message mock at a start other than 0 (spec/fixtures/diff_msg_ops.c)', () => {
  const h = useHarness('build/fixtures/diff_msg_ops_harness.o', ['xdp_pop_middle', 'xdp_pull_middle', 'xdp_push_middle']);
  const run = (entry: string) => {
    h().mocks.setMsgSocket({ sk: 1n, family: AF_INET });
    const data = h().run(entry, { data: Buffer.from(PAYLOAD) }).data.toString('latin1');
    return { data, ret: h().get('ret'), window: h().get('window') };
  };

  it('bpf_msg_pop_data(msg, 4, 4, 0) removes bytes 4..8', () => {
    expect(run('xdp_pop_middle')).to.deep.equal({ data: 'a mee of some forty bytes, or so....', ret: 0n, window: 0n });
  });

  it('bpf_msg_pull_data(msg, 4, 12, 0): msg->data is byte 4, where the program writes', () => {
    const r = run('xdp_pull_middle');
    expect(r.data).to.equal('a me#sage of some forty bytes, or so....');
    // the stated difference: the kernel's window ends at byte 12 (8 bytes), the mock's at the message's end
    expect({ ret: r.ret, window: r.window }).to.deep.equal({ ret: 0n, window: BigInt(PAYLOAD.length - 4) });
  });

  it('bpf_msg_push_data(msg, 4, 8, 0) then a pull of the pushed bytes: the program fills them in place', () => {
    expect(run('xdp_push_middle').data).to.equal('a mePUSHED: ssage of some forty bytes, or so....');
  });

  it('a pop below the 14 bytes an XDP packet needs is refused (-EINVAL), the message unchanged', () => {
    h().mocks.setMsgSocket({ sk: 1n, family: AF_INET });
    const short = Buffer.from('sixteen bytes!!!');
    expect(h().run('xdp_pop_middle', { data: short }).data.toString()).to.equal('sixteen bytes!!!');
    expect(h().get('ret')).to.equal(-22n);
  });
});
