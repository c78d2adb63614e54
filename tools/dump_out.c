/*  SPDX-License-Identifier: GPL-3.0-or-later */
/*  The two renderings of haltgslb-dump: indented text and one JSON document. */
#include <arpa/inet.h>
#include <inttypes.h>
#include <math.h>
#include <string.h>
#include <time.h>

#include "dump.h"
#include "text.h"

static void out_indent(dump_out_t *o)
{
	for (int i = 0; i < o->depth; i++) {
		fputs("  ", o->f);
	}
}

/* JSON strings through the shared writer (always valid JSON, even for
 * non-UTF-8 bytes); text shows unprintable bytes as \xNN. */
static void out_escaped(dump_out_t *o, const char *s, size_t len)
{
	if (o->json) {
		hg_json_str(o->f, s, len);
		return;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c >= 0x7f) {
			fprintf(o->f, "\\x%02x", c);
		} else {
			fputc(c, o->f);
		}
	}
}

/* Start an item: separator, indentation and key. */
static void out_item(dump_out_t *o, const char *key, bool container)
{
	if (o->json) {
		if (o->depth > 0) {
			fputs(o->has_items[o->depth] ? ",\n" : "\n", o->f);
			o->has_items[o->depth] = true;
		}
		out_indent(o);
		if (key != NULL && !o->in_array[o->depth]) {
			out_escaped(o, key, strlen(key));
			fputs(": ", o->f);
		}
		return;
	}
	out_indent(o);
	if (o->in_array[o->depth]) {
		fputs(container ? "-\n" : "- ", o->f);
	} else if (key != NULL) {
		fputs(key, o->f);
		fputs(container ? ":\n" : ": ", o->f);
	}
}

static void out_open(dump_out_t *o, const char *key, bool array)
{
	if (o->depth == 0 && !o->json && key == NULL) {
		o->depth = -1; /* text: the top-level object has no heading */
	} else {
		out_item(o, key, true);
	}
	if (o->json) {
		fputc(array ? '[' : '{', o->f);
	}
	o->depth++;
	if (o->depth < DUMP_DEPTH_MAX) {
		o->has_items[o->depth] = false;
		o->in_array[o->depth] = array;
	}
}

static void out_close(dump_out_t *o, bool array)
{
	bool had = o->has_items[o->depth];
	o->depth--;
	if (o->json) {
		if (had) {
			fputc('\n', o->f);
			out_indent(o);
		}
		fputc(array ? ']' : '}', o->f);
	}
}

void dump_obj_begin(dump_out_t *o, const char *key)
{
	out_open(o, key, false);
}
void dump_obj_end(dump_out_t *o)
{
	out_close(o, false);
}
void dump_arr_begin(dump_out_t *o, const char *key)
{
	out_open(o, key, true);
}
void dump_arr_end(dump_out_t *o)
{
	out_close(o, true);
}

static void out_end_scalar(dump_out_t *o)
{
	if (!o->json) {
		fputc('\n', o->f);
	}
}

void dump_strn(dump_out_t *o, const char *key, const char *s, size_t len)
{
	out_item(o, key, false);
	out_escaped(o, s, len);
	out_end_scalar(o);
}

void dump_str(dump_out_t *o, const char *key, const char *s)
{
	dump_strn(o, key, s, strlen(s));
}

void dump_uint(dump_out_t *o, const char *key, uint64_t v)
{
	out_item(o, key, false);
	fprintf(o->f, "%" PRIu64, v);
	out_end_scalar(o);
}

void dump_int(dump_out_t *o, const char *key, int64_t v)
{
	out_item(o, key, false);
	fprintf(o->f, "%" PRId64, v);
	out_end_scalar(o);
}

void dump_double(dump_out_t *o, const char *key, double v)
{
	if (!isfinite(v)) {
		dump_null(o, key); /* JSON has no NaN/Inf */
		return;
	}
	out_item(o, key, false);
	fprintf(o->f, "%.6g", v);
	out_end_scalar(o);
}

void dump_bool(dump_out_t *o, const char *key, bool v)
{
	out_item(o, key, false);
	fputs(v ? "true" : "false", o->f);
	out_end_scalar(o);
}

void dump_null(dump_out_t *o, const char *key)
{
	out_item(o, key, false);
	fputs(o->json ? "null" : "-", o->f);
	out_end_scalar(o);
}

void dump_time_ms(dump_out_t *o, const char *key, uint64_t ms)
{
	if (ms == 0) {
		if (o->json) {
			dump_null(o, key);
		} else {
			dump_str(o, key, "never");
		}
		return;
	}
	time_t secs = (time_t)(ms / 1000);
	struct tm tm;
	char base[40], buf[64];
	if (gmtime_r(&secs, &tm) == NULL ||
	    strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm) == 0) {
		dump_uint(o, key, ms);
		return;
	}
	snprintf(buf, sizeof(buf), "%s.%03uZ", base, (unsigned)(ms % 1000));
	dump_str(o, key, buf);
}

void dump_duration_ms(dump_out_t *o, const char *key, uint64_t ms)
{
	char buf[64];
	if (o->json) {
		snprintf(buf, sizeof(buf), "%s_ms", key);
		dump_uint(o, buf, ms);
		return;
	}
	if (ms % 1000 != 0) {
		snprintf(buf, sizeof(buf), "%" PRIu64 "ms", ms);
	} else {
		snprintf(buf, sizeof(buf), "%" PRIu64 "s", ms / 1000);
	}
	dump_str(o, key, buf);
}

void dump_fixed(dump_out_t *o, const char *key, const char *field, size_t size)
{
	dump_strn(o, key, field, strnlen(field, size));
}

size_t dump_dname_text(const uint8_t *wire, size_t len, char *buf, size_t size)
{
	size_t n = 0, i = 0;
	if (size < HG_DNAME_MAX * 4 + 2) {
		return 0;
	}
	while (i < len && wire[i] != 0 && i + 1 + wire[i] <= len) {
		for (size_t k = 1; k <= wire[i]; k++) {
			uint8_t c = wire[i + k];
			if (c == '.' || c == '\\') {
				n += (size_t)snprintf(buf + n, size - n, "\\%c", c);
			} else if (c <= 0x20 || c >= 0x7f) {
				n += (size_t)snprintf(buf + n, size - n, "\\%03u", c);
			} else {
				buf[n++] = (char)c;
			}
		}
		buf[n++] = '.';
		i += 1u + wire[i];
	}
	if (n == 0) {
		buf[n++] = '.';
	}
	buf[n] = '\0';
	return n;
}

void dump_dname(dump_out_t *o, const char *key, const uint8_t *wire, size_t len)
{
	char buf[HG_DNAME_MAX * 4 + 2];
	size_t n = dump_dname_text(wire, len, buf, sizeof(buf));
	dump_strn(o, key, buf, n);
}

void dump_addr(dump_out_t *o, const char *key, int family, const uint8_t *addr)
{
	char buf[INET6_ADDRSTRLEN];
	if (inet_ntop(family == 6 ? AF_INET6 : AF_INET, addr, buf, sizeof(buf)) == NULL) {
		dump_null(o, key);
		return;
	}
	dump_str(o, key, buf);
}

void dump_finish(dump_out_t *o)
{
	if (o->json) {
		fputc('\n', o->f);
	}
	fflush(o->f);
}
