// Section name -> program type and expected attach type, by the naming conventions BPF C code uses.

export const ProgType = {
  SOCKET_FILTER: 1, KPROBE: 2, SCHED_CLS: 3, SCHED_ACT: 4, TRACEPOINT: 5, XDP: 6, PERF_EVENT: 7,
  CGROUP_SKB: 8, CGROUP_SOCK: 9, LWT_IN: 10, LWT_OUT: 11, LWT_XMIT: 12, SOCK_OPS: 13, SK_SKB: 14,
  CGROUP_DEVICE: 15, SK_MSG: 16, RAW_TRACEPOINT: 17, CGROUP_SOCK_ADDR: 18, SK_REUSEPORT: 21,
  FLOW_DISSECTOR: 22, CGROUP_SYSCTL: 23, CGROUP_SOCKOPT: 25, TRACING: 26, STRUCT_OPS: 27, LSM: 29, SK_LOOKUP: 30, SYSCALL: 31,
  NETFILTER: 32, LWT_SEG6LOCAL: 19, LIRC_MODE2: 20, RAW_TRACEPOINT_WRITABLE: 24,
} as const;

export type ProgTypeName = keyof typeof ProgType;

const AttachType = {
  CGROUP_INET_INGRESS: 0, CGROUP_INET_EGRESS: 1, CGROUP_INET_SOCK_CREATE: 2, CGROUP_SOCK_OPS: 3,
  SK_SKB_STREAM_PARSER: 4, SK_SKB_STREAM_VERDICT: 5, CGROUP_DEVICE: 6, SK_MSG_VERDICT: 7,
  CGROUP_INET4_BIND: 8, CGROUP_INET6_BIND: 9, CGROUP_INET4_CONNECT: 10, CGROUP_INET6_CONNECT: 11,
  CGROUP_INET4_POST_BIND: 12, CGROUP_INET6_POST_BIND: 13, CGROUP_UDP4_SENDMSG: 14,
  CGROUP_UDP6_SENDMSG: 15, FLOW_DISSECTOR: 17, CGROUP_SYSCTL: 18, CGROUP_UDP4_RECVMSG: 19,
  CGROUP_UDP6_RECVMSG: 20, CGROUP_GETSOCKOPT: 21, CGROUP_SETSOCKOPT: 22,
  CGROUP_INET4_GETPEERNAME: 29, CGROUP_INET6_GETPEERNAME: 30, CGROUP_INET4_GETSOCKNAME: 31,
  CGROUP_INET6_GETSOCKNAME: 32, CGROUP_INET_SOCK_RELEASE: 34, SK_LOOKUP: 36,
  TRACE_RAW_TP: 23, TRACE_FENTRY: 24, TRACE_FEXIT: 25, MODIFY_RETURN: 26, LSM_MAC: 27, TRACE_ITER: 28,
  NETFILTER: 45, TCX_INGRESS: 46, TCX_EGRESS: 47, NETKIT_PRIMARY: 54, NETKIT_PEER: 55,
  XDP_DEVMAP: 33, XDP_CPUMAP: 35, XDP: 37, LIRC_MODE2: 16, SK_REUSEPORT_SELECT: 39,
  SK_REUSEPORT_SELECT_OR_MIGRATE: 40, TRACE_KPROBE_MULTI: 42, LSM_CGROUP: 43,
} as const;

/** XDP programs run from a devmap or cpumap (their context has egress_ifindex; no test run). */
export const XDP_MAP_ATTACH: ReadonlySet<number> = new Set([AttachType.XDP_DEVMAP, AttachType.XDP_CPUMAP]);

const BPF_F_SLEEPABLE = 1 << 4;
/** The program handles multi-buffer packets (xdp.frags): the kernel may give it a packet whose
 * linear part is shorter than the whole. */
export const BPF_F_XDP_HAS_FRAGS = 1 << 5;

