/* SPDX-License-Identifier: GPL-2.0 */
/* km_manage: the network namespaces Kmesh manages, switched on and off by control connects. */
#ifndef KMESH_MANAGER_H
#define KMESH_MANAGER_H

#include "common.h"
#include "bpf_log.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, MAP_SIZE_OF_MANAGER);
	__type(key, struct manager_key);
	__type(value, __u32);
} km_manage SEC(".maps");

/*
 * family is a constant (AF_INET in the v4 programs, AF_INET6 in connect6): a program may only
 * touch the user_ip4 or user_ip6 field of its own family.
 */
static __always_inline bool is_control_connect(struct bpf_sock_addr *ctx, __u32 family)
{
	if (ctx->user_family != family)
		return false;
	if (family == AF_INET)
		return is_control_ip4(ctx->user_ip4);
	return is_control_ip6(ctx->user_ip6);
}

/* Returns true when the connect was a control command (then nothing else is done). */
static __always_inline bool handle_kmesh_manage_process(struct bpf_sock_addr *ctx, __u32 family)
{
	struct manager_key key = {};
	__u32 value = 0;

	if (is_control_connect(ctx, family) && ctx->user_port == bpf_htons(ENABLE_KMESH_PORT)) {
		key.netns_cookie = bpf_get_netns_cookie(ctx);
		bpf_map_update_elem(&km_manage, &key, &value, BPF_ANY);
		BPF_LOG(INFO, MANAGE, "netns %llx managed\n", key.netns_cookie);
		return true;
	}
	if (is_control_connect(ctx, family) && ctx->user_port == bpf_htons(DISABLE_KMESH_PORT)) {
		key.netns_cookie = bpf_get_netns_cookie(ctx);
		bpf_map_delete_elem(&km_manage, &key);
		BPF_LOG(INFO, MANAGE, "netns %llx no longer managed\n", key.netns_cookie);
		return true;
	}
	return false;
}

static __always_inline bool is_kmesh_enabled(struct bpf_sock_addr *ctx)
{
	struct manager_key key = {};

	key.netns_cookie = bpf_get_netns_cookie(ctx);
	return bpf_map_lookup_elem(&km_manage, &key) != NULL;
}

/*
 * cgroup_skb: managed when km_manage has an entry for the skb's local address (an IPv4-mapped
 * IPv6 address in its IPv4 form). No netns cookie here: older kernels refuse
 * bpf_get_netns_cookie in CGROUP_SKB programs. Both address fields are read before the family
 * test, so that clang does not merge them into one load at a computed context offset.
 */
static __always_inline bool is_managed_by_kmesh_skb(struct __sk_buff *skb)
{
	struct manager_key key = {};
	__u32 local_ip4 = skb->local_ip4;
	__u32 local_ip6[4] = { skb->local_ip6[0], skb->local_ip6[1], skb->local_ip6[2], skb->local_ip6[3] };

	if (skb->family == AF_INET) {
		key.addr.ip4 = local_ip4;
	} else {
		__builtin_memcpy(key.addr.ip6, local_ip6, sizeof(local_ip6));
		if (is_ipv4_mapped_addr(key.addr.ip6))
			ipv4_mapped_to_v4(&key.addr);
	}
	return bpf_map_lookup_elem(&km_manage, &key) != NULL;
}

#endif
