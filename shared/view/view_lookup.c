/*  SPDX-License-Identifier: GPL-3.0-or-later */
/* Why a snapshot id is a sound cache key: LMDB is copy-on-write. A writer
 * only writes pages that no snapshot still in use (and not the newest
 * committed one) can reach; pages of the newest snapshot are freed only by
 * the next commit. So if a renewed txn reads snapshot N again, no commit
 * happened since this thread last read N: the value bytes are the same
 * bytes at the same address, and view_open()/view_set_open() would accept
 * them again with the same pointers. Every write (load, measurement,
 * override) is a commit and so a new id. The store is part of the key
 * because ids are per environment; a caller must not keep a cache across
 * an environment closed and another opened at the same address. */
#include <string.h>

#include "errors.h"
#include "view_lookup.h"

/* The name filter of this snapshot, read once per snapshot. A missing or
 * malformed one is "no filter": every name is looked up. So is one that
 * does not count as many names as the names DB holds (an entry written
 * behind the writer's back): the filter can only ever save lookups, never
 * hide a name. */
static void load_filter(view_lookup_cache_t *c, store_rtxn_t *rtxn, size_t txnid)
{
	c->filter_store = rtxn->store;
	c->filter_txnid = txnid;
	c->filter = NULL;
	const void *val = NULL;
	size_t len = 0;
	if (store_get(rtxn, STORE_META, HG_META_NAME_FILTER, strlen(HG_META_NAME_FILTER), &val,
	              &len) != HG_EOK ||
	    len < sizeof(hg_name_filter_t)) {
		return;
	}
	const hg_name_filter_t *f = val;
	uint32_t n = f->n_slots;
	if (f->layout != HG_NAME_FILTER_LAYOUT || n == 0 || (n & (n - 1)) != 0 ||
	    len != sizeof(*f) + (size_t)n * 4) {
		return;
	}
	size_t n_names = 0;
	if (store_count(rtxn, STORE_NAMES, &n_names) != HG_EOK || n_names != f->n_names) {
		return;
	}
	c->filter = (const uint8_t *)val + sizeof(*f);
	c->filter_mask = n - 1;
}

int view_lookup_set(view_lookup_cache_t *cache, store_rtxn_t *rtxn, uint32_t set_id,
                    view_set_t *set)
{
	size_t txnid = mdb_txn_id(rtxn->txn);
	view_lookup_set_t *e = cache ? &cache->set[set_id & (VIEW_LOOKUP_SETS - 1)] : NULL;
	if (e != NULL && e->store == rtxn->store && e->txnid == txnid && e->set_id == set_id) {
		*set = e->set;
		return HG_EOK;
	}
	uint8_t key[4];
	view_set_key(set_id, key);
	const void *val = NULL;
	size_t len = 0;
	int ret = store_get(rtxn, STORE_SETS, key, sizeof(key), &val, &len);
	if (ret == HG_EOK) {
		ret = view_set_open(val, len, set);
	}
	if (ret == HG_EOK && set->hdr->set_id != set_id) {
		ret = HG_ECORRUPT;
	}
	if (e != NULL) {
		e->store = ret == HG_EOK ? rtxn->store : NULL;
		e->txnid = txnid;
		e->set_id = set_id;
		e->set = *set;
	}
	return ret;
}

/* A validated view's pointers, again: its header's counts place them. */
static void view_point(const uint8_t *blob, view_t *v)
{
	const hg_view_hdr_t *h = (const hg_view_hdr_t *)blob;
	v->hdr = h;
	v->filter = (const hg_view_filter_t *)(blob + sizeof(*h));
	v->rule = (const hg_view_rule_t *)(v->filter + h->n_filters);
	v->match = (const hg_view_match_t *)(v->rule + h->n_rules);
	v->owner = (const uint8_t *)(v->match + h->n_matches);
}