export interface SectionKind {
  type: ProgTypeName;
  attachType: number;
  /** prog_flags the type requires (syscall programs must be sleepable). */
  flags: number;
  /** The kernel function (or tracepoint typedef) the program attaches to, by its vmlinux BTF
   * name: its BTF id goes into the load (attach_btf_id). */
  attachTo?: { name: string; kind: 'func' | 'typedef' };
}

type Rule = [prefix: string, exact: boolean, type: ProgTypeName, attach?: keyof typeof AttachType, flags?: number];

// exact: the section must be exactly this name; otherwise `prefix` or `prefix/...` matches.
const RULES: Rule[] = [
  ['xdp.frags/devmap', true, 'XDP', 'XDP_DEVMAP', BPF_F_XDP_HAS_FRAGS],
  ['xdp/devmap', true, 'XDP', 'XDP_DEVMAP'],
  ['xdp.frags/cpumap', true, 'XDP', 'XDP_CPUMAP', BPF_F_XDP_HAS_FRAGS],
  ['xdp/cpumap', true, 'XDP', 'XDP_CPUMAP'],
  ['xdp.frags', true, 'XDP', 'XDP', BPF_F_XDP_HAS_FRAGS],
  ['xdp', false, 'XDP', 'XDP'],
  ['tc', false, 'SCHED_CLS'],
  ['classifier', false, 'SCHED_CLS'],
  ['action', false, 'SCHED_ACT'],
  ['socket', false, 'SOCKET_FILTER'],
  ['kprobe', false, 'KPROBE'],
  ['kretprobe', false, 'KPROBE'],
  ['kprobe.multi', false, 'KPROBE', 'TRACE_KPROBE_MULTI'],
  ['kretprobe.multi', false, 'KPROBE', 'TRACE_KPROBE_MULTI'],
  ['uprobe', false, 'KPROBE'],
  ['uretprobe', false, 'KPROBE'],
  ['uprobe.s', false, 'KPROBE', undefined, BPF_F_SLEEPABLE],
  ['uretprobe.s', false, 'KPROBE', undefined, BPF_F_SLEEPABLE],
  ['usdt', false, 'KPROBE'],
  ['tracepoint', false, 'TRACEPOINT'],
  ['tp', false, 'TRACEPOINT'],
  ['raw_tracepoint', false, 'RAW_TRACEPOINT'],
  ['raw_tp', false, 'RAW_TRACEPOINT'],
  ['raw_tracepoint.w', false, 'RAW_TRACEPOINT_WRITABLE'],
  ['raw_tp.w', false, 'RAW_TRACEPOINT_WRITABLE'],
  ['perf_event', true, 'PERF_EVENT'],
  ['lwt_in', true, 'LWT_IN'],
  ['lwt_out', true, 'LWT_OUT'],
  ['lwt_xmit', true, 'LWT_XMIT'],
  ['lwt_seg6local', true, 'LWT_SEG6LOCAL'],
  ['lirc_mode2', true, 'LIRC_MODE2', 'LIRC_MODE2'],
  ['syscall', true, 'SYSCALL', undefined, BPF_F_SLEEPABLE],
  ['flow_dissector', true, 'FLOW_DISSECTOR', 'FLOW_DISSECTOR'],
  ['sk_lookup', true, 'SK_LOOKUP', 'SK_LOOKUP'],
  ['sk_msg', true, 'SK_MSG', 'SK_MSG_VERDICT'],
  ['sk_skb/stream_parser', true, 'SK_SKB', 'SK_SKB_STREAM_PARSER'],
  ['sk_skb/stream_verdict', true, 'SK_SKB', 'SK_SKB_STREAM_VERDICT'],
  ['sk_skb', true, 'SK_SKB'],
  ['sk_reuseport/migrate', true, 'SK_REUSEPORT', 'SK_REUSEPORT_SELECT_OR_MIGRATE'],
  ['sk_reuseport', true, 'SK_REUSEPORT', 'SK_REUSEPORT_SELECT'],
  ['sockops', true, 'SOCK_OPS', 'CGROUP_SOCK_OPS'],
  ['cgroup_skb/ingress', true, 'CGROUP_SKB', 'CGROUP_INET_INGRESS'],
  ['cgroup_skb/egress', true, 'CGROUP_SKB', 'CGROUP_INET_EGRESS'],
  ['cgroup/skb', true, 'CGROUP_SKB'],
  ['cgroup/sock', true, 'CGROUP_SOCK', 'CGROUP_INET_SOCK_CREATE'],
  ['cgroup/sock_create', true, 'CGROUP_SOCK', 'CGROUP_INET_SOCK_CREATE'],
  ['cgroup/sock_release', true, 'CGROUP_SOCK', 'CGROUP_INET_SOCK_RELEASE'],
  ['cgroup/post_bind4', true, 'CGROUP_SOCK', 'CGROUP_INET4_POST_BIND'],
  ['cgroup/post_bind6', true, 'CGROUP_SOCK', 'CGROUP_INET6_POST_BIND'],
  ['cgroup/bind4', true, 'CGROUP_SOCK_ADDR', 'CGROUP_INET4_BIND'],
  ['cgroup/bind6', true, 'CGROUP_SOCK_ADDR', 'CGROUP_INET6_BIND'],
  ['cgroup/connect4', true, 'CGROUP_SOCK_ADDR', 'CGROUP_INET4_CONNECT'],
  ['cgroup/connect6', true, 'CGROUP_SOCK_ADDR', 'CGROUP_INET6_CONNECT'],
  ['cgroup/sendmsg4', true, 'CGROUP_SOCK_ADDR', 'CGROUP_UDP4_SENDMSG'],
  ['cgroup/sendmsg6', true, 'CGROUP_SOCK_ADDR', 'CGROUP_UDP6_SENDMSG'],
  ['cgroup/recvmsg4', true, 'CGROUP_SOCK_ADDR', 'CGROUP_UDP4_RECVMSG'],
  ['cgroup/recvmsg6', true, 'CGROUP_SOCK_ADDR', 'CGROUP_UDP6_RECVMSG'],
  ['cgroup/getpeername4', true, 'CGROUP_SOCK_ADDR', 'CGROUP_INET4_GETPEERNAME'],
  ['cgroup/getpeername6', true, 'CGROUP_SOCK_ADDR', 'CGROUP_INET6_GETPEERNAME'],
  ['cgroup/getsockname4', true, 'CGROUP_SOCK_ADDR', 'CGROUP_INET4_GETSOCKNAME'],
  ['cgroup/getsockname6', true, 'CGROUP_SOCK_ADDR', 'CGROUP_INET6_GETSOCKNAME'],
  ['cgroup/dev', true, 'CGROUP_DEVICE', 'CGROUP_DEVICE'],
  ['cgroup/sysctl', true, 'CGROUP_SYSCTL', 'CGROUP_SYSCTL'],
  ['cgroup/getsockopt', true, 'CGROUP_SOCKOPT', 'CGROUP_GETSOCKOPT'],
  ['cgroup/setsockopt', true, 'CGROUP_SOCKOPT', 'CGROUP_SETSOCKOPT'],
  ['tcx/ingress', true, 'SCHED_CLS', 'TCX_INGRESS'],
  ['tcx/egress', true, 'SCHED_CLS', 'TCX_EGRESS'],
  ['netkit/primary', true, 'SCHED_CLS', 'NETKIT_PRIMARY'],
  ['netkit/peer', true, 'SCHED_CLS', 'NETKIT_PEER'],
  ['netfilter', true, 'NETFILTER', 'NETFILTER'],
  // attach BTF id and attach type (the member index) come from the struct_ops map that uses it
  ['struct_ops', false, 'STRUCT_OPS'],
  ['struct_ops.s', false, 'STRUCT_OPS', undefined, BPF_F_SLEEPABLE],
];

