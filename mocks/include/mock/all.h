/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Every mock: include before the program source. A harness that wants a helper real includes
 * the other headers one by one instead. After the program source, the harness names the
 * program's maps with MOCK_MAPS(...) (host.h) and defines its entries (ctx.h).
 * Optional knob, defined before this include:
 *   MOCK_SK_ID(sk)               socket identity (default: the sk value as a number)
 */
#ifndef MOCK_ALL_H
#define MOCK_ALL_H

#include "host.h"
#include "sk_storage.h"
#include "msg.h"
#include "ctx.h"
#include "netns.h"
#include "prandom.h"
#include "ktime.h"
#include "tail_call.h"
#include "tcp_sock.h"
#include "skb.h"
#include "sock_ops.h"
#include "redirect.h"
#include "ringbuf.h"
#include "map_lookup.h"

#endif
