/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Re-hosting support shared by every mock header and harness.
 *
 * A harness includes <mock/all.h> (or the mock headers it wants), then the unmodified program
 * source, then defines an XDP entry that builds a mock context and calls the program function.
 * After this header, SEC(name) also marks functions always_inline, so each program function is
 * inlined into the entry that calls it while still being emitted in its own section.
 *
 * Contract with userspace: every mock_* global is zero-initialised (.bss), so zeroing .bss
 * resets all mock configuration and recordings at once; zero means "behave like a plain kernel".
 */
#ifndef MOCK_HOST_H
#define MOCK_HOST_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#undef SEC
#define SEC(name)                                                        \
	_Pragma("GCC diagnostic push")                                   \
	_Pragma("GCC diagnostic ignored \"-Wignored-attributes\"")       \
	__attribute__((section(name), used, always_inline))             \
	_Pragma("GCC diagnostic pop")

/* Section attribute of a harness entry (an ordinary, not inlined, program). */
#define MOCK_ENTRY(name) __attribute__((section(name), used))

#ifndef MOCK_ENOENT
#define MOCK_ENOENT 2
#define MOCK_EINVAL 22
#define MOCK_ENOMEM 12
#define MOCK_EAGAIN 11
#define MOCK_EOPNOTSUPP 95
#endif

/*
 * Map identity used by every record: 32-bit FNV-1a (offset basis 2166136261, prime 16777619)
 * of the map's C variable name, e.g. MOCK_MAP_ID(&km_log_event) = fnv1a32("km_log_event").
 * Computed from the text of the argument (its last identifier), folded to a constant by clang.
 */
static __always_inline __u32 mock_map_id_of(const char *text, __u32 size)
{
	__u32 h = 2166136261u;
	__u32 i;

#pragma unroll
	for (i = 0; i < 64; i++) {
		char c;

		if (i >= size)
			break;
		c = text[i];
		if (c == 0)
			break;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')) {
			h = 2166136261u;
			continue;
		}
		h ^= (__u8)c;
		h *= 16777619u;
	}
	return h;
}
#define MOCK_MAP_ID(map) mock_map_id_of(#map, sizeof(#map))

/*
 * Identity of a socket argument. Default: its value as a number (re-hosted contexts carry a
 * plain number in their sk field). A harness running natively may define its own before
 * including the mock headers (the kernel's socket pointers are neither stable nor readable).
 */
#ifndef MOCK_SK_ID
#define MOCK_SK_ID(sk) ((__u64)(unsigned long)(sk))
#endif

/*
 * Bounded recording: returns the slot for a new record (and counts it) or cap when the array is
 * full (then *dropped counts the call instead).
 */
static __always_inline __u32 mock_record_slot(__u32 *count, __u32 *dropped, __u32 cap)
{
	__u32 n = *count;

	if (n >= cap) {
		*dropped += 1;
		return cap;
	}
	*count = n + 1;
	return n;
}

/* Hide a value from the optimiser so that a bounds check the verifier needs is kept. */
#define mock_barrier_var(v) asm volatile("" : "+r"(v))

/* Return value of the program function in the last harness run (the entry itself returns XDP_PASS). */
__s32 mock_retval;
/* Harness entry runs since the last reset. */
__u32 mock_runs;

#endif
