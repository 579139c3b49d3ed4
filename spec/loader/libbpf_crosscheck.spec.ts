// Every loader fixture loaded twice, by libbpf (bpftool prog loadall, pinned on this process's
// private bpffs) and by bpfunit:
// both must accept or refuse the object, parse the same map definitions, load the same
// instructions (equal program tags) and give the same test-run results, which must also be
// the ones the C source implies.
import { expect } from 'chai';
import { Collection, InputError, LinkError, ObjectSpec, Requirement, RunResult, VerifierError } from '../../src';
import {
  BpftoolLoad, bpftoolJson, bpftoolLoadall, BpftoolMap, BpftoolProg, bpftoolRun, expectThrow, fdinfo, fixture, hex,
  CAST_TO_KERN_CTX, FMOD_RET, KALLSYMS_ALL, libbpfRun, pinDir, removePins, TRAMPOLINES,
} from './helpers';
import { itRequires } from '../../src/mocha';

/** UAPI enum bpf_map_type values (linux/bpf.h) -> bpftool's spelling. */
const BPFTOOL_MAP_TYPE: Record<number, string> = {
  1: 'hash', 2: 'array', 3: 'prog_array', 4: 'perf_event_array', 6: 'percpu_array', 12: 'array_of_maps', 13: 'hash_of_maps', 9: 'lru_hash', 24: 'sk_storage', 27: 'ringbuf',
};

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
  /** What the kernel needs for the object to load: where it lacks it, both must refuse. */
  requires?: Requirement;
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
  // CO-RE against the running kernel (runs, and core_local against a second BTF: spec/core).
  { fixture: 'core_kernel', loads: true, runs: [] },
  { fixture: 'core_local', loads: false, runs: [] }, // no core_hdr in vmlinux: poisoned loads are reached
  { fixture: 'ext_mixed', loads: false, runs: [] }, // mixed_unknown has no program type
  { fixture: 'verifier_lines', loads: false, runs: [] }, // both programs read the packet unchecked
  {
    fixture: 'ext_kconfig',
    loads: true,
    runs: [{ prog: 'kconfig_branch', data: zeros(14), retval: 2, dataOut: zeros(14) }], // CONFIG_BPF_SYSCALL=y
  },
  { fixture: 'ext_kconfig_strong', loads: false, runs: [] }, // CONFIG_BPFUNIT_MISSING has no value
  {
    fixture: 'ext_map_in_map',
    loads: true,
    runs: [
      { prog: 'mim_count', data: zeros(14), retval: 1001, dataOut: zeros(14) }, // slot 2 = inner_b, first run
      { prog: 'mim_hash', data: zeros(14), retval: 3, dataOut: zeros(14) }, // nothing under key 7
    ],
  },
  {
    fixture: 'ext_maps',
    loads: true,
    runs: [
      { prog: 'maps_locked', data: zeros(14), retval: 1, dataOut: zeros(14) }, // first run: 1 hit
      { prog: 'maps_flow', data: zeros(14), retval: 1, dataOut: zeros(14) }, // a new flow
      { prog: 'maps_event', data: zeros(14), retval: 2 ** 32 - 2, dataOut: zeros(14) }, // -ENOENT: no listener
    ],
  },
  {
    fixture: 'ext_ksym',
    loads: true,
    requires: CAST_TO_KERN_CTX,
    runs: [
      { prog: 'ksym_untyped', data: zeros(14), retval: 1, dataOut: zeros(14) }, // kernel address bit 63; weak absent 0
      { prog: 'ksym_kfunc', data: zeros(14), retval: 2, dataOut: zeros(14) }, // bpf_cast_to_kern_ctx non-NULL
    ],
  },
  { fixture: 'ext_ksym_missing', loads: false, runs: [] }, // strong ksym and kfunc the kernel lacks
  // Declarations whose types do not fit the kernel's (or, without the kfunc, absent): libbpf
  // refuses the objects; program by program below.
  { fixture: 'ext_kfunc_arity', loads: false, runs: [] },
  { fixture: 'ext_kfunc_scalar', loads: false, runs: [] },
  { fixture: 'ext_kfunc_weak_wrong', loads: false, runs: [] },
  { fixture: 'ext_ksym_wrong_type', loads: false, runs: [] },
  {
    fixture: 'ext_kfunc_compat',
    loads: true,
    requires: CAST_TO_KERN_CTX,
    runs: [{ prog: 'compat_kfunc', data: zeros(14), retval: 2, dataOut: zeros(14) }], // both kfuncs non-NULL
  },
  { fixture: 'ext_ksym_compat', loads: true, requires: KALLSYMS_ALL, runs: [] }, // as ext_ksym_typed
  // the kernel places the variable through kallsyms
  { fixture: 'ext_ksym_typed', loads: true, requires: KALLSYMS_ALL, runs: [] },
  {
    fixture: 'ext_callbacks',
    loads: true,
    runs: [
      { prog: 'cb_loop', data: zeros(14), retval: 30, dataOut: zeros(14) }, // 0 + 1 + 4 + 9 + 16
      { prog: 'cb_each_elem', data: zeros(14), retval: 0, dataOut: zeros(14) }, // the array is all 0
      // (14 * 3 + 1) + (14 + 100); the tag shows the subprograms appended depth-first
      { prog: 'cb_order', data: zeros(14), retval: 157, dataOut: zeros(14) },
    ],
  },
  { fixture: 'run_raw_tp', loads: true, runs: [] }, // ctx-only runs: spec/loader/run_types.spec.ts
  {
    fixture: 'run_flow_dissector',
    loads: true,
    runs: [
      // data_out is struct bpf_flow_keys: nhoff 14, thoff 34, addr_proto ETH_P_IP, TCP,
      // n_proto/ports in network order, 192.168.0.1 -> 192.168.0.2
      {
        prog: 'dissect',
        data: hex('000000000000000000000000 0800 450000280000000040060000c0a80001c0a80002 04d2 0050'),
        retval: 0,
        dataOut: Buffer.concat([hex('0e00 2200 0008 00 00 00 06 0800 04d2 0050 c0a80001 c0a80002'), zeros(32)]),
      },
    ],
  },
  { fixture: 'run_sk_lookup', loads: true, runs: [] }, // needs a context: run_types.spec.ts
  { fixture: 'run_tracing', loads: true, requires: FMOD_RET, runs: [] }, // fentry/fmod_ret
  { fixture: 'run_struct_ops', loads: false, runs: [] }, // bpfunit_unused is set in no struct_ops map
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
      const agree = (loads: boolean | undefined) => () => {
        if (loads !== undefined) expect(libbpf.ok, `bpftool prog loadall: ${libbpf.stderr}`).to.equal(loads);
        expect(coll !== undefined, `Collection.load: ${ourError}; libbpf: ${libbpf.ok ? 'loaded' : libbpf.stderr}`).to.equal(libbpf.ok);
      };
      // A test that needs the object loaded: on a kernel lacking a stated requirement, its other
      // side asserts that both refused it.
      const whenLoaded = (title: string, body: () => void) =>
        c.requires ? itRequires(c.requires, title, { met: body, unmet: agree(false) }) : it(title, body);
      whenLoaded(`libbpf and bpfunit ${verb} the whole object`, agree(c.loads));

      if (c.loads === false) return;

      whenLoaded('creates the maps libbpf created (type, key/value size, max entries, flags, BTF types)', () => {
        expect(libbpf.ok, `bpftool prog loadall: ${libbpf.stderr}`).to.equal(true);
        const theirs = libbpf.maps.map((pin) => bpftoolJson<BpftoolMap>(['map', 'show', 'pinned', `${dir}/maps/${pin}`]));
        expect(spec.maps.map((m) => m.name)).to.have.length(theirs.length);
        for (const m of spec.maps) {
          const isData = m.data !== undefined;
          // libbpf names .maps maps by their variable and data maps "<obj prefix><section>",
          // cut to 15 characters.
          const t = theirs.filter((x) => (isData ? x.name === m.name.slice(0, 15) || x.name.endsWith(m.name) : x.name === m.name));
          expect(t, `libbpf map for ${m.name} (libbpf has ${theirs.map((x) => x.name).join(', ')})`).to.have.length(1);
          // What the kernel has: max_entries can be sized at creation (perf event arrays).
          const created = bpftoolJson<BpftoolMap>(['map', 'show', 'id', fdinfo(coll!.map(m.name).fd).map_id]);
          expect({ type: BPFTOOL_MAP_TYPE[m.type], key: m.keySize, value: m.valueSize, max: created.max_entries, flags: m.flags }, m.name).to.deep.equal({
            type: t[0].type,
            key: t[0].bytes_key,
            value: t[0].bytes_value,
            max: t[0].max_entries,
            flags: t[0].flags,
          });
          // libbpf gives data maps their DATASEC as value type; bpfunit does not (nothing needs it).
          if (!isData) expect(created.btf_id !== undefined, `${m.name} created with BTF types`).to.equal(t[0].btf_id !== undefined);
          if (isData) expect(m.data!.freeze, `${m.name} frozen`).to.equal(t[0].frozen === 1);
        }
      });

      whenLoaded('loads the same instructions as libbpf for every program (equal program tags)', () => {
        expect(libbpf.ok, `bpftool prog loadall: ${libbpf.stderr}`).to.equal(true);
        expect([...libbpf.programs].sort()).to.deep.equal(spec.programs.map((p) => p.name).sort());
        for (const name of libbpf.programs) {
          const theirs = bpftoolJson<BpftoolProg>(['prog', 'show', 'pinned', `${dir}/${name}`]);
          const ours = fdinfo(coll!.program(name).fd);
          expect(ours.prog_tag, `tag of ${name}`).to.equal(theirs.tag);
        }
      });

      for (const r of c.runs) {
        whenLoaded(`${r.prog} with ${r.data.length} bytes returns ${r.retval} and the expected data, as under libbpf`, () => {
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

  describe('ext_mixed: each program loaded alone, by libbpf and by bpfunit', () => {
    const obj = () => fixture('ext_mixed');
    const data = Buffer.alloc(14);

    // mixed_plain: XDP_PASS + 10 * 1 run; the extern users XDP_PASS (see ext_mixed.c).
    // Where the kernel lacks the kfunc mixed_kfunc calls, libbpf refuses the whole object (it
    // resolves every extern), and bpfunit only mixed_kfunc: a stated difference.
    const libbpfRefusesKfunc = (prog: string) => {
      const theirs = libbpfRun(obj(), prog, { data });
      expect(theirs.ok).to.equal(false);
      expect(theirs.stderr).to.match(/'bpf_cast_to_kern_ctx': not found in kernel or module BTFs/);
    };
    const oursRuns = (prog: string, retval: number) => {
      const coll = Collection.load(ObjectSpec.fromFile(obj()), { programs: [prog] });
      try {
        expect(coll.program(prog).run({ data }).retval).to.equal(retval);
        return fdinfo(coll.program(prog).fd).prog_tag;
      } finally {
        coll.close();
      }
    };
    for (const [prog, retval] of [['mixed_plain', 12], ['mixed_kconfig', 2], ['mixed_ksym', 2], ['mixed_kfunc', 2], ['mixed_loop', 6]] as const) {
      itRequires(CAST_TO_KERN_CTX, `${prog}: both load it next to the others, with equal tags and retval ${retval}`, {
        met: () => {
          const theirs = libbpfRun(obj(), prog, { data });
          expect(theirs.ok, theirs.stderr).to.equal(true);
          expect(theirs.retval).to.equal(retval);
          expect(oursRuns(prog, retval)).to.equal(theirs.tag);
        },
        unmet: () => {
          libbpfRefusesKfunc(prog);
          if (prog === 'mixed_kfunc') expectThrow(() => oursRuns(prog, retval), LinkError, /'bpf_cast_to_kern_ctx' does not exist on this kernel/);
          else oursRuns(prog, retval);
        },
      });
    }

    itRequires(CAST_TO_KERN_CTX, 'mixed_unknown: both refuse a program whose section names no program type', {
      met: () => {
        const theirs = libbpfRun(obj(), 'mixed_unknown', { data });
        expect(theirs.ok).to.equal(false);
        expect(theirs.stderr).to.match(/'mixed_unknown': missing BPF prog type/);
        expectThrow(() => Collection.load(ObjectSpec.fromFile(obj()), { programs: ['mixed_unknown'] }), InputError, /'mixed\/unknown'/);
      },
      unmet: () => {
        libbpfRefusesKfunc('mixed_unknown');
        expectThrow(() => Collection.load(ObjectSpec.fromFile(obj()), { programs: ['mixed_unknown'] }), InputError, /'mixed\/unknown'/);
      },
    });
  });

  describe("ext_kconfig: kconfig externs, with and without libbpf's kconfig option", () => {
    const obj = () => fixture('ext_kconfig');
    const both = (prog: string, data: Buffer, kconfig?: Record<string, string | number>) => {
      const text = kconfig && Object.entries(kconfig).map(([k, v]) => `${k}=${typeof v === 'string' && !/^[ynm]$/.test(v) ? JSON.stringify(v) : v}`).join('\n');
      const theirs = libbpfRun(obj(), prog, { data, kconfig: text });
      expect(theirs.ok, theirs.stderr).to.equal(true);
      const spec = ObjectSpec.fromFile(obj());
      const coll = Collection.load(spec, { programs: [prog], kconfig });
      try {
        const ours = coll.program(prog).run({ data });
        expect(fdinfo(coll.program(prog).fd).prog_tag, 'tag').to.equal(theirs.tag);
        expect(ours.data.toString('hex'), 'data_out').to.equal(theirs.data!.toString('hex'));
        expect(ours.retval, 'retval').to.equal(theirs.retval);
        return { ours, theirs, spec };
      } finally {
        coll.close();
      }
    };

    it('kconfig_values: the same .kconfig bytes reach the program (every kind, both weak defaults)', () => {
      const { ours, theirs, spec } = both('kconfig_values', Buffer.alloc(48));
      expect(ours.retval).to.equal(2);
      const kc = spec.map('.kconfig');
      expect(theirs.maps!.filter((m) => m.name.endsWith('.kconfig')).map((m) => [m.type, m.key, m.value, m.max, m.flags]))
        .to.deep.equal([[kc.type, kc.keySize, kc.valueSize, kc.maxEntries, kc.flags]]);
    });

    it('overrides as libbpf applies its kconfig option: bool, integer, char and string', () => {
      expect(both('kconfig_branch', Buffer.alloc(14), { CONFIG_BPF_SYSCALL: 'n' }).ours.retval).to.equal(1);
      const { ours } = both('kconfig_values', Buffer.alloc(48), { CONFIG_HZ: 1000, CONFIG_VETH: 'm', CONFIG_DEFAULT_HOSTNAME: 'bpfunit-host' });
      expect([ours.data.readUInt32LE(8), String.fromCharCode(ours.data[7]), ours.data.subarray(32, 40).toString('latin1')])
        .to.deep.equal([1000, 'm', 'bpfunit\0']);
    });

    it('a strong extern without a value: libbpf refuses the whole object, bpfunit only its reader (a stated difference)', () => {
      const strong = fixture('ext_kconfig_strong');
      const theirs = libbpfRun(strong, 'strong_plain', { data: Buffer.alloc(14) });
      expect(theirs.ok).to.equal(false);
      expect(theirs.stderr).to.match(/CONFIG_BPFUNIT_MISSING/);
      const coll = Collection.load(ObjectSpec.fromFile(strong), { programs: ['strong_plain'] });
      coll.close();
      // Given a value, both load the reader the same way.
      const withValue = libbpfRun(strong, 'strong_reader', { data: Buffer.alloc(14), kconfig: 'CONFIG_BPFUNIT_MISSING=5' });
      const ours = Collection.load(ObjectSpec.fromFile(strong), { programs: ['strong_reader'], kconfig: { CONFIG_BPFUNIT_MISSING: 5 } });
      try {
        expect([withValue.retval, ours.program('strong_reader').run({ data: Buffer.alloc(14) }).retval]).to.deep.equal([5, 5]);
        expect(fdinfo(ours.program('strong_reader').fd).prog_tag).to.equal(withValue.tag);
      } finally {
        ours.close();
      }
    });
  });

  describe('ext_ksym_missing: strong kernel symbols the kernel lacks', () => {
    it('libbpf refuses even missing_plain (the whole object); bpfunit loads it and refuses only the users (a stated difference)', () => {
      const obj = fixture('ext_ksym_missing');
      const theirs = libbpfRun(obj, 'missing_plain', { data: Buffer.alloc(14) });
      expect(theirs.ok).to.equal(false);
      expect(theirs.stderr).to.match(/bpfunit_missing_(kfunc|symbol)/);
      const coll = Collection.load(ObjectSpec.fromFile(obj), { programs: ['missing_plain'] });
      coll.close();
      for (const p of ['missing_symbol', 'missing_kfunc']) {
        expectThrow(() => Collection.load(ObjectSpec.fromFile(obj), { programs: [p] }), LinkError, /does not exist on this kernel/);
      }
    });
  });

  describe("declarations against the kernel's types: each program loaded alone", () => {
    const data = Buffer.alloc(14);
    const ours = (fx: string, prog: string) => {
      const coll = Collection.load(ObjectSpec.fromFile(fixture(fx)), { programs: [prog] });
      try {
        return { retval: coll.program(prog).run({ data }).retval, tag: fdinfo(coll.program(prog).fd).prog_tag };
      } finally {
        coll.close();
      }
    };
    const libbpfRefuses = (fx: string, prog: string, why: RegExp) => {
      const theirs = libbpfRun(fixture(fx), prog, { data });
      expect(theirs.ok, `libbpf loaded ${prog}`).to.equal(false);
      expect(theirs.stderr).to.match(why);
    };
    const notFound = /extern \(func ksym\) 'bpf_cast_to_kern_ctx': not found in kernel or module BTFs/;
    const kfuncAbsent = (fx: string, prog: string) => {
      libbpfRefuses(fx, prog, notFound);
      expectThrow(() => ours(fx, prog), LinkError, /'bpf_cast_to_kern_ctx' does not exist on this kernel/);
    };

    // [fixture, program using the declaration, program that does not, libbpf's message, ours]
    const wrong: [string, string, string, RegExp, RegExp][] = [
      ['ext_kfunc_arity', 'arity_call', 'arity_plain', /extern \(func ksym\) 'bpf_cast_to_kern_ctx': func_proto \[\d+\] incompatible with kernel/,
        /arity_call: the kfunc \(in BTF\) 'bpf_cast_to_kern_ctx' is declared as `void \*\(void \*, __u64\)` here but is `void \*\(void \*\)` in vmlinux BTF/],
      ['ext_kfunc_scalar', 'scalar_call', 'scalar_plain', /extern \(func ksym\) 'bpf_cast_to_kern_ctx': func_proto \[\d+\] incompatible with kernel/,
        /scalar_call: the kfunc \(in BTF\) 'bpf_cast_to_kern_ctx' is declared as `void \*\(long\)` here but is `void \*\(void \*\)` in vmlinux BTF/],
      ['ext_kfunc_weak_wrong', 'weak_call', 'weak_plain', /extern \(func ksym\) 'bpf_cast_to_kern_ctx': func_proto \[\d+\] incompatible with kernel/,
        /weak_call: the kfunc \(in BTF\) 'bpf_cast_to_kern_ctx' is declared as `void \(void \*\)` here but is `void \*\(void \*\)` in vmlinux BTF.*, __weak or not/],
      ['ext_ksym_wrong_type', 'wrong_ksym', 'wrong_plain', /extern \(var ksym\) 'bpf_prog_active': incompatible types, expected \[\d+\] ptr , but kernel has \[\d+\] int int/,
        /wrong_ksym: the kernel variable \(in BTF\) 'bpf_prog_active' is declared as `const int \*` here but is `int` in vmlinux BTF/],
    ];
    for (const [fx, user, plain, theirWhy, ourWhy] of wrong) {
      // The kernel does not compare: it has no copy of the declaration and checks the call
      // against its own prototype (these calls pass it). libbpf is the only check, so bpfunit
      // makes it too; libbpf refuses the whole object, bpfunit only the user (a stated difference).
      const title = `${fx}: libbpf refuses ${user} and ${plain} (the object), bpfunit ${user} naming both types, and loads ${plain}`;
      const met = () => {
        for (const prog of [user, plain]) libbpfRefuses(fx, prog, theirWhy);
        expectThrow(() => ours(fx, user), LinkError, ourWhy);
        expect(ours(fx, plain).retval).to.equal(2); // XDP_PASS
      };
      if (fx === 'ext_ksym_wrong_type') it(title, met); // bpf_prog_active is in every vmlinux BTF
      else if (fx === 'ext_kfunc_weak_wrong') itRequires(CAST_TO_KERN_CTX, title, { met, unmet: weakAbsent });
      else itRequires(CAST_TO_KERN_CTX, title, { met, unmet: () => kfuncAbsent(fx, user) });
    }

    // Without the kfunc, the weak one is absent (id 0) on both sides: the verifier refuses the
    // call both make, the other program loads the same.
    function weakAbsent() {
      const theirs = libbpfRun(fixture('ext_kfunc_weak_wrong'), 'weak_call', { data });
      expect(theirs.ok, 'libbpf loaded weak_call').to.equal(false);
      const err = expectThrow(() => ours('ext_kfunc_weak_wrong', 'weak_call'), VerifierError);
      const reason = err.log.trim().split('\n').filter((l) => !/^(processed|verification time)/.test(l)).pop()!;
      expect(theirs.stderr, 'the verifier refused libbpf for the same reason').to.include(reason);
      const plain = libbpfRun(fixture('ext_kfunc_weak_wrong'), 'weak_plain', { data });
      expect(plain.ok, plain.stderr).to.equal(true);
      expect(ours('ext_kfunc_weak_wrong', 'weak_plain')).to.deep.equal({ retval: 2, tag: plain.tag });
    }

    itRequires(CAST_TO_KERN_CTX, 'ext_kfunc_compat: compatible spellings: both load compat_kfunc with equal tags and XDP_PASS', {
      met: () => {
        const theirs = libbpfRun(fixture('ext_kfunc_compat'), 'compat_kfunc', { data });
        expect(theirs.ok, theirs.stderr).to.equal(true);
        expect(ours('ext_kfunc_compat', 'compat_kfunc')).to.deep.equal({ retval: 2, tag: theirs.tag });
        expect(theirs.retval).to.equal(2);
      },
      unmet: () => kfuncAbsent('ext_kfunc_compat', 'compat_kfunc'),
    });

    // Both resolve the variable; the kernel then needs kallsyms to place it.
    itRequires(KALLSYMS_ALL, 'ext_ksym_compat: a compatible spelling: both load compat_ksym with equal tags and retval 1', {
      met: () => {
        const theirs = libbpfRun(fixture('ext_ksym_compat'), 'compat_ksym', { data });
        expect(theirs.ok, theirs.stderr).to.equal(true);
        expect(ours('ext_ksym_compat', 'compat_ksym')).to.deep.equal({ retval: 1, tag: theirs.tag });
        expect(theirs.retval).to.equal(1);
      },
      unmet: () => {
        libbpfRefuses('ext_ksym_compat', 'compat_ksym', /failed to find the address for kernel symbol 'bpf_prog_active'/);
        const err = expectThrow(() => ours('ext_ksym_compat', 'compat_ksym'), VerifierError);
        expect(err.log).to.match(/failed to find the address for kernel symbol 'bpf_prog_active'/);
      },
    });
  });

  describe('ext_sections: each program loaded alone', () => {
    const obj = () => fixture('ext_sections');
    const ourTag = (prog: string) => {
      const coll = Collection.load(ObjectSpec.fromFile(obj()), { programs: [prog] });
      try {
        return fdinfo(coll.program(prog).fd).prog_tag;
      } finally {
        coll.close();
      }
    };

    for (const prog of ['sec_tp_btf', 'sec_iter', 'sec_tc']) {
      it(`${prog}: both load it (attach BTF id resolved), with equal tags`, () => {
        const theirs = libbpfRun(obj(), prog, { norun: true });
        expect(theirs.ok, theirs.stderr).to.equal(true);
        expect(ourTag(prog)).to.equal(theirs.tag);
      });
    }

    for (const [prog, req] of [['sec_fentry', TRAMPOLINES], ['sec_fexit', TRAMPOLINES], ['sec_fmod_ret', FMOD_RET], ['sec_lsm', TRAMPOLINES]] as const) {
      itRequires(req, `${prog}: both load it with equal tags, or both are refused by the kernel`, {
        met: () => {
          const theirs = libbpfRun(obj(), prog, { norun: true });
          expect(theirs.ok, theirs.stderr).to.equal(true);
          expect(ourTag(prog)).to.equal(theirs.tag);
        },
        unmet: () => {
          const theirs = libbpfRun(obj(), prog, { norun: true });
          expect(theirs.stderr).to.match(/Operation not permitted|bpf_modify_return_test\(\) is not modifiable/);
          expect(() => ourTag(prog)).to.throw(/EPERM: .*even to root|bpf_modify_return_test\(\) is not modifiable/);
        },
      });
    }

    const libbpfRefusesTcx = () => {
      const dir = pinDir('ext_sections_all');
      try {
        const theirs = bpftoolLoadall(obj(), dir);
        expect(theirs.ok).to.equal(false);
        expect(theirs.stderr).to.match(/failed to guess program type from ELF section 'tcx\/ingress'/);
      } finally {
        removePins(dir);
      }
    };

    // The whole object: libbpf 1.1 refuses it for the tcx/ and netkit/ sections it does not know
    // (a stated difference); bpfunit loads all of it where the kernel has trampolines.
    itRequires(FMOD_RET, 'the whole object: libbpf 1.1 refuses it (tcx/ingress), bpfunit loads every program, or is refused its tracing ones', {
      met: () => {
        libbpfRefusesTcx();
        const spec = ObjectSpec.fromFile(obj());
        const coll = Collection.load(spec);
        try {
          expect([...coll.programs.keys()].sort()).to.deep.equal(spec.programs.map((p) => p.name).sort());
        } finally {
          coll.close();
        }
      },
      unmet: () => {
        libbpfRefusesTcx();
        expect(() => Collection.load(ObjectSpec.fromFile(obj()))).to.throw(/EPERM: .*even to root|bpf_modify_return_test\(\) is not modifiable/);
      },
    });

    it('tcx/ingress and netkit/primary: libbpf 1.1 does not know the sections (a stated difference); their code is the tc program libbpf loads (equal tags)', () => {
      for (const prog of ['sec_tcx', 'sec_netkit']) {
        const theirs = libbpfRun(obj(), prog, { norun: true });
        expect(theirs.ok, prog).to.equal(false);
        expect(theirs.stderr).to.match(/Invalid argument/);
      }
      const tc = libbpfRun(obj(), 'sec_tc', { norun: true });
      expect([ourTag('sec_tcx'), ourTag('sec_netkit')]).to.deep.equal([tc.tag, tc.tag]);
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
