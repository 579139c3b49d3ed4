/* SPDX-License-Identifier: GPL-2.0 */
/*
 * bpf_tcp_sock -> &mock_tcp_sock (a struct bpf_tcp_sock in the UAPI layout, written by the
 * test), or NULL when mock_tcp_sock_cfg.force_null is set or the socket's context says it is
 * not TCP (a protocol set and not IPPROTO_TCP: the kernel gives NULL for those). Default: a TCP
 * socket whose fields are all 0.
 */
#ifndef MOCK_TCP_SOCK_H
#define MOCK_TCP_SOCK_H

#include "host.h"
#include "ctx.h" /* MOCK_SK_ID */

struct bpf_tcp_sock mock_tcp_sock;

struct mock_tcp_sock_cfg {
	__u32 force_null; /* nonzero: bpf_tcp_sock returns NULL */
	__u32 _pad;
};
struct mock_tcp_sock_cfg mock_tcp_sock_cfg;

struct mock_tcp_sock_calls {
	__u32 count;   /* calls since reset */
	__u32 _pad;
	__u64 last_sk; /* MOCK_SK_ID of the last call's argument */
};
struct mock_tcp_sock_calls mock_tcp_sock_calls;

#define MOCK_IPPROTO_TCP 6

static __always_inline struct bpf_tcp_sock *mock_tcp_sock_impl(__u64 sk, __u32 protocol)
{
	struct bpf_tcp_sock *tp = &mock_tcp_sock;

	mock_tcp_sock_calls.count += 1;
	mock_tcp_sock_calls.last_sk = sk;
	if (mock_tcp_sock_cfg.force_null || (protocol && protocol != MOCK_IPPROTO_TCP))
		tp = 0;
	/* one value for the program to test: clang would otherwise thread the program's NULL check
	 * into these conditions, and branch coverage could not see the program's own branch */
	mock_barrier_var(tp);
	return tp;
}

#define bpf_tcp_sock(sk) mock_tcp_sock_impl(MOCK_SK_ID(sk), mock_sk_protocol((const void *)(sk)))

#endif
