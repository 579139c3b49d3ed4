// SPDX-License-Identifier: GPL-2.0
/*
 * sk_msg of Kmesh's workload mode: before the first message of a connection that was sent to
 * a waypoint, prepend the original destination as TLVs:
 *   01 | len (4, big-endian) | ip (4 or 16) | port (2) | fe | 00000000 | payload
 * Always returns SK_PASS.
 */
#include "common.h"
#include "bpf_log.h"
#include "sock_storage.h"

/* Copy len bytes at *off; a write that would pass data_end is skipped and *off stays. */
static __always_inline int sk_msg_write(struct sk_msg_md *msg, __u32 *off, const void *src, __u32 len)
{
	__u8 *begin = (__u8 *)msg->data + *off;

	if ((void *)(begin + len) > msg->data_end) {
		BPF_LOG(ERR, SENDMSG, "write of %u bytes at offset %u passes data_end\n", len, *off);
		return -1;
	}
	__builtin_memcpy(begin, src, len);
	*off += len;
	return 0;
}

/* ip_len is a constant (4 or 16) at each call. */
static __always_inline void encode_org_dst(struct sk_msg_md *msg, struct sock_storage_data *storage, const void *ip,
					   __u32 ip_len, __u16 port)
{
	__u32 tlv_size = TLV_HEADER_SIZE + ip_len + TLV_PORT_SIZE;
	__u32 off = 0;
	__u8 type = TLV_ORG_DST_ADDR;
	__u32 length = bpf_htonl(ip_len + TLV_PORT_SIZE);
	__u8 end_type = TLV_PAYLOAD;
	__u32 end_length = 0;
	long ret;

	/* once per socket, even if what follows fails */
	storage->has_encoded = true;

	ret = bpf_msg_push_data(msg, 0, tlv_size + TLV_END_SIZE, 0);
	if (ret) {
		BPF_LOG(ERR, SENDMSG, "push of %u bytes failed: %ld\n", tlv_size + TLV_END_SIZE, ret);
		return;
	}

	sk_msg_write(msg, &off, &type, TLV_TYPE_SIZE);
	sk_msg_write(msg, &off, &length, TLV_LENGTH_SIZE);
	sk_msg_write(msg, &off, ip, ip_len);
	sk_msg_write(msg, &off, &port, TLV_PORT_SIZE);
	sk_msg_write(msg, &off, &end_type, TLV_TYPE_SIZE);
	sk_msg_write(msg, &off, &end_length, TLV_LENGTH_SIZE);
}

static __always_inline void encode_metadata_org_dst_addr(struct sk_msg_md *msg, struct sock_storage_data *storage)
{
	__u32 ip6[4];

	if (msg->family == AF_INET) {
		__u32 ip4 = storage->sk_tuple.ipv4.daddr;

		encode_org_dst(msg, storage, &ip4, TLV_IP4_SIZE, storage->sk_tuple.ipv4.dport);
	} else {
		__builtin_memcpy(ip6, storage->sk_tuple.ipv6.daddr, sizeof(ip6));
		encode_org_dst(msg, storage, ip6, TLV_IP6_SIZE, storage->sk_tuple.ipv6.dport);
	}
}

SEC("sk_msg")
int sendmsg_prog(struct sk_msg_md *msg)
{
	struct sock_storage_data *storage;

	if (msg->family != AF_INET && msg->family != AF_INET6)
		return SK_PASS;

	storage = bpf_sk_storage_get(&km_sockstorage, msg->sk, 0, 0);
	if (!storage)
		return SK_PASS;
	if (!storage->via_waypoint)
		return SK_PASS;
	if (storage->has_encoded)
		return SK_PASS;

	encode_metadata_org_dst_addr(msg, storage);
	return SK_PASS;
}

char _license[] SEC("license") = "GPL";
