/*  SPDX-License-Identifier: GPL-3.0-or-later */
/*  Names printed by explain: filters in the policy's own spelling (the
 *  schema's table), so an operator can match output to the YAML. */
#include "schema_names.h"
#include "sel.h"

const char *sel_filter_name(uint8_t type)
{
	const char *s = schema_name(&schema_filters, type);
	if (s != NULL) {
		return s;
	}
	return type == 0 ? "prefilter" : "unknown";
}

const char *sel_reason_name(uint8_t reason)
{
	switch (reason) {
	case SEL_R_KEPT: return "kept";
	/* the same words as health and admin state */
	case SEL_R_DOWN: return schema_name(&schema_healths, HG_HEALTH_DOWN);
	case SEL_R_DRAINED: return schema_name(&schema_admins, HG_ADMIN_DRAIN);
	case SEL_R_NOT_IN_RULE: return "not-in-rule";
	case SEL_R_TOO_SLOW: return "too-slow";
	case SEL_R_LOSSY: return "lossy";
	case SEL_R_LOWER_PRIORITY: return "lower-priority";
	case SEL_R_CUT: return "cut";
	case SEL_R_NO_FAMILY: return "no-family";
	case SEL_R_VANTAGE_DOWN: return "down-from-vantage";
	default: return "unknown";
	}
}

/* The verdict spells the probers' part with the schema's health names and
 * the overrides with its admin names: one spelling for status and dump. */
const char *sel_health_name(uint8_t verdict)
{
	switch (verdict) {
	case SEL_HEALTH_UP: return schema_name(&schema_healths, HG_HEALTH_UP);
	case SEL_HEALTH_DOWN: return schema_name(&schema_healths, HG_HEALTH_DOWN);
	case SEL_HEALTH_UNKNOWN: return schema_name(&schema_healths, HG_HEALTH_UNKNOWN);
	case SEL_HEALTH_DRAINED: return schema_name(&schema_admins, HG_ADMIN_DRAIN);
	case SEL_HEALTH_FORCED_UP: return schema_name(&schema_admins, HG_ADMIN_FORCE_UP);
	default: return "invalid";
	}
}
