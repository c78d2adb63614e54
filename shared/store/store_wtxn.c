/*  SPDX-License-Identifier: GPL-3.0-or-later */
/*  Write transactions with a sticky error (as Knot's knot_lmdb.c): after the
 *  first failure every later call is a no-op and commit aborts. Write side
 *  only: the module never links this file. */
#include <string.h>

#include "errors.h"
#include "store.h"
#include "store_int.h"

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

void store_wtxn_upgrade(store_wtxn_t *wtxn)
{
	if (wtxn->err != HG_EOK || store_schema_found(wtxn->store) == HG_SCHEMA_VERSION) {
		return;
	}
	/* Schema 1's endpoint → names index; schema 2 has epsets instead. */
	MDB_dbi old;
	int rc = mdb_dbi_open(wtxn->txn, "epnames", 0, &old);
	if (rc == MDB_SUCCESS) {
		rc = mdb_drop(wtxn->txn, old, 1);
	} else if (rc == MDB_NOTFOUND) {
		rc = MDB_SUCCESS;
	}
	store_wtxn_fail(wtxn, hg_err_from_mdb(rc));
	uint32_t version = HG_SCHEMA_VERSION;
	store_put(wtxn, STORE_META, HG_META_SCHEMA_VERSION, strlen(HG_META_SCHEMA_VERSION),
	          &version, sizeof(version));
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

int store_wforeach(store_wtxn_t *wtxn, enum store_dbi db, const void *prefix, size_t plen,
                   store_visit_fn fn, void *ctx)
{
	if (wtxn->err != HG_EOK) {
		return wtxn->err;
	}
	int ret = store_iter_walk(wtxn->txn, store_dbi(wtxn->store, db), STORE_ITER_PREFIX, prefix, plen, fn,
	                    ctx, true);
	if (ret < 0) {
		store_wtxn_fail(wtxn, ret);
	}
	return ret;
}

int store_wforeach_dup(store_wtxn_t *wtxn, enum store_dbi db, const void *key, size_t klen,
                       store_visit_fn fn, void *ctx)
{
	if (wtxn->err != HG_EOK) {
		return wtxn->err;
	}
	if (klen == 0) {
		return HG_EINVAL;
	}
	int ret = store_iter_walk(wtxn->txn, store_dbi(wtxn->store, db), STORE_ITER_DUPS, key, klen, fn, ctx,
	                    true);
	if (ret < 0) {
		store_wtxn_fail(wtxn, ret);
	}
	return ret;
}
