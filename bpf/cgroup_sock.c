// SPDX-License-Identifier: GPL-2.0
/*
 * cgroup/connect4, connect6, sendmsg4, recvmsg4 of Kmesh's workload mode: control commands,
 * DNS redirection, and traffic control of TCP connects (service -> endpoint -> backend, or a
 * waypoint). Every path returns CGROUP_SOCK_OK.
 */
#include "common.h"
#include "bpf_log.h"
#include "manager.h"
#include "sock_storage.h"
#include "frontend.h"
#include "tail_call.h"

/* DNS goes to the address of backend 0 (the DNS proxy); the port is kept. */
static __always_inline void dns_redirect4(struct kmesh_context *kctx)
{
	struct bpf_sock_addr *ctx = kctx->ctx;
	struct backend_key backend_k = {};
	struct backend_value *backend_v;

	backend_k.backend_uid = 0;
	backend_v = map_lookup_backend(&backend_k);
	if (!backend_v)
		return;
	set_original_dst_info4(kctx);
	ctx->user_ip4 = backend_v->addr.ip4;
}

SEC("cgroup/connect4")
int cgroup_connect4_prog(struct bpf_sock_addr *ctx)
{
	struct kmesh_context kctx = {};
	int ret;

	kctx.ctx = ctx;
	kctx.orig_dst_addr.ip4 = ctx->user_ip4;
	kctx.dnat_ip.ip4 = ctx->user_ip4;
	kctx.dnat_port = ctx->user_port;

	if (handle_kmesh_manage_process(ctx, AF_INET))
		return CGROUP_SOCK_OK;
	if (!is_kmesh_enabled(ctx))
		return CGROUP_SOCK_OK;

	if (ctx->user_port == bpf_htons(DNS_PORT)) {
		dns_redirect4(&kctx);
		return CGROUP_SOCK_OK;
	}

	if (ctx->protocol != IPPROTO_TCP)
		return CGROUP_SOCK_OK;
	observe_on_pre_connect(ctx);

	ret = sock_traffic_control(&kctx);
	if (ret) {
		BPF_LOG(DEBUG, KMESH, "connect4: destination unchanged (%d)\n", ret);
		return CGROUP_SOCK_OK;
	}

	set_original_dst_info4(&kctx);
	if (ctx->user_family == AF_INET) {
		ctx->user_ip4 = kctx.dnat_ip.ip4;
		ctx->user_port = kctx.dnat_port;
	}
	if (kctx.via_waypoint) {
		kmesh_workload_tail_call(ctx, TAIL_CALL_CONNECT4_INDEX);
		/* reached only when the tail call failed */
		BPF_LOG(ERR, KMESH, "tail call km_cgr_tailcall[%u] failed\n", TAIL_CALL_CONNECT4_INDEX);
	}
	return CGROUP_SOCK_OK;
}

SEC("cgroup/connect6")
int cgroup_connect6_prog(struct bpf_sock_addr *ctx)
{
	struct kmesh_context kctx = {};
	bool v4_mapped;
	int ret;

	kctx.ctx = ctx;
	kctx.orig_dst_addr.ip6[0] = ctx->user_ip6[0];
	kctx.orig_dst_addr.ip6[1] = ctx->user_ip6[1];
	kctx.orig_dst_addr.ip6[2] = ctx->user_ip6[2];
	kctx.orig_dst_addr.ip6[3] = ctx->user_ip6[3];
	kctx.dnat_port = ctx->user_port;

	if (handle_kmesh_manage_process(ctx, AF_INET6))
		return CGROUP_SOCK_OK;
	if (!is_kmesh_enabled(ctx))
		return CGROUP_SOCK_OK;

	if (ctx->protocol != IPPROTO_TCP)
		return CGROUP_SOCK_OK;
	observe_on_pre_connect(ctx);

	/* IPv4-mapped: the maps hold the IPv4 address */
	v4_mapped = is_ipv4_mapped_addr(kctx.orig_dst_addr.ip6);
	if (v4_mapped)
		ipv4_mapped_to_v4(&kctx.orig_dst_addr);
	kctx.dnat_ip = kctx.orig_dst_addr;

	ret = sock_traffic_control(&kctx);
	if (ret) {
		BPF_LOG(DEBUG, KMESH, "connect6: destination unchanged (%d)\n", ret);
		return CGROUP_SOCK_OK;
	}

	set_original_dst_info6(&kctx);
	/* Only a result in IPv4 form is mapped back: a native IPv6 backend is dialled as it is. */
	if (v4_mapped && !kctx.dnat_ip.ip6[1] && !kctx.dnat_ip.ip6[2] && !kctx.dnat_ip.ip6[3])
		v4_to_ipv4_mapped(&kctx.dnat_ip);
	if (ctx->user_family == AF_INET6) {
		ctx->user_ip6[0] = kctx.dnat_ip.ip6[0];
		ctx->user_ip6[1] = kctx.dnat_ip.ip6[1];
		ctx->user_ip6[2] = kctx.dnat_ip.ip6[2];
		ctx->user_ip6[3] = kctx.dnat_ip.ip6[3];
		ctx->user_port = kctx.dnat_port;
	}
	if (kctx.via_waypoint) {
		kmesh_workload_tail_call6(ctx, TAIL_CALL_CONNECT6_INDEX);
		/* reached only when the tail call failed */
		BPF_LOG(ERR, KMESH, "tail call km_cgr_tail6[%u] failed\n", TAIL_CALL_CONNECT6_INDEX);
	}
	return CGROUP_SOCK_OK;
}

SEC("cgroup/sendmsg4")
int cgroup_sendmsg4_prog(struct bpf_sock_addr *ctx)
{
	struct kmesh_context kctx = {};

	kctx.ctx = ctx;
	kctx.orig_dst_addr.ip4 = ctx->user_ip4;
	kctx.dnat_ip.ip4 = ctx->user_ip4;
	kctx.dnat_port = ctx->user_port;

	if (handle_kmesh_manage_process(ctx, AF_INET))
		return CGROUP_SOCK_OK;
	if (!is_kmesh_enabled(ctx))
		return CGROUP_SOCK_OK;

	if (ctx->user_port != bpf_htons(DNS_PORT))
		return CGROUP_SOCK_OK;
	dns_redirect4(&kctx);
	return CGROUP_SOCK_OK;
}

SEC("cgroup/recvmsg4")
int cgroup_recvmsg4_prog(struct bpf_sock_addr *ctx)
{
	struct sock_storage_data *storage;

	if (handle_kmesh_manage_process(ctx, AF_INET))
		return CGROUP_SOCK_OK;
	if (!is_kmesh_enabled(ctx))
		return CGROUP_SOCK_OK;

	/* replies appear to come from the address the app sent to */
	storage = bpf_sk_storage_get(&km_sockstorage, ctx->sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (!storage)
		return CGROUP_SOCK_OK;
	ctx->user_ip4 = storage->sk_tuple.ipv4.daddr;
	return CGROUP_SOCK_OK;
}

char _license[] SEC("license") = "GPL";
