/*  SPDX-License-Identifier: GPL-3.0-or-later */
/*  Reusable read transactions (MDB_NOTLS: reset after use, renewed at the
 *  next begin, so one per thread can be cached) and small helpers. */
#include <string.h>
#include <time.h>

#include "errors.h"
#include "store.h"
#include "store_guard.h"

int store_rtxn_begin(store_t *store, store_rtxn_t *rtxn)
{
	if (rtxn->active) {
		store_rtxn_end(rtxn);
	}
	if (rtxn->txn != NULL && rtxn->store != store) {
		store_rtxn_free(rtxn);
	}
	rtxn->store = store;
	int rc;
	if (rtxn->txn != NULL) {
		rc = mdb_txn_renew(rtxn->txn);
	} else {
		rc = mdb_txn_begin(store_env(store), NULL, MDB_RDONLY, &rtxn->txn);
		if (rc != MDB_SUCCESS) {
			rtxn->txn = NULL;
		}
	}
	if (rc != MDB_SUCCESS) {
		return hg_err_from_mdb(rc);
	}
	rtxn->active = true;
	return HG_EOK;
}

void store_rtxn_end(store_rtxn_t *rtxn)
{
	if (rtxn->txn != NULL && rtxn->active) {
		mdb_txn_reset(rtxn->txn);
	}
	rtxn->active = false;
}

static void rtxn_abort_cb(void *txn)
{
	mdb_txn_abort(txn);
}

/* Aborting releases the reader slot in lock.mdb's map: guarded, so a
 * truncated lock file (or a txn a fault interrupted) cannot take the
 * process down here either. */
void store_rtxn_free(store_rtxn_t *rtxn)
{
	if (rtxn->txn != NULL) {
		store_guard_call(rtxn_abort_cb, rtxn->txn);
		rtxn->txn = NULL;
	}
	rtxn->active = false;
}

int store_get(store_rtxn_t *rtxn, enum store_dbi db, const void *key, size_t klen,
              const void **val, size_t *vlen)
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
