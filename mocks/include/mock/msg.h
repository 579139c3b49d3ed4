/* SPDX-License-Identifier: GPL-2.0 */
/*
 * sk_msg helpers on an XDP host: the message is the XDP packet.
 *
 * The harness keeps a struct mock_sk_msg_ctx on the entry's stack; the program gets &ctx.md.
 * md.data/md.data_end are the XDP packet pointers (refreshed after every change), so the
 * run's data_out is the message after the program. Socket fields of md come from mock_sk_msg.
 *
 * bpf_msg_push_data(msg, start, len, flags): grows the head with bpf_xdp_adjust_head and, when
 *   start > 0, moves the first start bytes (at most MOCK_MSG_MAX_SHIFT) to the front and zeroes
 *   the gap. Bytes pushed at start 0 are the XDP headroom's: zero in BPF_PROG_TEST_RUN (run
 *   pushes with repeat = 1: the kernel does not restore the packet between repetitions).
 *   Kernel rules kept: flags != 0 or start > size -> -EINVAL; len 0 -> 0, no change. The XDP
 *   headroom limits len to about 200 bytes (-ENOMEM beyond).
 * bpf_msg_pull_data: recorded; -EINVAL for flags != 0, end <= start or end > size, else
 *   mock_msg_cfg.pull_ret (default 0). A pull that succeeds moves msg->data to byte `start`, as
 *   the kernel does; msg->data_end stays at the end of the message (the kernel's is at `end`:
 *   a program that writes past `end` is not caught here). A later push or pop resets the window
 *   to the whole message.
 * bpf_msg_pop_data: removes len bytes at start: the first start bytes (at most
 *   MOCK_MSG_MAX_SHIFT) move forward by len, then the head shrinks (bpf_xdp_adjust_head);
 *   a later start -EOPNOTSUPP.
 * Default (all zero): push/pull/pop succeed, no window limit.
 */
#ifndef MOCK_MSG_H
#define MOCK_MSG_H

#include "host.h"

#define MOCK_MSG_MAX_CALLS 8
#define MOCK_MSG_MAX_SHIFT 64
#define MOCK_MSG_MAX_PUSH 256
#define MOCK_MSG_MIN_SIZE 14 /* the smallest XDP packet */

/* The context a harness builds on its stack: md must stay the first member. */
struct mock_sk_msg_ctx {
	struct sk_msg_md md;
	struct xdp_md *xdp;
};

/* Socket fields the program sees in its struct sk_msg_md. */
struct mock_sk_msg {
	__u64 sk;            /* socket identity; nonzero: msg->sk = &mock_sk_msg_sock, 0: NULL */
	__u32 family;        /* AF_INET 2 / AF_INET6 10 */
	__u32 remote_ip4;    /* network order */
	__u32 local_ip4;     /* network order */
	__u32 remote_ip6[4]; /* network order */
	__u32 local_ip6[4];  /* network order */
	__u32 remote_port;   /* as the kernel shows it: network-order port in the upper 16 bits */
	__u32 local_port;    /* host order */
	__u32 _pad;
}; /* 64 bytes */
struct mock_sk_msg mock_sk_msg;
/* The socket msg->sk points to when mock_sk_msg.sk is nonzero. */
struct bpf_sock mock_sk_msg_sock;

struct mock_msg_cfg {
	__s64 push_ret; /* nonzero: bpf_msg_push_data returns this (e.g. -12) and changes nothing */
	__s64 pull_ret; /* returned by a valid bpf_msg_pull_data */
	__s64 pop_ret;  /* nonzero: bpf_msg_pop_data returns this and changes nothing */
	__u32 window;   /* nonzero: after a successful push the message is cut to this many bytes
			   (>= 14), like a first scatterlist element that holds only that much;
			   the bytes cut are lost from data_out */
	__u32 _pad;
};
struct mock_msg_cfg mock_msg_cfg;

#define MOCK_MSG_PUSH 1
#define MOCK_MSG_PULL 2
#define MOCK_MSG_POP 3

struct mock_msg_call {
	__u32 op;    /* MOCK_MSG_PUSH / PULL / POP */
	__u32 start; /* start argument */
	__u32 len;   /* len argument (pull: end) */
	__u32 _pad;
	__u64 flags; /* flags argument */
	__s64 ret;   /* value returned to the program */
}; /* 32 bytes */

MOCK_CALL_LOG(mock_msg_calls, struct mock_msg_call, MOCK_MSG_MAX_CALLS);

static __always_inline void mock_msg_refresh(struct mock_sk_msg_ctx *c)
{
	c->md.data = (void *)(long)c->xdp->data;
	c->md.data_end = (void *)(long)c->xdp->data_end;
	c->md.size = (__u32)((long)c->md.data_end - (long)c->md.data);
}

/* Fill a harness context from the XDP packet and mock_sk_msg. */
static __always_inline void mock_sk_msg_init(struct mock_sk_msg_ctx *c, struct xdp_md *xdp)
{
	c->xdp = xdp;
	mock_msg_refresh(c);
	c->md.family = mock_sk_msg.family;
	c->md.remote_ip4 = mock_sk_msg.remote_ip4;
	c->md.local_ip4 = mock_sk_msg.local_ip4;
	__builtin_memcpy(c->md.remote_ip6, mock_sk_msg.remote_ip6, sizeof(c->md.remote_ip6));
	__builtin_memcpy(c->md.local_ip6, mock_sk_msg.local_ip6, sizeof(c->md.local_ip6));
	c->md.remote_port = mock_sk_msg.remote_port;
	c->md.local_port = mock_sk_msg.local_port;
	c->md.sk = mock_sk_msg.sk ? &mock_sk_msg_sock : 0;
}

