/* SPDX-License-Identifier: GPL-2.0 */
/* Keys and values of the workload maps: packed, ports are u32 holding the network-order port in the low 16 bits. */
#ifndef KMESH_WORKLOAD_H
#define KMESH_WORKLOAD_H

#include "common.h"

#pragma pack(push, 1)

struct frontend_key {
	struct ip_addr addr; /* destination address as the app dialled it */
}; /* 16 */

struct frontend_value {
	__u32 upstream_id; /* service id, or backend uid when the address is a workload */
}; /* 4 */

struct service_key {
	__u32 service_id;
}; /* 4 */

struct service_value {
	__u32 prio_endpoint_count[PRIO_COUNT]; /* @0   endpoints per priority */
	__u32 lb_policy;                        /* @28  LB_POLICY_* */
	__u32 service_port[MAX_PORT_COUNT];     /* @32 */
	__u32 target_port[MAX_PORT_COUNT];      /* @72 */
	struct ip_addr wp_addr;                 /* @112 waypoint address */
	__u32 waypoint_port;                    /* @128 */
}; /* 132 */

struct endpoint_key {
	__u32 service_id;    /* @0 */
	__u32 prio;          /* @4 */
	__u32 backend_index; /* @8 1-based */
}; /* 12 */

struct endpoint_value {
	__u32 backend_uid;
}; /* 4 */

struct backend_key {
	__u32 backend_uid;
}; /* 4 */

struct backend_value {
	struct ip_addr addr;              /* @0 */
	__u32 service_count;              /* @16 */
	__u32 service[MAX_SERVICE_COUNT]; /* @20 */
	struct ip_addr wp_addr;           /* @60 */
	__u32 waypoint_port;              /* @76 */
}; /* 80 */

#pragma pack(pop)

#endif
