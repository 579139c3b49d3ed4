/* SPDX-License-Identifier: GPL-2.0 */
/*
 * bpf_map_lookup_elem wrapped: a lookup in a map whose MOCK_MAP_ID is listed in
 * mock_map_lookup_cfg.null_map_ids returns NULL without asking the kernel; every other lookup
 * is the real helper. Every lookup is recorded. Default (all zero): nothing forced.
 * bpf_map_update_elem / bpf_map_delete_elem stay the real helpers (the kernel's return codes:
 * -ENOENT for a missing key, -EEXIST for BPF_NOEXIST on an existing key, -E2BIG when full) and
 * are recorded with the value they returned.
 * The map is identified by the pointer the program passes (MOCK_MAPS in host.h), so calls
 * through a wrapper taking `void *map` are recorded, and forced to miss, under the right map.
 */
#ifndef MOCK_MAP_LOOKUP_H
#define MOCK_MAP_LOOKUP_H

#include "host.h"

#define MOCK_MAP_LOOKUP_NULL_IDS 4
#define MOCK_MAP_LOOKUP_MAX_CALLS 32
#define MOCK_MAP_WRITE_MAX_CALLS 16

struct mock_map_lookup_cfg {
	__u32 null_map_ids[MOCK_MAP_LOOKUP_NULL_IDS]; /* MOCK_MAP_IDs forced to miss; 0 = unused entry */
};
struct mock_map_lookup_cfg mock_map_lookup_cfg;

#define MOCK_MAP_LOOKUP_MISS 0   /* the kernel returned NULL */
#define MOCK_MAP_LOOKUP_HIT 1    /* the kernel returned a value */
#define MOCK_MAP_LOOKUP_FORCED 2 /* NULL forced by the mock */

struct mock_map_lookup_rec {
	__u32 map_id; /* MOCK_MAP_ID of the map argument */
	__u32 result; /* MOCK_MAP_LOOKUP_* */
}; /* 8 bytes */

MOCK_CALL_LOG(mock_map_lookup_calls, struct mock_map_lookup_rec, MOCK_MAP_LOOKUP_MAX_CALLS);

static __always_inline int mock_map_lookup_forced(__u32 map_id)
{
	int forced = 0;
	__u32 i;

#pragma unroll
	for (i = 0; i < MOCK_MAP_LOOKUP_NULL_IDS; i++)
		forced |= mock_map_lookup_cfg.null_map_ids[i] == map_id;
	/* 0 marks an unused entry, and a map MOCK_MAPS does not name */
	return forced && map_id != MOCK_MAP_UNKNOWN;
}

static __always_inline void mock_map_lookup_record(__u32 map_id, __u32 result)
{
	__u32 i = mock_record_slot(&mock_map_lookup_calls.count, &mock_map_lookup_calls.dropped,
				   MOCK_MAP_LOOKUP_MAX_CALLS);

	if (i < MOCK_MAP_LOOKUP_MAX_CALLS) {
		mock_map_lookup_calls.calls[i].map_id = map_id;
		mock_map_lookup_calls.calls[i].result = result;
	}
}

/*
 * The mock is a function, not a statement macro, so that its code carries this header's lines:
 * coverage then counts its branches here, never on the line of the program that called it.
 * Defined before the macro below, so the call inside is the real helper.
 */
static __always_inline void *mock_map_lookup_elem(void *map, const void *key)
{
	__u32 id = MOCK_MAP_ID(map);
	void *v = 0;

	if (mock_map_lookup_forced(id))
		mock_map_lookup_record(id, MOCK_MAP_LOOKUP_FORCED);
	else {
		v = bpf_map_lookup_elem(map, key);
		mock_map_lookup_record(id, v ? MOCK_MAP_LOOKUP_HIT : MOCK_MAP_LOOKUP_MISS);
	}
	return v;
}

#define bpf_map_lookup_elem(map, key) mock_map_lookup_elem((void *)(map), (key))

#define MOCK_MAP_UPDATE 1
#define MOCK_MAP_DELETE 2

struct mock_map_write_rec {
	__u32 map_id; /* MOCK_MAP_ID of the map argument */
	__u32 op;     /* MOCK_MAP_UPDATE / MOCK_MAP_DELETE */
	__u64 flags;  /* update flags (0 for delete) */
	__s64 ret;    /* the kernel's return value */
}; /* 24 bytes */

MOCK_CALL_LOG(mock_map_write_calls, struct mock_map_write_rec, MOCK_MAP_WRITE_MAX_CALLS);

static __always_inline long mock_map_write_record(__u32 map_id, __u32 op, __u64 flags, long ret)
{
	__u32 i = mock_record_slot(&mock_map_write_calls.count, &mock_map_write_calls.dropped,
				   MOCK_MAP_WRITE_MAX_CALLS);

	if (i < MOCK_MAP_WRITE_MAX_CALLS) {
		mock_map_write_calls.calls[i].map_id = map_id;
		mock_map_write_calls.calls[i].op = op;
		mock_map_write_calls.calls[i].flags = flags;
		mock_map_write_calls.calls[i].ret = ret;
	}
	return ret;
}

static __always_inline long mock_map_update_elem(void *map, const void *key, const void *value, __u64 flags)
{
	return mock_map_write_record(MOCK_MAP_ID(map), MOCK_MAP_UPDATE, flags, bpf_map_update_elem(map, key, value, flags));
}

static __always_inline long mock_map_delete_elem(void *map, const void *key)
{
	return mock_map_write_record(MOCK_MAP_ID(map), MOCK_MAP_DELETE, 0, bpf_map_delete_elem(map, key));
}

#define bpf_map_update_elem(map, key, value, flags) mock_map_update_elem((void *)(map), (key), (value), (flags))
#define bpf_map_delete_elem(map, key) mock_map_delete_elem((void *)(map), (key))

#endif
