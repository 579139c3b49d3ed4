/* SPDX-License-Identifier: GPL-2.0 */
/* km_frontend: dialled address -> service id or workload uid. */
#ifndef KMESH_FRONTEND_H
#define KMESH_FRONTEND_H

#include "common.h"
#include "workload.h"
#include "waypoint.h"
#include "backend.h"
#include "service.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, MAP_SIZE_OF_FRONTEND);
	__type(key, struct frontend_key);
	__type(value, struct frontend_value);
} km_frontend SEC(".maps");

static __always_inline struct frontend_value *map_lookup_frontend(const struct frontend_key *key)
{
	return kmesh_map_lookup_elem(&km_frontend, key);
}

static __always_inline int frontend_manager(struct kmesh_context *kctx, const struct frontend_value *frontend_v)
{
	struct service_key service_k = {};
	struct service_value *service_v;
	struct backend_key backend_k = {};
	struct backend_value *backend_v;

	service_k.service_id = frontend_v->upstream_id;
	service_v = map_lookup_service(&service_k);
	if (!service_v) {
		/* the address is a workload's own: only its waypoint changes where it goes */
		backend_k.backend_uid = frontend_v->upstream_id;
		backend_v = map_lookup_backend(&backend_k);
		if (!backend_v)
			return -ENOENT;
		if (backend_v->waypoint_port != 0) {
			set_dnat_to_waypoint(kctx, &backend_v->wp_addr, backend_v->waypoint_port);
			return 0;
		}
		return -ENOENT;
	}
	return service_manager(kctx, service_k.service_id, service_v);
}

/* C7..C14: 0 when the destination was rewritten (kctx->dnat_*), else no change. */
static __always_inline int sock_traffic_control(struct kmesh_context *kctx)
{
	struct frontend_key frontend_k = {};
	struct frontend_value *frontend_v;

	__builtin_memcpy(&frontend_k.addr, &kctx->orig_dst_addr, sizeof(frontend_k.addr));
	frontend_v = map_lookup_frontend(&frontend_k);
	if (!frontend_v)
		return -ENOENT;
	return frontend_manager(kctx, frontend_v);
}

#endif
