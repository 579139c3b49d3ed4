// What BPF_PROG_TEST_RUN accepts for each program type, as the kernel's test_run handlers
// (net/bpf/test_run.c) check it, and the attr bpfunit passes for a run. Pure: an option a type
// refuses (EINVAL) or would silently ignore is an InputError naming the type and the option here,
// before any syscall.
import { InputError, NotSupportedError } from '../errors';
import { integer, optionalBytes, U32_MAX } from '../validate';
import { BPF_F_XDP_HAS_FRAGS, XDP_MAP_ATTACH, type ProgTypeName, type SectionKind } from './sections';

export interface RunOptions {
  /** Packet bytes (data_in). */
  data?: Buffer | Uint8Array;
  /** Context bytes (ctx_in): an xdp_md, __sk_buff, bpf_flow_keys, bpf_sk_lookup, the u64
   * arguments of a raw tracepoint, a syscall program's struct. */
  ctx?: Buffer | Uint8Array;
  /** Runs in one syscall (1 to 2^32-1, default 1). Each run after the first starts from what the
   * previous one left: the packet as it rewrote it (bytes, bpf_xdp_adjust_head/tail), the maps
   * and globals it updated. `retval` and the output are the last run's; `durationNs` is the mean. */
  repeat?: number;
  /** BPF_PROG_TEST_RUN flags (u32) the type accepts: BPF_F_TEST_SKB_CHECKSUM_COMPLETE (skb
   * types), BPF_F_TEST_RUN_ON_CPU (raw tracepoints; implied by `cpu`). */
  flags?: number;
  /** Raw tracepoints only: the CPU to run on (sets BPF_F_TEST_RUN_ON_CPU). */
  cpu?: number;
  /** Room for the output packet, up to 16 MiB; 0 or absent: room for any output of this input
   * (at least 128 KiB). A larger output is an InputError (the program has run). */
  dataOutSize?: number;
  /** Room for the output context, up to 16 MiB; 0 or absent: room for any context (4 KiB). */
  ctxOutSize?: number;
}

/** Test-run flags (UAPI linux/bpf.h). */
export const TestRunFlag = { RUN_ON_CPU: 1, XDP_LIVE_FRAMES: 2, SKB_CHECKSUM_COMPLETE: 4 } as const;

/** What the kernel writes to data_out: the packet, the dissected flow keys, or nothing. */
export type DataOut = 'packet' | 'flowKeys' | 'none';
/** Where the context comes back: copied to ctx_out, written over ctx_in (syscall), or not. */
export type CtxOut = 'copy' | 'inPlace' | 'none';

interface TypeRule {
  /** What the type calls its data, or undefined when the kernel refuses data_in. */
  data?: { min: number; what: string };
  ctx: { struct: string; max: number; exact?: boolean; required?: boolean } | undefined;
  repeat: boolean;
  /** Flags the kernel accepts for the type. */
  flags: number;
  cpu: boolean;
  dataOut: DataOut;
  ctxOut: CtxOut;
}

/** sizeof(struct bpf_flow_keys): what a flow dissector run writes to data_out. */
export const FLOW_KEYS_SIZE = 56;
const FLOW_KEYS_FLAGS = 48;
/** sizeof(struct bpf_sk_lookup), and where its fields the kernel checks are. */
const SK_LOOKUP_SIZE = 72;
const SK_LOOKUP_FAMILY = 8;
const SK_LOOKUP_LOCAL_PORT = 60;
/** struct nf_hook_state: u8 hook, u8 pf, then pointers the kernel fills in (in, out, sk, net, okfn). */
const NF_STATE_PF = 1;
const NF_STATE_POINTERS = 8;
const NFPROTO_IPV4 = 2;
const NFPROTO_IPV6 = 10;
/** 12 u64 arguments at most (MAX_BPF_FUNC_ARGS). */
const RAW_TP_CTX_MAX = 12 * 8;
const ETH_HLEN = 14;
const IPHDR = 20;

const skb: TypeRule = {
  data: { min: ETH_HLEN, what: 'packet data (an Ethernet header)' },
  ctx: { struct: 'struct __sk_buff', max: 192, exact: true },
  repeat: true, flags: TestRunFlag.SKB_CHECKSUM_COMPLETE, cpu: false, dataOut: 'packet', ctxOut: 'copy',
};

