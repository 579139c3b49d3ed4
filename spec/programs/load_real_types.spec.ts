// The programs under test, built from bpf/ alone (no mock compiled in), load unmodified as their
// real program types through Collection.load, so the real verifier accepts them as those types;
// the kernel test-runs CGROUP_SKB, and refuses SK_MSG and CGROUP_SOCK_ADDR with ENOTSUPP (524),
// which is why the specs beside this one re-host those two.
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { Collection, NotSupportedError, ObjectSpec, ProgType } from '../../src';
import { BtfKind } from '../../src/btf/btf';
import { SK_BUFF_SIZE, SK_PASS, decodeSkBuff } from '../../src/structs';

/** UAPI enum bpf_attach_type values the sections imply. */
const ATTACH = {
  CGROUP_INET_INGRESS: 0, CGROUP_INET_EGRESS: 1, SK_MSG_VERDICT: 7, CGROUP_INET4_CONNECT: 10,
  CGROUP_INET6_CONNECT: 11, CGROUP_UDP4_SENDMSG: 14, CGROUP_UDP4_RECVMSG: 19,
};
const ENOTSUPP = 524;

/** The program type the kernel reports for a program fd (/proc/self/fdinfo). */
function kernelProgType(fd: number): number {
  const m = /^prog_type:\s*(\d+)$/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'));
  expect(m, `fdinfo of fd ${fd} names a prog_type`).to.not.equal(null);
  return Number(m![1]);
}

/** Loads the named programs of build/bpf/NAME.o, checks each is its section's type in the kernel
 * and runs `body`; always closes. */
function withLoaded(object: string, expected: Record<string, { section: string; type: keyof typeof ProgType; attachType: number }>,
  body: (coll: Collection) => void): void {
  const spec = ObjectSpec.fromFile(`build/bpf/${object}.o`);
  const mockVars = spec.btf!.types.filter((t) => t.kind === BtfKind.Var && t.name.startsWith('mock_')).map((t) => t.name);
  expect(mockVars, `${object}.o has no mock globals`).to.deep.equal([]);
  expect(Object.fromEntries(spec.programs.map((p) => [p.name, { section: p.section, type: p.kind!.type, attachType: p.kind!.attachType }])))
    .to.deep.equal(expected);
  const coll = Collection.load(spec, { programs: Object.keys(expected) });
  try {
    for (const [name, e] of Object.entries(expected)) {
      expect(kernelProgType(coll.program(name).fd), `${name} is loaded as ${e.type}`).to.equal(ProgType[e.type]);
    }
    body(coll);
  } finally {
    coll.close();
  }
}

/** Runs fn, expects NotSupportedError with errno 524, returns it. */
function notSupported(fn: () => unknown): NotSupportedError {
  try {
    fn();
  } catch (e) {
    expect(e).to.be.instanceOf(NotSupportedError);
    return e as NotSupportedError;
  }
  return expect.fail('expected the test run to be refused with NotSupportedError') as never;
}

describe('the programs load unmodified as their real types', () => {
  it('sendmsg.o: sendmsg_prog loads as SK_MSG (sk_msg verdict); the kernel refuses to test-run it: NotSupportedError, errno 524', () => {
    withLoaded('sendmsg', { sendmsg_prog: { section: 'sk_msg', type: 'SK_MSG', attachType: ATTACH.SK_MSG_VERDICT } }, (coll) => {
      const err = notSupported(() => coll.program('sendmsg_prog').run({ data: Buffer.from('GET / HTTP/1.1\r\n\r\n') }));
      expect([err.errno, err.code]).to.deep.equal([ENOTSUPP, 'ENOTSUPP']);
      expect(err.message).to.match(/cannot test-run SK_MSG programs/);
    });
  });

  it('cgroup_sock.o: connect4, connect6, sendmsg4 and recvmsg4 load as CGROUP_SOCK_ADDR; each test run is refused with errno 524', () => {
    const expected = {
      cgroup_connect4_prog: { section: 'cgroup/connect4', type: 'CGROUP_SOCK_ADDR', attachType: ATTACH.CGROUP_INET4_CONNECT },
      cgroup_connect6_prog: { section: 'cgroup/connect6', type: 'CGROUP_SOCK_ADDR', attachType: ATTACH.CGROUP_INET6_CONNECT },
      cgroup_sendmsg4_prog: { section: 'cgroup/sendmsg4', type: 'CGROUP_SOCK_ADDR', attachType: ATTACH.CGROUP_UDP4_SENDMSG },
      cgroup_recvmsg4_prog: { section: 'cgroup/recvmsg4', type: 'CGROUP_SOCK_ADDR', attachType: ATTACH.CGROUP_UDP4_RECVMSG },
    } as const;
    withLoaded('cgroup_sock', expected, (coll) => {
      const refused = Object.keys(expected).map((name) => {
        const err = notSupported(() => coll.program(name).run({ data: Buffer.alloc(64) }));
        return [name, err.errno, err.code];
      });
      expect(refused).to.deep.equal(Object.keys(expected).map((name) => [name, ENOTSUPP, 'ENOTSUPP']));
    });
  });

  // Kmesh's cgroup_skb keys km_manage by the skb's local address, not by the netns cookie: 6.1
  // and 6.12 refuse bpf_get_netns_cookie in CGROUP_SKB programs (spec/kernels/requires.spec.ts
  // states that with its own fixture), so this object loads on every kernel of the matrix.
  it('cgroup_skb.o: ingress and egress load as CGROUP_SKB and test-run natively, unmodified: both return 1 on an IPv4 frame', () => {
    const expected = {
      cgroup_skb_ingress_prog: { section: 'cgroup_skb/ingress', type: 'CGROUP_SKB', attachType: ATTACH.CGROUP_INET_INGRESS },
      cgroup_skb_egress_prog: { section: 'cgroup_skb/egress', type: 'CGROUP_SKB', attachType: ATTACH.CGROUP_INET_EGRESS },
    } as const;
    // Ethernet + IPv4 header (10.0.0.1 -> 10.0.0.2, TCP) + 20 bytes of TCP header
    const frame = Buffer.alloc(14 + 20 + 20);
    frame.writeUInt16BE(0x0800, 12);
    Buffer.from('4500002800004000400600000a0000010a000002', 'hex').copy(frame, 14);
    withLoaded('cgroup_skb', expected, (coll) => {
      // periodic reports on: the real helpers run (km_manage lookup: not managed)
      const on = Buffer.alloc(4);
      on.writeUInt32LE(1);
      coll.writeGlobal('enable_periodic_report', on);
      for (const name of Object.keys(expected)) {
        const r = coll.program(name).run({ data: frame, ctx: Buffer.alloc(SK_BUFF_SIZE) });
        expect([name, r.retval, decodeSkBuff(r.ctx!).wire_len]).to.deep.equal([name, SK_PASS, frame.length - 14]);
      }
    });
  });
});
