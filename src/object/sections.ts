// Section name -> program type and expected attach type, by the naming conventions BPF C code uses.

export const ProgType = {
  SOCKET_FILTER: 1, KPROBE: 2, SCHED_CLS: 3, SCHED_ACT: 4, TRACEPOINT: 5, XDP: 6, PERF_EVENT: 7,
  CGROUP_SKB: 8, CGROUP_SOCK: 9, LWT_IN: 10, LWT_OUT: 11, LWT_XMIT: 12, SOCK_OPS: 13, SK_SKB: 14,
  CGROUP_DEVICE: 15, SK_MSG: 16, RAW_TRACEPOINT: 17, CGROUP_SOCK_ADDR: 18, SK_REUSEPORT: 21,
  FLOW_DISSECTOR: 22, CGROUP_SYSCTL: 23, CGROUP_SOCKOPT: 25, SK_LOOKUP: 30, SYSCALL: 31,
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
} as const;

const BPF_F_SLEEPABLE = 1 << 4;

export interface SectionKind {
  type: ProgTypeName;
  attachType: number;
  /** prog_flags the type requires (syscall programs must be sleepable). */
  flags: number;
}

type Rule = [prefix: string, exact: boolean, type: ProgTypeName, attach?: keyof typeof AttachType, flags?: number];

// exact: the section must be exactly this name; otherwise `prefix` or `prefix/...` matches.
const RULES: Rule[] = [
  ['xdp', false, 'XDP'],
  ['tc', false, 'SCHED_CLS'],
  ['classifier', false, 'SCHED_CLS'],
  ['action', false, 'SCHED_ACT'],
  ['socket', false, 'SOCKET_FILTER'],
  ['kprobe', false, 'KPROBE'],
  ['kretprobe', false, 'KPROBE'],
  ['uprobe', false, 'KPROBE'],
  ['uretprobe', false, 'KPROBE'],
  ['tracepoint', false, 'TRACEPOINT'],
  ['tp', false, 'TRACEPOINT'],
  ['raw_tracepoint', false, 'RAW_TRACEPOINT'],
  ['raw_tp', false, 'RAW_TRACEPOINT'],
  ['perf_event', true, 'PERF_EVENT'],
  ['syscall', true, 'SYSCALL', undefined, BPF_F_SLEEPABLE],
  ['flow_dissector', true, 'FLOW_DISSECTOR', 'FLOW_DISSECTOR'],
  ['sk_lookup', true, 'SK_LOOKUP', 'SK_LOOKUP'],
  ['sk_msg', true, 'SK_MSG', 'SK_MSG_VERDICT'],
  ['sk_skb/stream_parser', true, 'SK_SKB', 'SK_SKB_STREAM_PARSER'],
  ['sk_skb/stream_verdict', true, 'SK_SKB', 'SK_SKB_STREAM_VERDICT'],
  ['sk_skb', true, 'SK_SKB'],
  ['sk_reuseport', true, 'SK_REUSEPORT'],
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
];

/** The program type a section name stands for, or undefined when no convention matches. */
export function sectionKind(section: string): SectionKind | undefined {
  for (const [prefix, exact, type, attach, flags] of RULES) {
    const hit = exact ? section === prefix : section === prefix || section.startsWith(prefix + '/');
    if (hit) return { type, attachType: attach === undefined ? 0 : AttachType[attach], flags: flags ?? 0 };
  }
  return undefined;
}

export function progTypeName(type: number): string {
  for (const [name, value] of Object.entries(ProgType)) if (value === type) return name;
  return `type ${type}`;
}

// Types whose kernel prog_ops have no test_run: BPF_PROG_TEST_RUN refuses them with ENOTSUPP
// (measured for sk_msg, cgroup_sock_addr, sock_ops, cgroup_sock, sk_skb, sk_reuseport).
const NOT_TEST_RUNNABLE: ReadonlySet<ProgTypeName> = new Set<ProgTypeName>([
  'KPROBE', 'TRACEPOINT', 'PERF_EVENT', 'CGROUP_SOCK', 'SOCK_OPS', 'SK_SKB', 'CGROUP_DEVICE', 'SK_MSG',
  'CGROUP_SOCK_ADDR', 'SK_REUSEPORT', 'CGROUP_SYSCTL', 'CGROUP_SOCKOPT',
]);

/** Whether BPF_PROG_TEST_RUN can run programs of this type at all. */
export function canTestRun(type: ProgTypeName): boolean {
  return !NOT_TEST_RUNNABLE.has(type);
}
