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
 *
 * The identity comes from the pointer the program passes at run time, not from the text of the
 * argument: a lookup through `void *lookup(void *map, ...)` is recorded under the map the caller
 * gave. The harness names the maps of the program once, after including its source:
 *
 *     MOCK_MAPS(km_frontend, km_service, km_log_event);
 *
 * which defines mock_map_ident() as a chain of pointer comparisons (folded by clang when the
 * wrapper is inlined; compared at run time, which the verifier allows root, when it is a
 * subprogram). A map not listed is recorded as MOCK_MAP_UNKNOWN.
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
		h ^= (__u8)c;
		h *= 16777619u;
	}
	return h;
}

#define MOCK_MAP_UNKNOWN 0
/* Defined by the harness's MOCK_MAPS(...); a harness that names no map never calls a map mock. */
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wundefined-internal"
static __always_inline __u32 mock_map_ident(const void *map);
#pragma clang diagnostic pop
#define MOCK_MAP_ID(map) mock_map_ident((const void *)(map))

#define MOCK_MAP_IS(m) if (map == (const void *)&(m)) return mock_map_id_of(#m, sizeof(#m));
#define MOCK_FE_1(f, x) f(x)
#define MOCK_FE_2(f, x, ...) f(x) MOCK_FE_1(f, __VA_ARGS__)
#define MOCK_FE_3(f, x, ...) f(x) MOCK_FE_2(f, __VA_ARGS__)
#define MOCK_FE_4(f, x, ...) f(x) MOCK_FE_3(f, __VA_ARGS__)
#define MOCK_FE_5(f, x, ...) f(x) MOCK_FE_4(f, __VA_ARGS__)
#define MOCK_FE_6(f, x, ...) f(x) MOCK_FE_5(f, __VA_ARGS__)
#define MOCK_FE_7(f, x, ...) f(x) MOCK_FE_6(f, __VA_ARGS__)
#define MOCK_FE_8(f, x, ...) f(x) MOCK_FE_7(f, __VA_ARGS__)
#define MOCK_FE_9(f, x, ...) f(x) MOCK_FE_8(f, __VA_ARGS__)
#define MOCK_FE_10(f, x, ...) f(x) MOCK_FE_9(f, __VA_ARGS__)
#define MOCK_FE_11(f, x, ...) f(x) MOCK_FE_10(f, __VA_ARGS__)
#define MOCK_FE_12(f, x, ...) f(x) MOCK_FE_11(f, __VA_ARGS__)
#define MOCK_FE_13(f, x, ...) f(x) MOCK_FE_12(f, __VA_ARGS__)
#define MOCK_FE_14(f, x, ...) f(x) MOCK_FE_13(f, __VA_ARGS__)
#define MOCK_FE_15(f, x, ...) f(x) MOCK_FE_14(f, __VA_ARGS__)
#define MOCK_FE_16(f, x, ...) f(x) MOCK_FE_15(f, __VA_ARGS__)
#define MOCK_FE_N(_1, _2, _3, _4, _5, _6, _7, _8, _9, _10, _11, _12, _13, _14, _15, _16, n, ...) MOCK_FE_##n
#define MOCK_FOREACH(f, ...) \
	MOCK_FE_N(__VA_ARGS__, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1)(f, __VA_ARGS__)

/*
 * Up to 16 maps. The names are also kept as text in mock_maps_listed, so that userspace refuses
 * to configure a mock for a map the harness did not name (its calls would all be MOCK_MAP_UNKNOWN).
 */
#define MOCK_MAPS(...)                                                 \
	char mock_maps_listed[] = #__VA_ARGS__;                        \
	static __always_inline __u32 mock_map_ident(const void *map)  \
	{                                                              \
		MOCK_FOREACH(MOCK_MAP_IS, __VA_ARGS__)                 \
		return MOCK_MAP_UNKNOWN;                               \
	}

/*
 * Identity of a socket argument. Default (mock_sk_id in ctx.h): for the socket of a re-hosted
 * context, the number the test wrote in the context's sk field; otherwise the value as a
 * number. A harness running natively may define its own before including the mock headers
 * (the kernel's socket pointers are neither stable nor readable).
 */
#ifndef MOCK_SK_ID
#define MOCK_SK_ID(sk) mock_sk_id((const void *)(sk))
#endif

/*
 * A call log, the global `name` of type struct `name`: calls[] holds the first `cap` records in
 * call order, count how many it holds, dropped how many calls came after it was full.
 */
#define MOCK_CALL_LOG(name, rec, cap)	\
	struct name {			\
		__u32 count;		\
		__u32 dropped;		\
		rec calls[cap];		\
	};				\
	struct name name

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
