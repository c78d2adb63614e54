/*  SPDX-License-Identifier: GPL-3.0-or-later */
#include <string.h>

#include "errors.h"
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
		case '"': fputs("\\\"", out); break;
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

int hg_duration_parse_ms(const char *text, uint32_t *ms)
{
	if (text == NULL || ms == NULL || text[0] < '0' || text[0] > '9') {
		return HG_EINVAL;
	}
	uint64_t v = 0;
	const char *p = text;
	for (; *p >= '0' && *p <= '9'; p++) {
		v = v * 10 + (uint64_t)(*p - '0');
		if (v > UINT32_MAX) {
			return HG_EINVAL;
		}
	}
	static const struct {
		const char *unit;
		uint64_t mul;
	} units[] = {
		{ "", 1000 }, { "s", 1000 }, { "ms", 1 }, { "m", 60000 }, { "h", 3600000 },
	};
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(p, units[i].unit) == 0) {
			if (v * units[i].mul > UINT32_MAX) {
				return HG_EINVAL;
			}
			*ms = (uint32_t)(v * units[i].mul);
			return HG_EOK;
		}
	}
	return HG_EINVAL;
}
