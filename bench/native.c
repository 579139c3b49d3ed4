// Native baseline for bench/run.ts: the same operations through libbpf, timed the same way
// (warm-up, then ROUNDS rounds of ITERATIONS/ROUNDS operations; the median round's ns/op).
//
//   build/bench/native OBJECT HARNESS [ITERATIONS [WARMUP]]
//
// OBJECT is build/fixtures/bench_trivial.o, HARNESS build/fixtures/tag_harness.o (the README's
// re-hosted tag_prog). Prints one JSON object of ns/op on stdout; libbpf's warnings and any error
// go to stderr, with a non-zero exit. Results are checked once after each measurement
// (correctness only: timings are never judged here).
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <linux/bpf.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
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

__attribute__((noreturn)) static void die(const char *fmt, ...)
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

// --- the re-hosted case: tag_prog in tag_harness.o, its mocks configured through .bss ---

// The mock library's globals this case touches (mocks/include/mock/msg.h), as a C test would
// declare them; their sizes are checked against the object's BTF at load.
struct mock_sk_msg {
	uint64_t sk;
	uint32_t family, remote_ip4, local_ip4, remote_ip6[4], local_ip6[4], remote_port, local_port, _pad;
};
struct mock_msg_cfg {
	int64_t push_ret, pull_ret, pop_ret;
	uint32_t window, _pad;
};
struct mock_msg_call {
	uint32_t op, start, len, _pad;
	uint64_t flags;
	int64_t ret;
};
#define MOCK_MSG_MAX_CALLS 8
struct mock_msg_calls {
	uint32_t count, dropped;
	struct mock_msg_call calls[MOCK_MSG_MAX_CALLS];
};

#define MSG_LEN 20
#define MAX_SECTIONS 4
#define PUSH_FAILS (-12)

// A writable data section (.bss, .data): the kernel's memory mapped here, and the bytes it was
// loaded with, which a reset copies back.
static struct {
	void *mem;
	void *loaded;
	size_t size;
} sections[MAX_SECTIONS];
static int n_sections;
static int tag_fd;
static struct mock_sk_msg *sk_msg;
static struct mock_msg_cfg *msg_cfg;
static struct mock_msg_calls *msg_calls;
static const uint8_t message[MSG_LEN + 1] = "a 20-byte message...";
static uint8_t tagged[256];
static struct mock_msg_call recorded[MOCK_MSG_MAX_CALLS];
static uint32_t n_recorded, tagged_len;

// Where global `name` of `size` bytes lives in the mapped .bss.
static void *bss_global(const struct btf *btf, void *bss, const char *name, size_t size)
{
	int id = btf__find_by_name_kind(btf, ".bss", BTF_KIND_DATASEC);
	if (id < 0)
		die("the harness has no .bss");
	const struct btf_type *sec = btf__type_by_id(btf, id);
	const struct btf_var_secinfo *v = btf_var_secinfos(sec);
	for (int k = 0; k < btf_vlen(sec); k++, v++) {
		if (strcmp(btf__name_by_offset(btf, btf__type_by_id(btf, v->type)->name_off), name))
			continue;
		if (v->size != size)
			die("%s is %u bytes in the harness, %zu here", name, v->size, size);
		return (uint8_t *)bss + v->offset;
	}
	die("no global %s in the harness's .bss", name);
}

static struct bpf_object *load_harness(const char *path)
{
	struct bpf_object *obj = bpf_object__open_file(path, NULL);
	if (!obj)
		die("cannot open %s: %s", path, strerror(errno));
	// Only the entry, as the bench loads it on the bpfunit side (Harness.load(path, ['xdp_tag'])).
	struct bpf_program *p;
	bpf_object__for_each_program(p, obj)
		bpf_program__set_autoload(p, !strcmp(bpf_program__name(p), "xdp_tag"));
	// Before load, a data section's value is the bytes compiled into the object.
	struct bpf_map *m;
	bpf_object__for_each_map(m, obj) {
		if (!bpf_map__is_internal(m) || (bpf_map__map_flags(m) & BPF_F_RDONLY_PROG))
			continue; // .rodata and .kconfig are frozen: no test changes them
		if (n_sections == MAX_SECTIONS)
			die("more than %d writable data sections", MAX_SECTIONS);
		size_t size;
		const void *init = bpf_map__initial_value(m, &size);
		sections[n_sections].loaded = malloc(size);
		if (!init || !sections[n_sections].loaded)
			die("no initial value for %s", bpf_map__name(m));
		memcpy(sections[n_sections].loaded, init, size);
		sections[n_sections++].size = size;
	}
	if (bpf_object__load(obj))
		die("cannot load %s: %s", path, strerror(errno));
	// libbpf 1.1 maps the kernel's memory only for skeletons: map each section's fd here.
	int k = 0;
	void *bss = NULL;
	bpf_object__for_each_map(m, obj) {
		if (!bpf_map__is_internal(m) || (bpf_map__map_flags(m) & BPF_F_RDONLY_PROG))
			continue;
		if (!(bpf_map__map_flags(m) & BPF_F_MMAPABLE))
			die("%s was not created mmapable", bpf_map__name(m));
		sections[k].mem = mmap(NULL, sections[k].size, PROT_READ | PROT_WRITE, MAP_SHARED, bpf_map__fd(m), 0);
		if (sections[k].mem == MAP_FAILED)
			die("cannot map %s: %s", bpf_map__name(m), strerror(errno));
		if (strstr(bpf_map__name(m), ".bss"))
			bss = sections[k].mem;
		k++;
	}
	if (!bss)
		die("the harness's .bss is not mapped");
	const struct btf *btf = bpf_object__btf(obj);
	sk_msg = bss_global(btf, bss, "mock_sk_msg", sizeof(*sk_msg));
	msg_cfg = bss_global(btf, bss, "mock_msg_cfg", sizeof(*msg_cfg));
	msg_calls = bss_global(btf, bss, "mock_msg_calls", sizeof(*msg_calls));
	tag_fd = fd_of_prog(obj, "xdp_tag");
	return obj;
}

