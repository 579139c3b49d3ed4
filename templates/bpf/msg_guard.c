// An example sk_msg program (scaffolded by bpfunit init): IPv4 messages get a 2-byte "4:" header,
// and are refused when the header cannot be pushed; other families pass untouched. The kernel
// cannot test-run sk_msg, so test/harness/msg_guard_harness.c re-hosts it in XDP with bpfunit's
// mock library.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define AF_INET 2

SEC("sk_msg")
int msg_guard(struct sk_msg_md *msg)
{
	void *data, *end;

	if (msg->family != AF_INET)
		return SK_PASS;
	if (bpf_msg_push_data(msg, 0, 2, 0))
		return SK_DROP;
	data = (void *)(long)msg->data;
	end = (void *)(long)msg->data_end;
	if (data + 2 > end)
		return SK_DROP;
	__builtin_memcpy(data, "4:", 2);
	return SK_PASS;
}

char LICENSE[] SEC("license") = "GPL";
