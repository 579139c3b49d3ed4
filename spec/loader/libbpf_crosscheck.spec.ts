// Every loader fixture loaded twice, by libbpf (bpftool prog loadall, pinned on this process's
// private bpffs) and by bpfunit:
// both must accept or refuse the object, parse the same map definitions, load the same
// instructions (equal program tags) and give the same test-run results, which must also be
// the ones the C source implies.
import { expect } from 'chai';
import { Collection, ObjectSpec, RunResult } from '../../src';
import {
  BpftoolLoad, bpftoolJson, bpftoolLoadall, BpftoolMap, BpftoolProg, bpftoolRun, fdinfo, fixture, hex,
  libbpfRun, pinDir, removePins,
} from './helpers';

/** UAPI enum bpf_map_type values (linux/bpf.h) -> bpftool's spelling. */
const BPFTOOL_MAP_TYPE: Record<number, string> = {
  1: 'hash', 2: 'array', 3: 'prog_array', 6: 'percpu_array', 9: 'lru_hash', 24: 'sk_storage', 27: 'ringbuf',
};
/** libbpf creates data-section maps mmap-able (for skeletons); bpfunit reads them by syscall. */
const BPF_F_MMAPABLE = 0x400;

interface RunCase {
  prog: string;
  data: Buffer;
  /** From the C source (see the fixture's comments). */
  retval: number;
  /** Expected data_out, from the C source. */
  dataOut: Buffer;
}

interface Case {
  fixture: string;
  /** Whether the whole object should load, from the C source; undefined: as libbpf decides
   * (fixtures other specs own, checked for parity only). */
  loads: boolean | undefined;
  runs: RunCase[];
}

const zeros = (n: number) => Buffer.alloc(n);
const ALPHABET = Buffer.from('abcdefghijklmnopqrstuvwxyz');

const CASES: Case[] = [
  {
    fixture: 'loader_data',
    loads: true,
    runs: [
      // pattern[5], "bpfunit!"[2], "xyz"[2]; 7 + 11 + 100 + 200 + 1 + 2 + 40
      { prog: 'read_globals', data: zeros(24), retval: 361, dataOut: Buffer.concat([hex('65667a'), zeros(21)]) },
      // the old data_var
      { prog: 'write_globals', data: Buffer.concat([hex('2a'), zeros(13)]), retval: 7, dataOut: Buffer.concat([hex('2a'), zeros(13)]) },
    ],
  },
  {
    fixture: 'loader_calls',
    loads: true,
    runs: [
      { prog: 'calls_chain', data: zeros(14), retval: (3 * 14 + 1 + 10) * 2, dataOut: zeros(14) },
      { prog: 'calls_chain', data: zeros(20), retval: (3 * 20 + 1 + 10) * 2, dataOut: zeros(20) },
      // data[0] = leaf(14) = 43
      { prog: 'calls_global', data: zeros(14), retval: 14 + 43 + 1000, dataOut: Buffer.concat([hex('2b'), zeros(13)]) },
    ],
  },
  {
    fixture: 'loader_maps',
    loads: true,
    runs: [
      { prog: 'maps_main', data: zeros(14), retval: 3, dataOut: zeros(14) }, // XDP_TX, jmp[1] empty
      { prog: 'tail_target', data: zeros(14), retval: 77, dataOut: zeros(14) },
      // The test-run skb carries a dummy full socket, so sk storage is created: allow (1).
      // Not an L2 program: the kernel zeroes the 14-byte Ethernet header of data_out.
      { prog: 'sk_count', data: zeros(14), retval: 1, dataOut: zeros(14) },
    ],
  },
  {
    fixture: 'loader_tailcall',
    loads: true,
    runs: [{ prog: 'tail_entry', data: zeros(14), retval: 42, dataOut: zeros(14) }], // slot 1 = tail_prog
  },
  {
    fixture: 'loader_types',
    loads: true,
    runs: [
      // data[1] = skb->len (26), returns 26 + 1000
      { prog: 'types_tc', data: ALPHABET, retval: 1026, dataOut: Buffer.concat([hex('611a'), ALPHABET.subarray(2)]) },
      // skb->len of a socket filter run excludes the Ethernet header: 26 - 14 - 4; the kernel
      // zeroes the 14-byte L2 header in data_out of non-L2 programs.
      { prog: 'types_sock', data: ALPHABET, retval: 8, dataOut: Buffer.concat([zeros(14), ALPHABET.subarray(14)]) },
      // len 12 (without L2) is not > 20: drop; 40 bytes give len 26: allow
      { prog: 'types_cgskb', data: ALPHABET, retval: 0, dataOut: Buffer.concat([zeros(14), ALPHABET.subarray(14)]) },
      { prog: 'types_cgskb', data: zeros(40), retval: 1, dataOut: zeros(40) },
    ],
  },
  { fixture: 'loader_invalid', loads: false, runs: [] }, // bad_xdp reads the packet unchecked
  { fixture: 'loader_unknown', loads: false, runs: [] }, // mystery_prog has no program type
  { fixture: 'btf_shapes', loads: undefined, runs: [] },
  { fixture: 'bench_trivial', loads: undefined, runs: [] },
];

