/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Every mock: include before the program source. A harness that wants a helper real includes
 * the other headers one by one instead. Optional knobs, defined before this include:
 *   MOCK_SK_ID(sk)               socket identity (default: the sk value as a number)
 *   MOCK_TAIL_CALL_TAKEN_ACTION  what a taken tail call does after returning 0 (default: nothing)
 */
#ifndef MOCK_ALL_H
#define MOCK_ALL_H

#include "host.h"
#include "sk_storage.h"
#include "msg.h"
#include "netns.h"
#include "prandom.h"
#include "ktime.h"
#include "tail_call.h"
#include "tcp_sock.h"
#include "ringbuf.h"
#include "map_lookup.h"

#endif