const RULES: Partial<Record<ProgTypeName, TypeRule>> = {
  XDP: {
    data: { min: ETH_HLEN, what: 'packet data (an Ethernet header)' },
    ctx: { struct: 'struct xdp_md', max: 24, exact: true },
    repeat: true, flags: 0, cpu: false, dataOut: 'packet', ctxOut: 'copy',
  },
  SCHED_CLS: skb, SCHED_ACT: skb, CGROUP_SKB: skb, SOCKET_FILTER: skb, LWT_IN: skb, LWT_OUT: skb, LWT_XMIT: skb,
  FLOW_DISSECTOR: {
    data: { min: ETH_HLEN, what: 'packet data (an Ethernet header)' },
    ctx: { struct: 'struct bpf_flow_keys', max: FLOW_KEYS_SIZE },
    repeat: true, flags: 0, cpu: false, dataOut: 'flowKeys', ctxOut: 'copy',
  },
  SK_LOOKUP: {
    ctx: { struct: 'struct bpf_sk_lookup', max: SK_LOOKUP_SIZE, required: true },
    repeat: true, flags: 0, cpu: false, dataOut: 'none', ctxOut: 'copy',
  },
  RAW_TRACEPOINT: {
    ctx: { struct: 'the u64 tracepoint arguments', max: RAW_TP_CTX_MAX },
    repeat: false, flags: TestRunFlag.RUN_ON_CPU, cpu: true, dataOut: 'none', ctxOut: 'none',
  },
  SYSCALL: {
    ctx: { struct: "the program's context struct", max: 0xffff },
    repeat: false, flags: 0, cpu: false, dataOut: 'none', ctxOut: 'inPlace',
  },
  NETFILTER: {
    data: { min: IPHDR, what: 'packet data (an IPv4 header; an Ethernet frame for hooks other than LOCAL_OUT)' },
    ctx: { struct: 'struct nf_hook_state (hook, pf)', max: 48 },
    repeat: true, flags: 0, cpu: false, dataOut: 'none', ctxOut: 'none',
  },
};

/** The functions the kernel's tracing test run calls, by attach type: an fentry/fexit/fmod_ret
 * program runs only when it is attached to one of them. */
const ATTACH_FENTRY_FEXIT = [24, 25];
const ATTACH_MODIFY_RETURN = 26;
const TRACING_TARGETS: Record<string, string[]> = {
  fentry: Array.from({ length: 9 }, (_, i) => `bpf_fentry_test${i + 1}`),
  fmod_ret: ['bpf_modify_return_test', 'bpf_modify_return_test2'],
};

/** The attr of one test run, checked against what the program's type accepts. */
export interface RunPlan {
  data?: Buffer;
  ctx?: Buffer;
  /** repeat as written to the attr (0 where the kernel refuses any count). */
  repeat: number;
  flags: number;
  cpu: number;
  /** Room reserved for data_out and ctx_out (0: none passed). */
  dataOutCap: number;
  ctxOutCap: number;
  dataOut: DataOut;
  ctxOut: CtxOut;
}

/** Larger than any output a test run makes of a small packet: skb programs can grow one to the
 * loopback MTU (64 KiB) plus headers. Bigger inputs (XDP fragments) get twice their size. */
const DATA_OUT_DEFAULT = 1 << 17;
/** Larger than any context struct the kernel copies back (__sk_buff, 192 bytes, is the largest). */
const CTX_OUT_DEFAULT = 1 << 12;
/** Bound on packet and context sizes: far above what any test run accepts or produces. */
export const MAX_IO = 1 << 24;

function flagNames(flags: number): string {
  const names = Object.entries(TestRunFlag).filter(([, v]) => flags & v).map(([k]) => `BPF_F_TEST_${k}`);
  return names.length ? names.join(' | ') : 'none';
}