describe('libbpf cross-check', function () {
  for (const c of CASES) {
    describe(c.fixture, () => {
      let obj: string;
      let dir: string;
      let libbpf: BpftoolLoad;
      let spec: ObjectSpec;
      let coll: Collection | undefined;
      let ourError: unknown;

      before(() => {
        obj = fixture(c.fixture);
        dir = pinDir(c.fixture);
        libbpf = bpftoolLoadall(obj, dir);
        spec = ObjectSpec.fromFile(obj);
        try {
          coll = Collection.load(spec);
        } catch (e) {
          ourError = e;
        }
      });

      after(() => {
        coll?.close();
        if (dir) removePins(dir);
      });

      const verb = c.loads === undefined ? 'agree on loading' : c.loads ? 'both load' : 'both refuse';
      it(`libbpf and bpfunit ${verb} the whole object`, () => {
        if (c.loads !== undefined) expect(libbpf.ok, `bpftool prog loadall: ${libbpf.stderr}`).to.equal(c.loads);
        expect(coll !== undefined, `Collection.load: ${ourError}; libbpf: ${libbpf.ok ? 'loaded' : libbpf.stderr}`).to.equal(libbpf.ok);
      });

      if (c.loads === false) return;

      it('parses the map definitions libbpf created (type, key/value size, max entries, flags)', function () {
        if (!libbpf.ok) this.skip(); // a fixture other specs own, refused by both
        const theirs = libbpf.maps.map((pin) => bpftoolJson<BpftoolMap>(['map', 'show', 'pinned', `${dir}/maps/${pin}`]));
        expect(spec.maps.map((m) => m.name)).to.have.length(theirs.length);
        for (const m of spec.maps) {
          const isData = m.data !== undefined;
          // libbpf names .maps maps by their variable and data maps "<obj prefix><section>",
          // cut to 15 characters.
          const t = theirs.filter((x) => (isData ? x.name === m.name.slice(0, 15) || x.name.endsWith(m.name) : x.name === m.name));
          expect(t, `libbpf map for ${m.name} (libbpf has ${theirs.map((x) => x.name).join(', ')})`).to.have.length(1);
          expect({ type: BPFTOOL_MAP_TYPE[m.type], key: m.keySize, value: m.valueSize, max: m.maxEntries, flags: m.flags }, m.name).to.deep.equal({
            type: t[0].type,
            key: t[0].bytes_key,
            value: t[0].bytes_value,
            max: t[0].max_entries,
            flags: isData ? t[0].flags & ~BPF_F_MMAPABLE : t[0].flags,
          });
          if (isData) expect(m.data!.freeze, `${m.name} frozen`).to.equal(t[0].frozen === 1);
        }
      });

      it('loads the same instructions as libbpf for every program (equal program tags)', function () {
        if (!libbpf.ok) this.skip();
        expect([...libbpf.programs].sort()).to.deep.equal(spec.programs.map((p) => p.name).sort());
        for (const name of libbpf.programs) {
          const theirs = bpftoolJson<BpftoolProg>(['prog', 'show', 'pinned', `${dir}/${name}`]);
          const ours = fdinfo(coll!.program(name).fd);
          expect(ours.prog_tag, `tag of ${name}`).to.equal(theirs.tag);
        }
      });

      for (const r of c.runs) {
        it(`${r.prog} with ${r.data.length} bytes returns ${r.retval} and the expected data, as under libbpf`, () => {
          // Fresh loads on both sides: programs change their globals, and tests run in any order.
          const runDir = pinDir(`${c.fixture}_run`);
          const own = Collection.load(spec);
          let ours: RunResult;
          let theirs: { retval: number; data: Buffer };
          try {
            expect(bpftoolLoadall(obj, runDir).ok, 'bpftool prog loadall').to.equal(true);
            ours = own.program(r.prog).run({ data: r.data });
            theirs = bpftoolRun(`${runDir}/${r.prog}`, r.data);
          } finally {
            own.close();
            removePins(runDir);
          }
          expect(theirs.retval, 'libbpf retval').to.equal(r.retval);
          expect(theirs.data.toString('hex'), 'libbpf data_out').to.equal(r.dataOut.toString('hex'));
          expect(ours.retval, 'bpfunit retval').to.equal(r.retval);
          expect(ours.data.toString('hex'), 'bpfunit data_out').to.equal(r.dataOut.toString('hex'));
        });
      }
    });
  }

  describe('programs libbpf loads only one at a time (libbpf autoload control)', () => {
    it('good_xdp next to a rejected program: same retval and data_out as libbpf', () => {
      const obj = fixture('loader_invalid');
      const data = hex('0102030405060708090a0b0c0d0e');
      const theirs = libbpfRun(obj, 'good_xdp', { data });
      expect(theirs.ok, theirs.stderr).to.equal(true);
      const coll = Collection.load(ObjectSpec.fromFile(obj), { programs: ['good_xdp'] });
      try {
        const ours = coll.program('good_xdp').run({ data });
        const swapped = hex('0708090a0b0c0102030405060d0e'); // MAC addresses swapped
        expect([ours.retval, ours.data.toString('hex')]).to.deep.equal([3, swapped.toString('hex')]); // XDP_TX
        expect([theirs.retval, theirs.data!.toString('hex')]).to.deep.equal([3, swapped.toString('hex')]);
        expect(fdinfo(coll.program('good_xdp').fd).prog_tag).to.equal(theirs.tag);
      } finally {
        coll.close();
      }
    });

    it('known_xdp next to a program of unknown type: XDP_PASS, as under libbpf', () => {
      const obj = fixture('loader_unknown');
      const theirs = libbpfRun(obj, 'known_xdp', { data: Buffer.alloc(14) });
      expect(theirs.ok, theirs.stderr).to.equal(true);
      const coll = Collection.load(ObjectSpec.fromFile(obj), { programs: ['known_xdp'] });
      try {
        expect(coll.program('known_xdp').run({ data: Buffer.alloc(14) }).retval).to.equal(2);
        expect(theirs.retval).to.equal(2);
      } finally {
        coll.close();
      }
    });
  });

  describe('loader_xsec (static functions outside .text)', () => {
    it('libbpf refuses static functions in program sections; bpfunit links them as subprograms', () => {
      const obj = fixture('loader_xsec');
      const dir = pinDir('xsec');
      try {
        const libbpf = bpftoolLoadall(obj, dir);
        expect(libbpf.ok).to.equal(false);
        expect(libbpf.stderr).to.match(/program 'tc_helper' is static and not supported/);
      } finally {
        removePins(dir);
      }
      const coll = Collection.load(ObjectSpec.fromFile(obj));
      try {
        expect([...coll.programs.keys()]).to.deep.equal(['xsec_caller']);
        expect(coll.program('xsec_caller').run({ data: Buffer.alloc(14) }).retval).to.equal(5 * 14 + 3 + 7 + 400);
      } finally {
        coll.close();
      }
    });
  });
});
