/*  SPDX-License-Identifier: GPL-3.0-or-later */
/*  writer_load_policy(): the whole policy replaced in one write transaction. */
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "text.h"
#include "view_build.h"
#include "view_lookup.h"
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
		hg_rec_prober_t r = { .layout = HG_REC_LAYOUT,
			              .index = (uint16_t)i,
			              .lat = src->lat,
			              .lon = src->lon };
		hg_fixed_set(r.id, sizeof(r.id), src->id);
		store_put(wtxn, STORE_PROBERS, src->id, strlen(src->id), &r, sizeof(r));
	}
	for (size_t i = 0; i < p->n_pools && wtxn->err == HG_EOK; i++) {
		const policy_pool_t *src = &p->pools[i];
		hg_rec_pool_t r = { .layout = HG_REC_LAYOUT,
			            .n_endpoints = (uint16_t)src->n_endpoints,
			            .priority = src->priority,
			            .has_check = src->has_check };
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
			.layout = HG_REC_LAYOUT,
			.n_v4 = src->n_v4,
			.n_v6 = src->n_v6,
			.weight = src->weight,
			.priority = src->priority,
			.has_location = src->has_location,
			.cname_len = src->cname_len,
			.lat = src->lat,
			.lon = src->lon,
			.check = src->check,
		};
		hg_fixed_set(r.id, sizeof(r.id), src->id);
		hg_fixed_set(r.pool, sizeof(r.pool), src->pool);
		memcpy(r.v4, src->v4, sizeof(r.v4));
		memcpy(r.v6, src->v6, sizeof(r.v6));
		memcpy(r.cname, src->cname, sizeof(r.cname));
		store_put(wtxn, STORE_ENDPOINTS, src->id, strlen(src->id), &r, sizeof(r));
	}
}

/* The endpoint sets of the policy: one per distinct (pools in order,
 * quorum, stale-after) of its names, numbered in the order names first use
 * them. set_of[name] is the set index of each name. */
typedef struct {
	view_set_spec_t *specs;
	size_t n_sets;
	uint32_t *set_of;
} load_sets_t;

static uint64_t spec_hash(const policy_name_t *n)
{
	uint64_t h = 0xcbf29ce484222325ull ^ n->n_pools;
	for (size_t i = 0; i < n->n_pools; i++) {
		h = (h ^ n->pools[i]) * 0x100000001b3ull;
	}
	h = (h ^ n->quorum_ppm) * 0x100000001b3ull;
	h = (h ^ n->stale_after_ms) * 0x100000001b3ull;
	return h ^ (h >> 29);
}

static bool spec_is(const view_set_spec_t *s, const policy_name_t *n)
{
	return s->n_pools == n->n_pools && s->quorum_ppm == n->quorum_ppm &&
	       s->stale_after_ms == n->stale_after_ms &&
	       memcmp(s->pools, n->pools, n->n_pools * sizeof(n->pools[0])) == 0;
}

static int group_sets(const policy_t *p, load_sets_t *out)
{
	memset(out, 0, sizeof(*out));
	size_t n_slots = 16;
	while (n_slots < 2 * p->n_names) {
		n_slots *= 2;
	}
	uint32_t *table = calloc(n_slots, sizeof(*table)); /* set index + 1, 0 = empty */
	out->specs = calloc(p->n_names > 0 ? p->n_names : 1, sizeof(*out->specs));
	out->set_of = calloc(p->n_names > 0 ? p->n_names : 1, sizeof(*out->set_of));
	if (table == NULL || out->specs == NULL || out->set_of == NULL) {
		free(table);
		return HG_ENOMEM;
	}
	for (size_t i = 0; i < p->n_names; i++) {
		const policy_name_t *n = &p->names[i];
		size_t k = spec_hash(n) & (n_slots - 1);
		while (table[k] != 0 && !spec_is(&out->specs[table[k] - 1], n)) {
			k = (k + 1) & (n_slots - 1);
		}
		if (table[k] == 0) {
			view_set_spec_t *s = &out->specs[out->n_sets];
			s->pools = n->pools;
			s->n_pools = n->n_pools;
			s->quorum_ppm = n->quorum_ppm;
			s->stale_after_ms = n->stale_after_ms;
			s->set_id = (uint32_t)out->n_sets;
			table[k] = (uint32_t)++out->n_sets;
		}
		out->set_of[i] = table[k] - 1;
		out->specs[table[k] - 1].n_names++;
	}
	free(table);
	return HG_EOK;
}

