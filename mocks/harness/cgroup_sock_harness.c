// SPDX-License-Identifier: GPL-2.0
/*
 * cgroup/connect4, connect6, sendmsg4, recvmsg4 re-hosted as XDP programs. The context is the
 * global mock_sock_addr (struct bpf_sock_addr, UAPI layout, defined by the mock library): write
 * it before a run, read the rewritten destination back after. Its sk field is a plain number,
 * the socket identity of the storage mock. data_in is ignored (any 14+ bytes). Return value in
 * mock_retval.
 */
#include <mock/all.h>
#include "cgroup_sock.c"

MOCK_MAPS(km_manage, km_sockstorage, km_frontend, km_service, km_endpoint, km_backend,
	  km_cgr_tailcall, km_cgr_tail6, km_log_event)

MOCK_SOCK_ADDR_ENTRY(xdp_connect4, cgroup_connect4_prog)
MOCK_SOCK_ADDR_ENTRY(xdp_connect6, cgroup_connect6_prog)
MOCK_SOCK_ADDR_ENTRY(xdp_sendmsg4, cgroup_sendmsg4_prog)
MOCK_SOCK_ADDR_ENTRY(xdp_recvmsg4, cgroup_recvmsg4_prog)

/*
 * What a test puts in km_cgr_tailcall / km_cgr_tail6 (through Mocks.tailCallTarget): a
 * stand-in for the program userspace installs there. It leaves a mark the test can see: the
 * port becomes 15001 (network order) and the connect is refused (return 0).
 */
static __always_inline int waypoint_target(struct bpf_sock_addr *ctx)
{
	ctx->user_port = bpf_htons(15001);
	return 0;
}
MOCK_SOCK_ADDR_ENTRY(xdp_waypoint_target, waypoint_target)
