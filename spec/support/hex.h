/* Hex for the C helpers of the specs (libbpf_run.c, attach.c): arguments in, JSON strings out. */
#ifndef SPEC_SUPPORT_HEX_H
#define SPEC_SUPPORT_HEX_H
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/types.h>

/* The bytes a hex string spells (calloc'ed, one spare zero byte), their count in *len. */
static unsigned char *unhex(const char *s, __u32 *len)
{
	size_t n = strlen(s) / 2;
	unsigned char *out = calloc(n + 1, 1);

	for (size_t i = 0; i < n; i++)
		sscanf(s + 2 * i, "%2hhx", &out[i]);
	*len = (__u32)n;
	return out;
}

/* n bytes as a quoted JSON string of hex digits. */
static void puthex_string(const unsigned char *p, size_t n)
{
	printf("\"");
	for (size_t i = 0; i < n; i++)
		printf("%02x", p[i]);
	printf("\"");
}
#endif
