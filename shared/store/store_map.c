/*  SPDX-License-Identifier: GPL-3.0-or-later */
/*  The map of data.mdb: how large each process maps it, growing it for a
 *  writer, following another process's growth in a reader, and the warning
 *  before the ceiling. Read side (the module remaps); store_write(), which
 *  grows, is in store_wtxn.c.
 *
 *  Moving a map (mdb_env_set_mapsize()) unmaps the old one: no read txn of
 *  the process may be active on it, or that thread would read unmapped
 *  memory. Every read txn is registered with its store and is BUSY from
 *  begin to end (store.h, enum store_rtxn_state); a remap raises
 *  `remap_pending`, then waits for every registered txn to be FREE, taking
 *  back (resetting) the HELD ones itself. Both sides store their flag and
 *  then load the other's (sequentially consistent), so either the reader
 *  sees the remap pending and backs off, or the remap sees the reader busy
 *  and waits: never both past the check. Costs a reader one atomic
 *  compare-and-swap. */
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "log.h"
#include "store_guard.h"
#include "store_int.h"

#define STORE_MAPSIZE_MIN 65536ull

/* A size in bytes from the environment, or dflt. */
static size_t env_size(const char *name, size_t dflt)
{
	const char *v = getenv(name);
	if (v != NULL && *v != '\0') {
		char *end = NULL;
		unsigned long long n = strtoull(v, &end, 10);
		if (end != NULL && *end == '\0' && n >= STORE_MAPSIZE_MIN) {
			return (size_t)n;
		}
		hg_warn("%s=%s ignored: not a size in bytes of at least %llu", name, v,
		        STORE_MAPSIZE_MIN);
	}
	return dflt;
}

void store_map_config(size_t *initial, size_t *ceiling)
{
	const char *set_initial = getenv("HG_STORE_MAPSIZE");
	*initial = env_size("HG_STORE_MAPSIZE", (size_t)STORE_MAPSIZE_DEFAULT);
	*ceiling = env_size("HG_STORE_MAPSIZE_MAX", (size_t)STORE_MAPSIZE_MAX_DEFAULT);
	if (*initial > *ceiling) {
		/* An initial size asked for above the ceiling raises the ceiling
		 * (HG_STORE_MAPSIZE alone used to be the way to get a larger map);
		 * the default initial size only ever shrinks to a lower ceiling. */
		if (set_initial != NULL && *set_initial != '\0') {
			*ceiling = *initial;
		} else {
			*initial = *ceiling;
		}
	}
}

void store_map_opened(struct store *s)
{
	if (s->rdonly) {
		return; /* opened at the ceiling (or the data, if larger) */
	}
	/* A writer maps what the file records when another writer grew it
	 * beyond this one's initial size (0: LMDB takes the recorded size,
	 * at least the data), but never more than its own ceiling: a map
	 * recorded larger (a writer with a higher ceiling, or the old fixed
	 * 1 GiB) would let it write past HG_STORE_MAPSIZE_MAX without ever
	 * meeting a full map. LMDB keeps at least the data mapped. No txn is
	 * open yet: the map may move. */
	MDB_envinfo before, after;
	if (mdb_env_info(s->env, &before) != MDB_SUCCESS ||
	    mdb_env_set_mapsize(s->env, 0) != MDB_SUCCESS ||
	    mdb_env_info(s->env, &after) != MDB_SUCCESS) {
		return;
	}
	size_t want = after.me_mapsize < s->map_limit ? after.me_mapsize : s->map_limit;
	if (want < before.me_mapsize) {
		want = before.me_mapsize;
	}
	if (want != after.me_mapsize) {
		mdb_env_set_mapsize(s->env, want);
	}
}

int store_readers_add(struct store *s, store_rtxn_t *rtxn)
{
	pthread_mutex_lock(&s->readers_lock);
	int ret = HG_EOK;
	if (s->n_readers == s->cap_readers) {
		size_t cap = s->cap_readers ? 2 * s->cap_readers : 16;
		store_rtxn_t **grown = realloc(s->readers, cap * sizeof(*grown));
		if (grown == NULL) {
			ret = HG_ENOMEM;
			goto cleanup;
		}
		s->readers = grown;
		s->cap_readers = cap;
	}
	s->readers[s->n_readers++] = rtxn;
	rtxn->registered = true;
cleanup:
	pthread_mutex_unlock(&s->readers_lock);
	return ret;
}

void store_readers_remove(struct store *s, store_rtxn_t *rtxn)
{
	pthread_mutex_lock(&s->readers_lock);
	for (size_t i = 0; i < s->n_readers; i++) {
		if (s->readers[i] == rtxn) {
			s->readers[i] = s->readers[--s->n_readers];
			break;
		}
	}
	rtxn->registered = false;
	pthread_mutex_unlock(&s->readers_lock);
}

static void txn_reset_cb(void *arg)
{
	mdb_txn_reset(arg); /* MDB_NOTLS: any thread may */
}