/** The options checked (types and ranges first, then what `kind` accepts) and the attr planned. */
export function planRun(program: string, kind: SectionKind, opts: RunOptions): RunPlan {
  const what = `program ${program}`;
  if (typeof opts !== 'object' || opts === null) throw new InputError(`${what}: run options must be an object`);
  const data = optionalBytes(opts.data, `${what}: data`);
  const ctx = optionalBytes(opts.ctx, `${what}: ctx`);
  if (data) integer(data.length, `${what}: data length`, 0, MAX_IO);
  if (ctx) integer(ctx.length, `${what}: ctx length`, 0, MAX_IO);
  const repeat = integer(opts.repeat ?? 1, `${what}: repeat`, 1, U32_MAX);
  let flags = integer(opts.flags ?? 0, `${what}: flags`, 0, U32_MAX);
  const cpu = opts.cpu === undefined ? undefined : integer(opts.cpu, `${what}: cpu`, 0, U32_MAX);
  const dataOutSize = integer(opts.dataOutSize ?? 0, `${what}: dataOutSize`, 0, MAX_IO);
  const ctxOutSize = integer(opts.ctxOutSize ?? 0, `${what}: ctxOutSize`, 0, MAX_IO);

  const type = kind.type;
  const rule = RULES[type];
  if (!rule) {
    refuseTracing(what, kind, opts);
    // The kernel answers for the other types: ENOTSUPP where it has no test run for them.
    return { data, ctx, repeat, flags, cpu: cpu ?? 0, dataOutCap: 0, ctxOutCap: 0, dataOut: 'none', ctxOut: 'none' };
  }
  const refuse = (option: string, why: string): never => {
    throw new InputError(`${what}: ${type} test runs do not take ${option}: ${why}`);
  };

  if (data && !rule.data) refuse('data', 'the kernel refuses packet data for this type');
  if (rule.data && (data?.length ?? 0) < rule.data.min) {
    throw new InputError(`${what}: ${type} test runs need at least ${rule.data.min} bytes of ${rule.data.what}, got ${data?.length ?? 0}`);
  }
  const c = rule.ctx!;
  if (!ctx && c.required) throw new InputError(`${what}: ${type} test runs need a context (${c.struct}, up to ${c.max} bytes)`);
  if (ctx && c.exact && ctx.length !== c.max) throw new InputError(`${what}: a ${type} context (${c.struct}) is ${c.max} bytes, got ${ctx.length}`);
  if (ctx && ctx.length > c.max) throw new InputError(`${what}: a ${type} context (${c.struct}) is at most ${c.max} bytes, got ${ctx.length}`);
  if (type === 'XDP') checkXdp(what, kind, data!, ctx);
  if (ctx && type === 'FLOW_DISSECTOR') checkFlowKeysIn(what, ctx);
  if (ctx && type === 'SK_LOOKUP') checkSkLookupIn(what, ctx);
  if (ctx && type === 'NETFILTER') checkHookStateIn(what, ctx);
  if (repeat !== 1 && !rule.repeat) refuse(`repeat ${repeat}`, 'the kernel runs this type once per call');
  if (cpu !== undefined) {
    if (!rule.cpu) refuse('cpu', 'only raw tracepoint runs can be placed on a CPU');
    flags |= TestRunFlag.RUN_ON_CPU;
  }
  if (flags & ~rule.flags) {
    refuse(`flags ${flagNames(flags & ~rule.flags)} (0x${(flags & ~rule.flags).toString(16)})`, `it accepts ${flagNames(rule.flags)}`);
  }
  if (dataOutSize && rule.dataOut !== 'packet') {
    refuse('dataOutSize', rule.dataOut === 'flowKeys' ? `the kernel writes the ${FLOW_KEYS_SIZE}-byte flow keys, not the packet` : 'the kernel writes no output data');
  }
  if (ctxOutSize && rule.ctxOut !== 'copy') {
    refuse('ctxOutSize', rule.ctxOut === 'inPlace' ? 'the kernel writes the context back over ctx' : 'the kernel writes no output context');
  }

  // A zero data_size_out would mean "all of it", so a size is always passed with data_out.
  const dataIn = data?.length ?? 0;
  let dataOutCap = 0;
  if (rule.dataOut === 'packet') dataOutCap = dataOutSize || Math.max(DATA_OUT_DEFAULT, 2 * dataIn);
  if (rule.dataOut === 'flowKeys') dataOutCap = FLOW_KEYS_SIZE;
  const ctxOutCap = rule.ctxOut === 'copy' && (ctx || ctxOutSize) ? ctxOutSize || Math.max(CTX_OUT_DEFAULT, ctx?.length ?? 0) : 0;
  return {
    data, ctx, repeat: rule.repeat ? repeat : 0, flags, cpu: cpu ?? 0, dataOutCap, ctxOutCap, dataOut: rule.dataOut, ctxOut: rule.ctxOut,
  };
}

