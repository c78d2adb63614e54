/*  SPDX-License-Identifier: GPL-3.0-or-later */
/*  Reading measurements and overrides inside a write transaction: the one
 *  place that decides which stored records count (layout and size checked,
 *  anything else is "no data"). */
#include <string.h>

#include "errors.h"
#include "writer_int.h"

const hg_rec_measure_t *writer_get_measure(store_wtxn_t *wtxn, const char *endpoint,
                                           const char *prober)
{
	uint8_t key[STORE_MEASURE_KEY_MAX];
	size_t klen = store_measure_key(key, sizeof(key), endpoint, prober);
	const void *val;
	size_t vlen;
	if (klen == 0 || store_wget(wtxn, STORE_MEASUREMENTS, key, klen, &val, &vlen) != HG_EOK) {
		return NULL;
	}
	const hg_rec_measure_t *m = val;
	if (vlen != sizeof(*m) || m->layout != HG_REC_LAYOUT) {
		return NULL;
	}
	return m;
}

uint8_t writer_get_admin(store_wtxn_t *wtxn, const char *endpoint)
{
	const void *val;
	size_t vlen;
	if (store_wget(wtxn, STORE_OVERRIDES, endpoint, strlen(endpoint), &val, &vlen) != HG_EOK ||
	    vlen != sizeof(hg_rec_override_t)) {
		return HG_ADMIN_NONE;
	}
	const hg_rec_override_t *o = val;
	return o->admin <= HG_ADMIN_FORCE_UP ? o->admin : HG_ADMIN_NONE;
}
