/* SPDX-License-Identifier: GPL-2.0 */
/*
 * sock_ops helpers on a re-hosted struct bpf_sock_ops (ctx.h).
 *
 * bpf_sock_ops_cb_flags_set(ops, flags): as the kernel (net/core/filter.c): -EINVAL unless
 *   ops->is_fullsock; otherwise the socket's callback flags become flags & BPF_SOCK_OPS_ALL_CB_FLAGS
 *   (read back through ops->bpf_sock_ops_cb_flags, in the program and in mock_sock_ops after the
 *   run) and the bits it does not know are returned (0 when all are known). Every call recorded.
 */
#ifndef MOCK_SOCK_OPS_H
#define MOCK_SOCK_OPS_H

#include "host.h"
#include "ctx.h"

#define MOCK_SOCK_OPS_MAX_CALLS 8

struct mock_cb_flags_call {
	__s32 flags; /* argument */
	__s32 ret;   /* returned */
}; /* 8 bytes */

MOCK_CALL_LOG(mock_cb_flags_calls, struct mock_cb_flags_call, MOCK_SOCK_OPS_MAX_CALLS);

static __always_inline long mock_sock_ops_cb_flags_set_impl(struct mock_sock_ops_ctx *c, int flags)
{
	long ret;
	__u32 i;

	if (!c->ops.is_fullsock) {
		ret = -MOCK_EINVAL;
	} else {
		c->ops.bpf_sock_ops_cb_flags = flags & BPF_SOCK_OPS_ALL_CB_FLAGS;
		ret = flags & ~BPF_SOCK_OPS_ALL_CB_FLAGS;
	}
	i = mock_record_slot(&mock_cb_flags_calls.count, &mock_cb_flags_calls.dropped, MOCK_SOCK_OPS_MAX_CALLS);
	if (i < MOCK_SOCK_OPS_MAX_CALLS) {
		mock_cb_flags_calls.calls[i].flags = flags;
		mock_cb_flags_calls.calls[i].ret = ret;
	}
	return ret;
}

#define bpf_sock_ops_cb_flags_set(ops, flags) \
	mock_sock_ops_cb_flags_set_impl((struct mock_sock_ops_ctx *)(void *)(ops), (flags))

#endif