int store_remap_to(struct store *s, size_t size, bool wait)
{
	atomic_store(&s->remap_pending, true);
	pthread_mutex_lock(&s->readers_lock);
	int ret = HG_EOK;
	for (size_t i = 0; i < s->n_readers; i++) {
		store_rtxn_t *r = s->readers[i];
		for (;;) {
			int st = atomic_load(&r->state);
			if (st == STORE_RTXN_FREE) {
				break;
			}
			if (st == STORE_RTXN_HELD) {
				if (atomic_compare_exchange_strong(&r->state, &st,
				                                   STORE_RTXN_TAKING)) {
					if (!store_guard_call(txn_reset_cb, r->txn)) {
						/* Its owner's next use faults in its guard. */
						atomic_store(&r->state, STORE_RTXN_HELD);
						ret = HG_ECORRUPT;
						goto cleanup;
					}
					atomic_store(&r->state, STORE_RTXN_FREE);
					break;
				}
				continue;
			}
			if (!wait) {
				ret = HG_EBUSY;
				goto cleanup;
			}
			sched_yield(); /* a query takes microseconds */
		}
	}
	int rc = mdb_env_set_mapsize(s->env, size);
	ret = hg_err_from_mdb(rc);
	if (ret == HG_EOK) {
		store_find_map(s); /* the fault guard's view of the map */
		atomic_store(&s->remap_wanted, false);
	}
cleanup:
	pthread_mutex_unlock(&s->readers_lock);
	atomic_store(&s->remap_pending, false);
	return ret;
}

int store_remap(store_t *store)
{
	int ret = store_remap_to(store, 0, true);
	if (ret == HG_EOK) {
		atomic_fetch_add(&store->remaps, 1);
	}
	return ret;
}

typedef struct {
	MDB_env *env;
	MDB_envinfo info;
	int rc;
} env_info_call_t;

static void env_info_cb(void *arg)
{
	env_info_call_t *c = arg;
	c->rc = mdb_env_info(c->env, &c->info);
}

unsigned store_release_held(store_t *store)
{
	/* Both calls touch the maps of data.mdb and lock.mdb (the last txn id,
	 * the reader slot): guarded, as every read of the module is, since a
	 * file truncated under knotd must not take it down from the checker
	 * thread either. After a fault nothing is released: the txns stay
	 * their owners', whose next use faults inside the query's own guard
	 * and is handled there (module_db_fault()). */
	env_info_call_t c = { .env = store->env, .rc = MDB_SUCCESS };
	if (!store_guard_call(env_info_cb, &c)) {
		return 0;
	}
	if (c.rc != MDB_SUCCESS) {
		return 0;
	}
	unsigned n = 0;
	pthread_mutex_lock(&store->readers_lock);
	for (size_t i = 0; i < store->n_readers; i++) {
		store_rtxn_t *r = store->readers[i];
		int st = STORE_RTXN_HELD;
		if (!atomic_compare_exchange_strong(&r->state, &st, STORE_RTXN_TAKING)) {
			continue; /* free, or its owner is reading */
		}
		if (mdb_txn_id(r->txn) == c.info.me_last_txnid) {
			atomic_store(&r->state, STORE_RTXN_HELD); /* the newest: pins nothing */
		} else if (store_guard_call(txn_reset_cb, r->txn)) {
			atomic_store(&r->state, STORE_RTXN_FREE);
			n++;
		} else {
			atomic_store(&r->state, STORE_RTXN_HELD);
		}
	}
	pthread_mutex_unlock(&store->readers_lock);
	return n;
}

bool store_remap_wanted(store_t *store)
{
	return atomic_load_explicit(&store->remap_wanted, memory_order_relaxed);
}

int store_map_info(store_t *store, store_map_info_t *out)
{
	MDB_envinfo info;
	MDB_stat st;
	int rc = mdb_env_info(store->env, &info);
	if (rc == MDB_SUCCESS) {
		rc = mdb_env_stat(store->env, &st);
	}
	if (rc != MDB_SUCCESS) {
		return hg_err_from_mdb(rc);
	}
	out->used = (uint64_t)(info.me_last_pgno + 1) * st.ms_psize;
	out->map = info.me_mapsize;
	out->limit = store->map_limit;
	out->grows = atomic_load(&store->grows);
	out->remaps = atomic_load(&store->remaps);
	out->warn = out->used * 100 >= out->limit * STORE_MAP_WARN_PCT;
	return HG_EOK;
}

void store_map_committed(struct store *s)
{
	store_map_info_t m;
	if (store_map_info(s, &m) != HG_EOK) {
		return;
	}
	if (!s->warned && m.warn) {
		s->warned = true;
		hg_warn("%s: the database uses %llu of its %llu bytes limit (%llu%%): raise "
		        "HG_STORE_MAPSIZE_MAX before writes fail",
		        s->path, (unsigned long long)m.used, (unsigned long long)m.limit,
		        (unsigned long long)(m.used * 100 / m.limit));
	} else if (s->warned && m.used * 100 < m.limit * STORE_MAP_CALM_PCT) {
		s->warned = false;
		hg_notice("%s: the database uses %llu%% of its map limit again", s->path,
		          (unsigned long long)(m.used * 100 / m.limit));
	}
}
