// SPDX-License-Identifier: GPL-2.0
/*
 * cgroup_skb.c with mocks, two ways:
 * - natively: the cgroup_skb/ingress and cgroup_skb/egress sections (cgroup_skb_ingress_prog,
 *   cgroup_skb_egress_prog) load as BPF_PROG_TYPE_CGROUP_SKB and test-run on a packet; the
 *   kernel supplies skb->sk (a dummy socket: never NULL, family and addresses from the IP
 *   header, ports 0).
 * - re-hosted: xdp_skb_ingress / xdp_skb_egress run the same functions on the global mock_skb
 *   (struct __sk_buff, UAPI layout) for what the dummy socket cannot show (sk NULL, ports,
 *   control addresses). A nonzero mock_skb.sk gives skb->sk = &mock_skb_sock, 0 gives NULL.
 * In both ways every socket the program passes to a helper has the identity mock_skb_sk_id
 * (the kernel's socket pointers are not stable between runs). Return value in mock_retval for
 * the XDP entries; the native sections return it as the run's retval.
 */
#include <linux/types.h>

/* Socket identity the storage and tcp_sock mocks use for any socket (default 0). */
__u64 mock_skb_sk_id;
#define MOCK_SK_ID(sk) mock_skb_sk_id

#include <mock/all.h>
#include "cgroup_skb.c"

MOCK_MAPS(km_manage, km_sockstorage, km_tcp_probe, km_log_event)

MOCK_SKB_ENTRY(xdp_skb_ingress, cgroup_skb_ingress_prog)
MOCK_SKB_ENTRY(xdp_skb_egress, cgroup_skb_egress_prog)