static __always_inline void mock_msg_record(__u32 op, __u32 start, __u32 len, __u64 flags, long ret)
{
	__u32 i = mock_record_slot(&mock_msg_calls.count, &mock_msg_calls.dropped, MOCK_MSG_MAX_CALLS);

	if (i < MOCK_MSG_MAX_CALLS) {
		mock_msg_calls.calls[i].op = op;
		mock_msg_calls.calls[i].start = start;
		mock_msg_calls.calls[i].len = len;
		mock_msg_calls.calls[i].flags = flags;
		mock_msg_calls.calls[i].ret = ret;
	}
}

static __always_inline long mock_msg_insert(struct mock_sk_msg_ctx *c, __u32 start, __u32 len)
{
	__u8 *data, *end;
	__u32 i;

	if (start > MOCK_MSG_MAX_SHIFT)
		return -MOCK_EOPNOTSUPP;
	if (len > MOCK_MSG_MAX_PUSH)
		return -MOCK_ENOMEM;
	if (bpf_xdp_adjust_head(c->xdp, -(int)len)) {
		/* the call dropped every packet pointer the verifier knew, md's included */
		mock_msg_refresh(c);
		return -MOCK_ENOMEM;
	}
	if (start) {
		data = (__u8 *)(long)c->xdp->data;
		end = (__u8 *)(long)c->xdp->data_end;
		for (i = 0; i < MOCK_MSG_MAX_SHIFT; i++) {
			__u8 *src, *dst;

			mock_barrier_var(i); /* keeps clang from turning the loop into memmove */
			src = data + len + i;
			dst = data + i;
			if (i >= start || src + 1 > end || dst + 1 > end)
				break;
			*dst = *src;
		}
		for (i = 0; i < MOCK_MSG_MAX_PUSH; i++) {
			__u8 *gap;

			mock_barrier_var(i);
			gap = data + start + i;
			if (i >= len || gap + 1 > end)
				break;
			*gap = 0;
		}
	}
	mock_msg_refresh(c);
	if (mock_msg_cfg.window) {
		__u32 size = c->md.size;
		__u32 window = mock_msg_cfg.window;

		if (size > window && size - window <= 4096) {
			bpf_xdp_adjust_tail(c->xdp, -(int)(size - window));
			mock_msg_refresh(c);
		}
	}
	return 0;
}

static __always_inline long mock_msg_push_data(struct sk_msg_md *msg, __u32 start, __u32 len, __u64 flags)
{
	struct mock_sk_msg_ctx *c = (struct mock_sk_msg_ctx *)msg;
	long ret;

	if (mock_msg_cfg.push_ret)
		ret = mock_msg_cfg.push_ret;
	else if (flags || start > c->md.size)
		ret = -MOCK_EINVAL;
	else if (len == 0)
		ret = 0;
	else
		ret = mock_msg_insert(c, start, len);
	mock_msg_record(MOCK_MSG_PUSH, start, len, flags, ret);
	return ret;
}

static __always_inline long mock_msg_pull_data(struct sk_msg_md *msg, __u32 start, __u32 end, __u64 flags)
{
	struct mock_sk_msg_ctx *c = (struct mock_sk_msg_ctx *)msg;
	long ret;

	if (flags || end <= start || end > c->md.size)
		ret = -MOCK_EINVAL;
	else
		ret = mock_msg_cfg.pull_ret;
	/* start < size, which an XDP test run keeps far below 0xffff: the mask only tells the verifier */
	if (!ret)
		c->md.data = (__u8 *)(long)c->xdp->data + (start & 0xffff);
	mock_msg_record(MOCK_MSG_PULL, start, end, flags, ret);
	return ret;
}

/* The first start bytes moved forward by len, last byte first (the ranges may overlap). */
static __always_inline void mock_msg_shift_head(struct mock_sk_msg_ctx *c, __u32 start, __u32 len)
{
	__u8 *data = (__u8 *)(long)c->xdp->data, *end = (__u8 *)(long)c->xdp->data_end;
	__u32 i;

	for (i = 0; i < MOCK_MSG_MAX_SHIFT; i++) {
		__u8 *src, *dst;

		mock_barrier_var(i);
		if (i >= start)
			break;
		src = data + (start - 1 - i);
		dst = src + (len & 0x1fff);
		if (dst + 1 > end)
			break;
		*dst = *src;
	}
}

static __always_inline long mock_msg_pop_data(struct sk_msg_md *msg, __u32 start, __u32 len, __u64 flags)
{
	struct mock_sk_msg_ctx *c = (struct mock_sk_msg_ctx *)msg;
	long ret;

	if (mock_msg_cfg.pop_ret)
		ret = mock_msg_cfg.pop_ret;
	else if (flags || start + len > c->md.size)
		ret = -MOCK_EINVAL;
	else if (start > MOCK_MSG_MAX_SHIFT)
		ret = -MOCK_EOPNOTSUPP;
	else if (len > 4096 || c->md.size - len < MOCK_MSG_MIN_SIZE)
		ret = -MOCK_EINVAL; /* below 14 bytes: what an XDP packet cannot shrink to */
	else {
		mock_msg_shift_head(c, start, len);
		ret = bpf_xdp_adjust_head(c->xdp, (int)len) ? -MOCK_EINVAL : 0;
	}
	mock_msg_refresh(c);
	mock_msg_record(MOCK_MSG_POP, start, len, flags, ret);
	return ret;
}

#define bpf_msg_push_data(msg, start, len, flags) mock_msg_push_data((msg), (start), (len), (flags))
#define bpf_msg_pull_data(msg, start, end, flags) mock_msg_pull_data((msg), (start), (end), (flags))
#define bpf_msg_pop_data(msg, start, len, flags) mock_msg_pop_data((msg), (start), (len), (flags))

#endif