// One re-hosted case as a spec writes it (bench/cases.ts): the per-test reset (the data sections
// back to their loaded bytes), the mocks configured, the entry run, the recordings read.
static void op_rehosted_case(uint64_t i)
{
	for (int k = 0; k < n_sections; k++)
		memcpy(sections[k].mem, sections[k].loaded, sections[k].size);
	sk_msg->family = i % 3 ? 2 /* AF_INET */ : 10 /* AF_INET6 */;
	if (i % 5 == 0)
		msg_cfg->push_ret = PUSH_FAILS;
	LIBBPF_OPTS(bpf_test_run_opts, opts,
		.data_in = message,
		.data_size_in = MSG_LEN,
		.data_out = tagged,
		.data_size_out = sizeof(tagged),
		.repeat = 1,
	);
	if (bpf_prog_test_run_opts(tag_fd, &opts))
		die("re-hosted case: test run: %s", strerror(errno));
	tagged_len = opts.data_size_out;
	n_recorded = msg_calls->count;
	if (msg_calls->dropped || n_recorded > MOCK_MSG_MAX_CALLS)
		die("re-hosted case: %u calls dropped", msg_calls->dropped);
	memcpy(recorded, msg_calls->calls, n_recorded * sizeof(recorded[0]));
	sink += opts.retval + tagged_len + n_recorded;
}

// Runs case i and checks its output and recorded push against what tag_prog does.
static void check_rehosted_case(uint64_t i)
{
	int ipv4 = i % 3 != 0, fails = i % 5 == 0;
	op_rehosted_case(i);
	int tags = ipv4 && !fails;
	uint32_t want_len = MSG_LEN + (tags ? 4 : 0);
	if (tagged_len != want_len || (tags && memcmp(tagged, "TAG:", 4)) || memcmp(tagged + (tags ? 4 : 0), message, MSG_LEN))
		die("re-hosted case %llu check: %u bytes out, expected %u", (unsigned long long)i, tagged_len, want_len);
	if (n_recorded != (uint32_t)ipv4)
		die("re-hosted case %llu check: %u msg calls recorded, expected %d", (unsigned long long)i, n_recorded, ipv4);
	if (ipv4 && (recorded[0].op != 1 /* push */ || recorded[0].start != 0 || recorded[0].len != 4 ||
		     recorded[0].flags != 0 || recorded[0].ret != (fails ? PUSH_FAILS : 0)))
		die("re-hosted case %llu check: recorded op %u start %u len %u ret %lld", (unsigned long long)i,
		    recorded[0].op, recorded[0].start, recorded[0].len, (long long)recorded[0].ret);
}

int main(int argc, char **argv)
{
	if (argc < 3 || argc > 5) {
		fprintf(stderr, "usage: %s OBJECT HARNESS [ITERATIONS [WARMUP]]\n", argv[0]);
		return 2;
	}
	uint64_t iterations = argc > 3 ? strtoull(argv[3], NULL, 10) : 20000;
	uint64_t warmup = argc > 4 ? strtoull(argv[4], NULL, 10) : iterations / 10;
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

	struct bpf_object *harness = load_harness(argv[2]);
	double rehosted = measure(op_rehosted_case, iterations, warmup);
	for (uint64_t i = 0; i < 15; i++) // every combination of family and push failure
		check_rehosted_case(i);

	printf("{\"iterations\":%llu,\"warmup\":%llu,\"rounds\":%d,\"ns_per_op\":{"
	       "\"map update\":%.1f,\"map lookup\":%.1f,\"test run\":%.1f,\"whole case\":%.1f,"
	       "\"re-hosted case\":%.1f}}\n",
	       (unsigned long long)iterations, (unsigned long long)warmup, ROUNDS, update, lookup, run, whole, rehosted);
	for (int k = 0; k < n_sections; k++) {
		munmap(sections[k].mem, sections[k].size);
		free(sections[k].loaded);
	}
	bpf_object__close(harness);
	bpf_object__close(obj);
	return 0;
}
