/*  SPDX-License-Identifier: GPL-3.0-or-later */
/*  A prober alive without new measurements (its heartbeats reach a DNS
 *  node): its records and cells get the node's time, so freshness follows
 *  arrival, not the prober's clock. The cells live in the endpoint sets:
 *  one patch per set, whatever the number of names (schema 2). */
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "view_build.h"
#include "writer.h"
#include "writer_int.h"

/* Endpoint ids of the policy, copied out before any write (a visitor must
 * not write while LMDB walks; measurements are another DB, but a list keeps
 * the walk and the writes apart). */
typedef struct {
	char (*ids)[HG_ID_SIZE];
	size_t n, cap;
} id_list_t;

static int collect_id(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
	(void)val;
	(void)vlen;
	id_list_t *l = ctx;
	if (klen == 0 || klen > HG_ID_MAX) {
		return HG_ECORRUPT;
	}
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		char(*grown)[HG_ID_SIZE] = realloc(l->ids, cap * sizeof(*grown));
		if (grown == NULL) {
			return HG_ENOMEM;
		}
		l->ids = grown;
		l->cap = cap;
	}
	memcpy(l->ids[l->n], key, klen);
	l->ids[l->n][klen] = '\0';
	l->n++;
	return HG_EOK;
}

typedef struct {
	const char *prober;
	uint64_t now;
} touch_ctx_t;

static int touch_set(uint8_t *blob, size_t len, void *ctx)
{
	const touch_ctx_t *c = ctx;
	/* The cells get the arrival time; the derived state and its window
	 * are computed at the writer's clock, as for every other patch. */
	int n = view_set_touch_prober(blob, len, c->prober, c->now, store_now_ms());
	if (n == HG_ENOENT) {
		/* A set built before the prober joined the policy: impossible
		 * after a load (every set has every prober); nothing to stamp. */
		return WRITER_PATCH_UNCHANGED;
	}
	return n < 0 ? n : n == 0 ? WRITER_PATCH_UNCHANGED : HG_EOK;
}

int writer_touch_prober(store_wtxn_t *wtxn, const char *prober, uint64_t now_ms)
{
	if (wtxn->err != HG_EOK) {
		return wtxn->err;
	}
	if (strlen(prober) > HG_ID_MAX) {
		return HG_EINVAL;
	}
	const void *val;
	size_t vlen;
	int ret = store_wget(wtxn, STORE_PROBERS, prober, strlen(prober), &val, &vlen);
	if (ret != HG_EOK) {
		return ret;
	}
	id_list_t eps = { 0 };
	size_t touched = 0;
	ret = store_wforeach(wtxn, STORE_ENDPOINTS, NULL, 0, collect_id, &eps);
	for (size_t i = 0; i < eps.n && ret == HG_EOK; i++) {
		const hg_rec_measure_t *m = writer_get_measure(wtxn, eps.ids[i], prober);
		if (m == NULL || m->ts_ms == 0 || m->ts_ms >= now_ms) {
			continue;
		}
		hg_rec_measure_t rec = *m; /* m moves with the put below */
		rec.ts_ms = now_ms;
		uint8_t key[STORE_MEASURE_KEY_MAX];
		size_t klen = store_measure_key(key, sizeof(key), eps.ids[i], prober);
		store_put(wtxn, STORE_MEASUREMENTS, key, klen, &rec, sizeof(rec));
		ret = wtxn->err;
		touched++;
	}
	free(eps.ids);
	store_wtxn_fail(wtxn, ret);
	/* Cells mirror the records: none re-stamped, no cell to re-stamp. */
	if (ret == HG_EOK && touched > 0) {
		touch_ctx_t ctx = { .prober = prober, .now = now_ms };
		writer_patch_all_sets(wtxn, touch_set, &ctx);
	}
	return wtxn->err;
}
