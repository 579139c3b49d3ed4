/* SPDX-License-Identifier: GPL-2.0 */
/*
 * bpf_sk_storage_get / bpf_sk_storage_delete on mock per-socket slots.
 *
 * Entries live in mock_sk_storage[] keyed by (socket identity, map identity). Kernel rules kept:
 * an absent entry is returned only with BPF_SK_STORAGE_GET_F_CREATE (zero-filled, or copied
 * from the value argument), flags other than 0/F_CREATE and a NULL socket give NULL.
 * Default (all zero): no entries, nothing forced.
 */
#ifndef MOCK_SK_STORAGE_H
#define MOCK_SK_STORAGE_H

#include "host.h"
#include "ctx.h" /* MOCK_SK_ID */

#define MOCK_SK_STORAGE_SLOTS 8
#define MOCK_SK_STORAGE_VALUE_SIZE 256
#define MOCK_SK_STORAGE_MAX_CALLS 16

/* One storage entry. A test may write a slot directly to seed storage. */
struct mock_sk_storage_slot {
	__u64 sk;     /* socket identity (MOCK_SK_ID of the sk argument) */
	__u32 map_id; /* MOCK_MAP_ID of the storage map; 0 (only when written by a test) = any map */
	__u32 in_use; /* 1: the slot holds an entry */
	__u8 data[MOCK_SK_STORAGE_VALUE_SIZE]; /* the value; the program uses the first sizeof(value) bytes */
}; /* 272 bytes */
struct mock_sk_storage_slot mock_sk_storage[MOCK_SK_STORAGE_SLOTS];

struct mock_sk_storage_cfg {
	__u32 force_null;       /* nonzero: every call returns NULL */
	__u32 _pad;
	__u64 force_null_calls; /* bit i set: the i-th bpf_sk_storage_get since reset (0-based, i < 64) returns NULL */
};
struct mock_sk_storage_cfg mock_sk_storage_cfg;

/* result of a call */
#define MOCK_SK_STORAGE_ABSENT 0  /* no entry and no F_CREATE: NULL */
#define MOCK_SK_STORAGE_FOUND 1   /* existing entry returned */
#define MOCK_SK_STORAGE_CREATED 2 /* entry created (F_CREATE) and returned */
#define MOCK_SK_STORAGE_FORCED 3  /* NULL forced by mock_sk_storage_cfg */
#define MOCK_SK_STORAGE_FULL 4    /* F_CREATE but no free slot: NULL (the kernel's -ENOMEM) */
#define MOCK_SK_STORAGE_INVALID 5 /* NULL socket or unknown flags: NULL */
#define MOCK_SK_STORAGE_DELETED 6 /* bpf_sk_storage_delete removed an entry (returns 0) */
#define MOCK_SK_STORAGE_NOT_DELETED 7 /* bpf_sk_storage_delete found nothing (returns -ENOENT) */

struct mock_sk_storage_call {
	__u64 sk;     /* socket identity */
	__u64 flags;  /* flags argument (0 for delete) */
	__u32 map_id; /* MOCK_MAP_ID of the map argument */
	__u32 result; /* MOCK_SK_STORAGE_* */
	__u32 slot;   /* slot returned / deleted, MOCK_SK_STORAGE_SLOTS when none */
	__u32 _pad;
}; /* 32 bytes */

struct mock_sk_storage_calls {
	__u32 count;     /* calls recorded in calls[] */
	__u32 dropped;   /* calls not recorded because calls[] was full */
	__u32 gets;      /* bpf_sk_storage_get calls since reset, recorded or not (index of force_null_calls) */
	__u32 last_slot; /* slot returned by the last get, MOCK_SK_STORAGE_SLOTS when it returned NULL */
	struct mock_sk_storage_call calls[MOCK_SK_STORAGE_MAX_CALLS];
};
struct mock_sk_storage_calls mock_sk_storage_calls;

static __always_inline void mock_sk_storage_record(__u64 sk, __u32 map_id, __u64 flags, __u32 result, __u32 slot)
{
	__u32 i = mock_record_slot(&mock_sk_storage_calls.count, &mock_sk_storage_calls.dropped,
				   MOCK_SK_STORAGE_MAX_CALLS);

	if (i < MOCK_SK_STORAGE_MAX_CALLS) {
		mock_sk_storage_calls.calls[i].sk = sk;
		mock_sk_storage_calls.calls[i].flags = flags;
		mock_sk_storage_calls.calls[i].map_id = map_id;
		mock_sk_storage_calls.calls[i].result = result;
		mock_sk_storage_calls.calls[i].slot = slot;
	}
}

