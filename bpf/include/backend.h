/* SPDX-License-Identifier: GPL-2.0 */
/* km_backend: workloads (pods) by uid. */
#ifndef KMESH_BACKEND_H
#define KMESH_BACKEND_H

#include "common.h"
#include "bpf_log.h"
#include "workload.h"
#include "waypoint.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, MAP_SIZE_OF_BACKEND);
	__type(key, struct backend_key);
	__type(value, struct backend_value);
} km_backend SEC(".maps");

static __always_inline struct backend_value *map_lookup_backend(const struct backend_key *key)
{
	return kmesh_map_lookup_elem(&km_backend, key);
}

/* A backend picked for a service: its waypoint, else its address on the target port of the dialled port. */
static __always_inline int backend_manager(struct kmesh_context *kctx, const struct backend_value *backend_v,
					   const struct service_value *service_v)
{
	struct bpf_sock_addr *ctx = kctx->ctx;
	__u32 user_port = ctx->user_port;
	__u32 i;

	if (backend_v->waypoint_port != 0) {
		set_dnat_to_waypoint(kctx, &backend_v->wp_addr, backend_v->waypoint_port);
		return 0;
	}

	for (i = 0; i < MAX_PORT_COUNT; i++) {
		if (user_port == service_v->service_port[i]) {
			__builtin_memcpy(&kctx->dnat_ip, &backend_v->addr, sizeof(kctx->dnat_ip));
			kctx->dnat_port = service_v->target_port[i];
			return 0;
		}
	}

	BPF_LOG(DEBUG, BACKEND, "port %u matches no service port\n", bpf_ntohs((__u16)user_port));
	return -ENOENT;
}

#endif
