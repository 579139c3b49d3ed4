// Reference runner for the loader and CLI specs: loads ONE program of a BPF object with libbpf
// (every other program's autoload turned off) and test-runs it, so bpfunit's results can be
// compared with libbpf's on objects that also hold programs the verifier rejects.
// Built by spec/loader/helpers.ts with: gcc -O1 -o libbpf_run libbpf_run.c -lbpf
//
// usage: libbpf_run OBJ PROG [data HEX] [ctx HEX] [kconfig TEXT] [syscall] [norun] [btf PATH]
//                   [cpu N] [type T ATTACH] [rodata SECTION OFFSET HEX]...
//   kconfig: libbpf's kconfig open option ("CONFIG_A=y\nCONFIG_B=5"), used before the kernel's
//   btf: relocate CO-RE against this BTF file (btf_custom_path) instead of the kernel's
//   syscall: pass ctx_in only, no repeat, and read the context back from ctx_in (SYSCALL type;
//     also what raw tracepoints take)
//   cpu: run on CPU N (BPF_F_TEST_RUN_ON_CPU)
//   type: load PROG as program type T with expected attach type ATTACH (sections this libbpf
//     does not know, e.g. netfilter before libbpf 1.2)
//   rodata: write HEX at OFFSET of a data section's initial value between open and load, as a
//     skeleton sets skel->rodata->x (repeatable)
// prints one JSON line: {"insns":N,"xlated":BYTES,"tag":"..","attach_btf_obj_id":O,"attach_btf_id":I,
//   "maps":[{"name":..,"type":T,"key":K,"value":V,"max":M,"flags":F}],"retval":R,"data":"HEX","ctx":"HEX"}
// exit status: 0 ok, 1 open/load failure, 2 run failure or bad usage.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "../support/hex.h"

static void puthex(const char *key, const unsigned char *p, __u32 n)
{
	printf(",\"%s\":", key);
	puthex_string(p, n);
}