/** fentry/fexit/fmod_ret: the kernel's test run calls its own test functions, which run the
 * program only through an attachment bpfunit does not make, so a retval would not be the
 * program's. */
function refuseTracing(what: string, kind: SectionKind, opts: RunOptions): void {
  if (kind.type === 'TRACING' && kind.attachTo) {
    const family = kind.attachType === ATTACH_MODIFY_RETURN ? 'fmod_ret' : ATTACH_FENTRY_FEXIT.includes(kind.attachType) ? 'fentry' : undefined;
    if (family) {
      const given = (['data', 'ctx', 'repeat', 'flags', 'cpu', 'dataOutSize', 'ctxOutSize'] as const).filter((k) => opts[k] !== undefined);
      if (given.length) throw new InputError(`${what}: TRACING (fentry/fexit/fmod_ret) test runs do not take ${given.join(', ')}: the kernel calls its own test functions with fixed arguments`);
      const targets = TRACING_TARGETS[family];
      const onTarget = targets.includes(kind.attachTo.name);
      throw new NotSupportedError('BPF_PROG_TEST_RUN', `TRACING (${kind.attachTo.name})`, onTarget
        ? `the kernel's tracing test run calls ${kind.attachTo.name}, but the program runs only while attached to it, and bpfunit does not attach programs`
        : `the kernel's tracing test run calls only ${targets.join(', ')}, never ${kind.attachTo.name}, so the program would not run`);
    }
  }
}

/** struct xdp_md, as a test run reads it: offsets into data_in (data: where the packet starts
 * after the metadata; data_end: where the linear part ends), data_meta 0, and the device. */
const XDP_MD = { data: 0, dataEnd: 4, dataMeta: 8, egressIfindex: 20 };
/** xdp_metalen_invalid: metadata is whole u32s, at most 32 bytes. */
const XDP_META_MAX = 32;

/** The kernel's XDP test run: no devmap/cpumap programs (EINVAL); a context's offsets must lie in
 * the packet. The kernel makes the first data_end bytes the linear part and the rest fragments
 * (6.1, 6.12 and 6.18 alike), so a zero data_end gives the program an empty packet: a program
 * without xdp.frags never gets such a packet from a driver, so there it must be the whole packet. */
function checkXdp(what: string, kind: SectionKind, data: Buffer, ctx: Buffer | undefined): void {
  if (XDP_MAP_ATTACH.has(kind.attachType)) {
    throw new NotSupportedError('BPF_PROG_TEST_RUN', 'XDP (devmap/cpumap)', "the kernel's XDP test run refuses programs that run from a devmap or cpumap (EINVAL)");
  }
  if (!ctx) return;
  const field = (name: keyof typeof XDP_MD) => ctx.readUInt32LE(XDP_MD[name]);
  const bad = (why: string): never => {
    throw new InputError(`${what}: xdp_md ${why}`);
  };
  if (field('dataMeta') !== 0) bad(`data_meta is ${field('dataMeta')}: it must be 0 (metadata is the first \`data\` bytes of the packet)`);
  if (field('egressIfindex') !== 0) bad(`egress_ifindex is ${field('egressIfindex')}: a test run has no egress device, it must be 0`);
  const start = field('data');
  const end = field('dataEnd');
  if (start % 4 !== 0 || start > XDP_META_MAX) bad(`data is ${start}: the metadata before the packet is whole u32s, at most ${XDP_META_MAX} bytes`);
  if (end > data.length || start > end) bad(`data_end is ${end} and data ${start}, for ${data.length} bytes of data: need data <= data_end <= ${data.length}`);
  if (end !== data.length && !(kind.flags & BPF_F_XDP_HAS_FRAGS)) {
    bad(`data_end is ${end} but the packet is ${data.length} bytes: set it to ${data.length} (only an xdp.frags program can be given a packet whose linear part ends before its end)`);
  }
}

