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

/* A taken tail call does not come back; the log line only runs when the slot was empty. */
static __always_inline void kmesh_workload_tail_call4(struct bpf_sock_addr *ctx)
{
	bpf_tail_call(ctx, &km_cgr_tailcall, TAIL_CALL_CONNECT4_INDEX);
	BPF_LOG(ERR, KMESH, "tail call km_cgr_tailcall[%u] failed\n", TAIL_CALL_CONNECT4_INDEX);
}

static __always_inline void kmesh_workload_tail_call6(struct bpf_sock_addr *ctx)
{
	bpf_tail_call(ctx, &km_cgr_tail6, TAIL_CALL_CONNECT6_INDEX);
	BPF_LOG(ERR, KMESH, "tail call km_cgr_tail6[%u] failed\n", TAIL_CALL_CONNECT6_INDEX);
}

#endif