static __always_inline __u32 mock_sk_storage_find(__u64 sk, __u32 map_id)
{
	__u32 i;

	for (i = 0; i < MOCK_SK_STORAGE_SLOTS; i++) {
		if (mock_sk_storage[i].in_use && mock_sk_storage[i].sk == sk &&
		    (mock_sk_storage[i].map_id == map_id || mock_sk_storage[i].map_id == 0))
			return i;
	}
	return MOCK_SK_STORAGE_SLOTS;
}

static __always_inline void *mock_sk_storage_get_impl(__u32 map_id, __u64 sk, int sk_is_null, void *value,
						      __u64 flags, __u32 value_size)
{
	__u32 call = mock_sk_storage_calls.gets;
	__u32 result;
	__u32 slot = MOCK_SK_STORAGE_SLOTS;
	void *ret = 0;
	__u32 i;

	mock_sk_storage_calls.gets = call + 1;
	if (mock_sk_storage_cfg.force_null || (call < 64 && ((mock_sk_storage_cfg.force_null_calls >> call) & 1))) {
		result = MOCK_SK_STORAGE_FORCED;
	} else if (sk_is_null || flags > BPF_SK_STORAGE_GET_F_CREATE) {
		result = MOCK_SK_STORAGE_INVALID;
	} else {
		slot = mock_sk_storage_find(sk, map_id);
		if (slot < MOCK_SK_STORAGE_SLOTS) {
			result = MOCK_SK_STORAGE_FOUND;
		} else if (!(flags & BPF_SK_STORAGE_GET_F_CREATE)) {
			result = MOCK_SK_STORAGE_ABSENT;
		} else {
			result = MOCK_SK_STORAGE_FULL;
			for (i = 0; i < MOCK_SK_STORAGE_SLOTS; i++) {
				if (!mock_sk_storage[i].in_use) {
					slot = i;
					break;
				}
			}
			if (slot < MOCK_SK_STORAGE_SLOTS) {
				result = MOCK_SK_STORAGE_CREATED;
				__builtin_memset(mock_sk_storage[slot].data, 0, MOCK_SK_STORAGE_VALUE_SIZE);
				mock_sk_storage[slot].sk = sk;
				mock_sk_storage[slot].map_id = map_id;
				mock_sk_storage[slot].in_use = 1;
			}
		}
	}
	mock_sk_storage_calls.last_slot = slot;
	mock_sk_storage_record(sk, map_id, flags, result, slot);

	/* one verifier state from here on, whichever path chose the slot */
	slot = *(volatile __u32 *)&mock_sk_storage_calls.last_slot;
	if (slot < MOCK_SK_STORAGE_SLOTS) {
		if (result == MOCK_SK_STORAGE_CREATED && value)
			__builtin_memcpy(mock_sk_storage[slot].data, value, value_size);
		ret = mock_sk_storage[slot].data;
	}
	/* Opaque to clang: without it the caller's `if (!storage)` is folded into the test above and
	 * never runs as a jump of its own, so coverage could not see the program's branch. */
	asm volatile("" : "+r"(ret));
	return ret;
}

static __always_inline long mock_sk_storage_delete_impl(__u32 map_id, __u64 sk)
{
	__u32 slot = mock_sk_storage_find(sk, map_id);
	__u32 result = MOCK_SK_STORAGE_NOT_DELETED;

	if (slot < MOCK_SK_STORAGE_SLOTS) {
		mock_sk_storage[slot].in_use = 0;
		result = MOCK_SK_STORAGE_DELETED;
	}
	mock_sk_storage_record(sk, map_id, 0, result, slot);
	return result == MOCK_SK_STORAGE_DELETED ? 0 : -MOCK_ENOENT;
}

/* The map must be BTF-defined with __type(value, ...) (the kernel requires BTF for SK_STORAGE anyway). */
#define bpf_sk_storage_get(map_, sk_, value_, flags_)                                              \
	({                                                                                           \
		_Static_assert(sizeof(*(map_)->value) <= MOCK_SK_STORAGE_VALUE_SIZE,                 \
			       "sk storage value larger than MOCK_SK_STORAGE_VALUE_SIZE");           \
		mock_sk_storage_get_impl(MOCK_MAP_ID(map_), MOCK_SK_ID(sk_), (sk_) == 0,             \
					 (void *)(value_), (flags_), sizeof(*(map_)->value));        \
	})

#define bpf_sk_storage_delete(map, sk) mock_sk_storage_delete_impl(MOCK_MAP_ID(map), MOCK_SK_ID(sk))

#endif
