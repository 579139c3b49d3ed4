/* SPDX-License-Identifier: GPL-2.0 */
/* Tail calls after a connect was sent to a waypoint; connect4 and connect6 need separate program arrays. */
#ifndef KMESH_TAIL_CALL_H
#define KMESH_TAIL_CALL_H

#include "common.h"
#include "bpf_log.h"

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, MAP_SIZE_OF_TAIL_CALL);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} km_cgr_tailcall SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, MAP_SIZE_OF_TAIL_CALL);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} km_cgr_tail6 SEC(".maps");

/* Only the call: a taken tail call never returns, so what follows in the caller is the failure path. */
static __always_inline void kmesh_workload_tail_call(struct bpf_sock_addr *ctx, __u32 index)
{
	bpf_tail_call(ctx, &km_cgr_tailcall, index);
}

static __always_inline void kmesh_workload_tail_call6(struct bpf_sock_addr *ctx, __u32 index)
{
	bpf_tail_call(ctx, &km_cgr_tail6, index);
}

#endif
