// Test runs by program type: each type takes the attr its kernel test_run handler accepts
// (net/bpf/test_run.c), bpfunit refuses the rest before the syscall with an InputError naming the
// type and the option, and returns what the kernel wrote for the type. Results are cross-checked
// with libbpf's bpf_prog_test_run_opts (libbpf_run.c) on the same fixture; a refused option is
// shown to be refused before the program ran (its globals unchanged).
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { Collection, InputError, NotSupportedError, ObjectSpec, ProgType, RunOptions, SyscallError, TestRunFlag } from '../../src';
import { itRequires } from '../../src/mocha';
import { planRun } from '../../src/object/test-run';
import { bpfunitAll, CliResult, json } from '../cli/run_cli';
import { expectThrow, fdinfo, fixture, libbpfRun, possibleCpus, u32 } from './helpers';

/** UAPI: BPF_NETFILTER attach type (libbpf 1.1 does not know the "netfilter" section). */
const BPF_NETFILTER = 45;
const BPF_OK = 0;
const BPF_DROP = 2;
const SK_DROP = 0;
const SK_PASS = 1;
const NF_DROP = 0;
const NF_ACCEPT = 1;

function u64s(...v: number[]): Buffer {
  const b = Buffer.alloc(8 * v.length);
  v.forEach((x, i) => b.writeBigInt64LE(BigInt(x), 8 * i));
  return b;
}

/** Online CPUs from sysfs ("0-1" -> [0, 1]). */
function onlineCpus(): number[] {
  const out: number[] = [];
  for (const range of readFileSync('/sys/devices/system/cpu/online', 'utf8').trim().split(',')) {
    const [a, b] = range.split('-').map(Number);
    for (let c = a; c <= (b ?? a); c++) out.push(c);
  }
  return out;
}

/** Ethernet + IPv4 (+ 4 bytes of ports): src 192.168.0.1, dst 192.168.0.2. */
function ipv4Frame(proto: number, sport: number, dport: number, fragOff = 0): Buffer {
  const f = Buffer.alloc(14 + 20 + 4);
  f.writeUInt16BE(0x0800, 12);
  f[14] = 0x45;
  f.writeUInt16BE(24, 16);
  f.writeUInt16BE(fragOff, 20);
  f[22] = 64;
  f[23] = proto;
  Buffer.from([192, 168, 0, 1, 192, 168, 0, 2]).copy(f, 26);
  f.writeUInt16BE(sport, 34);
  f.writeUInt16BE(dport, 36);
  return f;
}

/** struct bpf_sk_lookup (72 bytes): family, protocol, remote port (network order), local port. */
function skLookup(family: number, remotePort: number, localPort: number): Buffer {
  const b = Buffer.alloc(72);
  b.writeUInt32LE(family, 8);
  b.writeUInt32LE(6, 12); // TCP
  b.writeUInt16BE(remotePort, 36);
  b.writeUInt32LE(localPort, 60);
  return b;
}

/** Loads `prog` of fixture `name` alone, runs body, closes. */
function withProgram<T>(name: string, prog: string, body: (c: Collection) => T): T {
  const c = Collection.load(ObjectSpec.fromFile(fixture(name)), { programs: [prog] });
  try {
    return body(c);
  } finally {
    c.close();
  }
}

/** Expects run(opts) to be an InputError matching re, and the program not to have run. */
function refusedBeforeRun(c: Collection, prog: string, global: string, opts: RunOptions, re: RegExp): void {
  const before = c.readGlobal(global);
  expectThrow(() => c.program(prog).run(opts), InputError, re);
  expect(c.readGlobal(global).toString('hex'), `${global} unchanged: the program did not run`).to.equal(before.toString('hex'));
}

