/*  SPDX-License-Identifier: GPL-3.0-or-later */
/*  The names record: a header, then NUL-terminated pool ids, then the
 *  chain text; everything is checked against the value's size. */
#include <string.h>

#include "schema_records.h"

int schema_name_rec(const void *val, size_t len, schema_name_rec_t *out)
{
	memset(out, 0, sizeof(*out));
	const hg_rec_name_t *r = val;
	if (val == NULL || len < sizeof(*r) || r->layout != HG_NAME_LAYOUT || r->n_pools == 0 ||
	    r->n_pools > HG_NAME_POOLS_MAX || r->chain_len > HG_CHAIN_TEXT_MAX ||
	    len != sizeof(*r) + (size_t)r->pools_len + r->chain_len) {
		return -1;
	}
	const char *p = (const char *)val + sizeof(*r), *end = p + r->pools_len;
	for (unsigned i = 0; i < r->n_pools; i++) {
		const char *nul = memchr(p, '\0', (size_t)(end - p));
		if (p >= end || nul == NULL || nul == p || nul - p > HG_ID_MAX) {
			return -1;
		}
		out->pools[i] = p;
		p = nul + 1;
	}
	if (p != end) {
		return -1;
	}
	out->rec = r;
	out->chain = end;
	out->chain_len = r->chain_len;
	return 0;
}
