/*  SPDX-License-Identifier: GPL-3.0-or-later */
/*  writer_load_policy(): the whole policy replaced in one write transaction. */
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "text.h"
#include "view_build.h"
#include "writer.h"
#include "writer_int.h"


/* Measurements and overrides as view_build() sees them: read from the same
 * write txn, so a reload keeps the current health and admin state. */
typedef struct {
	store_wtxn_t *wtxn;
	const policy_t *policy;
} load_inputs_t;

static const hg_rec_measure_t *input_measure(void *ctx, size_t ep, size_t pr)
{
	load_inputs_t *c = ctx;
	return writer_get_measure(c->wtxn, c->policy->endpoints[ep].id, c->policy->probers[pr].id);
}

static uint8_t input_admin(void *ctx, size_t ep)
{
	load_inputs_t *c = ctx;
	return writer_get_admin(c->wtxn, c->policy->endpoints[ep].id);
}

/* Drop measurements whose endpoint or prober left the policy; the rest are
 * soft state worth keeping across a reload. */
static int prune_visit(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
	(void)val;
	(void)vlen;
	const policy_t *policy = ctx;
	char ep[HG_ID_SIZE], pr[HG_ID_SIZE];
	bool keep = store_measure_key_split(key, klen, ep, pr) == HG_EOK &&
	            policy_find_endpoint(policy, ep) >= 0 && policy_find_prober(policy, pr) >= 0;
	return keep ? HG_EOK : STORE_ITER_DELETE;
}

static void prune_measurements(store_wtxn_t *wtxn, const policy_t *policy)
{
	store_wforeach(wtxn, STORE_MEASUREMENTS, NULL, 0, prune_visit, (void *)policy);
}

static void put_probers_pools(store_wtxn_t *wtxn, const policy_t *p)
{
	for (size_t i = 0; i < p->n_probers && wtxn->err == HG_EOK; i++) {
		const policy_prober_t *src = &p->probers[i];
		hg_rec_prober_t r = { .layout = HG_REC_LAYOUT, .index = (uint16_t)i,
		                      .lat = src->lat, .lon = src->lon };
		hg_fixed_set(r.id, sizeof(r.id), src->id);
		store_put(wtxn, STORE_PROBERS, src->id, strlen(src->id), &r, sizeof(r));
	}
	for (size_t i = 0; i < p->n_pools && wtxn->err == HG_EOK; i++) {
		const policy_pool_t *src = &p->pools[i];
		hg_rec_pool_t r = { .layout = HG_REC_LAYOUT, .n_endpoints = (uint16_t)src->n_endpoints,
		                    .priority = src->priority, .has_check = src->has_check };
		if (src->n_endpoints > UINT16_MAX) {
			store_wtxn_fail(wtxn, HG_ERANGE);
		}
		hg_fixed_set(r.id, sizeof(r.id), src->id);
		store_put(wtxn, STORE_POOLS, src->id, strlen(src->id), &r, sizeof(r));
	}
}

static void put_endpoints(store_wtxn_t *wtxn, const policy_t *p)
{
	for (size_t i = 0; i < p->n_endpoints && wtxn->err == HG_EOK; i++) {
		const policy_endpoint_t *src = &p->endpoints[i];
		if (src->n_v4 > HG_ADDR_MAX || src->n_v6 > HG_ADDR_MAX) {
			store_wtxn_fail(wtxn, HG_ERANGE);
			return;
		}
		hg_rec_endpoint_t r = {
			.layout = HG_REC_LAYOUT, .n_v4 = src->n_v4, .n_v6 = src->n_v6,
			.weight = src->weight, .priority = src->priority,
			.has_location = src->has_location, .cname_len = src->cname_len,
			.lat = src->lat, .lon = src->lon, .check = src->check,
		};
		hg_fixed_set(r.id, sizeof(r.id), src->id);
		hg_fixed_set(r.pool, sizeof(r.pool), src->pool);
		memcpy(r.v4, src->v4, sizeof(r.v4));
		memcpy(r.v6, src->v6, sizeof(r.v6));
		memcpy(r.cname, src->cname, sizeof(r.cname));
		store_put(wtxn, STORE_ENDPOINTS, src->id, strlen(src->id), &r, sizeof(r));
	}
}

/* names records and the epnames index (endpoint → owners using it), which
 * lets a measurement patch exactly the views it affects. */
