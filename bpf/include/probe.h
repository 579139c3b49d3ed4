/* SPDX-License-Identifier: GPL-2.0 */
/* Periodic reports of long TCP connections into the km_tcp_probe ring buffer. */
#ifndef KMESH_PROBE_H
#define KMESH_PROBE_H

#include "common.h"
#include "bpf_log.h"
#include "sock_storage.h"

/* Set from userspace: both must be 1 for cgroup_skb to report. */
int enable_monitoring = 1;
int enable_periodic_report = 0;

#define TCP_PROBE_PERIODIC 1

/* A record of km_tcp_probe (naturally aligned, no implicit padding). */
struct tcp_probe_info {
	__u32 type;                   /* @0   TCP_PROBE_PERIODIC */
	__u32 family;                 /* @4   AF_INET / AF_INET6 */
	struct bpf_sock_tuple tuple;  /* @8   saddr/sport local, daddr/dport remote, network order */
	__u32 direction;              /* @44  storage.direction */
	__u64 start_ns;               /* @48  storage.connect_ns */
	__u64 report_ns;              /* @56  now */
	__u64 duration_ns;            /* @64  now - connect_ns */
	__u64 sent_bytes;             /* @72  tcp bytes_acked */
	__u64 received_bytes;         /* @80  tcp bytes_received */
	__u32 srtt_us;                /* @88  tcp srtt_us (already <<3 as the kernel keeps it) */
	__u32 rtt_min;                /* @92 */
	__u32 total_retrans;          /* @96 */
	__u32 lost_out;               /* @100 */
	__u32 segs_in;                /* @104 */
	__u32 segs_out;               /* @108 */
	__u32 snd_cwnd;               /* @112 */
	__u32 conn_success;           /* @116 storage.connect_success */
}; /* 120 bytes */

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, RINGBUF_SIZE);
} km_tcp_probe SEC(".maps");

/*
 * Every context field is read before the family test: clang would otherwise merge the two
 * branches into one load at a computed context offset, which the verifier refuses.
 */
static __always_inline void fill_tuple_from_skb(struct __sk_buff *skb, struct bpf_sock_tuple *tuple)
{
	__u16 local_port = bpf_htons((__u16)skb->local_port);
	__u16 remote_port = bpf_htons((__u16)bpf_ntohl(skb->remote_port));
	__u32 local_ip4 = skb->local_ip4;
	__u32 remote_ip4 = skb->remote_ip4;
	__u32 local_ip6[4] = { skb->local_ip6[0], skb->local_ip6[1], skb->local_ip6[2], skb->local_ip6[3] };
	__u32 remote_ip6[4] = { skb->remote_ip6[0], skb->remote_ip6[1], skb->remote_ip6[2], skb->remote_ip6[3] };

	if (skb->family == AF_INET) {
		tuple->ipv4.saddr = local_ip4;
		tuple->ipv4.daddr = remote_ip4;
		tuple->ipv4.sport = local_port;
		tuple->ipv4.dport = remote_port;
	} else {
		__builtin_memcpy(tuple->ipv6.saddr, local_ip6, sizeof(local_ip6));
		__builtin_memcpy(tuple->ipv6.daddr, remote_ip6, sizeof(remote_ip6));
		tuple->ipv6.sport = local_port;
		tuple->ipv6.dport = remote_port;
	}
}

static __always_inline void tcp_report(struct __sk_buff *skb, struct bpf_sock *sk, struct bpf_tcp_sock *tp,
				       struct sock_storage_data *storage, __u64 now)
{
	struct tcp_probe_info *info;

	info = bpf_ringbuf_reserve(&km_tcp_probe, sizeof(*info), 0);
	if (!info) {
		BPF_LOG(ERR, PROBE, "tcp probe: ring buffer full\n");
		return;
	}
	__builtin_memset(info, 0, sizeof(*info));
	info->type = TCP_PROBE_PERIODIC;
	info->family = sk->family;
	fill_tuple_from_skb(skb, &info->tuple);
	info->direction = storage->direction;
	info->start_ns = storage->connect_ns;
	info->report_ns = now;
	info->duration_ns = now - storage->connect_ns;
	info->sent_bytes = tp->bytes_acked;
	info->received_bytes = tp->bytes_received;
	info->srtt_us = tp->srtt_us;
	info->rtt_min = tp->rtt_min;
	info->total_retrans = tp->total_retrans;
	info->lost_out = tp->lost_out;
	info->segs_in = tp->segs_in;
	info->segs_out = tp->segs_out;
	info->snd_cwnd = tp->snd_cwnd;
	info->conn_success = storage->connect_success;
	storage->last_report_ns = now;
	bpf_ringbuf_submit(info, 0);
}

/* K6: report a connection again when the last report is older than the threshold. */
static __always_inline void observe_on_data(struct __sk_buff *skb, struct bpf_sock *sk)
{
	struct bpf_tcp_sock *tp;
	struct sock_storage_data *storage;
	__u64 now;

	tp = bpf_tcp_sock(sk);
	if (!tp)
		return;
	storage = bpf_sk_storage_get(&km_sockstorage, sk, 0, 0);
	if (!storage)
		return;

	now = bpf_ktime_get_ns();
	if (storage->last_report_ns != 0 && now - storage->last_report_ns > LONG_CONN_THRESHOLD_TIME)
		tcp_report(skb, sk, tp, storage, now);
}

#endif
