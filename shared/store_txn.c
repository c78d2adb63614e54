/*  SPDX-License-Identifier: GPL-3.0-or-later */
/*  Transactions over the shared environment: sticky-error writes, reusable reads. */
#include <string.h>
#include <time.h>

#include "errors.h"
#include "store.h"

/* ---- write transactions ---- */

int store_wtxn_begin(store_t *store, store_wtxn_t *wtxn)
{
	memset(wtxn, 0, sizeof(*wtxn));
	wtxn->store = store;
	if (store_is_rdonly(store)) {
		wtxn->err = HG_EACCES;
		return wtxn->err;
	}
	int rc = mdb_txn_begin(store_env(store), NULL, 0, &wtxn->txn);
	if (rc != MDB_SUCCESS) {
		wtxn->txn = NULL;
		wtxn->err = hg_err_from_mdb(rc);
	}
	return wtxn->err;
}

void store_wtxn_fail(store_wtxn_t *wtxn, int err)
{
	if (wtxn->err == HG_EOK && err != HG_EOK) {
		wtxn->err = err;
	}
}

void store_put(store_wtxn_t *wtxn, enum store_dbi db, const void *key, size_t klen,
               const void *val, size_t vlen)
{
	if (wtxn->err != HG_EOK) {
		return;
	}
	MDB_val k = { klen, (void *)key }, v = { vlen, (void *)val };
	int rc = mdb_put(wtxn->txn, store_dbi(wtxn->store, db), &k, &v, 0);
	store_wtxn_fail(wtxn, hg_err_from_mdb(rc));
}

void store_del(store_wtxn_t *wtxn, enum store_dbi db, const void *key, size_t klen)
{
	if (wtxn->err != HG_EOK) {
		return;
	}
	MDB_val k = { klen, (void *)key };
	int rc = mdb_del(wtxn->txn, store_dbi(wtxn->store, db), &k, NULL);
	if (rc != MDB_NOTFOUND) {
		store_wtxn_fail(wtxn, hg_err_from_mdb(rc));
	}
}

void store_drop_all(store_wtxn_t *wtxn, enum store_dbi db)
{
	if (wtxn->err != HG_EOK) {
		return;
	}
	/* del=0 empties the DB but keeps its handle and flags (DUPSORT). */
	int rc = mdb_drop(wtxn->txn, store_dbi(wtxn->store, db), 0);
	store_wtxn_fail(wtxn, hg_err_from_mdb(rc));
}

int store_wget(store_wtxn_t *wtxn, enum store_dbi db, const void *key, size_t klen,
               const void **val, size_t *vlen)
{
	if (wtxn->err != HG_EOK) {
		return wtxn->err;
	}
	MDB_val k = { klen, (void *)key }, v;
	int rc = mdb_get(wtxn->txn, store_dbi(wtxn->store, db), &k, &v);
	if (rc == MDB_NOTFOUND) {
		return HG_ENOENT;   /* an answer, not a failure: not sticky */
	}
	if (rc != MDB_SUCCESS) {
		store_wtxn_fail(wtxn, hg_err_from_mdb(rc));
		return wtxn->err;
	}
	*val = v.mv_data;
	*vlen = v.mv_size;
	return HG_EOK;
}

int store_wtxn_commit(store_wtxn_t *wtxn)
{
	if (wtxn->txn == NULL) {
		return wtxn->err != HG_EOK ? wtxn->err : HG_EINVAL;
	}
	if (wtxn->err != HG_EOK) {
		store_wtxn_abort(wtxn);
		return wtxn->err;
	}
	int rc = mdb_txn_commit(wtxn->txn);
	wtxn->txn = NULL;
	wtxn->err = hg_err_from_mdb(rc);
	return wtxn->err;
}

void store_wtxn_abort(store_wtxn_t *wtxn)
{
	if (wtxn->txn != NULL) {
		mdb_txn_abort(wtxn->txn);
		wtxn->txn = NULL;
	}
}

/* ---- read transactions ---- */

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

void store_rtxn_free(store_rtxn_t *rtxn)
{
	if (rtxn->txn != NULL) {
		mdb_txn_abort(rtxn->txn);
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

/* ---- helpers ---- */

uint64_t store_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

size_t store_measure_key(uint8_t *buf, size_t size, const char *endpoint, const char *prober)
{
	size_t elen = strlen(endpoint), plen = strlen(prober);
	if (elen + 1 + plen > size) {
		return 0;
	}
	memcpy(buf, endpoint, elen);
	buf[elen] = '\0';
	memcpy(buf + elen + 1, prober, plen);
	return elen + 1 + plen;
}
