// Typed access to the re-hosted contexts the mock library defines (mocks/include/mock/ctx.h):
// globals of the UAPI types, copied into the program's context before a run and, for the
// writable ones, back after it (or before a tail call). Written through the object's BTF, so
// only the fields given change; the per-test reset zeroes them.
import type { Init } from '../structs/layout';
import type { BpfSockAddr, SkBuff, SkMsgMd } from '../structs/uapi';
import type { Harness } from './harness';

/** UAPI struct bpf_sock: what a program reads through skb->sk, msg->sk or bpf_sk_fullsock. */
export interface BpfSock {
  bound_dev_if: number;
  family: number;
  type: number;
  protocol: number;
  mark: number;
  priority: number;
  /** network order */
  src_ip4: number;
  src_ip6: number[];
  /** host order */
  src_port: number;
  /** network order in the low 16 bits */
  dst_port: number;
  dst_ip4: number;
  dst_ip6: number[];
  state: number;
  rx_queue_mapping: number;
}

/** One context global: set() before a run, get() after. */
export class ContextGlobal<T> {
  constructor(private readonly h: Harness, readonly name: string) {}

  set(fields: Init<T>): void {
    this.h.set(this.name, fields as never);
  }

  get(): T {
    return this.h.get(this.name) as unknown as T;
  }
}

/** UAPI struct bpf_sockopt without its pointers (sk is the socket identity, 0 = NULL). */
export interface SockoptFields {
  sk: bigint;
  level: number;
  optname: number;
  optlen: number;
  retval: number;
}

/** The socket fields of an sk_msg context (msg->data and size come from the packet). */
export type SkMsgSocket = Omit<SkMsgMd, 'data' | 'data_end' | 'size'>;

export class Contexts {
  /** cgroup/connect*, bind*, sendmsg*, recvmsg*, getpeername*, getsockname*: read back after the
   * run. A nonzero `sk` (the socket identity of the storage mock) makes ctx->sk point at sockAddrSock. */
  readonly sockAddr: ContextGlobal<BpfSockAddr>;
  readonly sockAddrSock: ContextGlobal<BpfSock>;
  /** cgroup_skb / tc: the __sk_buff fields; a nonzero `sk` makes skb->sk point at skbSock, 0 NULL. */
  readonly skb: ContextGlobal<SkBuff>;
  /** The socket behind skb->sk. */
  readonly skbSock: ContextGlobal<BpfSock>;
  /** sk_msg: the message's socket fields; a nonzero `sk` makes msg->sk point at msgSock, 0 NULL. */
  readonly msg: ContextGlobal<SkMsgSocket>;
  readonly msgSock: ContextGlobal<BpfSock>;
  /** sock_ops: struct bpf_sock_ops (CValue fields by their C names); a nonzero `sk` points ops->sk at sockOpsSock. */
  readonly sockOps: ContextGlobal<Record<string, unknown>>;
  readonly sockOpsSock: ContextGlobal<BpfSock>;
  /** cgroup/sock_create, sock_release, post_bind4/6: the socket itself, copied back after the run. */
  readonly sock: ContextGlobal<BpfSock>;
  /** cgroup/getsockopt, setsockopt: level, optname, optlen, retval (the option value is the packet). */
  readonly sockopt: ContextGlobal<SockoptFields>;
  readonly sockoptSock: ContextGlobal<BpfSock>;

  constructor(h: Harness) {
    this.sockAddr = new ContextGlobal(h, 'mock_sock_addr');
    this.sockAddrSock = new ContextGlobal(h, 'mock_sock_addr_sock');
    this.skb = new ContextGlobal(h, 'mock_skb');
    this.skbSock = new ContextGlobal(h, 'mock_skb_sock');
    this.msg = new ContextGlobal(h, 'mock_sk_msg');
    this.msgSock = new ContextGlobal(h, 'mock_sk_msg_sock');
    this.sockOps = new ContextGlobal(h, 'mock_sock_ops');
    this.sockOpsSock = new ContextGlobal(h, 'mock_sock_ops_sock');
    this.sock = new ContextGlobal(h, 'mock_sock');
    this.sockopt = new ContextGlobal(h, 'mock_sockopt');
    this.sockoptSock = new ContextGlobal(h, 'mock_sockopt_sock');
  }
}