type TracingRule = [prefix: string, type: ProgTypeName, attach: keyof typeof AttachType, btfPrefix: string, kind: 'func' | 'typedef'];

// `prefix/target` (and `prefix.s/target`, sleepable): the target's vmlinux BTF name is
// btfPrefix + target, as libbpf looks it up.
const TRACING_RULES: TracingRule[] = [
  ['fentry', 'TRACING', 'TRACE_FENTRY', '', 'func'],
  ['fexit', 'TRACING', 'TRACE_FEXIT', '', 'func'],
  ['fmod_ret', 'TRACING', 'MODIFY_RETURN', '', 'func'],
  ['tp_btf', 'TRACING', 'TRACE_RAW_TP', 'btf_trace_', 'typedef'],
  ['iter', 'TRACING', 'TRACE_ITER', 'bpf_iter_', 'func'],
  ['lsm', 'LSM', 'LSM_MAC', 'bpf_lsm_', 'func'],
  ['lsm_cgroup', 'LSM', 'LSM_CGROUP', 'bpf_lsm_', 'func'],
];
const SLEEPABLE = new Set(['fentry', 'fexit', 'fmod_ret', 'iter', 'lsm']);

/** The program type a section name stands for, or undefined when no convention matches. */
export function sectionKind(section: string): SectionKind | undefined {
  const traced = /^([a-z_]+?)(\.s)?\/(.+)$/.exec(section);
  const rule = traced && TRACING_RULES.find((r) => r[0] === traced[1]);
  if (traced && rule && (!traced[2] || SLEEPABLE.has(rule[0]))) {
    const [, type, attach, btfPrefix, kind] = rule;
    return { type, attachType: AttachType[attach], flags: traced[2] ? BPF_F_SLEEPABLE : 0, attachTo: { name: btfPrefix + traced[3], kind } };
  }
  for (const [prefix, exact, type, attach, flags] of RULES) {
    const hit = exact ? section === prefix : section === prefix || section.startsWith(prefix + '/');
    if (hit) return { type, attachType: attach === undefined ? 0 : AttachType[attach], flags: flags ?? 0 };
  }
  return undefined;
}

