// SPDX-License-Identifier: GPL-2.0
/*
 * cgroup/connect4, connect6, sendmsg4, recvmsg4 re-hosted as XDP programs. The context is the
 * global mock_sock_addr (struct bpf_sock_addr, UAPI layout): write it before a run, read the
 * rewritten destination back after. Its sk field is a plain number, the socket identity of the
 * storage mock. data_in is ignored (any 14+ bytes). Return value in mock_retval.
 * Tail calls: every tail call of cgroup_sock.c sits in a void wrapper whose remaining code is
 * the "tail call failed" log, so a taken tail call (mock_tail_call_cfg) returns from it.
 */
#define MOCK_TAIL_CALL_TAKEN_ACTION return
#include <mock/all.h>
#include "cgroup_sock.c"

/* The program's context (UAPI struct bpf_sock_addr, 72 bytes). */
struct bpf_sock_addr mock_sock_addr;

MOCK_ENTRY("xdp")
int xdp_connect4(struct xdp_md *xdp)
{
	mock_retval = cgroup_connect4_prog(&mock_sock_addr);
	mock_runs += 1;
	return XDP_PASS;
}

MOCK_ENTRY("xdp")
int xdp_connect6(struct xdp_md *xdp)
{
	mock_retval = cgroup_connect6_prog(&mock_sock_addr);
	mock_runs += 1;
	return XDP_PASS;
}

MOCK_ENTRY("xdp")
int xdp_sendmsg4(struct xdp_md *xdp)
{
	mock_retval = cgroup_sendmsg4_prog(&mock_sock_addr);
	mock_runs += 1;
	return XDP_PASS;
}

MOCK_ENTRY("xdp")
int xdp_recvmsg4(struct xdp_md *xdp)
{
	mock_retval = cgroup_recvmsg4_prog(&mock_sock_addr);
	mock_runs += 1;
	return XDP_PASS;
}
