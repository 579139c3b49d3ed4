/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A deliberately broken mock, for the differential suite to catch (spec/differential/sendmsg.spec.ts):
 * bpf_msg_push_data makes room for one byte more than asked, so whatever the program writes at
 * the start lands one byte before the payload's new place. The Makefile builds the unchanged
 * sendmsg harness with this header forced in first (-include): the library's all.h is then
 * already included (its guard keeps the harness's own include from undoing this).
 */
#include <mock/all.h>

#undef bpf_msg_push_data
#define bpf_msg_push_data(msg, start, len, flags) mock_msg_push_data((msg), (start), (len) + 1, (flags))
