/*  SPDX-License-Identifier: GPL-3.0-or-later */
/*  The name tables of schema.h's enums. Designated initializers tie each
 *  name to its enumerator, so reordering an enum cannot shift the names. */
#include <stdio.h>
#include <string.h>

#include "errors.h"
#include "schema.h"
#include "schema_names.h"

static const char *const check_types[] = {
	[HG_CHECK_HTTP] = "http", [HG_CHECK_HTTPS] = "https", [HG_CHECK_TCP] = "tcp",
	[HG_CHECK_ICMP] = "icmp", [HG_CHECK_ICMP + 1] = NULL,
};

static const char *const healths[] = {
	[HG_HEALTH_UNKNOWN] = "unknown",
	[HG_HEALTH_UP] = "up",
	[HG_HEALTH_DOWN] = "down",
	[HG_HEALTH_DOWN + 1] = NULL,
};

/* States, not commands: `drain` makes an endpoint drained. */
static const char *const admins[] = {
	[HG_ADMIN_NONE] = "none",
	[HG_ADMIN_DRAIN] = "drained",
	[HG_ADMIN_FORCE_UP] = "forced-up",
	[HG_ADMIN_FORCE_UP + 1] = NULL,
};

static const char *const fail_classes[] = {
	[HG_FAIL_NONE] = "none",
	[HG_FAIL_TIMEOUT] = "timeout",
	[HG_FAIL_REFUSED] = "refused",
	[HG_FAIL_TLS] = "tls",
	[HG_FAIL_HTTP_STATUS] = "http-status",
	[HG_FAIL_BODY] = "body",
	[HG_FAIL_UNREACHABLE] = "unreachable",
	[HG_FAIL_RESOLVE] = "resolve",
	[HG_FAIL_OTHER] = "other",
	[HG_FAIL_OTHER + 1] = NULL,
};

/* "pool" is the kind; the policy writes it "pool:ID". */
static const char *const fallbacks[] = {
	[HG_FALLBACK_ALL] = "all",
	[HG_FALLBACK_POOL] = "pool",
	[HG_FALLBACK_NONE] = "none",
	[HG_FALLBACK_NONE + 1] = NULL,
};

#define F(v) [(v)-HG_F_UP]
static const char *const filters[] = {
	F(HG_F_UP) = "up",
	F(HG_F_GEOFENCE) = "geofence",
	F(HG_F_NEAREST) = "nearest",
	F(HG_F_LOWEST_LATENCY) = "lowest-latency",
	F(HG_F_MAX_LOSS) = "max-loss",
	F(HG_F_PRIORITY) = "priority",
	F(HG_F_WEIGHTED) = "weighted",
	F(HG_F_WEIGHTED_SHUFFLE) = "weighted-shuffle",
	F(HG_F_ROUND_ROBIN) = "round-robin",
	F(HG_F_FIRST) = "first",
	F(HG_F_FIRST + 1) = NULL,
};
#undef F

#define M(v) [(v)-HG_M_COUNTRY]
static const char *const match_kinds[] = {
	M(HG_M_COUNTRY) = "country",         M(HG_M_CONTINENT) = "continent",
	M(HG_M_SUBDIVISION) = "subdivision", M(HG_M_ASN) = "asn",
	M(HG_M_PREFIX) = "prefix",           M(HG_M_PREFIX + 1) = NULL,
};
#undef M

const schema_names_t schema_check_types = { "check type", HG_CHECK_HTTP, check_types };
const schema_names_t schema_healths = { "health", HG_HEALTH_UNKNOWN, healths };
const schema_names_t schema_admins = { "admin state", HG_ADMIN_NONE, admins };
const schema_names_t schema_fail_classes = { "failure class", HG_FAIL_NONE, fail_classes };
const schema_names_t schema_fallbacks = { "fallback", HG_FALLBACK_ALL, fallbacks };
const schema_names_t schema_filters = { "filter", HG_F_UP, filters };
const schema_names_t schema_match_kinds = { "match kind", HG_M_COUNTRY, match_kinds };

const schema_names_t *const schema_all_names[] = {
	&schema_check_types, &schema_healths, &schema_admins,      &schema_fail_classes,
	&schema_fallbacks,   &schema_filters, &schema_match_kinds, NULL,
};

const char *schema_name(const schema_names_t *t, unsigned value)
{
	if (value < t->first) {
		return NULL;
	}
	/* Walk to the NUL terminator rather than trust a separate count. */
	for (unsigned i = 0; t->names[i] != NULL; i++) {
		if (i == value - t->first) {
			return t->names[i];
		}
	}
	return NULL;
}

int schema_value(const schema_names_t *t, const char *name, unsigned *value)
{
	if (name == NULL) {
		return HG_EINVAL;
	}
	for (unsigned i = 0; t->names[i] != NULL; i++) {
		if (strcmp(t->names[i], name) == 0) {
			*value = t->first + i;
			return HG_EOK;
		}
	}
	return HG_ENOENT;
}

size_t schema_names_join(const schema_names_t *t, char *buf, size_t size)
{
	size_t off = 0;
	for (unsigned i = 0; t->names[i] != NULL && off < size; i++) {
		const char *sep = i == 0 ? "" : t->names[i + 1] == NULL ? " or " : ", ";
		int n = snprintf(buf + off, size - off, "%s%s", sep, t->names[i]);
		off = n < 0 || (size_t)n >= size - off ? size - 1 : off + (size_t)n;
	}
	if (size > 0 && off == 0) {
		buf[0] = '\0';
	}
	return off;
}
