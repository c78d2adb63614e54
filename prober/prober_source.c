/*  SPDX-License-Identifier: GPL-3.0-or-later */
/* Reading the loaded policy back from LMDB, as the prober needs it. */
#include <stdio.h>
#include <string.h>

#include "errors.h"
#include "prober_source.h"

int prober_source_generation(store_rtxn_t *rtxn, uint64_t *generation)
{
	const void *val = NULL;
	size_t len = 0;
	int ret = store_get(rtxn, STORE_META, HG_META_POLICY_GEN, strlen(HG_META_POLICY_GEN), &val,
	                    &len);
	if (ret != HG_EOK) {
		return ret;
	}
	if (len != sizeof(*generation)) {
		return HG_ECORRUPT;
	}
	memcpy(generation, val, sizeof(*generation));
	return HG_EOK;
}

/* Appends each prober id to the list for the "not a prober" message. */
typedef struct {
	char *buf;
	size_t size, used;
} id_list_t;

static int list_prober(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
	id_list_t *l = ctx;
	int n = snprintf(l->buf + l->used, l->size - l->used, "%s%.*s", l->used ? ", " : "",
	                 (int)klen, (const char *)key);
	l->used = (n < 0 || (size_t)n >= l->size - l->used) ? l->size - 1 : l->used + (size_t)n;
	return HG_EOK;
}

int prober_source_find_prober(store_rtxn_t *rtxn, const char *id, char *known, size_t size)
{
	const void *val = NULL;
	size_t len = 0;
	int ret = store_get(rtxn, STORE_PROBERS, id, strlen(id), &val, &len);
	if (ret == HG_EOK) {
		const hg_rec_prober_t *rec = val;
		return len == sizeof(*rec) && rec->layout == HG_REC_LAYOUT ? HG_EOK : HG_ECORRUPT;
	}
	if (ret == HG_ENOENT && size > 0) {
		known[0] = '\0';
		id_list_t l = { known, size, 0 };
		int lret = store_foreach(rtxn, STORE_PROBERS, NULL, 0, list_prober, &l);
		if (lret != HG_EOK) {
			ret = lret;
		}
	}
	return ret;
}

typedef struct {
	prober_source_visit_fn fn;
	void *ctx;
	size_t skipped;
} ep_walk_t;

static int visit_endpoint(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
	ep_walk_t *w = ctx;
	const hg_rec_endpoint_t *ep = val;
	/* The key must be the record's own id: the prober names the endpoint by
	 * the record, the writer finds it by the key. */
	if (vlen != sizeof(*ep) || ep->layout != HG_REC_LAYOUT || klen == 0 || klen > HG_ID_MAX ||
	    strnlen(ep->id, sizeof(ep->id)) != klen || memcmp(ep->id, key, klen) != 0) {
		w->skipped++;
		return HG_EOK;
	}
	return w->fn(w->ctx, ep);
}

int prober_source_foreach_endpoint(store_rtxn_t *rtxn, prober_source_visit_fn fn, void *ctx,
                                   size_t *skipped)
{
	ep_walk_t w = { fn, ctx, 0 };
	int ret = store_foreach(rtxn, STORE_ENDPOINTS, NULL, 0, visit_endpoint, &w);
	if (skipped != NULL) {
		*skipped = w.skipped;
	}
	return ret;
}
