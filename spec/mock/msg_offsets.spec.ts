// The message mock (mock/msg.h) at a start other than 0, on spec/fixtures/diff_msg_ops.c: pop
// removes bytes inside the message, a pull gives the program exactly the bytes pulled
// (msg->data..msg->data_end, msg->size still the whole message), and a push inside the message
// followed by a pull lets the program write the pushed bytes where they are. The
// expected messages are the kernel's rules for these helpers (include/uapi/linux/bpf.h), which
// spec/differential/msg_ops.spec.ts checks against a real sockmap in a guest.
import { expect } from 'chai';
import { useHarness } from '../../src/mock/harness';

const PAYLOAD = 'a message of some forty bytes, or so....';

describe('message mock at a start other than 0 (spec/fixtures/diff_msg_ops.c)', () => {
  const h = useHarness('build/fixtures/diff_msg_ops_harness.o', ['xdp_pop_middle', 'xdp_pull_head', 'xdp_pull_middle', 'xdp_pull_long', 'xdp_push_middle']);
  const run = (entry: string) => {
    const data = h().run(entry, { data: Buffer.from(PAYLOAD) }).data.toString('latin1');
    return { data, ret: h().get('ret'), window: h().get('window'), size: h().get('size') };
  };

  it('bpf_msg_pop_data(msg, 4, 4, 0) removes bytes 4..8', () => {
    expect(run('xdp_pop_middle')).to.deep.equal({ data: 'a mee of some forty bytes, or so....', ret: 0n, window: 0n, size: 0n });
  });

  // the program writes 'A' + (data_end - data) at msg->data: the rest of data_out is the message as it was
  const pulls: [string, number, number, string][] = [
    ['xdp_pull_middle', 4, 12, 'a meIsage of some forty bytes, or so....'],
    ['xdp_pull_head', 0, 4, 'E message of some forty bytes, or so....'],
    ['xdp_pull_long', 20, 36, 'a message of some foQty bytes, or so....'],
  ];
  for (const [entry, start, end, data] of pulls) {
    it(`bpf_msg_pull_data(msg, ${start}, ${end}, 0): the program sees the ${end - start} bytes pulled, msg->size the whole message, data_out the whole message`, () => {
      expect(run(entry)).to.deep.equal({ data, ret: 0n, window: BigInt(end - start), size: BigInt(PAYLOAD.length) });
    });
  }

  it('a pull leaves the packet as it found it: a second run on the same harness sees the same', () => {
    run('xdp_pull_middle');
    expect(run('xdp_pull_middle').data).to.equal('a meIsage of some forty bytes, or so....');
  });

  it('a pull of a window ending at the message\'s end: nothing after it to set aside', () => {
    const whole = Buffer.from(PAYLOAD.slice(0, 36));
    expect(h().run('xdp_pull_long', { data: whole }).data.toString()).to.equal('a message of some foQty bytes, or so');
    expect({ ret: h().get('ret'), window: h().get('window'), size: h().get('size') }).to.deep.equal({ ret: 0n, window: 16n, size: 36n });
  });

  it('a pull in a 14-byte message (the smallest an XDP packet can be) leaves the bytes around the window', () => {
    expect(h().run('xdp_pull_middle', { data: Buffer.from('fourteen bytes') }).data.toString()).to.equal('fourIeen bytes');
    expect({ ret: h().get('ret'), window: h().get('window'), size: h().get('size') }).to.deep.equal({ ret: 0n, window: 8n, size: 14n });
  });

  it('bpf_msg_push_data(msg, 4, 8, 0) then a pull of the pushed bytes: the program fills them in place', () => {
    // the window is the 8 bytes pulled: the byte after it is left alone
    expect(run('xdp_push_middle')).to.deep.equal({
      data: 'a mePUSHED: ssage of some forty bytes, or so....', ret: 0n, window: 8n, size: BigInt(PAYLOAD.length + 8) });
  });

  it('a pop below the 14 bytes an XDP packet needs is refused (-EINVAL), the message unchanged', () => {
    const short = Buffer.from('sixteen bytes!!!');
    expect(h().run('xdp_pop_middle', { data: short }).data.toString()).to.equal('sixteen bytes!!!');
    expect(h().get('ret')).to.equal(-22n);
  });
});
