/* SPDX-License-Identifier: GPL-2.0 */
/*
 * skb helpers a re-hosted cgroup_skb / tc program calls. In a harness that also keeps the
 * program's own native section (a cgroup_skb test run), the native code gets the real helpers:
 * the choice is made at compile time from where the context lives (a re-hosted __sk_buff is the
 * entry's struct mock_skb_ctx, whose size clang knows once the program is inlined; a native
 * context's size is unknown), so neither path reaches the verifier in the other's program.
 * Hence a re-hosted call must be inlined into the entry (always_inline helpers, as bpf/ uses):
 * in a BPF subprogram the context's size is unknown and the real helper would be chosen.
 *
 * bpf_skb_load_bytes(skb, offset, to, len): re-hosted, the packet is the harness packet from
 *   byte MOCK_SKB_L2 (14) on, i.e. the network header, where a cgroup_skb program's packet starts
 *   in a native test run of the same data_in. Kernel rules kept (net/core/filter.c): offset above
 *   0xffff or offset + len past the end -> -EFAULT (14) with `to` zero-filled; else 0.
 * bpf_skb_load_bytes_relative(skb, offset, to, len, start_header): the same from the MAC header
 *   (BPF_HDR_START_MAC: byte 0 of the harness packet) or the network header (BPF_HDR_START_NET:
 *   byte 14); another start_header -> -EFAULT with `to` zeroed.
 * bpf_sk_fullsock(sk): re-hosted, skb->sk is &mock_skb_sock (ctx.h): returned as is, or NULL
 *   when its state says it is a request or time-wait socket (BPF_TCP_NEW_SYN_RECV,
 *   BPF_TCP_TIME_WAIT: the kernel's rule) or mock_sk_fullsock_cfg.not_full is set.
 */
#ifndef MOCK_SKB_H
#define MOCK_SKB_H

#include "host.h"
#include "ctx.h"

#define MOCK_SKB_L2 14
#define MOCK_EFAULT 14

struct mock_sk_fullsock_cfg {
	__u32 not_full; /* nonzero: bpf_sk_fullsock(&mock_skb_sock) returns NULL */
	__u32 _pad;
};
struct mock_sk_fullsock_cfg mock_sk_fullsock_cfg;

/* base: where the program's offset 0 is in the harness packet; above 0xffff: an invalid start */
static __always_inline long mock_skb_load_from(struct mock_skb_ctx *c, __u32 base, __u32 offset, void *to, __u32 len)
{
	if (base <= 0xffff && offset <= 0xffff && bpf_xdp_load_bytes(c->xdp, base + offset, to, len) == 0)
		return 0;
	/* reading address 0 fails, and the helper zero-fills `to`: the kernel's error path exactly */
	bpf_probe_read_kernel(to, len, 0);
	return -MOCK_EFAULT;
}

static __always_inline long mock_skb_load_bytes_impl(struct mock_skb_ctx *c, __u32 offset, void *to, __u32 len)
{
	return mock_skb_load_from(c, MOCK_SKB_L2, offset, to, len);
}

static __always_inline long mock_skb_load_bytes_relative_impl(struct mock_skb_ctx *c, __u32 offset, void *to,
							      __u32 len, __u32 start_header)
{
	__u32 base = start_header == BPF_HDR_START_MAC ? 0 :
		     start_header == BPF_HDR_START_NET ? MOCK_SKB_L2 : 0x10000;

	return mock_skb_load_from(c, base, offset, to, len);
}

#define mock_skb_rehosted(skb) (__builtin_object_size((skb), 2) >= sizeof(struct mock_skb_ctx))

/* Inside its own expansion the name is not expanded again: that call is the real helper. */
#define bpf_skb_load_bytes(skb, offset, to, len)                                                          \
	(mock_skb_rehosted(skb) ?                                                                         \
		 mock_skb_load_bytes_impl((struct mock_skb_ctx *)(void *)(skb), (offset), (to), (len)) :  \
		 bpf_skb_load_bytes((skb), (offset), (to), (len)))

#define bpf_skb_load_bytes_relative(skb, offset, to, len, start_header)                                  \
	(mock_skb_rehosted(skb) ?                                                                         \
		 mock_skb_load_bytes_relative_impl((struct mock_skb_ctx *)(void *)(skb), (offset), (to),  \
						   (len), (start_header)) :                               \
		 bpf_skb_load_bytes_relative((skb), (offset), (to), (len), (start_header)))

static __always_inline struct bpf_sock *mock_sk_fullsock_impl(void)
{
	__u32 state = mock_skb_sock.state;

	if (mock_sk_fullsock_cfg.not_full || state == BPF_TCP_NEW_SYN_RECV || state == BPF_TCP_TIME_WAIT)
		return 0;
	return &mock_skb_sock;
}

#define bpf_sk_fullsock(sk)                                                                \
	((const void *)(sk) == (const void *)&mock_skb_sock ? mock_sk_fullsock_impl() :  \
							       bpf_sk_fullsock(sk))

#endif
