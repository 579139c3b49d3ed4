// Re-hosts bpf/msg_guard.c, unmodified, in a test-runnable XDP entry: <mock/all.h> (bpfunit's
// mock library) turns its helpers into mocks; the packet is the message, socket fields come from
// the mock_sk_msg global, and the program's verdict is kept in mock_retval.
#include <mock/all.h>
#include "msg_guard.c"

MOCK_ENTRY("xdp")
int xdp_msg_guard(struct xdp_md *xdp)
{
	struct mock_sk_msg_ctx c = {};

	mock_sk_msg_init(&c, xdp);
	mock_retval = msg_guard(&c.md);
	return XDP_PASS;
}
