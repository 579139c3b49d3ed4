/* SPDX-License-Identifier: GPL-2.0 */
/*
 * sk_msg helpers on an XDP host: the message is the XDP packet.
 *
 * The harness keeps a struct mock_sk_msg_ctx on the entry's stack; the program gets &ctx.md.
 * md.data/md.data_end are the XDP packet pointers (refreshed after every change; after a pull,
 * the pulled window's), and the run's data_out is the whole message after the program. Socket
 * fields of md come from mock_sk_msg.
 *
 * bpf_msg_push_data(msg, start, len, flags): grows the head with bpf_xdp_adjust_head and, when
 *   start > 0, moves the first start bytes (at most MOCK_MSG_MAX_SHIFT) to the front and zeroes
 *   the gap. Bytes pushed at start 0 are the XDP headroom's: zero in BPF_PROG_TEST_RUN (run
 *   pushes with repeat = 1: the kernel does not restore the packet between repetitions).
 *   Kernel rules kept: flags != 0 or start > size -> -EINVAL; len 0 -> 0, no change. The XDP
 *   headroom limits len to about 200 bytes (-ENOMEM beyond).
 * bpf_msg_pull_data: recorded; -EINVAL for flags != 0, end <= start or end > size, else
 *   mock_msg_cfg.pull_ret (default 0). A pull that succeeds gives the kernel's window: msg->data
 *   is byte `start`, msg->data_end byte `end`, msg->size still the whole message. The packet is
 *   cut to the window: the head moves to `start` (bpf_xdp_adjust_head; the bytes before it stay
 *   in the headroom), the bytes after `end` are saved in mock_msg_tail and the tail shrinks
 *   (bpf_xdp_adjust_tail). The helpers used exist since 5.18 (load/store bytes). An XDP packet keeps at least 14 bytes, so a window shorter than that
 *   starts the packet up to 13 bytes before `start` (message bytes, or headroom when end < 14),
 *   which msg->data hides. The cut is undone (tail grown, saved bytes stored back, head moved
 *   back) before a later pull, push or pop and when the entry returns, so data_out is the whole
 *   message. It is kept across a tail call (mock_msg_win is global): the target sees the window,
 *   as in the kernel, where it is a field of the shared context.
 *   Mock limit: more than MOCK_MSG_TAIL_MAX bytes after `end`, or no headroom left for a short
 *   window, -EOPNOTSUPP (recorded), the previous window unchanged or the whole message.
 *   A later push or pop resets the window to the whole message (the kernel's first scatterlist
 *   element, which is the whole message here).
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
#define MOCK_MSG_TAIL_MAX 4096 /* above the largest linear XDP test-run packet (3520 on 4K pages) */

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

/* A pull's window: the packet is message bytes [head, end) (head < 0: headroom before the message). */
struct mock_msg_window {
	__u32 active; /* 1: the packet is cut to the window */
	__u32 size;   /* the message's size, what msg->size shows */
	__s32 head;   /* message offset of the packet's first byte */
	__u32 off;    /* window start - head: msg->data's offset in the packet (< 14) */
	__u32 tail;   /* bytes after the window, saved in mock_msg_tail */
	__u32 _pad;
};
struct mock_msg_window mock_msg_win;
__u8 mock_msg_tail[MOCK_MSG_TAIL_MAX];

/* 1..MOCK_MSG_TAIL_MAX for the verifier; the callers keep n in that range. */
#define MOCK_MSG_TAIL_LEN(n) ((((n) - 1) & (MOCK_MSG_TAIL_MAX - 1)) + 1)

static __always_inline void mock_msg_refresh(struct mock_sk_msg_ctx *c)
{
	__u8 *data = (__u8 *)(long)c->xdp->data;
	__u8 *data_end = (__u8 *)(long)c->xdp->data_end;

	c->md.data_end = data_end;
	if (mock_msg_win.active) {
		/* off < 14: the mask only tells the verifier */
		c->md.data = data + (mock_msg_win.off & 0xff);
		c->md.size = mock_msg_win.size;
	} else {
		c->md.data = data;
		c->md.size = (__u32)(data_end - data);
	}
}

/* The whole message back in the packet. Every step returns room the pull took: none can fail. */
static __always_inline void mock_msg_unwindow(struct xdp_md *xdp)
{
	__u32 tail = mock_msg_win.tail;

	if (!mock_msg_win.active)
		return;
	mock_msg_win.active = 0;
	/* tail first: with head < 0 the window alone may be under 14 bytes */
	if (tail)
		bpf_xdp_adjust_tail(xdp, (int)tail);
	bpf_xdp_adjust_head(xdp, -mock_msg_win.head);
	if (tail)
		bpf_xdp_store_bytes(xdp, mock_msg_win.size - tail, mock_msg_tail, MOCK_MSG_TAIL_LEN(tail));
}

/* Cut the packet to message bytes [start, end) (see the header); 0 or -EOPNOTSUPP. */
static __always_inline long mock_msg_window_set(struct mock_sk_msg_ctx *c, __u32 start, __u32 end)
{
	__u32 size = c->md.size;
	__u32 tail = size - end;
	__s32 head = (__s32)end - MOCK_MSG_MIN_SIZE;

	if (head > (__s32)start)
		head = (__s32)start;
	if (tail > MOCK_MSG_TAIL_MAX)
		return -MOCK_EOPNOTSUPP;
	mock_msg_unwindow(c->xdp);
	/* the tail is read while the packet still starts at the message */
	if (tail && bpf_xdp_load_bytes(c->xdp, end, mock_msg_tail, MOCK_MSG_TAIL_LEN(tail)))
		return -MOCK_EOPNOTSUPP;
	/* head first: the packet stays >= 14 bytes at every step */
	if (bpf_xdp_adjust_head(c->xdp, head))
		return -MOCK_EOPNOTSUPP;
	if (tail && bpf_xdp_adjust_tail(c->xdp, -(int)tail)) {
		bpf_xdp_adjust_head(c->xdp, -head);
		return -MOCK_EOPNOTSUPP;
	}
	mock_msg_win.size = size;
	mock_msg_win.head = head;
	mock_msg_win.off = (__u32)((__s32)start - head);
	mock_msg_win.tail = tail;
	mock_msg_win.active = 1;
	return 0;
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
	mock_msg_unwindow(c->xdp);
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
	if (!ret)
		ret = mock_msg_window_set(c, start, end);
	/* every helper above dropped the packet pointers the verifier knew, md's included */
	mock_msg_refresh(c);
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
		mock_msg_unwindow(c->xdp);
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
