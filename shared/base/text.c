/*  SPDX-License-Identifier: GPL-3.0-or-later */
#include <string.h>

#include "text.h"

void hg_fixed_get(const char *field, size_t field_size, char *buf, size_t size)
{
	if (size == 0) {
		return;
	}
	size_t n = strnlen(field, field_size);
	if (n >= size) {
		n = size - 1;
	}
	memcpy(buf, field, n);
	buf[n] = '\0';
}

void hg_fixed_set(char *dst, size_t dst_size, const char *src)
{
	memset(dst, 0, dst_size);
	size_t n = strnlen(src, dst_size - 1);
	memcpy(dst, src, n);
}

void hg_json_str(FILE *out, const char *s, size_t len)
{
	fputc('"', out);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		switch (c) {
		case '"':  fputs("\\\"", out); break;
		case '\\': fputs("\\\\", out); break;
		case '\n': fputs("\\n", out); break;
		case '\r': fputs("\\r", out); break;
		case '\t': fputs("\\t", out); break;
		default:
			if (c < 0x20 || c >= 0x7f) {
				fprintf(out, "\\u%04x", c);
			} else {
				fputc(c, out);
			}
		}
	}
	fputc('"', out);
}
