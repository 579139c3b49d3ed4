// SPDX-License-Identifier: GPL-2.0
/*
 * sendmsg_prog (sk_msg) re-hosted as an XDP program: data_in is the message, data_out the
 * message after the program (TLVs prepended). Socket fields from mock_sk_msg; return value in
 * mock_retval. The sk_msg section is still in the object, with mocks compiled in.
 */
#include <mock/all.h>
#include "sendmsg.c"

MOCK_ENTRY("xdp")
int xdp_sendmsg(struct xdp_md *xdp)
{
	struct mock_sk_msg_ctx c = {};

	mock_sk_msg_init(&c, xdp);
	mock_retval = sendmsg_prog(&c.md);
	mock_runs += 1;
	return XDP_PASS;
}