/* The set of a view, bound: VIEW_LOOKUP_FOUND, _BAD or _ERROR. */
static int bind_set(view_lookup_cache_t *cache, store_rtxn_t *rtxn, view_t *view)
{
	view_set_t set;
	int ret = view_lookup_set(cache, rtxn, view->hdr->set_id, &set);
	if (ret == HG_EOK) {
		ret = view_bind(view, &set);
	}
	return ret == HG_EOK                                                   ? VIEW_LOOKUP_FOUND
	       : (ret == HG_ENOENT || ret == HG_ESCHEMA || ret == HG_ECORRUPT) ? VIEW_LOOKUP_BAD
	                                                                       : VIEW_LOOKUP_ERROR;
}

/* The uncached lookup: the view, else whether the name is a policy name. */
static int lookup_uncached(store_rtxn_t *rtxn, const uint8_t *name, size_t name_len, view_t *view,
                           const uint8_t **blob)
{
	const void *val = NULL;
	size_t len = 0;
	int ret = store_get(rtxn, STORE_VIEWS, name, name_len, &val, &len);
	if (ret == HG_ENOENT) {
		/* Only a policy name without its view is worth telling apart. */
		ret = store_get(rtxn, STORE_NAMES, name, name_len, &val, &len);
		return ret == HG_EOK      ? VIEW_LOOKUP_NO_VIEW
		       : ret == HG_ENOENT ? VIEW_LOOKUP_NONE
		                          : VIEW_LOOKUP_ERROR;
	} else if (ret != HG_EOK) {
		return VIEW_LOOKUP_ERROR;
	}
	*blob = val;
	return view_open(val, len, view) == HG_EOK ? VIEW_LOOKUP_FOUND : VIEW_LOOKUP_BAD;
}

int view_lookup(view_lookup_cache_t *cache, store_rtxn_t *rtxn, const uint8_t *name,
                size_t name_len, view_t *view)
{
	if (!rtxn->active || name_len == 0 || name_len > HG_DNAME_MAX) {
		return VIEW_LOOKUP_ERROR;
	}
	size_t txnid = mdb_txn_id(rtxn->txn);
	uint64_t h = hg_name_hash(name, (unsigned)name_len);
	_Static_assert((VIEW_LOOKUP_SLOTS & (VIEW_LOOKUP_SLOTS - 1)) == 0 &&
	                       VIEW_LOOKUP_SLOTS % VIEW_LOOKUP_WAYS == 0,
	               "VIEW_LOOKUP_SLOTS");
	view_lookup_slot_t *way =
	        &cache->slot[((h >> 20) * VIEW_LOOKUP_WAYS) & (VIEW_LOOKUP_SLOTS - 1)];
	for (unsigned w = 0; w < VIEW_LOOKUP_WAYS; w++) {
		view_lookup_slot_t *s = &way[w];
		if (s->hash != h || s->txnid != txnid || s->store != rtxn->store) {
			continue;
		}
		view_point(s->blob, view);
		if (view->hdr->owner_len == name_len && memcmp(view->owner, name, name_len) == 0) {
			cache->hits++;
			return bind_set(cache, rtxn, view);
		}
	}

	if (cache->filter_store != rtxn->store || cache->filter_txnid != txnid) {
		load_filter(cache, rtxn, txnid);
	}
	if (cache->filter != NULL && !view_filter_maybe(cache->filter, cache->filter_mask, h)) {
		cache->filtered++;
		return VIEW_LOOKUP_NONE;
	}
	cache->misses++;
	const uint8_t *blob = NULL;
	int kind = lookup_uncached(rtxn, name, name_len, view, &blob);
	if (kind != VIEW_LOOKUP_FOUND) {
		return kind;
	}
	kind = bind_set(cache, rtxn, view);
	if (kind == VIEW_LOOKUP_FOUND) {
		/* Newest first; the oldest way goes. */
		memmove(&way[1], &way[0], (VIEW_LOOKUP_WAYS - 1) * sizeof(way[0]));
		way[0] = (view_lookup_slot_t){
			.hash = h, .txnid = txnid, .store = rtxn->store, .blob = blob
		};
	}
	return kind;
}
