/* SPDX-License-Identifier: GPL-2.0 */
/*
 * bpf_get_prandom_u32 -> a scripted sequence: call n (0-based, since reset) returns
 * values[n % count]; with count 0 (default) every call returns 0. count above
 * MOCK_PRANDOM_MAX counts as MOCK_PRANDOM_MAX.
 */
#ifndef MOCK_PRANDOM_H
#define MOCK_PRANDOM_H

#include "host.h"

#define MOCK_PRANDOM_MAX 16

struct mock_prandom_cfg {
	__u32 count;                    /* number of scripted values in values[] */
	__u32 values[MOCK_PRANDOM_MAX]; /* the script, repeated */
};
struct mock_prandom_cfg mock_prandom_cfg;

struct mock_prandom_calls {
	__u32 drawn; /* values drawn since reset */
	__u32 _pad;
};
struct mock_prandom_calls mock_prandom_calls;

static __always_inline __u32 mock_get_prandom_u32(void)
{
	__u32 n = mock_prandom_calls.drawn;
	__u32 count = mock_prandom_cfg.count;
	__u32 i;

	mock_prandom_calls.drawn = n + 1;
	if (count == 0)
		return 0;
	if (count > MOCK_PRANDOM_MAX)
		count = MOCK_PRANDOM_MAX;
	i = n % count;
	mock_barrier_var(i);
	if (i >= MOCK_PRANDOM_MAX)
		return 0;
	return mock_prandom_cfg.values[i];
}

#define bpf_get_prandom_u32() mock_get_prandom_u32()

#endif
