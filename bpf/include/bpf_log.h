/* SPDX-License-Identifier: GPL-2.0 */
/* Logging: BPF_LOG formats with bpf_snprintf straight into a record of the km_log_event ring buffer. */
#ifndef KMESH_BPF_LOG_H
#define KMESH_BPF_LOG_H

#include "common.h"

enum {
	BPF_LOG_ERR = 0,
	BPF_LOG_WARN = 1,
	BPF_LOG_INFO = 2,
	BPF_LOG_DEBUG = 3,
};

/* Lines at a level above this one are not logged; set from userspace (.data). */
int bpf_log_level = BPF_LOG_INFO;

#define BPF_LOG_MSG_SIZE 255

struct log_event {
	__u32 ret;                   /* bpf_snprintf result: length of the line including its NUL, or -errno */
	char msg[BPF_LOG_MSG_SIZE];  /* "[TAG] LEVEL: text" */
}; /* 260 bytes with tail padding */

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, RINGBUF_SIZE);
} km_log_event SEC(".maps");

/*
 * BPF_LOG(ERR|WARN|INFO|DEBUG, TAG, "format", args...): at most 12 integer arguments, each
 * widened to 64 bits (so use %d/%u/%x with an 'l' or 'll' where the argument is 64-bit).
 */
#define BPF_LOG(level, tag, fmt, ...)                                                        \
	do {                                                                                 \
		if (BPF_LOG_##level <= bpf_log_level) {                                      \
			static const char ___fmt[] = "[" #tag "] " #level ": " fmt;          \
			unsigned long long ___args[] = { __VA_ARGS__ };                      \
			struct log_event *___e;                                              \
			___e = bpf_ringbuf_reserve(&km_log_event, sizeof(*___e), 0);         \
			if (___e) {                                                          \
				___e->ret = bpf_snprintf(___e->msg, sizeof(___e->msg), ___fmt, \
							 sizeof(___args) ? ___args : (void *)0, \
							 sizeof(___args));                    \
				bpf_ringbuf_submit(___e, 0);                                 \
			}                                                                    \
		}                                                                            \
	} while (0)

#endif
