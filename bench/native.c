// Native baseline for bench/run.ts: the same four operations through libbpf, timed the same way
// (warm-up, then ROUNDS rounds of ITERATIONS/ROUNDS operations; the median round's ns/op).
//
//   build/bench/native OBJECT [ITERATIONS [WARMUP]]
//
// OBJECT is build/fixtures/bench_trivial.o. Prints one JSON object of ns/op on stdout; libbpf's
// warnings and any error go to stderr, with a non-zero exit. Results are checked once after each
// measurement (correctness only: timings are never judged here).
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <linux/bpf.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ROUNDS 5
#define DATA_LEN 64

struct bench_config {
	uint32_t verdict;
	uint32_t mark;
};

struct bench_result {
	uint32_t mark;
	uint32_t first_byte;
	uint64_t runs;
};

static int config_fd, result_fd, pass_fd, case_fd;
static uint8_t data_in[DATA_LEN];
static uint8_t data_out[256];
static volatile uint64_t sink; // keeps the compiler from dropping reads

static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "native: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(1);
}

static int print_warnings(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	return level == LIBBPF_DEBUG || level == LIBBPF_INFO ? 0 : vfprintf(stderr, fmt, ap);
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void op_map_update(uint64_t i)
{
	uint32_t key = 0;
	struct bench_config cfg = { .verdict = XDP_PASS, .mark = (uint32_t)i };
	if (bpf_map_update_elem(config_fd, &key, &cfg, BPF_ANY))
		die("map update: %s", strerror(errno));
}

static void op_map_lookup(uint64_t i)
{
	uint32_t key = 0;
	struct bench_config cfg;
	(void)i;
	if (bpf_map_lookup_elem(config_fd, &key, &cfg))
		die("map lookup: %s", strerror(errno));
	sink += cfg.mark;
}

static void test_run(int fd, uint32_t *retval, uint32_t *size_out)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts,
		.data_in = data_in,
		.data_size_in = DATA_LEN,
		.data_out = data_out,
		.data_size_out = sizeof(data_out),
		.repeat = 1,
	);
	if (bpf_prog_test_run_opts(fd, &opts))
		die("test run: %s", strerror(errno));
	*retval = opts.retval;
	*size_out = opts.data_size_out;
}

static void op_test_run(uint64_t i)
{
	uint32_t retval, size_out;
	(void)i;
	test_run(pass_fd, &retval, &size_out);
	sink += retval;
}

// One test case as a spec writes it: set the input, run, read the output map and the packet.
static void op_whole_case(uint64_t i)
{
	uint32_t key = 0, retval, size_out;
	struct bench_config cfg = { .verdict = XDP_PASS, .mark = (uint32_t)(i & 0xff) };
	struct bench_result res;

	if (bpf_map_update_elem(config_fd, &key, &cfg, BPF_ANY))
		die("whole case: map update: %s", strerror(errno));
	test_run(case_fd, &retval, &size_out);
	if (bpf_map_lookup_elem(result_fd, &key, &res))
		die("whole case: map lookup: %s", strerror(errno));
	uint8_t packet[DATA_LEN];
	memcpy(packet, data_out, size_out < DATA_LEN ? size_out : DATA_LEN);
	sink += retval + res.mark + packet[0] + size_out;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double measure(void (*op)(uint64_t), uint64_t iterations, uint64_t warmup)
{
	double per_round[ROUNDS];
	uint64_t n = iterations / ROUNDS ? iterations / ROUNDS : 1, i = 0;

	for (uint64_t k = 0; k < warmup; k++)
		op(i++);
	for (int r = 0; r < ROUNDS; r++) {
		uint64_t t0 = now_ns();
		for (uint64_t k = 0; k < n; k++)
			op(i++);
		per_round[r] = (double)(now_ns() - t0) / (double)n;
	}
	qsort(per_round, ROUNDS, sizeof(double), cmp_double);
	return per_round[ROUNDS / 2];
}

static int fd_of_prog(struct bpf_object *obj, const char *name)
{
	struct bpf_program *p = bpf_object__find_program_by_name(obj, name);
	if (!p)
		die("no program %s in the object", name);
	return bpf_program__fd(p);
}

static int fd_of_map(struct bpf_object *obj, const char *name)
{
	int fd = bpf_object__find_map_fd_by_name(obj, name);
	if (fd < 0)
		die("no map %s in the object", name);
	return fd;
}

int main(int argc, char **argv)
{
	if (argc < 2 || argc > 4) {
		fprintf(stderr, "usage: %s OBJECT [ITERATIONS [WARMUP]]\n", argv[0]);
		return 2;
	}
	uint64_t iterations = argc > 2 ? strtoull(argv[2], NULL, 10) : 20000;
	uint64_t warmup = argc > 3 ? strtoull(argv[3], NULL, 10) : iterations / 10;
	if (iterations == 0)
		die("ITERATIONS must be a positive number");

	libbpf_set_print(print_warnings);
	struct bpf_object *obj = bpf_object__open_file(argv[1], NULL);
	if (!obj)
		die("cannot open %s: %s", argv[1], strerror(errno));
	if (bpf_object__load(obj))
		die("cannot load %s: %s", argv[1], strerror(errno));
	config_fd = fd_of_map(obj, "bench_config");
	result_fd = fd_of_map(obj, "bench_result");
	pass_fd = fd_of_prog(obj, "bench_pass");
	case_fd = fd_of_prog(obj, "bench_case");
	for (int k = 0; k < DATA_LEN; k++)
		data_in[k] = (uint8_t)k;

	uint32_t key = 0, retval, size_out;
	struct bench_config cfg;
	struct bench_result res;

	double update = measure(op_map_update, iterations, warmup);
	double lookup = measure(op_map_lookup, iterations, warmup);
	if (bpf_map_lookup_elem(config_fd, &key, &cfg) || cfg.verdict != XDP_PASS)
		die("map check: the config entry does not hold what was written");

	double run = measure(op_test_run, iterations, warmup);
	test_run(pass_fd, &retval, &size_out);
	if (retval != XDP_PASS || size_out != DATA_LEN || memcmp(data_out, data_in, DATA_LEN))
		die("test run check: retval %u, %u bytes out", retval, size_out);

	double whole = measure(op_whole_case, iterations, warmup);
	op_whole_case(0x5a);
	if (bpf_map_lookup_elem(result_fd, &key, &res) || res.mark != 0x5a || data_out[0] != 0x5a || res.first_byte != 0)
		die("whole case check: mark %u, first byte %u, packet byte %u", res.mark, res.first_byte, data_out[0]);

	printf("{\"iterations\":%llu,\"warmup\":%llu,\"rounds\":%d,\"ns_per_op\":{"
	       "\"map update\":%.1f,\"map lookup\":%.1f,\"test run\":%.1f,\"whole case\":%.1f}}\n",
	       (unsigned long long)iterations, (unsigned long long)warmup, ROUNDS, update, lookup, run, whole);
	bpf_object__close(obj);
	return 0;
}
