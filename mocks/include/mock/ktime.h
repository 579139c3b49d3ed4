/* SPDX-License-Identifier: GPL-2.0 */
/*
 * bpf_ktime_get_ns (and the boot / coarse clocks) -> a mock clock: each call returns
 * mock_ktime_cfg.now_ns and then advances it by step_ns. Default: always 0.
 */
#ifndef MOCK_KTIME_H
#define MOCK_KTIME_H

#include "host.h"

struct mock_ktime_cfg {
	__u64 now_ns;  /* value of the next call, nanoseconds; advanced by the mock */
	__u64 step_ns; /* added to now_ns after each call */
};
struct mock_ktime_cfg mock_ktime_cfg;

struct mock_ktime_calls {
	__u32 count; /* clock reads since reset */
	__u32 _pad;
};
struct mock_ktime_calls mock_ktime_calls;

static __always_inline __u64 mock_ktime_get_ns(void)
{
	__u64 now = mock_ktime_cfg.now_ns;

	mock_ktime_cfg.now_ns = now + mock_ktime_cfg.step_ns;
	mock_ktime_calls.count += 1;
	return now;
}

#define bpf_ktime_get_ns() mock_ktime_get_ns()
#define bpf_ktime_get_boot_ns() mock_ktime_get_ns()
#define bpf_ktime_get_coarse_ns() mock_ktime_get_ns()

#endif
