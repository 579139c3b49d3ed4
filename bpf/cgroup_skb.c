// SPDX-License-Identifier: GPL-2.0
/*
 * cgroup_skb/ingress and cgroup_skb/egress of Kmesh's workload mode: periodic reports of long
 * connections of managed namespaces. Both directions share the logic; both always return 1.
 */
#include "common.h"
#include "bpf_log.h"
#include "manager.h"
#include "sock_storage.h"
#include "probe.h"

static __always_inline bool is_control_port(__u32 port)
{
	return port == ENABLE_KMESH_PORT || port == DISABLE_KMESH_PORT;
}

/* A connection to or from the control address: the command connects of the daemon. */
static __always_inline bool skb_is_control_conn(struct __sk_buff *skb)
{
	__u32 remote_port = bpf_ntohl(skb->remote_port);
	__u32 local_port = skb->local_port;

	if (skb->family == AF_INET)
		return (is_control_ip4(skb->remote_ip4) && is_control_port(remote_port)) ||
		       (is_control_ip4(skb->local_ip4) && is_control_port(local_port));
	return (is_control_ip6(skb->remote_ip6) && is_control_port(remote_port)) ||
	       (is_control_ip6(skb->local_ip6) && is_control_port(local_port));
}

/* The L4 protocol byte of the IP header, loaded from the packet (the skb starts at the IP header). */
static __always_inline bool skb_is_tcp(struct __sk_buff *skb)
{
	__u32 offset = skb->family == AF_INET ? IPV4_PROTOCOL_OFFSET : IPV6_NEXTHDR_OFFSET;
	__u8 protocol = 0;

	if (bpf_skb_load_bytes(skb, offset, &protocol, sizeof(protocol)))
		return false;
	return protocol == IPPROTO_TCP;
}

static __always_inline void cgroup_skb_observe(struct __sk_buff *skb)
{
	struct bpf_sock *sk;

	if (enable_monitoring != 1 || enable_periodic_report != 1)
		return;
	if (skb->family != AF_INET && skb->family != AF_INET6)
		return;
	sk = skb->sk;
	if (!sk)
		return;
	if (skb_is_control_conn(skb))
		return;
	if (!is_managed_by_kmesh_skb(skb))
		return;
	if (!skb_is_tcp(skb))
		return;
	observe_on_data(skb, sk);
}

SEC("cgroup_skb/ingress")
int cgroup_skb_ingress_prog(struct __sk_buff *skb)
{
	cgroup_skb_observe(skb);
	return SK_PASS;
}

SEC("cgroup_skb/egress")
int cgroup_skb_egress_prog(struct __sk_buff *skb)
{
	cgroup_skb_observe(skb);
	return SK_PASS;
}

char _license[] SEC("license") = "GPL";