static void put_names(store_wtxn_t *wtxn, const policy_t *p)
{
	for (size_t i = 0; i < p->n_names && wtxn->err == HG_EOK; i++) {
		const policy_name_t *n = &p->names[i];
		if (n->n_pools > HG_NAME_POOLS_MAX || n->owner_len == 0) {
			store_wtxn_fail(wtxn, HG_ERANGE);
			return;
		}
		hg_rec_name_t r = {
			.layout = HG_REC_LAYOUT, .n_pools = (uint8_t)n->n_pools, .fallback = n->fallback,
			.ttl = n->ttl, .degraded_ttl = n->degraded_ttl, .quorum_ppm = n->quorum_ppm,
			.stale_after_ms = n->stale_after_ms,
		};
		if (n->fallback == HG_FALLBACK_POOL && n->fallback_pool < p->n_pools) {
			hg_fixed_set(r.fallback_pool, sizeof(r.fallback_pool),
			             p->pools[n->fallback_pool].id);
		}
		for (size_t j = 0; j < n->n_pools; j++) {
			const policy_pool_t *pool = &p->pools[n->pools[j]];
			hg_fixed_set(r.pools[j], sizeof(r.pools[j]), pool->id);
			for (size_t e = pool->first_endpoint;
			     e < pool->first_endpoint + pool->n_endpoints; e++) {
				const char *id = p->endpoints[e].id;
				store_put(wtxn, STORE_EPNAMES, id, strlen(id), n->owner, n->owner_len);
			}
		}
		hg_fixed_set(r.chain_text, sizeof(r.chain_text), n->chain_text ? n->chain_text : "");
		store_put(wtxn, STORE_NAMES, n->owner, n->owner_len, &r, sizeof(r));
	}
}

static void put_meta(store_wtxn_t *wtxn, const policy_t *p, uint64_t gen, uint64_t now)
{
	hg_rec_defaults_t d = {
		.layout = HG_REC_LAYOUT, .ttl = p->ttl, .degraded_ttl = p->degraded_ttl,
		.quorum_ppm = p->quorum_ppm, .stale_after_ms = p->stale_after_ms, .check = p->check,
	};
	const char *src = p->source != NULL ? p->source : "";
#define PUT_META(key, val, len) store_put(wtxn, STORE_META, key, strlen(key), val, len)
	PUT_META(HG_META_POLICY_DEFAULTS, &d, sizeof(d));
	PUT_META(HG_META_POLICY_GEN, &gen, sizeof(gen));
	PUT_META(HG_META_POLICY_LOADED, &now, sizeof(now));
	PUT_META(HG_META_POLICY_SOURCE, src, strlen(src));
	PUT_META(HG_META_POLICY_SHA256, p->sha256, sizeof(p->sha256));
#undef PUT_META
}

static void put_views(store_wtxn_t *wtxn, const policy_t *p, uint64_t gen, uint64_t now)
{
	load_inputs_t ctx = { .wtxn = wtxn, .policy = p };
	view_inputs_t in = { .measure = input_measure, .admin = input_admin, .ctx = &ctx };
	for (size_t i = 0; i < p->n_names && wtxn->err == HG_EOK; i++) {
		uint8_t *blob = NULL;
		size_t len = 0;
		int ret = view_build(p, i, &in, gen, now, &blob, &len);
		if (ret == HG_EOK) {
			store_put(wtxn, STORE_VIEWS, p->names[i].owner, p->names[i].owner_len, blob, len);
		}
		store_wtxn_fail(wtxn, ret);
		free(blob);
	}
}

int writer_load_policy(store_t *store, const policy_t *policy, uint64_t *generation)
{
	if (store == NULL || policy == NULL) {
		return HG_EINVAL;
	}
	store_wtxn_t wtxn;
	int ret = store_wtxn_begin(store, &wtxn);
	if (ret != HG_EOK) {
		return ret;
	}
	uint64_t gen = 0, now = store_now_ms();
	const void *val;
	size_t vlen;
	ret = store_wget(&wtxn, STORE_META, HG_META_POLICY_GEN, strlen(HG_META_POLICY_GEN),
	                 &val, &vlen);
	if (ret == HG_EOK && vlen == sizeof(gen)) {
		memcpy(&gen, val, sizeof(gen));
	}
	gen++;

	prune_measurements(&wtxn, policy);
	static const enum store_dbi rewritten[] = {
		STORE_PROBERS, STORE_POOLS, STORE_ENDPOINTS, STORE_NAMES, STORE_EPNAMES, STORE_VIEWS,
	};
	for (size_t i = 0; i < sizeof(rewritten) / sizeof(rewritten[0]); i++) {
		store_drop_all(&wtxn, rewritten[i]);
	}
	put_probers_pools(&wtxn, policy);
	put_endpoints(&wtxn, policy);
	put_names(&wtxn, policy);
	put_meta(&wtxn, policy, gen, now);
	put_views(&wtxn, policy, gen, now);

	ret = store_wtxn_commit(&wtxn);   /* aborts everything on a sticky error */
	if (ret == HG_EOK && generation != NULL) {
		*generation = gen;
	}
	return ret;
}
