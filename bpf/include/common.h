/* SPDX-License-Identifier: GPL-2.0 */
/* Types shared by every workload program, and small address helpers. */
#ifndef KMESH_COMMON_H
#define KMESH_COMMON_H

#include <stdbool.h>
#include <linux/bpf.h>
#include <linux/in.h>
#include <linux/errno.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "config.h"

/* An IPv4 or IPv6 address in network byte order; an IPv4 address uses ip4 and leaves the rest 0. */
struct ip_addr {
	union {
		__u32 ip4;
		__u32 ip6[4];
	};
}; /* 16 bytes */

/* Key of km_manage: the network namespace cookie (the union keeps the key 16 bytes). */
struct manager_key {
	union {
		__u64 netns_cookie;
		struct ip_addr addr;
	};
}; /* 16 bytes */

/* Value of km_sockstorage (per socket). */
struct sock_storage_data {
	__u64 connect_ns;               /* @0  ktime of the connect */
	__u64 last_report_ns;           /* @8  ktime of the last periodic report, 0 = none yet */
	__u8 direction;                 /* @16 INBOUND / OUTBOUND */
	__u8 connect_success;           /* @17 */
	bool via_waypoint;              /* @18 connection was sent to a waypoint */
	bool has_encoded;               /* @19 metadata TLV already prepended */
	bool has_set_ip;                /* @20 sk_tuple holds the original destination */
	struct bpf_sock_tuple sk_tuple; /* @24 original destination: v4 daddr @28 dport @34, v6 daddr @40 dport @58 */
}; /* 64 bytes */

/* State of one connect while traffic control decides where it goes (stack only). */
struct kmesh_context {
	struct bpf_sock_addr *ctx;
	struct ip_addr orig_dst_addr; /* destination as asked (IPv4-mapped: its IPv4 form) */
	struct ip_addr dnat_ip;       /* destination chosen */
	__u32 dnat_port;              /* network-order port in the low 16 bits, like user_port */
	bool via_waypoint;
};

static __always_inline bool is_control_ip4(__u32 ip4)
{
	return ip4 == bpf_htonl(CONTROL_CMD_IP);
}

static __always_inline bool is_control_ip6(const __u32 *ip6)
{
	return ip6[0] == 0 && ip6[1] == 0 && ip6[2] == 0 && ip6[3] == bpf_htonl(CONTROL_CMD_IP);
}

/* ::ffff:a.b.c.d */
static __always_inline bool is_ipv4_mapped_addr(const __u32 *ip6)
{
	return ip6[0] == 0 && ip6[1] == 0 && ip6[2] == bpf_htonl(0x0000ffff);
}

/* ::ffff:a.b.c.d -> a.b.c.d in the IPv4 form of struct ip_addr */
static __always_inline void ipv4_mapped_to_v4(struct ip_addr *addr)
{
	__u32 ip4 = addr->ip6[3];

	addr->ip6[1] = 0;
	addr->ip6[2] = 0;
	addr->ip6[3] = 0;
	addr->ip4 = ip4;
}

/* Lookups of the workload maps go through here; the map is only a pointer by now. */
static __always_inline void *kmesh_map_lookup_elem(void *map, const void *key)
{
	return bpf_map_lookup_elem(map, key);
}

/* IPv4 form of struct ip_addr -> ::ffff:a.b.c.d */
static __always_inline void v4_to_ipv4_mapped(struct ip_addr *addr)
{
	__u32 ip4 = addr->ip4;

	addr->ip6[0] = 0;
	addr->ip6[1] = 0;
	addr->ip6[2] = bpf_htonl(0x0000ffff);
	addr->ip6[3] = ip4;
}

#endif
