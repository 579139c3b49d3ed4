// Typed access to the re-hosted contexts the mock library defines (mocks/include/mock/ctx.h):
// globals of the UAPI types, copied into the program's context before a run and, for the
// writable ones, back after it (or before a tail call). Written through the object's BTF, so
// only the fields given change; the per-test reset zeroes them. Every harness object has every
// context global, so setting or reading one no loaded program refers to is refused (InputError):
// the test would configure nothing.
import { InputError } from '../errors';
import { objectGlobals } from '../object/globals';
import type { Init } from '../structs/layout';
import type { BpfSockAddr, SkBuff, SkMsgMd } from '../structs/uapi';
import { referencedGlobals } from './harness-check';
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
  constructor(
    private readonly h: Harness,
    readonly name: string,
    private readonly checkUsed: (name: string, op: 'sets' | 'reads') => void,
  ) {}

  set(fields: Init<T>): void {
    this.checkUsed(this.name, 'sets');
    this.h.set(this.name, fields as never);
  }

  get(): T {
    this.checkUsed(this.name, 'reads');
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

  /** ctx name by global, in declaration order (the order the refusal lists them in). */
  private readonly ctxNames = new Map<string, string>();
  /** Context globals the object has but no loaded program refers to: computed once per load
   * (the loaded programs do not change), on the first set() or get(). */
  private unread: Set<string> | undefined;

  constructor(private readonly h: Harness) {
    const ctx = <T>(ctxName: string, global: string): ContextGlobal<T> => {
      this.ctxNames.set(global, ctxName);
      return new ContextGlobal<T>(h, global, (name, op) => this.checkUsed(name, op));
    };
    this.sockAddr = ctx('sockAddr', 'mock_sock_addr');
    this.sockAddrSock = ctx('sockAddrSock', 'mock_sock_addr_sock');
    this.skb = ctx('skb', 'mock_skb');
    this.skbSock = ctx('skbSock', 'mock_skb_sock');
    this.msg = ctx('msg', 'mock_sk_msg');
    this.msgSock = ctx('msgSock', 'mock_sk_msg_sock');
    this.sockOps = ctx('sockOps', 'mock_sock_ops');
    this.sockOpsSock = ctx('sockOpsSock', 'mock_sock_ops_sock');
    this.sock = ctx('sock', 'mock_sock');
    this.sockopt = ctx('sockopt', 'mock_sockopt');
    this.sockoptSock = ctx('sockoptSock', 'mock_sockopt_sock');
  }

  /** Refuses a context global no loaded program refers to. One the object lacks passes, for
   * Harness.get/set to name what the object has. */
  private checkUsed(name: string, op: 'sets' | 'reads'): void {
    const { spec, programs } = this.h.collection;
    if (!this.unread) {
      const all = [...this.ctxNames.keys()];
      const used = referencedGlobals(spec, [...programs.keys()], all);
      this.unread = new Set(all.filter((g) => objectGlobals(spec).has(g) && !used.has(g)));
    }
    if (!this.unread.has(name)) return;
    const taken = [...this.ctxNames].filter(([g]) => objectGlobals(spec).has(g) && !this.unread!.has(g)).map(([, c]) => `ctx.${c}`);
    throw new InputError(
      `ctx.${this.ctxNames.get(name)} ${op} ${name}, which no loaded program reads: the loaded entries (${[...programs.keys()].join(', ')}) ` +
        (taken.length ? `take ${taken.join(', ')}` : 'take no mock context'),
    );
  }
}
