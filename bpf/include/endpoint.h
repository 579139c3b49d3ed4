/* SPDX-License-Identifier: GPL-2.0 */
/* km_endpoint: (service, priority, 1-based index) -> backend uid. */
#ifndef KMESH_ENDPOINT_H
#define KMESH_ENDPOINT_H

#include "common.h"
#include "workload.h"
#include "backend.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, MAP_SIZE_OF_ENDPOINT);
	__type(key, struct endpoint_key);
	__type(value, struct endpoint_value);
} km_endpoint SEC(".maps");

static __always_inline struct endpoint_value *map_lookup_endpoint(const struct endpoint_key *key)
{
	return kmesh_map_lookup_elem(&km_endpoint, key);
}

static __always_inline int endpoint_manager(struct kmesh_context *kctx, const struct endpoint_value *endpoint_v,
					    const struct service_value *service_v)
{
	struct backend_key backend_k = {};
	struct backend_value *backend_v;

	backend_k.backend_uid = endpoint_v->backend_uid;
	backend_v = map_lookup_backend(&backend_k);
	if (!backend_v) {
		BPF_LOG(WARN, ENDPOINT, "backend %u not found\n", backend_k.backend_uid);
		return -ENOENT;
	}
	return backend_manager(kctx, backend_v, service_v);
}

#endif
