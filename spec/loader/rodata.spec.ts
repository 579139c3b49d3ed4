// Read-only globals given before the load (the rodata option), as a libbpf skeleton sets
// skel->rodata->x between open and load: every branch of a port filter reached through them, the
// verifier seeing them as constants (dead branches never checked, and removed), libbpf loading the
// same settings to the same program, and the errors for values and names that do not fit.
import { expect } from 'chai';
import { Collection, Harness, InputError, ObjectSpec, VerifierError } from '../../src';
import { useHarness } from '../../src/mock/harness';
import { Cmd } from '../../src/sys/bpf';
import { bpfCallCount } from '../../src/sys/ffi';
import { bpftoolJson, BpftoolProg, expectThrow, fdinfo, libbpfRun, objectSymbols } from './helpers';

const OBJ = 'build/fixtures/rodata_config.o';
const XDP_DROP = 1, XDP_PASS = 2, XDP_TX = 3;

/** Ethernet + IPv4 (no options) + UDP to `dport`. */
function udp(dport: number, ttl = 64): Buffer {
  const p = Buffer.alloc(14 + 20 + 8 + 8);
  p.writeUInt16BE(0x0800, 12);
  p[14] = 0x45;
  p.writeUInt16BE(p.length - 14, 16);
  p[22] = ttl;
  p[23] = 17;
  p.writeUInt16BE(5000, 34);
  p.writeUInt16BE(dport, 36);
  return p;
}

/** The bytes of the program as the verifier left it (dead code removed), from bpftool. */
function xlated(c: Collection, prog: string): number {
  const id = fdinfo(c.program(prog).fd).prog_id;
  return bpftoolJson<BpftoolProg>(['prog', 'show', 'id', id]).bytes_xlated;
}

