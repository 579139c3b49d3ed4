/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A deliberately broken mock, for the differential suite to catch (spec/differential/sk_skb.spec.ts):
 * bpf_sk_redirect_map drops BPF_F_INGRESS from its flags, so a redirect into a socket's receive
 * queue is recorded as one out of it. The Makefile builds the unchanged sk_skb harness with this
 * header forced in first (-include), as with broken_push.h.
 */
#include <mock/all.h>

#undef bpf_sk_redirect_map
#define bpf_sk_redirect_map(skb, map, key, flags) \
	({ (void)(skb); mock_redirect_map_impl(MOCK_MAP_ID(map), (key), (flags) & ~(__u64)BPF_F_INGRESS); })
