/* SPDX-License-Identifier: GPL-2.0 */
/* Constants of the Kmesh workload-mode programs (values from docs/PROGRAMS.md). */
#ifndef KMESH_CONFIG_H
#define KMESH_CONFIG_H

#ifndef AF_INET
#define AF_INET 2
#endif
#ifndef AF_INET6
#define AF_INET6 10
#endif

#define CGROUP_SOCK_OK 1

/* Control commands: a connect to 0.0.0.2 (or ::2) on one of these ports. */
#define CONTROL_CMD_IP 2
#define ENABLE_KMESH_PORT 929
#define DISABLE_KMESH_PORT 930

#define DNS_PORT 53

#define MAX_PORT_COUNT 10
#define MAX_SERVICE_COUNT 10
#define PRIO_COUNT 7

#define LB_POLICY_RANDOM 0
#define LB_POLICY_STRICT 1
#define LB_POLICY_FAILOVER 2

#define TAIL_CALL_CONNECT4_INDEX 0
#define TAIL_CALL_CONNECT6_INDEX 1

/* A long connection is reported when this much time passed since the last report. */
#define LONG_CONN_THRESHOLD_TIME (5ULL * 1000000000ULL)

/* Offsets in the IP header of the L4 protocol */
#define IPV4_PROTOCOL_OFFSET 9
#define IPV6_NEXTHDR_OFFSET 6

#define INBOUND 1
#define OUTBOUND 2

/* Metadata TLVs prepended to the first message of a connection via a waypoint. */
#define TLV_ORG_DST_ADDR 0x01
#define TLV_PAYLOAD 0xfe
#define TLV_TYPE_SIZE 1
#define TLV_LENGTH_SIZE 4
#define TLV_IP4_SIZE 4
#define TLV_IP6_SIZE 16
#define TLV_PORT_SIZE 2
#define TLV_HEADER_SIZE (TLV_TYPE_SIZE + TLV_LENGTH_SIZE)
#define TLV_ORG_DST_ADDR4_SIZE (TLV_HEADER_SIZE + TLV_IP4_SIZE + TLV_PORT_SIZE) /* 11 */
#define TLV_ORG_DST_ADDR6_SIZE (TLV_HEADER_SIZE + TLV_IP6_SIZE + TLV_PORT_SIZE) /* 23 */
#define TLV_END_SIZE TLV_HEADER_SIZE                                            /* 5 */

#define MAP_SIZE_OF_MANAGER 8192
#define MAP_SIZE_OF_FRONTEND 105000
#define MAP_SIZE_OF_SERVICE 5000
#define MAP_SIZE_OF_ENDPOINT 105000
#define MAP_SIZE_OF_BACKEND 100000
#define MAP_SIZE_OF_TAIL_CALL 8
#define RINGBUF_SIZE (256 * 1024)

#endif
