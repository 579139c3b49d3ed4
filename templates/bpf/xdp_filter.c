// An example XDP program (scaffolded by bpfunit init): drops frames whose EtherType is listed in
// blocked_protos and counts its verdicts. test/xdp_filter.spec.ts tests it.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u16);	/* EtherType, network byte order */
	__type(value, __u8);
} blocked_protos SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} verdicts SEC(".maps");	/* [0] passed, [1] dropped */

static __always_inline int verdict(__u32 slot, int action)
{
	__u64 *n = bpf_map_lookup_elem(&verdicts, &slot);

	if (n)
		__sync_fetch_and_add(n, 1);
	return action;
}

SEC("xdp")
int xdp_filter(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	__u16 proto;

	if ((void *)(eth + 1) > end)
		return verdict(1, XDP_DROP);
	proto = eth->h_proto;
	if (bpf_map_lookup_elem(&blocked_protos, &proto))
		return verdict(1, XDP_DROP);
	return verdict(0, XDP_PASS);
}

char LICENSE[] SEC("license") = "GPL";
