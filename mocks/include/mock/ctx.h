/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Re-hosted contexts: what a program of each supported type gets as its context when it runs
 * inside an XDP entry, and the entry macros that build them.
 *
 * Each context lives on the entry's stack as { the UAPI struct the program reads; the XDP
 * context }, so a mock can reach the XDP context (a real bpf_tail_call needs it). Between runs
 * the context is a global of the UAPI type that tests write and read by name:
 *   mock_sock_addr  struct bpf_sock_addr (cgroup/connect4..6, bind, sendmsg, recvmsg, getpeername,
 *                   getsockname): copied in before the program runs and back after it returns
 *                   or before it tail-calls, so what the program wrote is what the test reads;
 *                   a nonzero sk (the socket identity the storage mock uses) makes ctx->sk
 *                   point at mock_sock_addr_sock (struct bpf_sock, fields set by the test).
 *   mock_skb        struct __sk_buff (cgroup_skb, tc): read-only for the program here; a nonzero
 *                   mock_skb.sk makes skb->sk point at mock_skb_sock (struct bpf_sock, fields
 *                   set by the test), 0 makes it NULL.
 *   mock_sk_msg     (msg.h) the socket fields of an sk_msg program; the message is the packet; a
 *                   nonzero sk makes msg->sk point at mock_sk_msg_sock. A pull's window is undone
 *                   when the program returns, so data_out is the whole message.
 *   mock_sock_ops   struct bpf_sock_ops (sock_ops): a nonzero sk points ops->sk at
 *                   mock_sock_ops_sock; skb_data..skb_data_end is the packet; reply/replylong,
 *                   sk_txhash and the callback flags are copied back.
 *   mock_sock       struct bpf_sock (cgroup/sock_create, sock_release, post_bind4/6): copied back
 *                   (bound_dev_if, mark, priority are what the kernel lets the program write);
 *                   its identity is mock_sock_id.
 *   mock_sockopt    struct bpf_sockopt (cgroup/getsockopt, setsockopt): optval..optval_end is
 *                   the packet (data_out: the option value after the run); level, optname,
 *                   optlen and retval are copied back; a nonzero sk points at mock_sockopt_sock.
 * Every socket is identified (MOCK_SK_ID) by the number in its context's sk field.
 *
 * A harness is one line per program:
 *   MOCK_SOCK_ADDR_ENTRY(xdp_connect4, cgroup_connect4_prog)
 *   MOCK_SKB_ENTRY(xdp_ingress, cgroup_skb_ingress_prog)
 *   MOCK_SK_MSG_ENTRY(xdp_sendmsg, sendmsg_prog)
 *   MOCK_SOCK_OPS_ENTRY / MOCK_SOCK_ENTRY / MOCK_SOCKOPT_ENTRY (entry, prog)
 * Each entry counts the run (mock_runs), stores the program's return value in mock_retval and
 * returns XDP_PASS (data_out is the packet, i.e. the message for sk_msg).
 */
#ifndef MOCK_CTX_H
#define MOCK_CTX_H

#include "host.h"
#include "msg.h"

struct mock_sock_addr_ctx {
	struct bpf_sock_addr sa; /* must stay first: the program gets &c.sa */
	struct xdp_md *xdp;
};
struct bpf_sock_addr mock_sock_addr;
/* The socket ctx->sk points to when mock_sock_addr.sk is nonzero. */
struct bpf_sock mock_sock_addr_sock;

struct mock_skb_ctx {
	struct __sk_buff skb; /* must stay first */
	struct xdp_md *xdp;
};
struct __sk_buff mock_skb;
/* The socket skb->sk points to when mock_skb.sk is nonzero. */
struct bpf_sock mock_skb_sock;

struct mock_sock_ops_ctx {
	struct bpf_sock_ops ops; /* must stay first */
	struct xdp_md *xdp;
};
struct bpf_sock_ops mock_sock_ops;
/* The socket ops->sk points to when mock_sock_ops.sk is nonzero. */
struct bpf_sock mock_sock_ops_sock;

struct mock_sock_ctx {
	struct bpf_sock sk; /* must stay first */
	struct xdp_md *xdp;
};
struct bpf_sock mock_sock;
/* Identity (MOCK_SK_ID) of the socket a cgroup/sock program gets as its context. */
__u64 mock_sock_id;

struct mock_sockopt_ctx {
	struct bpf_sockopt so; /* must stay first */
	struct xdp_md *xdp;
};
struct bpf_sockopt mock_sockopt;
/* The socket ctx->sk points to when mock_sockopt.sk is nonzero. */
struct bpf_sock mock_sockopt_sock;

