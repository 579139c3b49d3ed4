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
 *                   nonzero sk makes msg->sk point at mock_sk_msg_sock.
 * Every socket is identified (MOCK_SK_ID) by the number in its context's sk field.
 *
 * A harness is one line per program:
 *   MOCK_SOCK_ADDR_ENTRY(xdp_connect4, cgroup_connect4_prog)
 *   MOCK_SKB_ENTRY(xdp_ingress, cgroup_skb_ingress_prog)
 *   MOCK_SK_MSG_ENTRY(xdp_sendmsg, sendmsg_prog)
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

static __always_inline __u64 mock_sk_id(const void *sk)
{
	if (sk == &mock_sock_addr_sock)
		return (__u64)(unsigned long)mock_sock_addr.sk;
	if (sk == &mock_skb_sock)
		return (__u64)(unsigned long)mock_skb.sk;
	if (sk == &mock_sk_msg_sock)
		return mock_sk_msg.sk;
	return (__u64)(unsigned long)sk;
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

static __always_inline void mock_sk_msg_save(struct mock_sk_msg_ctx *c)
{
}

/* The XDP context behind a re-hosted context, and writing the context back to its global. */
#define mock_ctx_xdp(ctx)                                                                \
	_Generic((ctx),                                                                  \
		struct bpf_sock_addr *: ((struct mock_sock_addr_ctx *)(void *)(ctx))->xdp, \
		struct __sk_buff *: ((struct mock_skb_ctx *)(void *)(ctx))->xdp,         \
		struct sk_msg_md *: ((struct mock_sk_msg_ctx *)(void *)(ctx))->xdp)
#define mock_ctx_save(ctx)                                                                          \
	_Generic((ctx),                                                                             \
		struct bpf_sock_addr *: mock_sock_addr_save((struct mock_sock_addr_ctx *)(void *)(ctx)), \
		struct __sk_buff *: mock_skb_save((struct mock_skb_ctx *)(void *)(ctx)),            \
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

#define MOCK_SK_MSG_ENTRY(entry, prog)                          \
	MOCK_ENTRY("xdp") int entry(struct xdp_md *xdp)          \
	{                                                        \
		struct mock_sk_msg_ctx c = {};                   \
		mock_sk_msg_init(&c, xdp);                       \
		mock_runs += 1;                                  \
		mock_retval = prog(&c.md);                       \
		return XDP_PASS;                                 \
	}

#endif
