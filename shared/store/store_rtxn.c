/*  SPDX-License-Identifier: GPL-3.0-or-later */
/*  Reusable read transactions (MDB_NOTLS: reset after use, renewed at the
 *  next begin, so one per thread can be cached) and small helpers. */
#include <sched.h>
#include <string.h>
#include <time.h>

#include "errors.h"
#include "store.h"
#include "store_guard.h"
#include "store_int.h"

/* Renew (or begin) the txn; MDB_MAP_RESIZED is passed up as is. */
static int rtxn_start(store_t *store, store_rtxn_t *rtxn)
{
	if (rtxn->txn != NULL) {
		return mdb_txn_renew(rtxn->txn);
	}
	int rc = mdb_txn_begin(store_env(store), NULL, MDB_RDONLY, &rtxn->txn);
	if (rc != MDB_SUCCESS) {
		rtxn->txn = NULL;
	}
	return rc;
}

/* Make the txn this thread's (BUSY); returns the state it was in (FREE or
 * HELD). Another thread resetting it (TAKING) takes microseconds, once a
 * second at most: wait for it. Sequentially consistent, against the remap
 * flag (store_map.c). */
static int rtxn_acquire(store_rtxn_t *rtxn)
{
	for (;;) {
		int was = atomic_load(&rtxn->state);
		if (was == STORE_RTXN_TAKING) {
			sched_yield();
			continue;
		}
		if (atomic_compare_exchange_strong(&rtxn->state, &was, STORE_RTXN_BUSY)) {
			return was;
		}
	}
}

static void rtxn_release(store_rtxn_t *rtxn, int state)
{
	atomic_store_explicit(&rtxn->state, state, memory_order_release);
}

/* Begin (or, with reuse, resume) a snapshot. */
static int rtxn_open(store_t *store, store_rtxn_t *rtxn, bool reuse)
{
	if (rtxn->active) {
		store_rtxn_end(rtxn);
	}
	if ((rtxn->txn != NULL || rtxn->registered) && rtxn->store != store) {
		store_rtxn_free(rtxn);
	}
	rtxn->store = store;
	if (!rtxn->registered && store_readers_add(store, rtxn) != HG_EOK) {
		return HG_ENOMEM;
	}
	for (unsigned attempt = 0;; attempt++) {
		int was = rtxn_acquire(rtxn);
		bool held = was == STORE_RTXN_HELD;
		if (atomic_load(&store->remap_pending)) {
			if (held) {
				mdb_txn_reset(rtxn->txn);
			}
			rtxn_release(rtxn, STORE_RTXN_FREE);
			return HG_EMAPRESIZED;
		}
		if (held) {
			/* No commit since: the held snapshot is the newest one. */
			MDB_envinfo info;
			if (reuse && mdb_env_info(store_env(store), &info) == MDB_SUCCESS &&
			    info.me_last_txnid == mdb_txn_id(rtxn->txn)) {
				rtxn->active = true;
				return HG_EOK;
			}
			mdb_txn_reset(rtxn->txn);
		}
		int rc = rtxn_start(store, rtxn);
		if (rc == MDB_SUCCESS) {
			rtxn->active = true;
			return HG_EOK;
		}
		rtxn_release(rtxn, STORE_RTXN_FREE);
		if (rc != MDB_MAP_RESIZED) {
			return hg_err_from_mdb(rc);
		}
		/* Another process grew the data beyond this map. Move it now if
		 * no other read of this process is under way, else leave it to
		 * store_remap() (the module's checker) and fail this read. */
		atomic_store_explicit(&store->remap_wanted, true, memory_order_relaxed);
		if (attempt > 0 || store_remap_to(store, 0, false) != HG_EOK) {
			return HG_EMAPRESIZED;
		}
		atomic_fetch_add(&store->remaps, 1);
	}
}

int store_rtxn_begin(store_t *store, store_rtxn_t *rtxn)
{
	return rtxn_open(store, rtxn, false);
}

int store_rtxn_resume(store_t *store, store_rtxn_t *rtxn)
{
	return rtxn_open(store, rtxn, true);
}

void store_rtxn_hold(store_rtxn_t *rtxn)
{
	if (rtxn->txn != NULL && rtxn->active) {
		rtxn->active = false;
		rtxn_release(rtxn, STORE_RTXN_HELD);
	}
}

void store_rtxn_end(store_rtxn_t *rtxn)
{
	if (rtxn->txn != NULL && rtxn->active) {
		mdb_txn_reset(rtxn->txn);
	}
	if (rtxn->active) {
		rtxn_release(rtxn, STORE_RTXN_FREE);
	}
	rtxn->active = false;
}

static void rtxn_abort_cb(void *txn)
{
	mdb_txn_abort(txn);
}

/* Txns whose abort faulted: LMDB frees a txn only at the end of its abort,
 * after it released the reader slot the fault was about, so their memory
 * cannot be given back. They stay referenced here (not leaked: at most one
 * per thread, since the fault also marks the store broken and nothing
 * begins a txn on it again); past the table they are lost. */
#define STORE_LOST_TXNS 64
static MDB_txn *store_lost_txns[STORE_LOST_TXNS];
static atomic_uint store_n_lost_txns;

/* Aborting releases the reader slot in lock.mdb's map: guarded, so a
 * truncated lock file (or a txn a fault interrupted) cannot take the
 * process down here either. An abort that faults means the environment's
 * files are gone under the map: the store is marked broken. */
void store_rtxn_free(store_rtxn_t *rtxn)
{
	if (rtxn->registered) {
		rtxn_acquire(rtxn); /* no other thread resets it under the abort */
	}
	if (rtxn->txn != NULL) {
		if (!store_guard_call(rtxn_abort_cb, rtxn->txn)) {
			unsigned i = atomic_fetch_add(&store_n_lost_txns, 1);
			if (i < STORE_LOST_TXNS) {
				store_lost_txns[i] = rtxn->txn;
			}
			if (rtxn->store != NULL) {
				store_mark_broken(rtxn->store);
			}
		}
		rtxn->txn = NULL;
	}
	rtxn->active = false;
	rtxn_release(rtxn, STORE_RTXN_FREE);
	if (rtxn->registered) {
		store_readers_remove(rtxn->store, rtxn);
	}
}

int store_get(store_rtxn_t *rtxn, enum store_dbi db, const void *key, size_t klen, const void **val,
              size_t *vlen)
{
	if (!rtxn->active) {
		return HG_EINVAL;
	}
	MDB_val k = { klen, (void *)key }, v;
	int rc = mdb_get(rtxn->txn, store_dbi(rtxn->store, db), &k, &v);
	if (rc != MDB_SUCCESS) {
		return hg_err_from_mdb(rc);
	}
	*val = v.mv_data;
	*vlen = v.mv_size;
	return HG_EOK;
}

uint64_t store_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}
