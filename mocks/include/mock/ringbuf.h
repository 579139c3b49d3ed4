/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Ring buffer helpers captured into mock_ringbuf.records[] (all ring buffers of the program, in
 * call order, each record tagged with its map's MOCK_MAP_ID): reserve hands out a record's data,
 * submit/discard mark it, output copies into a new record. bpf_snprintf stays the real helper,
 * so a log line formatted into a reserved record reads back as text.
 * When records[] is full, reserve returns NULL and output -EAGAIN (like a full ring) and
 * mock_ringbuf.dropped counts the call. Default (all zero): no failure forced.
 */
#ifndef MOCK_RINGBUF_H
#define MOCK_RINGBUF_H

#include "host.h"

#define MOCK_RINGBUF_RECORDS 32
#define MOCK_RINGBUF_DATA_SIZE 264

#define MOCK_RINGBUF_RESERVED 1  /* reserved, not yet submitted or discarded */
#define MOCK_RINGBUF_SUBMITTED 2 /* bpf_ringbuf_submit */
#define MOCK_RINGBUF_DISCARDED 3 /* bpf_ringbuf_discard */
#define MOCK_RINGBUF_OUTPUT 4    /* written by bpf_ringbuf_output */

struct mock_ringbuf_record {
	__u32 map_id; /* MOCK_MAP_ID of the ring buffer map */
	__u32 len;    /* bytes reserved or output */
	__u32 state;  /* MOCK_RINGBUF_* */
	__u32 flags;  /* low 32 bits of the reserve/output flags, then of the submit/discard flags */
	__u8 data[MOCK_RINGBUF_DATA_SIZE]; /* the record; bytes past len are 0 */
}; /* 280 bytes */

struct mock_ringbuf {
	__u32 count;   /* records used in records[] */
	__u32 dropped; /* reserve/output calls refused because records[] was full */
	__u32 failed;  /* reserve/output calls refused by mock_ringbuf_cfg.fail or a size above MOCK_RINGBUF_DATA_SIZE */
	__u32 _pad;
	struct mock_ringbuf_record records[MOCK_RINGBUF_RECORDS];
};
struct mock_ringbuf mock_ringbuf;

struct mock_ringbuf_cfg {
	__u32 fail;        /* nonzero: reserve returns NULL, output returns -EAGAIN (a full ring) */
	__u32 fail_map_id; /* nonzero: only the ring buffer with this MOCK_MAP_ID is full */
};
struct mock_ringbuf_cfg mock_ringbuf_cfg;

static __always_inline __u32 mock_ringbuf_new(__u32 map_id, __u64 size, __u64 flags, __u32 state)
{
	__u32 i;

	if (mock_ringbuf_cfg.fail || (mock_ringbuf_cfg.fail_map_id && mock_ringbuf_cfg.fail_map_id == map_id) ||
	    size > MOCK_RINGBUF_DATA_SIZE) {
		mock_ringbuf.failed += 1;
		return MOCK_RINGBUF_RECORDS;
	}
	i = mock_record_slot(&mock_ringbuf.count, &mock_ringbuf.dropped, MOCK_RINGBUF_RECORDS);
	if (i < MOCK_RINGBUF_RECORDS) {
		mock_ringbuf.records[i].map_id = map_id;
		mock_ringbuf.records[i].len = (__u32)size;
		mock_ringbuf.records[i].state = state;
		mock_ringbuf.records[i].flags = (__u32)flags;
	}
	return i;
}

static __always_inline void *mock_ringbuf_reserve_impl(__u32 map_id, __u64 size, __u64 flags)
{
	__u32 i = mock_ringbuf_new(map_id, size, flags, MOCK_RINGBUF_RESERVED);

	if (i >= MOCK_RINGBUF_RECORDS)
		return 0;
	return mock_ringbuf.records[i].data;
}

/* Finds the record from its data pointer (pointer difference: needs a privileged loader). */
static __always_inline void mock_ringbuf_commit(void *data, __u32 state, __u64 flags)
{
	__u64 off = (__u64)(unsigned long)data - (__u64)(unsigned long)&mock_ringbuf.records[0].data[0];
	__u32 i;

	if (off >= sizeof(mock_ringbuf.records))
		return;
	i = (__u32)(off / sizeof(struct mock_ringbuf_record));
	if (i >= MOCK_RINGBUF_RECORDS)
		return;
	mock_ringbuf.records[i].state = state;
	mock_ringbuf.records[i].flags = (__u32)flags;
}

static __always_inline long mock_ringbuf_output_impl(__u32 map_id, const void *data, __u64 size, __u64 flags)
{
	__u32 i = mock_ringbuf_new(map_id, size, flags, MOCK_RINGBUF_OUTPUT);
	__u32 j;

	if (i >= MOCK_RINGBUF_RECORDS)
		return -MOCK_EAGAIN;
	for (j = 0; j < MOCK_RINGBUF_DATA_SIZE; j++) {
		mock_barrier_var(j); /* keeps clang from turning the loop into memcpy */
		if (j >= size)
			break;
		mock_ringbuf.records[i].data[j] = ((const __u8 *)data)[j];
	}
	return 0;
}

#define bpf_ringbuf_reserve(map, size, flags) mock_ringbuf_reserve_impl(MOCK_MAP_ID(map), (size), (flags))
#define bpf_ringbuf_submit(data, flags) mock_ringbuf_commit((data), MOCK_RINGBUF_SUBMITTED, (flags))
#define bpf_ringbuf_discard(data, flags) mock_ringbuf_commit((data), MOCK_RINGBUF_DISCARDED, (flags))
#define bpf_ringbuf_output(map, data, size, flags) \
	mock_ringbuf_output_impl(MOCK_MAP_ID(map), (data), (size), (flags))

#endif
