/*  SPDX-License-Identifier: GPL-3.0-or-later */
#include <stdlib.h>
#include <string.h>

#include "module_stats.h"

/* knotd frees the returned string, so these return heap copies. */
static char *fam_to_str(uint32_t idx, uint32_t count)
{
	static const char *const names[MODULE_FAM_COUNT] = { "A", "AAAA" };
	return (idx < count && idx < MODULE_FAM_COUNT) ? strdup(names[idx]) : NULL;
}

static char *pass_to_str(uint32_t idx, uint32_t count)
{
	static const char *const names[MODULE_PASS_COUNT] = {
		"no-db", "no-view", "bad-view", "error", "read-fault", "dnssec", "map-resized"
	};
	return (idx < count && idx < MODULE_PASS_COUNT) ? strdup(names[idx]) : NULL;
}

static char *formerr_to_str(uint32_t idx, uint32_t count)
{
	static const char *const names[MODULE_FORMERR_COUNT] = { "ecs-address", "ecs-bits",
		                                                 "ecs-scope", "ecs-multiple" };
	return (idx < count && idx < MODULE_FORMERR_COUNT) ? strdup(names[idx]) : NULL;
}

int module_stats_init(knotd_mod_t *mod)
{
	static const struct {
		const char *name;
		uint32_t count;
		knotd_mod_idx_to_str_f to_str;
	} table[MODULE_CTR_COUNT] = {
		[MODULE_CTR_ANSWER] = { "answer", MODULE_FAM_COUNT, fam_to_str },
		[MODULE_CTR_CNAME] = { "cname", 1, NULL },
		[MODULE_CTR_DEGRADED] = { "degraded", 1, NULL },
		[MODULE_CTR_FALLBACK] = { "fallback", 1, NULL },
		[MODULE_CTR_NODATA] = { "nodata", 1, NULL },
		[MODULE_CTR_PASSTHROUGH] = { "pass-through", MODULE_PASS_COUNT, pass_to_str },
		[MODULE_CTR_FORMERR] = { "formerr", MODULE_FORMERR_COUNT, formerr_to_str },
	};
	for (int i = 0; i < MODULE_CTR_COUNT; i++) {
		int ret = knotd_mod_stats_add(mod, table[i].name, table[i].count, table[i].to_str);
		if (ret != KNOT_EOK) {
			return ret;
		}
	}
	return KNOT_EOK;
}
