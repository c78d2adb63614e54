/*  SPDX-License-Identifier: GPL-3.0-or-later */
/*  schema_names: every enum's spelling pinned, round trips, unknown input. */
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "schema.h"
#include "schema_names.h"
#include "tap.h"

/* The contract, one line per value, written from schema.h's enumerators
 * (not from the tables), so a hole or a renamed value shows here. */
static const struct {
	const schema_names_t *t;
	unsigned value;
	const char *name;
} spelling[] = {
	{ &schema_check_types, HG_CHECK_HTTP, "http" },
	{ &schema_check_types, HG_CHECK_HTTPS, "https" },
	{ &schema_check_types, HG_CHECK_TCP, "tcp" },
	{ &schema_check_types, HG_CHECK_ICMP, "icmp" },
	{ &schema_healths, HG_HEALTH_UNKNOWN, "unknown" },
	{ &schema_healths, HG_HEALTH_UP, "up" },
	{ &schema_healths, HG_HEALTH_DOWN, "down" },
	{ &schema_admins, HG_ADMIN_NONE, "none" },
	{ &schema_admins, HG_ADMIN_DRAIN, "drained" },
	{ &schema_admins, HG_ADMIN_FORCE_UP, "forced-up" },
	{ &schema_fail_classes, HG_FAIL_NONE, "none" },
	{ &schema_fail_classes, HG_FAIL_TIMEOUT, "timeout" },
	{ &schema_fail_classes, HG_FAIL_REFUSED, "refused" },
	{ &schema_fail_classes, HG_FAIL_TLS, "tls" },
	{ &schema_fail_classes, HG_FAIL_HTTP_STATUS, "http-status" },
	{ &schema_fail_classes, HG_FAIL_BODY, "body" },
	{ &schema_fail_classes, HG_FAIL_UNREACHABLE, "unreachable" },
	{ &schema_fail_classes, HG_FAIL_RESOLVE, "resolve" },
	{ &schema_fail_classes, HG_FAIL_OTHER, "other" },
	{ &schema_fallbacks, HG_FALLBACK_ALL, "all" },
	{ &schema_fallbacks, HG_FALLBACK_POOL, "pool" },
	{ &schema_fallbacks, HG_FALLBACK_NONE, "none" },
	{ &schema_filters, HG_F_UP, "up" },
	{ &schema_filters, HG_F_GEOFENCE, "geofence" },
	{ &schema_filters, HG_F_NEAREST, "nearest" },
	{ &schema_filters, HG_F_LOWEST_LATENCY, "lowest-latency" },
	{ &schema_filters, HG_F_MAX_LOSS, "max-loss" },
	{ &schema_filters, HG_F_PRIORITY, "priority" },
	{ &schema_filters, HG_F_WEIGHTED, "weighted" },
	{ &schema_filters, HG_F_WEIGHTED_SHUFFLE, "weighted-shuffle" },
	{ &schema_filters, HG_F_ROUND_ROBIN, "round-robin" },
	{ &schema_filters, HG_F_FIRST, "first" },
	{ &schema_match_kinds, HG_M_COUNTRY, "country" },
	{ &schema_match_kinds, HG_M_CONTINENT, "continent" },
	{ &schema_match_kinds, HG_M_SUBDIVISION, "subdivision" },
	{ &schema_match_kinds, HG_M_ASN, "asn" },
	{ &schema_match_kinds, HG_M_PREFIX, "prefix" },
};
#define N_SPELLING (sizeof(spelling) / sizeof(spelling[0]))

static unsigned table_len(const schema_names_t *t)
{
	unsigned n = 0;
	while (t->names[n] != NULL) {
		n++;
	}
	return n;
}

static void test_spelling(void)
{
	for (size_t i = 0; i < N_SPELLING; i++) {
		const schema_names_t *t = spelling[i].t;
		is_str(schema_name(t, spelling[i].value), spelling[i].name, "%s %u is '%s'",
		       t->what, spelling[i].value, spelling[i].name);
		unsigned v = UINT_MAX;
		is_int(schema_value(t, spelling[i].name, &v), HG_EOK, "%s '%s' parses", t->what,
		       spelling[i].name);
		is_int(v, spelling[i].value, "%s '%s' is %u", t->what, spelling[i].name,
		       spelling[i].value);
	}
	/* Every name of every table is pinned above: nothing unlisted. */
	unsigned total = 0;
	for (size_t k = 0; schema_all_names[k] != NULL; k++) {
		total += table_len(schema_all_names[k]);
	}
	is_int(total, N_SPELLING, "every name of every table is pinned");
}

/* Generic properties over every table: round trip both ways, one name per
 * value, nothing outside the range. */
