/* SPDX-License-Identifier: GPL-2.0 */
/* Redirecting a connect to a waypoint proxy. */
#ifndef KMESH_WAYPOINT_H
#define KMESH_WAYPOINT_H

#include "common.h"

static __always_inline void set_dnat_to_waypoint(struct kmesh_context *kctx, const struct ip_addr *wp_addr,
						 __u32 waypoint_port)
{
	__builtin_memcpy(&kctx->dnat_ip, wp_addr, sizeof(kctx->dnat_ip));
	kctx->dnat_port = waypoint_port;
	kctx->via_waypoint = true;
}

#endif