describe('read-only globals set before the load (rodata option)', () => {
  describe('defaults (nothing given)', () => {
    const h = useHarness(OBJ, ['filter']);
    it('passes UDP to port 22, reads the .rodata globals as compiled', () => {
      expect(h().run('filter', { data: udp(22) }).retval).to.equal(XDP_PASS);
      expect([h().get('cfg_blocked_port'), h().get('cfg_mode'), h().get('cfg_limits'), h().get('cfg_allow_verdict')])
        .to.deep.equal([0, 0, { min_len: 0, min_ttl: 1 }, XDP_PASS]);
    });
  });

  describe('cfg_blocked_port = 22 (useHarness)', () => {
    const h = useHarness(OBJ, { programs: ['filter'], rodata: { cfg_blocked_port: 22 } });
    it('drops port 22 and counts it, passes port 23', () => {
      expect(h().run('filter', { data: udp(22) }).retval).to.equal(XDP_DROP);
      expect(h().run('filter', { data: udp(23) }).retval).to.equal(XDP_PASS);
      expect(h().get('stat_dropped')).to.equal(1n);
    });
    it('get reads it back; set refuses it, pointing to the load option; a reset leaves it as loaded', () => {
      expect(h().get('cfg_blocked_port')).to.equal(22);
      expectThrow(() => h().set('cfg_blocked_port', 0), InputError, /global cfg_blocked_port is in \.rodata, read-only once loaded \(frozen\): give its value before loading with the rodata load option/);
      expectThrow(() => h().collection.writeGlobal('cfg_blocked_port', Buffer.alloc(2)), InputError, /read-only once loaded.*rodata load option/);
      h().reset();
      expect(h().get('cfg_blocked_port')).to.equal(22);
      expect(h().run('filter', { data: udp(22) }).retval).to.equal(XDP_DROP);
    });
  });

  it('dry run (cfg_mode = MODE_DRY_RUN): counts port 22 as dropped and lets it through (Harness.load)', () => {
    const h = Harness.load(OBJ, { programs: ['filter'], rodata: { cfg_blocked_port: 22, cfg_mode: 1 } });
    try {
      expect(h.run('filter', { data: udp(22) }).retval).to.equal(XDP_PASS);
      expect(h.get('stat_dropped')).to.equal(1n);
    } finally {
      h.close();
    }
  });

  describe('Collection.load', () => {
    const spec = ObjectSpec.fromFile(OBJ);
    const load = (rodata: Record<string, number | { [f: string]: number }>) => Collection.load(spec, { programs: ['filter'], rodata });
    const verdict = (c: Collection, data: Buffer) => {
      try {
        return c.program('filter').run({ data }).retval;
      } finally {
        c.close();
      }
    };

    it('drop all (cfg_mode = MODE_DROP_ALL) drops port 23', () => {
      expect(verdict(load({ cfg_mode: 2 }), udp(23))).to.equal(XDP_DROP);
    });
    it('a struct given in part (cfg_limits.min_ttl = 64): TTL 63 dropped, 64 passed, min_len kept', () => {
      const c = load({ cfg_limits: { min_ttl: 64 } });
      try {
        expect(c.readGlobal('cfg_limits').readUInt16LE(0)).to.equal(0);
        expect(c.program('filter').run({ data: udp(80, 63) }).retval).to.equal(XDP_DROP);
        expect(c.program('filter').run({ data: udp(80, 64) }).retval).to.equal(XDP_PASS);
      } finally {
        c.close();
      }
    });
    it('a custom read-only section (.rodata.verdicts): cfg_allow_verdict = XDP_TX', () => {
      expect(verdict(load({ cfg_allow_verdict: XDP_TX }), udp(80))).to.equal(XDP_TX);
    });
    it('leaves the ObjectSpec as parsed: a later load without values has the defaults', () => {
      load({ cfg_blocked_port: 22 }).close();
      expect(verdict(Collection.load(spec, { programs: ['filter'] }), udp(22))).to.equal(XDP_PASS);
    });
  });

  describe('the verifier sees the values as constants', () => {
    const spec = ObjectSpec.fromFile(OBJ);
    it('peek loads while cfg_peek_unchecked is false (its unchecked read is dead) and is refused when it is 1', () => {
      const c = Collection.load(spec, { programs: ['peek'] });
      try {
        expect(c.program('peek').run({ data: udp(80) }).retval).to.equal(XDP_PASS);
      } finally {
        c.close();
      }
      expectThrow(() => Collection.load(spec, { programs: ['peek'], rodata: { cfg_peek_unchecked: 1 } }), VerifierError, /offset is outside of the packet at .*rodata_config\.c:\d+: return \*data;/);
    });

    it('dead branches are removed: the filter shrinks with the port check off and with drop-all', () => {
      const settings: Record<string, number>[] = [{}, { cfg_blocked_port: 22 }, { cfg_mode: 2 }];
      const sizes = settings.map((rodata) => {
        const c = Collection.load(spec, { programs: ['filter'], rodata });
        try {
          return xlated(c, 'filter');
        } finally {
          c.close();
        }
      });
      expect(sizes[0], 'no port check vs port 22').to.be.lessThan(sizes[1]);
      expect(sizes[2], 'drop all vs defaults').to.be.lessThan(sizes[0]);
    });

    it('libbpf, given the same bytes between open and load, leaves the same program and verdicts', () => {
      const at = objectSymbols(OBJ);
      const le = (n: number, size: number) => {
        const b = Buffer.alloc(size);
        b.writeUIntLE(n, 0, size);
        return b;
      };
      const cases: { rodata: Record<string, number>; libbpf: { section: string; offset: number; bytes: Buffer }[]; data: Buffer }[] = [
        { rodata: {}, libbpf: [], data: udp(22) },
        { rodata: { cfg_blocked_port: 22 }, libbpf: [{ section: '.rodata', offset: at.get('cfg_blocked_port')!, bytes: le(22, 2) }], data: udp(22) },
        { rodata: { cfg_mode: 2 }, libbpf: [{ section: '.rodata', offset: at.get('cfg_mode')!, bytes: le(2, 4) }], data: udp(80) },
        { rodata: { cfg_allow_verdict: XDP_TX }, libbpf: [{ section: '.rodata.verdicts', offset: at.get('cfg_allow_verdict')!, bytes: le(XDP_TX, 4) }], data: udp(80) },
      ];
      for (const k of cases) {
        const theirs = libbpfRun(OBJ, 'filter', { data: k.data, rodata: k.libbpf });
        expect(theirs.ok, theirs.stderr).to.equal(true);
        const c = Collection.load(spec, { programs: ['filter'], rodata: k.rodata });
        try {
          const ours = { xlated: xlated(c, 'filter'), retval: c.program('filter').run({ data: k.data }).retval };
          expect(ours, JSON.stringify(k.rodata)).to.deep.equal({ xlated: theirs.xlated, retval: theirs.retval });
        } finally {
          c.close();
        }
      }
      const refused = libbpfRun(OBJ, 'peek', { norun: true, rodata: [{ section: '.rodata', offset: at.get('cfg_peek_unchecked')!, bytes: le(1, 1) }] });
      expect(refused.stderr).to.match(/invalid access to packet/);
    });
  });

  describe('values and names that do not fit: InputError before any syscall', () => {
    const spec = ObjectSpec.fromFile(OBJ);
    const refused = (rodata: Record<string, number | string | { [f: string]: number }>, re: RegExp) => {
      const creates = bpfCallCount(Cmd.MAP_CREATE);
      expectThrow(() => Collection.load(spec, { rodata }), InputError, re);
      expect(bpfCallCount(Cmd.MAP_CREATE), 'maps created').to.equal(creates);
    };
    const listed = /the read-only globals of rodata_config\.o are: cfg_blocked_port, cfg_mode, cfg_limits, cfg_peek_unchecked, cfg_allow_verdict$/;

    it('out of range, not an integer, an unknown field: named with the type\'s range', () => {
      refused({ cfg_blocked_port: 70000 }, /^rodata cfg_blocked_port: 70000 is out of range \(unsigned short holds 0\.\.65535\)$/);
      refused({ cfg_peek_unchecked: 2 }, /^rodata cfg_peek_unchecked: 2 is out of range \(_Bool holds 0\.\.1\)$/);
      refused({ cfg_blocked_port: 1.5 }, /^rodata cfg_blocked_port: 1\.5 is not an integer/);
      refused({ cfg_limits: { min_ttl: 256 } }, /^rodata cfg_limits\.min_ttl: 256 is out of range \(unsigned char holds 0\.\.255\)$/);
      refused({ cfg_limits: { max_ttl: 1 } }, /^rodata cfg_limits: no field 'max_ttl'/);
    });
    it('an unknown name, and a writable global (.bss, .data), list the read-only globals', () => {
      refused({ cfg_nope: 1 }, new RegExp(`^rodata: no global named 'cfg_nope'; ${listed.source}`));
      refused({ stat_seen: 1 }, new RegExp(`^rodata: 'stat_seen' is in \\.bss, writable once loaded \\(set it then\\); ${listed.source}`));
      refused({ data_knob: 1 }, /^rodata: 'data_knob' is in \.data, writable once loaded/);
    });
  });
});