static __always_inline void mock_sock_addr_begin(struct mock_sock_addr_ctx *c, struct xdp_md *xdp)
{
	c->sa = mock_sock_addr;
	c->sa.sk = mock_sock_addr.sk ? &mock_sock_addr_sock : 0;
	c->xdp = xdp;
}

/* sk is read-only for the program: the global keeps the identity the test wrote. */
static __always_inline void mock_sock_addr_save(struct mock_sock_addr_ctx *c)
{
	struct bpf_sock *sk = mock_sock_addr.sk;

	mock_sock_addr = c->sa;
	mock_sock_addr.sk = sk;
}

static __always_inline void mock_sock_ops_begin(struct mock_sock_ops_ctx *c, struct xdp_md *xdp)
{
	c->ops = mock_sock_ops;
	c->ops.sk = mock_sock_ops.sk ? &mock_sock_ops_sock : 0;
	c->ops.skb_data = (void *)(long)xdp->data;
	c->ops.skb_data_end = (void *)(long)xdp->data_end;
	c->xdp = xdp;
}

/* What a sock_ops program can change: reply (and args, its union) and sk_txhash; the callback
 * flags change through bpf_sock_ops_cb_flags_set. */
static __always_inline void mock_sock_ops_save(struct mock_sock_ops_ctx *c)
{
	__builtin_memcpy(mock_sock_ops.replylong, c->ops.replylong, sizeof(c->ops.replylong));
	mock_sock_ops.sk_txhash = c->ops.sk_txhash;
	mock_sock_ops.bpf_sock_ops_cb_flags = c->ops.bpf_sock_ops_cb_flags;
}

static __always_inline void mock_sock_begin(struct mock_sock_ctx *c, struct xdp_md *xdp)
{
	c->sk = mock_sock;
	c->xdp = xdp;
}

/* bound_dev_if, mark and priority are the writable fields; the rest is copied back unchanged. */
static __always_inline void mock_sock_save(struct mock_sock_ctx *c)
{
	mock_sock = c->sk;
}

/* The option value is the packet: optval..optval_end, data_out after the run. */
static __always_inline void mock_sockopt_begin(struct mock_sockopt_ctx *c, struct xdp_md *xdp)
{
	c->so.sk = mock_sockopt.sk ? &mock_sockopt_sock : 0;
	c->so.optval = (void *)(long)xdp->data;
	c->so.optval_end = (void *)(long)xdp->data_end;
	c->so.level = mock_sockopt.level;
	c->so.optname = mock_sockopt.optname;
	c->so.optlen = mock_sockopt.optlen;
	c->so.retval = mock_sockopt.retval;
	c->xdp = xdp;
}

static __always_inline void mock_sockopt_save(struct mock_sockopt_ctx *c)
{
	mock_sockopt.level = c->so.level;
	mock_sockopt.optname = c->so.optname;
	mock_sockopt.optlen = c->so.optlen;
	mock_sockopt.retval = c->so.retval;
}

static __always_inline __u64 mock_sk_id(const void *sk)
{
	/* a cgroup/sock context is the entry's struct mock_sock_ctx (see skb.h for the test) */
	if (__builtin_object_size(sk, 2) >= sizeof(struct mock_sock_ctx))
		return mock_sock_id;
	if (sk == &mock_sock_addr_sock)
		return (__u64)(unsigned long)mock_sock_addr.sk;
	if (sk == &mock_sock_ops_sock)
		return (__u64)(unsigned long)mock_sock_ops.sk;
	if (sk == &mock_sockopt_sock)
		return (__u64)(unsigned long)mock_sockopt.sk;
	if (sk == &mock_skb_sock)
		return (__u64)(unsigned long)mock_skb.sk;
	if (sk == &mock_sk_msg_sock)
		return mock_sk_msg.sk;
	return (__u64)(unsigned long)sk;
}

/* The protocol of a socket one of these contexts describes (0 when the test left it unset). */
static __always_inline __u32 mock_sk_protocol(const void *sk)
{
	if (__builtin_object_size(sk, 2) >= sizeof(struct mock_sock_ctx))
		return mock_sock.protocol;
	if (sk == &mock_sock_addr_sock)
		return mock_sock_addr_sock.protocol;
	if (sk == &mock_sock_ops_sock)
		return mock_sock_ops_sock.protocol;
	if (sk == &mock_sockopt_sock)
		return mock_sockopt_sock.protocol;
	if (sk == &mock_skb_sock)
		return mock_skb_sock.protocol;
	if (sk == &mock_sk_msg_sock)
		return mock_sk_msg_sock.protocol;
	return 0;
}

static __always_inline void mock_skb_begin(struct mock_skb_ctx *c, struct xdp_md *xdp)
{
	c->skb = mock_skb;
	c->skb.sk = mock_skb.sk ? &mock_skb_sock : 0;
	c->xdp = xdp;
}