static void free_sets(load_sets_t *s)
{
	free(s->specs);
	free(s->set_of);
}

/* names records: the settings status and dump show, texts to size. */
static void put_names(store_wtxn_t *wtxn, const policy_t *p, const load_sets_t *sets)
{
	uint8_t buf[sizeof(hg_rec_name_t) + HG_NAME_POOLS_MAX * HG_ID_SIZE + HG_CHAIN_TEXT_MAX];
	for (size_t i = 0; i < p->n_names && wtxn->err == HG_EOK; i++) {
		const policy_name_t *n = &p->names[i];
		if (n->n_pools > HG_NAME_POOLS_MAX || n->owner_len == 0) {
			store_wtxn_fail(wtxn, HG_ERANGE);
			return;
		}
		hg_rec_name_t r = {
			.layout = HG_NAME_LAYOUT,
			.n_pools = (uint8_t)n->n_pools,
			.fallback = n->fallback,
			.ttl = n->ttl,
			.degraded_ttl = n->degraded_ttl,
			.quorum_ppm = n->quorum_ppm,
			.stale_after_ms = n->stale_after_ms,
			.set_id = sets->set_of[i],
		};
		size_t pos = sizeof(r);
		for (size_t j = 0; j < n->n_pools; j++) {
			const char *id = p->pools[n->pools[j]].id;
			size_t l = strnlen(id, HG_ID_MAX);
			memcpy(buf + pos, id, l);
			buf[pos + l] = '\0';
			pos += l + 1;
			if (n->fallback == HG_FALLBACK_POOL && n->pools[j] == n->fallback_pool) {
				r.fallback_pool = (uint8_t)j;
			}
		}
		r.pools_len = (uint16_t)(pos - sizeof(r));
		const char *chain = n->chain_text ? n->chain_text : "";
		size_t cl = strnlen(chain, HG_CHAIN_TEXT_MAX);
		memcpy(buf + pos, chain, cl);
		r.chain_len = (uint16_t)cl;
		memcpy(buf, &r, sizeof(r));
		store_put(wtxn, STORE_NAMES, n->owner, n->owner_len, buf, pos + cl);
	}
}

/* The sets and the epsets index (endpoint → sets holding it), which lets a
 * measurement patch exactly the sets it affects. */
static void put_sets(store_wtxn_t *wtxn, const policy_t *p, const load_sets_t *sets, uint64_t gen,
                     uint64_t now)
{
	load_inputs_t ctx = { .wtxn = wtxn, .policy = p };
	view_inputs_t in = { .measure = input_measure, .admin = input_admin, .ctx = &ctx };
	for (size_t i = 0; i < sets->n_sets && wtxn->err == HG_EOK; i++) {
		const view_set_spec_t *spec = &sets->specs[i];
		uint8_t *blob = NULL, key[4];
		size_t len = 0;
		int ret = view_set_build(p, spec, &in, gen, now, &blob, &len);
		view_set_key(spec->set_id, key);
		if (ret == HG_EOK) {
			store_put(wtxn, STORE_SETS, key, sizeof(key), blob, len);
		}
		store_wtxn_fail(wtxn, ret);
		free(blob);
		for (size_t k = 0; k < spec->n_pools && wtxn->err == HG_EOK; k++) {
			const policy_pool_t *pool = &p->pools[spec->pools[k]];
			for (size_t e = pool->first_endpoint;
			     e < pool->first_endpoint + pool->n_endpoints; e++) {
				const char *id = p->endpoints[e].id;
				store_put(wtxn, STORE_EPSETS, id, strlen(id), key, sizeof(key));
			}
		}
	}
}

/* meta["name_filter"]: every owner's fingerprint (SCHEMA.md, "The name
 * filter"), so the module answers "not mine" without a views lookup. */
