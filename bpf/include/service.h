/* SPDX-License-Identifier: GPL-2.0 */
/* km_service: services by id, with their waypoint and load-balancing policy. */
#ifndef KMESH_SERVICE_H
#define KMESH_SERVICE_H

#include "common.h"
#include "bpf_log.h"
#include "workload.h"
#include "waypoint.h"
#include "endpoint.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, MAP_SIZE_OF_SERVICE);
	__type(key, struct service_key);
	__type(value, struct service_value);
} km_service SEC(".maps");

static __always_inline struct service_value *map_lookup_service(const struct service_key *key)
{
	return kmesh_map_lookup_elem(&km_service, key);
}

/* Uniform pick among the endpoints of priority 0. */
static __always_inline int lb_random_handle(struct kmesh_context *kctx, __u32 service_id,
					    const struct service_value *service_v)
{
	struct endpoint_key endpoint_k = {};
	struct endpoint_value *endpoint_v;
	__u32 count = service_v->prio_endpoint_count[0];

	if (count == 0)
		return -ENOENT;

	endpoint_k.service_id = service_id;
	endpoint_k.prio = 0;
	endpoint_k.backend_index = bpf_get_prandom_u32() % count + 1;
	endpoint_v = map_lookup_endpoint(&endpoint_k);
	if (!endpoint_v)
		return -ENOENT;
	return endpoint_manager(kctx, endpoint_v, service_v);
}

/* Uniform pick among the endpoints of the best (lowest) priority that has any. */
static __always_inline int lb_failover_handle(struct kmesh_context *kctx, __u32 service_id,
					      const struct service_value *service_v)
{
	struct endpoint_key endpoint_k = {};
	struct endpoint_value *endpoint_v;
	__u32 count = 0;
	__u32 prio;

	for (prio = 0; prio < PRIO_COUNT; prio++) {
		count = service_v->prio_endpoint_count[prio];
		if (count > 0)
			break;
	}
	if (prio >= PRIO_COUNT)
		return -ENOENT;

	endpoint_k.service_id = service_id;
	endpoint_k.prio = prio;
	endpoint_k.backend_index = bpf_get_prandom_u32() % count + 1;
	endpoint_v = map_lookup_endpoint(&endpoint_k);
	if (!endpoint_v)
		return -ENOENT;
	return endpoint_manager(kctx, endpoint_v, service_v);
}

static __always_inline int service_manager(struct kmesh_context *kctx, __u32 service_id,
					   const struct service_value *service_v)
{
	__u32 lb_policy = service_v->lb_policy;
	int ret;

	if (service_v->wp_addr.ip4 != 0 && service_v->waypoint_port != 0) {
		set_dnat_to_waypoint(kctx, &service_v->wp_addr, service_v->waypoint_port);
		return 0;
	}

	if (lb_policy == LB_POLICY_RANDOM) {
		return lb_random_handle(kctx, service_id, service_v);
	} else if (lb_policy == LB_POLICY_STRICT) {
		ret = lb_random_handle(kctx, service_id, service_v);
		if (ret) {
			__builtin_memset(&kctx->dnat_ip, 0, sizeof(kctx->dnat_ip));
			kctx->dnat_port = 0;
		}
		return ret;
	} else if (lb_policy == LB_POLICY_FAILOVER) {
		return lb_failover_handle(kctx, service_id, service_v);
	}

	BPF_LOG(ERR, SERVICE, "service %u: unsupported lb policy %u: %d\n", service_id, lb_policy, -EINVAL);
	return -EINVAL;
}

#endif