int main(int argc, char **argv)
{
	const char *data_hex = NULL, *ctx_hex = NULL, *btf_path = NULL, *kconfig = NULL;
	int syscall_type = 0, norun = 0, cpu = -1, prog_type = -1, attach_type = 0;
	char **rodata[8];
	int nrodata = 0;

	if (argc < 3)
		return 2;
	for (int i = 3; i < argc; i++) {
		if (!strcmp(argv[i], "data") && i + 1 < argc)
			data_hex = argv[++i];
		else if (!strcmp(argv[i], "ctx") && i + 1 < argc)
			ctx_hex = argv[++i];
		else if (!strcmp(argv[i], "kconfig") && i + 1 < argc)
			kconfig = argv[++i];
		else if (!strcmp(argv[i], "syscall"))
			syscall_type = 1;
		else if (!strcmp(argv[i], "norun"))
			norun = 1;
		else if (!strcmp(argv[i], "btf") && i + 1 < argc)
			btf_path = argv[++i];
		else if (!strcmp(argv[i], "cpu") && i + 1 < argc)
			cpu = atoi(argv[++i]);
		else if (!strcmp(argv[i], "type") && i + 2 < argc) {
			prog_type = atoi(argv[++i]);
			attach_type = atoi(argv[++i]);
		}
		else if (!strcmp(argv[i], "rodata") && i + 3 < argc && nrodata < 8) {
			rodata[nrodata++] = &argv[i + 1];
			i += 3;
		}
		else
			return 2;
	}

	LIBBPF_OPTS(bpf_object_open_opts, open_opts, .btf_custom_path = btf_path, .kconfig = kconfig);
	struct bpf_object *obj = bpf_object__open_file(argv[1], &open_opts);
	if (!obj) {
		fprintf(stderr, "open %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	for (int r = 0; r < nrodata; r++) {
		struct bpf_map *sec = bpf_object__find_map_by_name(obj, rodata[r][0]);
		size_t size = 0, off = strtoul(rodata[r][1], NULL, 0);
		__u32 len = 0;
		unsigned char *bytes = unhex(rodata[r][2], &len);
		/* the initial value lives in memory libbpf copies into the map at load */
		unsigned char *init = sec ? (unsigned char *)bpf_map__initial_value(sec, &size) : NULL;
		if (!init || off + len > size) {
			fprintf(stderr, "rodata %s: no such section, or %s+%u past its end\n", rodata[r][0], rodata[r][1], len);
			return 2;
		}
		memcpy(init + off, bytes, len);
	}
	struct bpf_program *prog, *want = NULL;
	bpf_object__for_each_program(prog, obj) {
		int match = !strcmp(bpf_program__name(prog), argv[2]);
		bpf_program__set_autoload(prog, match);
		if (match)
			want = prog;
	}
	if (!want) {
		fprintf(stderr, "no program %s\n", argv[2]);
		return 1;
	}
	if (prog_type >= 0) {
		bpf_program__set_type(want, prog_type);
		bpf_program__set_expected_attach_type(want, attach_type);
	}
	if (bpf_object__load(obj)) {
		fprintf(stderr, "load %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	int fd = bpf_program__fd(want);
	struct bpf_prog_info info;
	__u32 info_len = sizeof(info);
	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(fd, &info, &info_len)) {
		fprintf(stderr, "prog info: %s\n", strerror(errno));
		return 1;
	}
	printf("{\"insns\":%zu,\"xlated\":%u", bpf_program__insn_cnt(want), info.xlated_prog_len);
	puthex("tag", info.tag, sizeof(info.tag));
	/* what a tracing program was loaded against: its target's BTF object (vmlinux's or a
	 * module's, 0 before 6.0) and type id in it */
	printf(",\"attach_btf_obj_id\":%u,\"attach_btf_id\":%u", info.attach_btf_obj_id, info.attach_btf_id);
	struct bpf_map *map;
	const char *sep = "";
	printf(",\"maps\":[");
	bpf_object__for_each_map(map, obj) {
		printf("%s{\"name\":\"%s\",\"type\":%d,\"key\":%u,\"value\":%u,\"max\":%u,\"flags\":%u}", sep,
		       bpf_map__name(map), bpf_map__type(map), bpf_map__key_size(map), bpf_map__value_size(map),
		       bpf_map__max_entries(map), bpf_map__map_flags(map));
		sep = ",";
	}
	printf("]");
	if (norun) {
		printf("}\n");
		return 0;
	}

	__u32 data_len = 0, ctx_len = 0;
	unsigned char *data = data_hex ? unhex(data_hex, &data_len) : NULL;
	unsigned char *ctx = ctx_hex ? unhex(ctx_hex, &ctx_len) : NULL;
	unsigned char *data_out = calloc(1 << 16, 1);
	unsigned char *ctx_out = calloc(ctx_len + 1, 1);
	LIBBPF_OPTS(bpf_test_run_opts, opts);
	opts.data_in = data;
	opts.data_size_in = data_len;
	opts.ctx_in = ctx;
	opts.ctx_size_in = ctx_len;
	if (cpu >= 0) {
		opts.flags = BPF_F_TEST_RUN_ON_CPU;
		opts.cpu = cpu;
	}
	if (!syscall_type) {
		opts.repeat = 1;
		if (data) {
			opts.data_out = data_out;
			opts.data_size_out = 1 << 16;
		}
		if (ctx) {
			opts.ctx_out = ctx_out;
			opts.ctx_size_out = ctx_len;
		}
	}
	if (bpf_prog_test_run_opts(fd, &opts)) {
		fprintf(stderr, "test run: %s\n", strerror(errno));
		return 2;
	}
	printf(",\"retval\":%u", opts.retval);
	puthex("data", data_out, data ? opts.data_size_out : 0);
	if (syscall_type)
		puthex("ctx", ctx, ctx_len);
	else
		puthex("ctx", ctx_out, ctx ? opts.ctx_size_out : 0);
	printf("}\n");
	bpf_object__close(obj);
	return 0;
}
