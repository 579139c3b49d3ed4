// Differential: the cgroup/sockopt context (mock/ctx.h's mock_sockopt) against the kernel's.
// spec/fixtures/diff_sockopt.c's programs, attached for real to a cgroup the attaching tool moves
// into, see a getsockopt() or setsockopt() on a UDP socket of that process; re-hosted, they get
// what the kernel gives them there: for getsockopt the kernel's own answer (value, optlen, retval)
// in the user's buffer, for setsockopt the user's value. The option value is the re-hosted
// packet, which an XDP test run wants at least 14 bytes long: shorter values are padded with
// zeros after optlen. What the user sees is derived from the re-hosted run by the kernel's rules:
// the program returned 0 -> EPERM; getsockopt: ctx->retval, then optlen bytes of the value;
// setsockopt: optlen -1 -> 0 without the kernel's handler, else the handler gets optlen bytes.
import { expect } from 'chai';
import { Harness, useHarness } from '../../src/mock/harness';
import { attachReal, hex, itDifferential } from './real';

const OBJECT = 'build/fixtures/diff_sockopt.o';
const EPERM = 1;
const EOPNOTSUPP = 95;
const SOL_IP = 0;
const IP_TOS = 1;
const IP_TTL = 2;
const SOL_SOCKET = 1;
const SO_MARK = 36;
const SOL_PRIVATE = 0x4b4d;

function padded(value: Buffer, size = 16): Buffer {
  return Buffer.concat([value, Buffer.alloc(Math.max(0, size - value.length))]);
}

function rehosted(h: Harness, entry: string, fields: { level: number; optname: number; optlen: number; retval: number }, value: Buffer) {
  h.reset();
  h.mocks.ctx.sockopt.set(fields);
  const out = h.run(entry, { data: padded(value) }).data;
  const ctx = h.mocks.ctx.sockopt.get();
  return { refused: h.mocks.retval() === 0, ctx, value: out };
}

describe('differential: cgroup/getsockopt and setsockopt programs attached to a cgroup vs re-hosted', () => {
  const h = useHarness('build/fixtures/diff_sockopt_harness.o', ['xdp_get_tos', 'xdp_set_policy']);

  itDifferential('getsockopt(IP_TOS): the program answers one byte, 0x28, in place of the kernel\'s int', () => {
    const real = attachReal(['sock', OBJECT, 'get_tos', 'getsockopt', '--op', 'getsockopt', '--proto', 'udp',
      '--level', String(SOL_IP), '--optname', String(IP_TOS), '--optlen', '16']);
    const kernel = real.ret === 0 ? { ret: 0, optlen: real.optlen, optval: real.optval } : { ret: real.ret };
    // what the kernel hands the program: its own answer for a fresh socket, TOS 0 as an int
    const r = rehosted(h(), 'xdp_get_tos', { level: SOL_IP, optname: IP_TOS, optlen: 4, retval: 0 }, Buffer.alloc(4));
    const predicted = r.refused ? { ret: -EPERM } : r.ctx.retval ? { ret: r.ctx.retval }
      : { ret: 0, optlen: r.ctx.optlen, optval: hex(r.value.subarray(0, r.ctx.optlen)) };
    expect(predicted).to.deep.equal(kernel);
  });

  // an option of a level the kernel does not know: what the program gets is the kernel's answer
  // for a UDP socket (-EOPNOTSUPP in retval), the user's optlen and the user's zeroed buffer
  const privates: [string, number][] = [
    ['getsockopt at a private level, option 1: the program answers in place of the kernel\'s EOPNOTSUPP', 1],
    ['getsockopt at a private level, option 2: the program leaves the kernel\'s EOPNOTSUPP', 2],
  ];
  for (const [title, optname] of privates) {
    itDifferential(title, () => {
      const real = attachReal(['sock', OBJECT, 'get_tos', 'getsockopt', '--op', 'getsockopt', '--proto', 'udp',
        '--level', String(SOL_PRIVATE), '--optname', String(optname), '--optlen', '16']);
      const kernel = real.ret === 0 ? { ret: 0, optlen: real.optlen, optval: real.optval } : { ret: real.ret };
      const r = rehosted(h(), 'xdp_get_tos', { level: SOL_PRIVATE, optname, optlen: 16, retval: -EOPNOTSUPP }, Buffer.alloc(16));
      const predicted = r.refused ? { ret: -EPERM } : r.ctx.retval ? { ret: r.ctx.retval }
        : { ret: 0, optlen: r.ctx.optlen, optval: hex(r.value.subarray(0, r.ctx.optlen)) };
      expect(predicted).to.deep.equal(kernel);
    });
  }

  const sets: [string, number, number, string, boolean][] = [
    ['setsockopt(SO_MARK, 5): the program rewrites the value; the socket\'s mark is 0x4b4d', SOL_SOCKET, SO_MARK, '05000000', true],
    ['setsockopt(IP_TTL) is refused: EPERM', SOL_IP, IP_TTL, '05000000', false],
    ['setsockopt at a private level: the program takes it (optlen -1), the call returns 0', SOL_PRIVATE, 1, '01000000', false],
  ];
  for (const [title, level, optname, value, readBack] of sets) {
    itDifferential(title, () => {
      const real = attachReal(['sock', OBJECT, 'set_policy', 'setsockopt', '--op', 'setsockopt', '--proto', 'udp',
        '--level', String(level), '--optname', String(optname), '--payload', value]);
      const given = Buffer.from(value, 'hex');
      const r = rehosted(h(), 'xdp_set_policy', { level, optname, optlen: given.length, retval: 0 }, given);
      const ret = r.refused ? -EPERM : r.ctx.optlen === -1 ? 0 : undefined;
      if (!readBack) {
        expect({ ret }).to.deep.equal({ ret: real.ret });
        return;
      }
      // the kernel's handler stores what the program left: the mark read back is that value
      expect({ ret: ret ?? 0, after: hex(r.value.subarray(0, r.ctx.optlen)) }).to.deep.equal({ ret: real.ret, after: real.after });
    });
  }
});
