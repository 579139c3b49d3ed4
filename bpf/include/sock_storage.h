/* SPDX-License-Identifier: GPL-2.0 */
/* km_sockstorage: per-socket state shared by connect, sendmsg and the cgroup_skb probe. */
#ifndef KMESH_SOCK_STORAGE_H
#define KMESH_SOCK_STORAGE_H

#include "common.h"
#include "bpf_log.h"

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct sock_storage_data);
} km_sockstorage SEC(".maps");

/* Remember when the connect started (for the connection metrics). */
static __always_inline void observe_on_pre_connect(struct bpf_sock_addr *ctx)
{
	struct sock_storage_data *storage;

	storage = bpf_sk_storage_get(&km_sockstorage, ctx->sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (!storage) {
		BPF_LOG(ERR, PROBE, "pre connect: no sk storage\n");
		return;
	}
	storage->connect_ns = bpf_ktime_get_ns();
}

/* Record where an IPv4 connect was going before traffic control rewrote it. */
static __always_inline void set_original_dst_info4(struct kmesh_context *kctx)
{
	struct bpf_sock_addr *ctx = kctx->ctx;
	struct sock_storage_data *storage;

	storage = bpf_sk_storage_get(&km_sockstorage, ctx->sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (!storage) {
		BPF_LOG(ERR, KMESH, "original dst: no sk storage\n");
		return;
	}
	storage->via_waypoint = kctx->via_waypoint;
	if (!storage->has_set_ip) {
		storage->sk_tuple.ipv4.daddr = kctx->orig_dst_addr.ip4;
		storage->sk_tuple.ipv4.dport = (__u16)ctx->user_port;
		storage->has_set_ip = true;
	}
}

/* Same for connect6; the address is stored as the app gave it (IPv4-mapped stays mapped). */
static __always_inline void set_original_dst_info6(struct kmesh_context *kctx)
{
	struct bpf_sock_addr *ctx = kctx->ctx;
	struct sock_storage_data *storage;

	storage = bpf_sk_storage_get(&km_sockstorage, ctx->sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (!storage) {
		BPF_LOG(ERR, KMESH, "original dst6: no sk storage\n");
		return;
	}
	storage->via_waypoint = kctx->via_waypoint;
	if (!storage->has_set_ip) {
		storage->sk_tuple.ipv6.daddr[0] = ctx->user_ip6[0];
		storage->sk_tuple.ipv6.daddr[1] = ctx->user_ip6[1];
		storage->sk_tuple.ipv6.daddr[2] = ctx->user_ip6[2];
		storage->sk_tuple.ipv6.daddr[3] = ctx->user_ip6[3];
		storage->sk_tuple.ipv6.dport = (__u16)ctx->user_port;
		storage->has_set_ip = true;
	}
}

#endif