/** Why a section libbpf knows cannot be loaded here; undefined for the others. */
export function unsupportedSection(section: string): string | undefined {
  if (/^freplace(\/|$)/.test(section)) {
    return 'freplace (EXT) programs replace a function of another loaded program (attach_prog_fd), which bpfunit does not take';
  }
  return undefined;
}

export function progTypeName(type: number): string {
  for (const [name, value] of Object.entries(ProgType)) if (value === type) return name;
  return `type ${type}`;
}

// Types whose kernel prog_ops have no test_run: BPF_PROG_TEST_RUN refuses them with ENOTSUPP
// (measured for sk_msg, cgroup_sock_addr, sock_ops, cgroup_sock, sk_skb, sk_reuseport); and
// struct_ops, whose test run serves only the kernel's bpf_dummy_ops (EOPNOTSUPP otherwise).
const NOT_TEST_RUNNABLE: ReadonlySet<ProgTypeName> = new Set<ProgTypeName>([
  'KPROBE', 'TRACEPOINT', 'PERF_EVENT', 'CGROUP_SOCK', 'SOCK_OPS', 'SK_SKB', 'CGROUP_DEVICE', 'SK_MSG',
  'CGROUP_SOCK_ADDR', 'SK_REUSEPORT', 'CGROUP_SYSCTL', 'CGROUP_SOCKOPT', 'STRUCT_OPS',
]);

/** Whether BPF_PROG_TEST_RUN can run programs of this type at all. */
export function canTestRun(type: ProgTypeName): boolean {
  return !NOT_TEST_RUNNABLE.has(type);
}