describe('test runs by program type', function () {
  this.timeout(60000);

  describe('raw_tp (BPF_PROG on sys_enter): the u64 arguments as ctx_in, once, on a CPU', () => {
    const ctx = u64s(0, 5); // regs, id

    it('returns id * 3 + 1 as libbpf does, with equal program tags', () => {
      const theirs = libbpfRun(fixture('run_raw_tp'), 'on_sys_enter', { ctx, syscall: true });
      expect(theirs.ok, theirs.stderr).to.equal(true);
      withProgram('run_raw_tp', 'on_sys_enter', (c) => {
        const ours = c.program('on_sys_enter').run({ ctx });
        expect([ours.retval, theirs.retval]).to.deep.equal([16, 16]);
        expect(fdinfo(c.program('on_sys_enter').fd).prog_tag).to.equal(theirs.tag);
        expect([ours.data.length, ours.ctx]).to.deep.equal([0, undefined]); // the kernel writes neither
        expect(c.readGlobal('last_id').readBigInt64LE(0)).to.equal(5n);
      });
    });

    it('cpu runs it on that CPU (BPF_F_TEST_RUN_ON_CPU), on every online CPU, as libbpf does', () => {
      withProgram('run_raw_tp', 'on_sys_enter', (c) => {
        for (const cpu of onlineCpus()) {
          expect(c.program('on_sys_enter').run({ ctx, cpu }).retval).to.equal(16);
          expect(c.readGlobal('last_cpu').readUInt32LE(0), `ran on cpu ${cpu}`).to.equal(cpu);
          const theirs = libbpfRun(fixture('run_raw_tp'), 'on_sys_enter', { ctx, syscall: true, cpu });
          expect([theirs.ok, theirs.retval], theirs.stderr).to.deep.equal([true, 16]);
        }
      });
    });

    it('a CPU that is not online, and a context shorter than the arguments the program reads: InputErrors (the kernel: ENXIO, EINVAL)', () => {
      const beyond = possibleCpus() + 64;
      withProgram('run_raw_tp', 'on_sys_enter', (c) => {
        expectThrow(() => c.program('on_sys_enter').run({ ctx, cpu: beyond }), InputError, new RegExp(`on_sys_enter: cpu ${beyond} is not an online CPU`));
        expectThrow(() => c.program('on_sys_enter').run({ ctx: u64s(0) }), InputError, /refused a RAW_TRACEPOINT context of 8 bytes: the program reads further/);
      });
      const theirs = libbpfRun(fixture('run_raw_tp'), 'on_sys_enter', { ctx: u64s(0), syscall: true });
      expect([theirs.ok, theirs.stderr]).to.deep.equal([false, 'test run: Invalid argument\n']);
    });

    it('refuses data, repeat, output sizes, other flags and more than 12 arguments before the run', () => {
      withProgram('run_raw_tp', 'on_sys_enter', (c) => {
        const cases: [RunOptions, RegExp][] = [
          [{ ctx, data: Buffer.alloc(14) }, /on_sys_enter: RAW_TRACEPOINT test runs do not take data/],
          [{ ctx, repeat: 2 }, /RAW_TRACEPOINT test runs do not take repeat 2/],
          [{ ctx, dataOutSize: 64 }, /RAW_TRACEPOINT test runs do not take dataOutSize: the kernel writes no output data/],
          [{ ctx, ctxOutSize: 16 }, /RAW_TRACEPOINT test runs do not take ctxOutSize: the kernel writes no output context/],
          [{ ctx, flags: TestRunFlag.SKB_CHECKSUM_COMPLETE }, /RAW_TRACEPOINT test runs do not take flags BPF_F_TEST_SKB_CHECKSUM_COMPLETE \(0x4\): it accepts BPF_F_TEST_RUN_ON_CPU/],
          [{ ctx: u64s(...new Array(13).fill(1)) }, /a RAW_TRACEPOINT context \(the u64 tracepoint arguments\) is at most 96 bytes, got 104/],
        ];
        for (const [opts, re] of cases) refusedBeforeRun(c, 'on_sys_enter', 'last_id', opts, re);
      });
    });
  });

  describe('flow_dissector: the packet in, the flow keys the program filled in as data_out', () => {
    const tcp = ipv4Frame(6, 1234, 80);

    it('a TCP/IPv4 frame: BPF_OK and the keys decoded (addresses, ports, offsets), the same bytes as libbpf gets', () => {
      const theirs = libbpfRun(fixture('run_flow_dissector'), 'dissect', { data: tcp });
      expect(theirs.ok, theirs.stderr).to.equal(true);
      withProgram('run_flow_dissector', 'dissect', (c) => {
        const ours = c.program('dissect').run({ data: tcp });
        expect([ours.retval, theirs.retval]).to.deep.equal([BPF_OK, BPF_OK]);
        expect(ours.data.toString('hex')).to.equal(theirs.data!.toString('hex'));
        expect(ours.data).to.have.length(56); // sizeof(struct bpf_flow_keys)
        expect(fdinfo(c.program('dissect').fd).prog_tag).to.equal(theirs.tag);
        const k = ours.flowKeys!;
        expect({ ...k, src: k.src.toString('hex'), dst: k.dst.toString('hex') }).to.deep.equal({
          nhoff: 14, thoff: 34, addrProto: 0x0800, isFrag: false, isFirstFrag: false, isEncap: false, ipProto: 6,
          nProto: 0x0800, sport: 1234, dport: 80, src: 'c0a80001', dst: 'c0a80002', flags: 0, flowLabel: 0,
        });
      });
    });

    it('a first fragment (MF): is_frag and is_first_frag, no ports; ctx flags come back in the keys and ctx', () => {
      const ctx = Buffer.alloc(56);
      ctx.writeUInt32LE(1, 48); // BPF_FLOW_DISSECTOR_F_PARSE_1ST_FRAG
      const frag = ipv4Frame(17, 53, 53, 0x2000);
      const theirs = libbpfRun(fixture('run_flow_dissector'), 'dissect', { data: frag, ctx });
      expect(theirs.ok, theirs.stderr).to.equal(true);
      withProgram('run_flow_dissector', 'dissect', (c) => {
        const ours = c.program('dissect').run({ data: frag, ctx });
        expect([ours.retval, ours.data.toString('hex'), ours.ctx?.toString('hex')]).to.deep.equal([theirs.retval, theirs.data!.toString('hex'), theirs.ctx!.toString('hex')]);
        const k = ours.flowKeys!;
        expect([ours.retval, k.isFrag, k.isFirstFrag, k.sport, k.dport, k.ipProto, k.flags]).to.deep.equal([BPF_OK, true, true, 0, 0, 17, 1]);
      });
    });

    it('not IPv4: BPF_DROP, as under libbpf', () => {
      const arp = Buffer.alloc(42);
      arp.writeUInt16BE(0x0806, 12);
      const theirs = libbpfRun(fixture('run_flow_dissector'), 'dissect', { data: arp });
      withProgram('run_flow_dissector', 'dissect', (c) => {
        expect([c.program('dissect').run({ data: arp }).retval, theirs.retval]).to.deep.equal([BPF_DROP, BPF_DROP]);
      });
    });

    it('refuses short data, keys other than flags in ctx, flags, cpu and dataOutSize before the run', () => {
      withProgram('run_flow_dissector', 'dissect', (c) => {
        const nhoff = Buffer.alloc(56);
        nhoff[0] = 14;
        const cases: [RunOptions, RegExp][] = [
          [{ data: Buffer.alloc(13) }, /dissect: FLOW_DISSECTOR test runs need at least 14 bytes of packet data/],
          [{ data: tcp, ctx: nhoff }, /a FLOW_DISSECTOR context \(struct bpf_flow_keys\) may set only flags \(bytes 48-51\); byte 0 is 14/],
          [{ data: tcp, ctx: Buffer.alloc(64) }, /FLOW_DISSECTOR context \(struct bpf_flow_keys\) is at most 56 bytes, got 64/],
          [{ data: tcp, flags: TestRunFlag.RUN_ON_CPU }, /FLOW_DISSECTOR test runs do not take flags BPF_F_TEST_RUN_ON_CPU \(0x1\): it accepts none/],
          [{ data: tcp, cpu: 0 }, /FLOW_DISSECTOR test runs do not take cpu/],
          [{ data: tcp, dataOutSize: 100 }, /FLOW_DISSECTOR test runs do not take dataOutSize: the kernel writes the 56-byte flow keys/],
        ];
        for (const [opts, re] of cases) expectThrow(() => c.program('dissect').run(opts), InputError, re);
      });
    });
  });

  describe('sk_lookup: a struct bpf_sk_lookup in and back, no packet', () => {
    it('a port in the map passes, an IPv6 lookup from a privileged port passes, the rest drops; retval and ctx as libbpf', () => {
      withProgram('run_sk_lookup', 'dispatch', (c) => {
        const port = Buffer.alloc(2);
        port.writeUInt16LE(8080);
        c.map('ports').update(port, Buffer.from([1]));
        const cases: [Buffer, number, boolean][] = [
          [skLookup(2, 40000, 8080), SK_PASS, false], // only bpfunit's map has 8080
          [skLookup(2, 40000, 80), SK_DROP, true],
          [skLookup(10, 999, 80), SK_PASS, true],
          [skLookup(10, 1024, 80), SK_DROP, true],
        ];
        for (const [ctx, retval, crossCheck] of cases) {
          const ours = c.program('dispatch').run({ ctx });
          // No socket selected: the kernel writes cookie 0 and returns the rest as given.
          expect([ours.retval, ours.ctx?.toString('hex'), ours.data.length]).to.deep.equal([retval, ctx.toString('hex'), 0]);
          if (!crossCheck) continue;
          const theirs = libbpfRun(fixture('run_sk_lookup'), 'dispatch', { ctx });
          expect(theirs.ok, theirs.stderr).to.equal(true);
          expect([theirs.retval, theirs.ctx!.toString('hex')]).to.deep.equal([retval, ctx.toString('hex')]);
          expect(fdinfo(c.program('dispatch').fd).prog_tag).to.equal(theirs.tag);
        }
        expect(c.readGlobal('lookups').readUInt32LE(0)).to.equal(4);
      });
    });

    it('refuses data, no ctx, a set cookie, fields after local_port, a family other than IPv4/IPv6, flags and cpu before the run', () => {
      withProgram('run_sk_lookup', 'dispatch', (c) => {
        const ok = skLookup(2, 1, 80);
        const cookie = Buffer.from(ok);
        cookie[0] = 1;
        const ifindex = Buffer.from(ok);
        ifindex.writeUInt32LE(1, 64);
        const cases: [RunOptions, RegExp][] = [
          [{ ctx: ok, data: Buffer.alloc(14) }, /dispatch: SK_LOOKUP test runs do not take data/],
          [{}, /SK_LOOKUP test runs need a context \(struct bpf_sk_lookup, up to 72 bytes\)/],
          [{ ctx: cookie }, /must leave sk\/cookie \(bytes 0-7\) 0/],
          [{ ctx: ifindex }, /may set nothing after local_port \(bytes 64-71\)/],
          [{ ctx: skLookup(1, 1, 80) }, /needs family AF_INET \(2\) or AF_INET6 \(10\), got 1/],
          [{ ctx: skLookup(2, 1, 70000) }, /local_port is at most 65535, got 70000/],
          [{ ctx: ok, flags: 1 }, /SK_LOOKUP test runs do not take flags/],
          [{ ctx: ok, cpu: 1 }, /SK_LOOKUP test runs do not take cpu/],
          [{ ctx: ok, dataOutSize: 10 }, /SK_LOOKUP test runs do not take dataOutSize/],
        ];
        for (const [opts, re] of cases) refusedBeforeRun(c, 'dispatch', 'lookups', opts, re);
      });
    });
  });

  describe('syscall: ctx in, written back in place; nothing else', () => {
    it('refuses data, repeat, flags, cpu and ctxOutSize before the run (the kernel: EINVAL, or cpu ignored)', () => {
      withProgram('loader_types', 'types_syscall', (c) => {
        const ctx = Buffer.alloc(12);
        const cases: [RunOptions, RegExp][] = [
          [{ ctx, data: Buffer.alloc(14) }, /types_syscall: SYSCALL test runs do not take data/],
          [{ ctx, repeat: 3 }, /SYSCALL test runs do not take repeat 3/],
          [{ ctx, flags: 1 }, /SYSCALL test runs do not take flags BPF_F_TEST_RUN_ON_CPU/],
          [{ ctx, cpu: 0 }, /SYSCALL test runs do not take cpu/],
          [{ ctx, ctxOutSize: 12 }, /SYSCALL test runs do not take ctxOutSize: the kernel writes the context back over ctx/],
        ];
        for (const [opts, re] of cases) expectThrow(() => c.program('types_syscall').run(opts), InputError, re);
      });
    });
  });

  describe('netfilter (struct bpf_nf_ctx): a packet and an optional hook state, the verdict back', () => {
    const nf = { type: [ProgType.NETFILTER, BPF_NETFILTER] as [number, number] };
    // Kernels before 6.4 have no NETFILTER program type: the load is refused.
    const refusedType = () => expectThrow(() => withProgram('run_netfilter', 'nf_filter', () => undefined), SyscallError, /BPF_PROG_LOAD failed: EINVAL/);

    itRequires({ kernel: '6.4' }, 'loads as NETFILTER and gives the verdicts libbpf gives (accept short IPv4, drop long, drop IPv6 state), equal tags', {
      unmet: refusedType,
      met: () => {
        const state = (hook: number, pf: number) => {
          const s = Buffer.alloc(48);
          s[0] = hook;
          s[1] = pf;
          return s;
        };
        const cases: [RunOptions, number][] = [
          [{ data: Buffer.alloc(40) }, NF_ACCEPT],
          [{ data: Buffer.alloc(120) }, NF_DROP],
          [{ data: Buffer.alloc(40), ctx: state(3, 10) }, NF_DROP], // NF_INET_LOCAL_OUT, NFPROTO_IPV6
        ];
        withProgram('run_netfilter', 'nf_filter', (c) => {
          expect(Number(fdinfo(c.program('nf_filter').fd).prog_type)).to.equal(ProgType.NETFILTER);
          for (const [opts, verdict] of cases) {
            const ours = c.program('nf_filter').run(opts);
            const theirs = libbpfRun(fixture('run_netfilter'), 'nf_filter', { data: opts.data as Buffer, ctx: opts.ctx as Buffer | undefined, ...nf });
            expect(theirs.ok, theirs.stderr).to.equal(true);
            expect([ours.retval, theirs.retval, ours.data.length, ours.ctx]).to.deep.equal([verdict, verdict, 0, undefined]);
            expect(fdinfo(c.program('nf_filter').fd).prog_tag).to.equal(theirs.tag);
          }
          // Without a state the kernel runs LOCAL_OUT (3); given NF_INET_LOCAL_IN (1) and an
          // Ethernet + IPv4 frame, the program sees hook 1 and the packet without its L2 header.
          const frame = ipv4Frame(6, 1, 2);
          expect(c.program('nf_filter').run({ data: frame, ctx: state(1, 2) }).retval).to.equal(NF_ACCEPT);
          expect([c.readGlobal('seen_hook').readUInt32LE(0), c.readGlobal('seen_len').readUInt32LE(0)]).to.deep.equal([1, frame.length - 14]);
        });
      },
    });

    itRequires({ kernel: '6.4' }, 'refuses less than an IPv4 header, a state with another pf or pointers, flags, cpu and output sizes before the run', {
      unmet: refusedType,
      met: () => {
        withProgram('run_netfilter', 'nf_filter', (c) => {
          const bad = Buffer.alloc(48);
          bad[1] = 7;
          const pointer = Buffer.alloc(48);
          pointer[1] = 2;
          pointer[8] = 1;
          const cases: [RunOptions, RegExp][] = [
            [{ data: Buffer.alloc(19) }, /nf_filter: NETFILTER test runs need at least 20 bytes of packet data/],
            [{ data: Buffer.alloc(40), ctx: bad }, /needs pf NFPROTO_IPV4 \(2\) or NFPROTO_IPV6 \(10\) in byte 1, got 7/],
            [{ data: Buffer.alloc(40), ctx: pointer }, /may set only hook and pf: its pointers \(bytes 8-47\) must be 0/],
            [{ data: Buffer.alloc(40), flags: 4 }, /NETFILTER test runs do not take flags BPF_F_TEST_SKB_CHECKSUM_COMPLETE/],
            [{ data: Buffer.alloc(40), cpu: 1 }, /NETFILTER test runs do not take cpu/],
            [{ data: Buffer.alloc(40), dataOutSize: 40 }, /NETFILTER test runs do not take dataOutSize: the kernel writes no output data/],
            [{ data: Buffer.alloc(40), ctxOutSize: 48 }, /NETFILTER test runs do not take ctxOutSize/],
          ];
          for (const [opts, re] of cases) refusedBeforeRun(c, 'nf_filter', 'seen_len', opts, re);
        });
      },
    });
  });

  describe('skb and XDP types: the flags and options their handlers accept', () => {
    it('tc takes BPF_F_TEST_SKB_CHECKSUM_COMPLETE (same result), refuses cpu and XDP live frames; XDP refuses cpu and live frames', () => {
      withProgram('loader_types', 'types_tc', (c) => {
        const data = Buffer.from('abcdefghijklmnopqrstuvwxyz');
        expect(c.program('types_tc').run({ data, flags: TestRunFlag.SKB_CHECKSUM_COMPLETE }).retval).to.equal(1026);
        expectThrow(() => c.program('types_tc').run({ data, cpu: 1 }), InputError, /types_tc: SCHED_CLS test runs do not take cpu/);
        expectThrow(() => c.program('types_tc').run({ data, flags: TestRunFlag.XDP_LIVE_FRAMES }), InputError, /SCHED_CLS test runs do not take flags BPF_F_TEST_XDP_LIVE_FRAMES \(0x2\): it accepts BPF_F_TEST_SKB_CHECKSUM_COMPLETE/);
      });
      withProgram('io_runs', 'io_bump', (c) => {
        refusedBeforeRun(c, 'io_bump', 'runs', { data: Buffer.alloc(14), cpu: 1 }, /io_bump: XDP test runs do not take cpu/);
        refusedBeforeRun(c, 'io_bump', 'runs', { data: Buffer.alloc(14), flags: TestRunFlag.XDP_LIVE_FRAMES }, /XDP test runs do not take flags BPF_F_TEST_XDP_LIVE_FRAMES/);
      });
    });
  });

  describe('tracing', () => {
    const kindOf = (prog: string) => ObjectSpec.fromFile(fixture('run_tracing')).program(prog).kind!;

    it('fentry/fmod_ret on the functions the kernel test run calls: NotSupportedError (the program would run only attached, and bpfunit does not attach)', () => {
      for (const prog of ['on_test1', 'mod_ret']) {
        const err = expectThrow(() => planRun(prog, kindOf(prog), {}), NotSupportedError, /runs only while attached to it, and bpfunit does not attach programs/);
        expect(err.message).to.match(/TRACING \(bpf_(fentry_test1|modify_return_test)\)/);
      }
    });

    it('fentry on a function the test run never calls: NotSupportedError naming what it calls; options: InputError naming them', () => {
      expectThrow(() => planRun('on_connect', kindOf('on_connect'), {}), NotSupportedError, /calls only bpf_fentry_test1, .*bpf_fentry_test9, never tcp_v4_connect/);
      expectThrow(() => planRun('on_test1', kindOf('on_test1'), { ctx: u32(1), repeat: 2 }), InputError, /on_test1: TRACING \(fentry\/fexit\/fmod_ret\) test runs do not take ctx, repeat/);
    });

    it('tp_btf and iter: the kernel answers EFAULT (its tracing test run serves only fentry/fexit/fmod_ret): NotSupportedError', () => {
      withProgram('run_tracing', 'on_tp_btf', (c) => {
        const err = expectThrow(() => c.program('on_tp_btf').run(), NotSupportedError, /TRACING \(section tp_btf\/sys_enter\).*answers EFAULT/);
        expect(err.errno).to.equal(524);
      });
    });
  });

  describe('bpfunit run: --ctx, --cpu and --flags', () => {
    let r: Record<string, CliResult>;
    before(async () => {
      const raw = fixture('run_raw_tp');
      r = await bpfunitAll({
        raw: ['run', raw, '--prog', 'on_sys_enter', '--ctx', u64s(0, 7).toString('hex'), '--cpu', String(onlineCpus().at(-1))],
        rawData: ['run', raw, '--prog', 'on_sys_enter', '--ctx', u64s(0, 7).toString('hex'), '--data', '00'.repeat(14)],
        rawBadCpu: ['run', raw, '--prog', 'on_sys_enter', '--cpu', 'one'],
        flow: ['run', fixture('run_flow_dissector'), '--prog', 'dissect', '--data', ipv4Frame(17, 5353, 53).toString('hex')],
        tcFlags: ['run', fixture('loader_types'), '--prog', 'types_tc', '--data', '00'.repeat(26), '--flags', '0x4'],
        tcCpu: ['run', fixture('loader_types'), '--prog', 'types_tc', '--data', '00'.repeat(26), '--cpu', '1'],
      });
    });

    it('runs a raw tracepoint on a CPU with its arguments: retval 22', () => {
      expect(json(r.raw)).to.include({ retval: 22, data: '', ctx: null });
    });

    it('prints the flow keys a flow dissector filled in', () => {
      const out = json<{ retval: number; flowKeys: Record<string, unknown> }>(r.flow);
      expect(out.retval).to.equal(BPF_OK);
      expect(out.flowKeys).to.include({ sport: 5353, dport: 53, ipProto: 17, src: 'c0a80001', dst: 'c0a80002', thoff: 34 });
    });

    it('--flags 0x4 reaches the tc run (data[1] = skb->len: 26 + 1000)', () => {
      expect(json(r.tcFlags).retval).to.equal(1026);
    });

    it('an option the type refuses and a malformed one are bad usage: exit 2 naming the type and the option', () => {
      expect([r.rawData.status, r.tcCpu.status, r.rawBadCpu.status]).to.deep.equal([2, 2, 2]);
      expect(r.rawData.stderr).to.match(/RAW_TRACEPOINT test runs do not take data/);
      expect(r.tcCpu.stderr).to.match(/SCHED_CLS test runs do not take cpu/);
      expect(r.rawBadCpu.stderr).to.match(/--cpu needs an integer from 0 to 4294967295/);
    });
  });
});
