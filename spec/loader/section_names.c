// For each section name given, what libbpf's section table makes of it: "NAME TYPE ATTACH", or
// "NAME -" when libbpf does not know it. The oracle of spec/loader/section_table.spec.ts.
#include <stdio.h>
#include <bpf/libbpf.h>

static int quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	return 0;
}

int main(int argc, char **argv)
{
	libbpf_set_print(quiet);
	for (int i = 1; i < argc; i++) {
		enum bpf_prog_type type;
		enum bpf_attach_type attach;

		if (libbpf_prog_type_by_name(argv[i], &type, &attach))
			printf("%s -\n", argv[i]);
		else
			printf("%s %d %d\n", argv[i], type, attach);
	}
	return 0;
}
