/* SPDX-License-Identifier: GPL-2.0 */
/*
 * bpf_tail_call -> recorded, never jumps (a real tail call needs a program of the same type).
 *
 * A call fails unless bit `index` of mock_tail_call_cfg.taken_mask is set (default: all fail, as
 * with an empty program array): the code after it runs, as in the kernel. A taken call returns 0
 * and then runs MOCK_TAIL_CALL_TAKEN_ACTION, which a harness may define before including this
 * header, e.g. as `return` when every tail call of the program sits in a void function whose
 * remaining code is the "tail call failed" path. Default action: none (the code after runs).
 * The program's own return value is what the harness stores, not a tail-called program's.
 */
#ifndef MOCK_TAIL_CALL_H
#define MOCK_TAIL_CALL_H

#include "host.h"

#ifndef MOCK_TAIL_CALL_TAKEN_ACTION
#define MOCK_TAIL_CALL_TAKEN_ACTION do { } while (0)
#endif

#define MOCK_TAIL_CALL_MAX_CALLS 8

struct mock_tail_call_cfg {
	__u64 taken_mask; /* bit i set: a tail call to index i (< 64) counts as taken */
};
struct mock_tail_call_cfg mock_tail_call_cfg;

struct mock_tail_call_rec {
	__u32 map_id; /* MOCK_MAP_ID of the program array */
	__u32 index;  /* index argument */
	__u32 taken;  /* 1: counted as taken, 0: failed (code after it ran) */
	__u32 _pad;
}; /* 16 bytes */

struct mock_tail_call_calls {
	__u32 count;   /* calls recorded in calls[] */
	__u32 dropped; /* calls not recorded because calls[] was full */
	struct mock_tail_call_rec calls[MOCK_TAIL_CALL_MAX_CALLS];
};
struct mock_tail_call_calls mock_tail_call_calls;

static __always_inline long mock_tail_call_impl(__u32 map_id, __u32 index)
{
	__u32 taken = index < 64 && ((mock_tail_call_cfg.taken_mask >> index) & 1);
	__u32 i = mock_record_slot(&mock_tail_call_calls.count, &mock_tail_call_calls.dropped,
				   MOCK_TAIL_CALL_MAX_CALLS);

	if (i < MOCK_TAIL_CALL_MAX_CALLS) {
		mock_tail_call_calls.calls[i].map_id = map_id;
		mock_tail_call_calls.calls[i].index = index;
		mock_tail_call_calls.calls[i].taken = taken;
	}
	return taken ? 0 : -MOCK_ENOENT;
}

#define bpf_tail_call(ctx, map, index)                                         \
	({                                                                     \
		long ___tc = mock_tail_call_impl(MOCK_MAP_ID(map), (index));   \
		(void)(ctx);                                                   \
		if (___tc == 0) {                                              \
			MOCK_TAIL_CALL_TAKEN_ACTION;                           \
		}                                                              \
		___tc;                                                         \
	})

#endif