static void test_tables(void)
{
	size_t n_tables = 0;
	for (size_t k = 0; schema_all_names[k] != NULL; k++) {
		const schema_names_t *t = schema_all_names[k];
		unsigned n = table_len(t);
		n_tables++;
		ok(n > 0 && t->what != NULL && t->what[0] != '\0', "table '%s' has %u names",
		   t->what, n);
		bool trip = true, unique = true, shape = true;
		for (unsigned i = 0; i < n; i++) {
			unsigned v = UINT_MAX;
			const char *name = schema_name(t, t->first + i);
			trip &= name != NULL && schema_value(t, name, &v) == HG_EOK &&
			        v == t->first + i && schema_name(t, v) == name;
			/* lower-case words joined by '-', as the policy format writes */
			for (const char *p = name; p != NULL && *p != '\0'; p++) {
				shape &= (*p >= 'a' && *p <= 'z') ||
				         (*p == '-' && p != name && p[1] != '\0');
			}
			for (unsigned j = i + 1; j < n; j++) {
				unique &= strcmp(t->names[i], t->names[j]) != 0;
			}
		}
		ok(trip, "%s: value -> name -> value -> name for all %u values", t->what, n);
		ok(unique, "%s: no two values share a name", t->what);
		ok(shape, "%s: names are lower-case and hyphenated", t->what);
		if (t->first > 0) {
			ok(schema_name(t, t->first - 1) == NULL,
			   "%s: %u (below the range) has no name", t->what, t->first - 1);
		}
		ok(schema_name(t, t->first + n) == NULL, "%s: %u (past the range) has no name",
		   t->what, t->first + n);
		ok(schema_name(t, 255) == NULL && schema_name(t, UINT_MAX) == NULL,
		   "%s: 255 and UINT_MAX have no name", t->what);
	}
	is_int(n_tables, 7, "seven tables (check, health, admin, fail, fallback, filter, match)");
}

static void test_unknown(void)
{
	static const struct {
		const schema_names_t *t;
		const char *name;
	} bad[] = {
		{ &schema_fail_classes, "http_status" }, /* the prober's old spelling */
		{ &schema_admins, "drain" },             /* dump's old spelling */
		{ &schema_admins, "force-up" },
		{ &schema_healths, "UP" }, /* case matters, as in the policy */
		{ &schema_healths, "up " },
		{ &schema_healths, "" },
		{ &schema_filters, "lowest_latency" },
		{ &schema_filters, "prefilter" },
		{ &schema_check_types, "HTTP" },
		{ &schema_fallbacks, "pool:eu" }, /* the policy's form, parsed there */
		{ &schema_match_kinds, "country-code" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		unsigned v = 12345;
		int ret = schema_value(bad[i].t, bad[i].name, &v);
		ok(ret == HG_ENOENT && v == 12345, "%s '%s' is unknown (value untouched)",
		   bad[i].t->what, bad[i].name);
	}
	unsigned v = 12345;
	ok(schema_value(&schema_healths, NULL, &v) == HG_EINVAL && v == 12345,
	   "NULL name: HG_EINVAL");
}

static void test_join(void)
{
	char buf[64];
	size_t n = schema_names_join(&schema_check_types, buf, sizeof(buf));
	is_str(buf, "http, https, tcp or icmp", "join: check types");
	is_int(n, strlen(buf), "join returns the length");
	schema_names_join(&schema_healths, buf, sizeof(buf));
	is_str(buf, "unknown, up or down", "join: health");
	n = schema_names_join(&schema_check_types, buf, 8);
	is_str(buf, "http, h", "join into a small buffer is cut, NUL-terminated");
	is_int(n, 7, "cut length");
	buf[0] = 'x';
	is_int(schema_names_join(&schema_check_types, buf, 0), 0, "size 0 writes nothing");
	ok(buf[0] == 'x', "size 0 leaves the buffer alone");
}

/* SCHEMA.md's "Enumerations as text" table must say what the tables say:
 * each row "| `hg_enum` | 0 `name`, 1 `name`... |" lists every value. */
static void test_schema_md(void)
{
	static const struct {
		const char *c_enum;
		const schema_names_t *t;
	} map[] = {
		{ "hg_check_type", &schema_check_types }, { "hg_health", &schema_healths },
		{ "hg_admin", &schema_admins },           { "hg_fail_class", &schema_fail_classes },
		{ "hg_fallback", &schema_fallbacks },     { "hg_filter_type", &schema_filters },
		{ "hg_match_kind", &schema_match_kinds },
	};
	const char *top = getenv("top_srcdir");
	char path[1024], line[2048];
	snprintf(path, sizeof(path), "%s/lmdb-schema/SCHEMA.md", top ? top : "..");
	FILE *f = fopen(path, "r");
	ok(f != NULL, "open %s", path);
	if (f == NULL) {
		return;
	}
	bool documented[sizeof(map) / sizeof(map[0])] = { false };
	while (fgets(line, sizeof(line), f) != NULL) {
		char c_enum[64];
		int n = 0;
		if (sscanf(line, "| `%63[a-z_]` | %n", c_enum, &n) != 1 || n == 0) {
			continue;
		}
		for (size_t k = 0; k < sizeof(map) / sizeof(map[0]); k++) {
			if (strcmp(map[k].c_enum, c_enum) != 0) {
				continue;
			}
			const schema_names_t *t = map[k].t;
			unsigned listed = 0, value;
			char name[64];
			int used;
			bool same = true;
			const char *p = line + n;
			while (sscanf(p, "%u `%63[a-z-]`%n", &value, name, &used) == 2) {
				same &= schema_name(t, value) != NULL &&
				        strcmp(schema_name(t, value), name) == 0;
				listed++;
				p += used;
				p += strspn(p, ", ");
			}
			ok(same && listed == table_len(t),
			   "SCHEMA.md documents %s as the table does "
			   "(%u of %u names)",
			   c_enum, listed, table_len(t));
			documented[k] = true;
		}
	}
	fclose(f);
	for (size_t k = 0; k < sizeof(map) / sizeof(map[0]); k++) {
		ok(documented[k], "SCHEMA.md has a row for %s", map[k].c_enum);
	}
}

int main(void)
{
	test_spelling();
	test_tables();
	test_unknown();
	test_join();
	test_schema_md();
	return done_testing();
}
