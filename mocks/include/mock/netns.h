/* SPDX-License-Identifier: GPL-2.0 */
/* bpf_get_netns_cookie -> mock_netns_cfg.cookie. Default: 0 (the real kernel gives a nonzero cookie). */
#ifndef MOCK_NETNS_H
#define MOCK_NETNS_H

#include "host.h"

struct mock_netns_cfg {
	__u64 cookie; /* value returned by every bpf_get_netns_cookie */
};
struct mock_netns_cfg mock_netns_cfg;

struct mock_netns_calls {
	__u32 count; /* bpf_get_netns_cookie calls since reset */
	__u32 _pad;
};
struct mock_netns_calls mock_netns_calls;

static __always_inline __u64 mock_get_netns_cookie(void *ctx)
{
	mock_netns_calls.count += 1;
	return mock_netns_cfg.cookie;
}

#define bpf_get_netns_cookie(ctx) mock_get_netns_cookie((void *)(ctx))

#endif
