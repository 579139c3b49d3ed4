/* SPDX-License-Identifier: GPL-2.0 */
/*
 * bpf_tail_call -> a real tail call, on the harness's own program array.
 *
 * The program's PROG_ARRAY holds programs of its own type, which cannot run here; the harness
 * holds mock_tail_progs, a PROG_ARRAY of XDP entries (re-hosted targets, e.g. made with
 * MOCK_SOCK_ADDR_ENTRY). A test maps (program array, index) to a slot of it and puts a target
 * there (Mocks.tailCallTarget). The mock writes the context back to its global (ctx.h), then
 * calls the real bpf_tail_call on mock_tail_progs with the XDP context, so the kernel decides:
 * a taken call never returns (nothing after it runs; the target's entry runs on the same
 * context and stores its own return value), an empty slot or an unmapped (array, index) falls
 * through to the code after the call, and the 33-call limit of a chain is the kernel's.
 * Every call is recorded before it is made, as taken; a call that comes back is marked failed.
 * Default (all zero): no (array, index) mapped, every tail call falls through.
 * Not reproduced: a tail call issued inside a BPF subprogram (a noinline function). The kernel
 * then returns the target's return value to the subprogram's caller, which carries on; here
 * that caller would get the target entry's XDP_PASS, and its context copy misses the target's
 * writes. Harness.load refuses such a call (src/mock/harness-check.ts), naming the function.
 */
#ifndef MOCK_TAIL_CALL_H
#define MOCK_TAIL_CALL_H

#include "host.h"
#include "ctx.h"

#define MOCK_TAIL_SLOTS 16
#define MOCK_TAIL_CALL_MAX_CALLS 40 /* a chain the kernel stops at 33 taken calls fits */

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, MOCK_TAIL_SLOTS);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} mock_tail_progs SEC(".maps");

struct mock_tail_slot {
	__u32 used;   /* 1: calls to (map_id, index) go to this slot of mock_tail_progs */
	__u32 map_id; /* MOCK_MAP_ID of the program's array */
	__u32 index;  /* index in the program's array */
	__u32 _pad;
}; /* 16 bytes */

struct mock_tail_call_cfg {
	struct mock_tail_slot slots[MOCK_TAIL_SLOTS];
};
struct mock_tail_call_cfg mock_tail_call_cfg;

struct mock_tail_call_rec {
	__u32 map_id; /* MOCK_MAP_ID of the program array */
	__u32 index;  /* index argument */
	__u32 taken;  /* 1: the kernel jumped, 0: the call came back (the code after it ran) */
	__u32 _pad;
}; /* 16 bytes */

MOCK_CALL_LOG(mock_tail_call_calls, struct mock_tail_call_rec, MOCK_TAIL_CALL_MAX_CALLS);

/* Slot of mock_tail_progs for (map_id, index); MOCK_TAIL_SLOTS (out of range: falls through) when unmapped. */
static __always_inline __u32 mock_tail_slot_of(__u32 map_id, __u32 index)
{
	__u32 i;

	for (i = 0; i < MOCK_TAIL_SLOTS; i++) {
		if (mock_tail_call_cfg.slots[i].used && mock_tail_call_cfg.slots[i].map_id == map_id &&
		    mock_tail_call_cfg.slots[i].index == index)
			return i;
	}
	return MOCK_TAIL_SLOTS;
}

static __always_inline __u32 mock_tail_call_begin(__u32 map_id, __u32 index)
{
	__u32 i = mock_record_slot(&mock_tail_call_calls.count, &mock_tail_call_calls.dropped,
				   MOCK_TAIL_CALL_MAX_CALLS);

	if (i < MOCK_TAIL_CALL_MAX_CALLS) {
		mock_tail_call_calls.calls[i].map_id = map_id;
		mock_tail_call_calls.calls[i].index = index;
		mock_tail_call_calls.calls[i].taken = 1;
	}
	return i;
}

static __always_inline void mock_tail_call_returned(__u32 i)
{
	if (i < MOCK_TAIL_CALL_MAX_CALLS)
		mock_tail_call_calls.calls[i].taken = 0;
}

/* Inside its own expansion the name is not expanded again: that call is the real helper. */
#define bpf_tail_call(ctx, map, index)                                                     \
	({                                                                                 \
		__u32 ___tid = MOCK_MAP_ID(map);                                           \
		__u32 ___tix = (index);                                                    \
		__u32 ___trec = mock_tail_call_begin(___tid, ___tix);                      \
		long ___tret;                                                              \
		mock_ctx_save(ctx);                                                        \
		___tret = bpf_tail_call(mock_ctx_xdp(ctx), &mock_tail_progs,               \
					mock_tail_slot_of(___tid, ___tix));                \
		mock_tail_call_returned(___trec);                                          \
		___tret;                                                                   \
	})

#endif
