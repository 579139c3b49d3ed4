// SPDX-License-Identifier: GPL-2.0
/*
 * sendmsg_prog (sk_msg) re-hosted as an XDP program: data_in is the message, data_out the
 * message after the program (TLVs prepended). Socket fields from mock_sk_msg; return value in
 * mock_retval. The sk_msg section is still in the object, with mocks compiled in.
 */
#include <mock/all.h>
#include "sendmsg.c"

MOCK_MAPS(km_sockstorage, km_log_event)

MOCK_SK_MSG_ENTRY(xdp_sendmsg, sendmsg_prog)
