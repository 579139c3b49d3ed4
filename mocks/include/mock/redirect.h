/* SPDX-License-Identifier: GPL-2.0 */
/*
 * bpf_sk_redirect_map (sk_skb) and bpf_msg_redirect_map (sk_msg) on a SOCKMAP that holds no
 * sockets here: the test says which keys hold a socket the redirect may use
 * (mock_redirect_cfg.present_mask, bit key, key < 64). Kernel rules kept (net/core/sock_map.c):
 * flags other than BPF_F_INGRESS -> SK_DROP; no socket at the key -> SK_DROP; else SK_PASS (the
 * redirect is recorded, with its direction, instead of done). Every call recorded.
 * Default (all zero): every key empty, every redirect SK_DROP.
 */
#ifndef MOCK_REDIRECT_H
#define MOCK_REDIRECT_H

#include "host.h"

#define MOCK_REDIRECT_MAX_CALLS 8

struct mock_redirect_cfg {
	__u64 present_mask; /* bit i: key i holds a socket that may be redirected to */
};
struct mock_redirect_cfg mock_redirect_cfg;

struct mock_redirect_call {
	__u32 map_id; /* MOCK_MAP_ID of the sockmap */
	__u32 key;
	__u64 flags;
	__s64 ret;    /* SK_PASS (1) / SK_DROP (0) */
}; /* 24 bytes */

MOCK_CALL_LOG(mock_redirect_calls, struct mock_redirect_call, MOCK_REDIRECT_MAX_CALLS);

static __always_inline long mock_redirect_map_impl(__u32 map_id, __u32 key, __u64 flags)
{
	long ret = SK_DROP;
	__u32 i;

	if (!(flags & ~(__u64)BPF_F_INGRESS) && key < 64 && ((mock_redirect_cfg.present_mask >> key) & 1))
		ret = SK_PASS;
	i = mock_record_slot(&mock_redirect_calls.count, &mock_redirect_calls.dropped, MOCK_REDIRECT_MAX_CALLS);
	if (i < MOCK_REDIRECT_MAX_CALLS) {
		mock_redirect_calls.calls[i].map_id = map_id;
		mock_redirect_calls.calls[i].key = key;
		mock_redirect_calls.calls[i].flags = flags;
		mock_redirect_calls.calls[i].ret = ret;
	}
	return ret;
}

#define bpf_sk_redirect_map(skb, map, key, flags) \
	({ (void)(skb); mock_redirect_map_impl(MOCK_MAP_ID(map), (key), (flags)); })
#define bpf_msg_redirect_map(msg, map, key, flags) \
	({ (void)(msg); mock_redirect_map_impl(MOCK_MAP_ID(map), (key), (flags)); })

#endif