static void put_name_filter(store_wtxn_t *wtxn, const policy_t *p)
{
	uint32_t n_slots = 16;
	while (n_slots < 2 * p->n_names && n_slots < (1u << 30)) {
		n_slots *= 2;
	}
	size_t len = sizeof(hg_name_filter_t) + (size_t)n_slots * 4;
	uint8_t *buf = calloc(1, len);
	if (buf == NULL) {
		store_wtxn_fail(wtxn, HG_ENOMEM);
		return;
	}
	hg_name_filter_t f = { .layout = HG_NAME_FILTER_LAYOUT,
		               .n_slots = n_slots,
		               .n_names = (uint32_t)p->n_names };
	memcpy(buf, &f, sizeof(f));
	uint32_t *slot = (uint32_t *)(buf + sizeof(f)); /* calloc: aligned */
	for (size_t i = 0; i < p->n_names; i++) {
		uint64_t h = hg_name_hash(p->names[i].owner, p->names[i].owner_len);
		uint32_t fp = (uint32_t)(h >> 32) | 1u, k = (uint32_t)h & (n_slots - 1);
		while (slot[k] != 0 && slot[k] != fp) {
			k = (k + 1) & (n_slots - 1);
		}
		slot[k] = fp;
	}
	store_put(wtxn, STORE_META, HG_META_NAME_FILTER, strlen(HG_META_NAME_FILTER), buf, len);
	free(buf);
}

static void put_meta(store_wtxn_t *wtxn, const policy_t *p, uint64_t gen, uint64_t now)
{
	hg_rec_defaults_t d = {
		.layout = HG_REC_LAYOUT,
		.ttl = p->ttl,
		.degraded_ttl = p->degraded_ttl,
		.quorum_ppm = p->quorum_ppm,
		.stale_after_ms = p->stale_after_ms,
		.check = p->check,
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

static void put_views(store_wtxn_t *wtxn, const policy_t *p, const load_sets_t *sets, uint64_t gen,
                      uint64_t now)
{
	for (size_t i = 0; i < p->n_names && wtxn->err == HG_EOK; i++) {
		uint8_t *blob = NULL;
		size_t len = 0;
		int ret = view_build(p, i, sets->set_of[i], gen, now, &blob, &len);
		if (ret == HG_EOK) {
			store_put(wtxn, STORE_VIEWS, p->names[i].owner, p->names[i].owner_len, blob,
			          len);
		}
		store_wtxn_fail(wtxn, ret);
		free(blob);
	}
}

typedef struct {
	const policy_t *policy;
	uint64_t gen; /* out: the generation written */
} load_ctx_t;

/* The whole load, one write transaction (store_write() may run it again
 * on a grown map: it starts from the committed state each time). */
static int load_body(store_wtxn_t *wtxn, void *arg)
{
	load_ctx_t *c = arg;
	const policy_t *policy = c->policy;
	uint64_t gen = 0, now = store_now_ms();
	const void *val;
	size_t vlen;
	int ret = store_wget(wtxn, STORE_META, HG_META_POLICY_GEN, strlen(HG_META_POLICY_GEN), &val,
	                     &vlen);
	if (ret == HG_EOK && vlen == sizeof(gen)) {
		memcpy(&gen, val, sizeof(gen));
	}
	gen++;

	store_wtxn_upgrade(wtxn); /* a schema-1 database becomes schema 2 here */
	prune_measurements(wtxn, policy);
	static const enum store_dbi rewritten[] = {
		STORE_PROBERS, STORE_POOLS, STORE_ENDPOINTS, STORE_NAMES,
		STORE_EPSETS,  STORE_VIEWS, STORE_SETS,
	};
	for (size_t i = 0; i < sizeof(rewritten) / sizeof(rewritten[0]); i++) {
		store_drop_all(wtxn, rewritten[i]);
	}
	load_sets_t sets;
	store_wtxn_fail(wtxn, group_sets(policy, &sets));
	put_probers_pools(wtxn, policy);
	put_endpoints(wtxn, policy);
	put_names(wtxn, policy, &sets);
	put_meta(wtxn, policy, gen, now);
	put_sets(wtxn, policy, &sets, gen, now);
	put_views(wtxn, policy, &sets, gen, now);
	put_name_filter(wtxn, policy);
	free_sets(&sets);
	c->gen = gen;
	return wtxn->err;
}

int writer_load_policy(store_t *store, const policy_t *policy, uint64_t *generation)
{
	if (store == NULL || policy == NULL) {
		return HG_EINVAL;
	}
	load_ctx_t c = { .policy = policy };
	int ret = store_write(store, load_body, &c); /* aborts everything on any error */
	if (ret == HG_EOK) {
		store_schema_upgraded(store);
	}
	if (ret == HG_EOK && generation != NULL) {
		*generation = c.gen;
	}
	return ret;
}
