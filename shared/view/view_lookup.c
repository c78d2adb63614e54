/*  SPDX-License-Identifier: GPL-3.0-or-later */
/* Why a snapshot id is a sound cache key: LMDB is copy-on-write. A writer
 * only writes pages that no snapshot still in use (and not the newest
 * committed one) can reach; pages of the newest snapshot are freed only by
 * the next commit. So if a renewed txn reads snapshot N again, no commit
 * happened since this thread last read N: the value bytes are the same
 * bytes at the same address, view_open() would accept them again and
 * return the same pointers, and the two mdb_get() calls would return what
 * they returned then. View patches (measurements, admin) are commits like
 * any other and always move to a new snapshot id. The store is part of the
 * key because ids are per environment; a caller must not keep a cache
 * across an environment closed and another opened at the same address. */
#include <string.h>

#include "errors.h"
#include "view_lookup.h"

static unsigned slot_of(const uint8_t *name, size_t len)
{
	uint32_t h = 2166136261u;   /* FNV-1a: names are short, this is ~4 ops/byte */
	for (size_t i = 0; i < len; i++) {
		h = (h ^ name[i]) * 16777619u;
	}
	return (h ^ (h >> 16)) & (VIEW_LOOKUP_SLOTS - 1);
}

/* The uncached lookup: the view, else whether the name is a policy name. */
static int lookup_uncached(store_rtxn_t *rtxn, const uint8_t *name, size_t name_len,
                           view_t *view)
{
	const void *val = NULL;
	size_t len = 0;
	int ret = store_get(rtxn, STORE_VIEWS, name, name_len, &val, &len);
	if (ret == HG_ENOENT) {
		/* Most names of the zone are not GSLB names; only a policy name
		 * without its view is worth telling apart. */
		ret = store_get(rtxn, STORE_NAMES, name, name_len, &val, &len);
		return ret == HG_EOK ? VIEW_LOOKUP_NO_VIEW
		     : ret == HG_ENOENT ? VIEW_LOOKUP_NONE : VIEW_LOOKUP_ERROR;
	} else if (ret != HG_EOK) {
		return VIEW_LOOKUP_ERROR;
	}
	return view_open(val, len, view) == HG_EOK ? VIEW_LOOKUP_FOUND : VIEW_LOOKUP_BAD;
}

int view_lookup(view_lookup_cache_t *cache, store_rtxn_t *rtxn, const uint8_t *name,
                size_t name_len, const view_t **view)
{
	if (!rtxn->active || name_len == 0 || name_len > HG_DNAME_MAX) {
		return VIEW_LOOKUP_ERROR;
	}
	size_t txnid = mdb_txn_id(rtxn->txn);
	view_lookup_slot_t *s = &cache->slot[slot_of(name, name_len)];
	if (s->store == rtxn->store && s->txnid == txnid && s->name_len == name_len &&
	    memcmp(s->name, name, name_len) == 0) {
		cache->hits++;
		*view = &s->view;
		return s->kind;
	}

	cache->misses++;
	int kind = lookup_uncached(rtxn, name, name_len, &s->view);
	if (kind == VIEW_LOOKUP_ERROR) {
		s->store = NULL;   /* the slot's view may be half written */
		return kind;
	}
	s->store = rtxn->store;
	s->txnid = txnid;
	s->kind = (uint8_t)kind;
	s->name_len = (uint16_t)name_len;
	memcpy(s->name, name, name_len);
	*view = &s->view;
	return kind;
}