function checkFlowKeysIn(what: string, ctx: Buffer): void {
  for (let i = 0; i < ctx.length; i++) {
    if (ctx[i] !== 0 && (i < FLOW_KEYS_FLAGS || i >= FLOW_KEYS_FLAGS + 4)) {
      throw new InputError(`${what}: a FLOW_DISSECTOR context (struct bpf_flow_keys) may set only flags (bytes ${FLOW_KEYS_FLAGS}-${FLOW_KEYS_FLAGS + 3}); byte ${i} is ${ctx[i]}`);
    }
  }
}

function checkSkLookupIn(what: string, ctx: Buffer): void {
  const field = (at: number) => (ctx.length >= at + 4 ? ctx.readUInt32LE(at) : 0);
  if (ctx.subarray(0, 8).some((b) => b !== 0)) throw new InputError(`${what}: a SK_LOOKUP context (struct bpf_sk_lookup) must leave sk/cookie (bytes 0-7) 0`);
  if (ctx.subarray(SK_LOOKUP_LOCAL_PORT + 4).some((b) => b !== 0)) {
    throw new InputError(`${what}: a SK_LOOKUP context may set nothing after local_port (bytes ${SK_LOOKUP_LOCAL_PORT + 4}-${SK_LOOKUP_SIZE - 1})`);
  }
  const family = field(SK_LOOKUP_FAMILY);
  if (family !== 2 && family !== 10) throw new InputError(`${what}: a SK_LOOKUP context needs family AF_INET (2) or AF_INET6 (10), got ${family}`);
  if (field(SK_LOOKUP_LOCAL_PORT) > 0xffff) throw new InputError(`${what}: a SK_LOOKUP context's local_port is at most 65535, got ${field(SK_LOOKUP_LOCAL_PORT)}`);
}

function checkHookStateIn(what: string, ctx: Buffer): void {
  const pf = ctx.length > NF_STATE_PF ? ctx[NF_STATE_PF] : 0;
  if (pf !== NFPROTO_IPV4 && pf !== NFPROTO_IPV6) throw new InputError(`${what}: a NETFILTER context needs pf NFPROTO_IPV4 (2) or NFPROTO_IPV6 (10) in byte ${NF_STATE_PF}, got ${pf}`);
  if (ctx.subarray(NF_STATE_POINTERS).some((b) => b !== 0)) throw new InputError(`${what}: a NETFILTER context may set only hook and pf: its pointers (bytes ${NF_STATE_POINTERS}-47) must be 0`);
}

/** struct bpf_flow_keys as a flow dissector left it; ports and n_proto in host order. */
export interface FlowKeys {
  nhoff: number;
  thoff: number;
  addrProto: number;
  isFrag: boolean;
  isFirstFrag: boolean;
  isEncap: boolean;
  ipProto: number;
  nProto: number;
  sport: number;
  dport: number;
  /** ipv4_src/ipv4_dst (4 bytes) when addr_proto is ETH_P_IP, ipv6_src/ipv6_dst (16) otherwise. */
  src: Buffer;
  dst: Buffer;
  flags: number;
  /** Host order (the field is __be32). */
  flowLabel: number;
}

const ETH_P_IP = 0x0800;

export function decodeFlowKeys(b: Buffer): FlowKeys {
  const v4 = b.readUInt16LE(4) === ETH_P_IP;
  return {
    nhoff: b.readUInt16LE(0),
    thoff: b.readUInt16LE(2),
    addrProto: b.readUInt16LE(4),
    isFrag: b[6] !== 0,
    isFirstFrag: b[7] !== 0,
    isEncap: b[8] !== 0,
    ipProto: b[9],
    nProto: b.readUInt16BE(10),
    sport: b.readUInt16BE(12),
    dport: b.readUInt16BE(14),
    src: Buffer.from(b.subarray(16, v4 ? 20 : 32)),
    dst: Buffer.from(b.subarray(v4 ? 20 : 32, v4 ? 24 : 48)),
    flags: b.readUInt32LE(FLOW_KEYS_FLAGS),
    flowLabel: b.readUInt32BE(52),
  };
}