/* The program may not write the __sk_buff fields this harness gives it: nothing to copy back. */
static __always_inline void mock_skb_save(struct mock_skb_ctx *c)
{
}

/* Nothing to copy back; a pull's window stays in place for a tail call's target (msg.h). */
static __always_inline void mock_sk_msg_save(struct mock_sk_msg_ctx *c)
{
}

/* The XDP context behind a re-hosted context, and writing the context back to its global. */
#define mock_ctx_xdp(ctx)                                                                \
	_Generic((ctx),                                                                  \
		struct bpf_sock_addr *: ((struct mock_sock_addr_ctx *)(void *)(ctx))->xdp, \
		struct __sk_buff *: ((struct mock_skb_ctx *)(void *)(ctx))->xdp,         \
		struct bpf_sock_ops *: ((struct mock_sock_ops_ctx *)(void *)(ctx))->xdp, \
		struct bpf_sock *: ((struct mock_sock_ctx *)(void *)(ctx))->xdp,         \
		struct bpf_sockopt *: ((struct mock_sockopt_ctx *)(void *)(ctx))->xdp,   \
		struct sk_msg_md *: ((struct mock_sk_msg_ctx *)(void *)(ctx))->xdp)
#define mock_ctx_save(ctx)                                                                          \
	_Generic((ctx),                                                                             \
		struct bpf_sock_addr *: mock_sock_addr_save((struct mock_sock_addr_ctx *)(void *)(ctx)), \
		struct __sk_buff *: mock_skb_save((struct mock_skb_ctx *)(void *)(ctx)),            \
		struct bpf_sock_ops *: mock_sock_ops_save((struct mock_sock_ops_ctx *)(void *)(ctx)), \
		struct bpf_sock *: mock_sock_save((struct mock_sock_ctx *)(void *)(ctx)),           \
		struct bpf_sockopt *: mock_sockopt_save((struct mock_sockopt_ctx *)(void *)(ctx)),  \
		struct sk_msg_md *: mock_sk_msg_save((struct mock_sk_msg_ctx *)(void *)(ctx)))

/* mock_runs is counted before the program runs: a taken tail call never comes back. */
#define MOCK_SOCK_ADDR_ENTRY(entry, prog)                       \
	MOCK_ENTRY("xdp") int entry(struct xdp_md *xdp)          \
	{                                                        \
		struct mock_sock_addr_ctx c;                     \
		mock_sock_addr_begin(&c, xdp);                   \
		mock_runs += 1;                                  \
		mock_retval = prog(&c.sa);                       \
		mock_sock_addr_save(&c);                         \
		return XDP_PASS;                                 \
	}

#define MOCK_SKB_ENTRY(entry, prog)                             \
	MOCK_ENTRY("xdp") int entry(struct xdp_md *xdp)          \
	{                                                        \
		struct mock_skb_ctx c;                           \
		mock_skb_begin(&c, xdp);                         \
		mock_runs += 1;                                  \
		mock_retval = prog(&c.skb);                      \
		return XDP_PASS;                                 \
	}

/* One entry shape for the contexts kept in a global between runs: copy in, run, copy back. */
#define MOCK_GLOBAL_CTX_ENTRY(entry, prog, ctx_type, field, begin, save) \
	MOCK_ENTRY("xdp") int entry(struct xdp_md *xdp)                   \
	{                                                                 \
		struct ctx_type c = {};                                   \
		begin(&c, xdp);                                           \
		mock_runs += 1;                                           \
		mock_retval = prog(&c.field);                             \
		save(&c);                                                 \
		return XDP_PASS;                                          \
	}

#define MOCK_SOCK_OPS_ENTRY(entry, prog) \
	MOCK_GLOBAL_CTX_ENTRY(entry, prog, mock_sock_ops_ctx, ops, mock_sock_ops_begin, mock_sock_ops_save)
#define MOCK_SOCK_ENTRY(entry, prog) \
	MOCK_GLOBAL_CTX_ENTRY(entry, prog, mock_sock_ctx, sk, mock_sock_begin, mock_sock_save)
#define MOCK_SOCKOPT_ENTRY(entry, prog) \
	MOCK_GLOBAL_CTX_ENTRY(entry, prog, mock_sockopt_ctx, so, mock_sockopt_begin, mock_sockopt_save)

#define MOCK_SK_MSG_ENTRY(entry, prog)                          \
	MOCK_ENTRY("xdp") int entry(struct xdp_md *xdp)          \
	{                                                        \
		struct mock_sk_msg_ctx c = {};                   \
		mock_sk_msg_init(&c, xdp);                       \
		mock_runs += 1;                                  \
		mock_retval = prog(&c.md);                       \
		mock_msg_unwindow(xdp);                          \
		return XDP_PASS;                                 \
	}

#endif
