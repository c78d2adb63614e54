/*  SPDX-License-Identifier: GPL-3.0-or-later */
/*  Write transactions with a sticky error (as Knot's knot_lmdb.c): after the
 *  first failure every later call is a no-op and commit aborts. Write side
 *  only: the module never links this file. */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "errors.h"
#include "log.h"
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

void store_put(store_wtxn_t *wtxn, enum store_dbi db, const void *key, size_t klen, const void *val,
               size_t vlen)
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
		return HG_ENOENT; /* an answer, not a failure: not sticky */
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

/* Bytes the newest meta page's pages need, and the file's size. */
static int file_cover(MDB_env *env, int fd, off_t *need, off_t *size)
{
	MDB_envinfo info;
	MDB_stat st;
	struct stat fst;
	if (mdb_env_info(env, &info) != MDB_SUCCESS || mdb_env_stat(env, &st) != MDB_SUCCESS ||
	    fstat(fd, &fst) != 0) {
		return HG_EIO;
	}
	*need = (off_t)((info.me_last_pgno + 1) * st.ms_psize);
	*size = fst.st_size;
	return HG_EOK;
}

/* LMDB may leave the last pages of the file unwritten: pages allocated and
 * freed again in one txn go back to the free list without being written,
 * so the file can end before the last page the meta page records. Readers
 * refuse such a file as truncated (store_meta.h), so extend it over them
 * (a hole: those pages are free, no reader reads them). Under the writer
 * lock, so no other writer's growth of the file races the ftruncate(). */
static void store_cover_pages(store_t *store)
{
	MDB_env *env = store_env(store);
	int fd = -1;
	off_t need = 0, size = 0;
	if (mdb_env_get_fd(env, &fd) != MDB_SUCCESS ||
	    file_cover(env, fd, &need, &size) != HG_EOK || size >= need) {
		return; /* the common case: one fstat() */
	}
	MDB_txn *txn = NULL;
	if (mdb_txn_begin(env, NULL, 0, &txn) != MDB_SUCCESS) {
		return;
	}
	if (file_cover(env, fd, &need, &size) == HG_EOK && size < need &&
	    ftruncate(fd, need) != 0) {
		hg_warn("%s: cannot extend data.mdb to %lld bytes: %s (readers will see it as "
		        "truncated until the next write)",
		        store_path(store), (long long)need, strerror(errno));
	}
	mdb_txn_abort(txn);
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
	if (wtxn->err == HG_EOK) {
		store_cover_pages(wtxn->store);
		store_map_committed(wtxn->store);
	}
	return wtxn->err;
}

/* Double the map, up to the ceiling: HG_EMAPFULL (with the reason in
 * store_last_error()) when it is there already. */
static int store_grow(store_t *store)
{
	store_map_info_t m;
	int ret = store_map_info(store, &m);
	if (ret != HG_EOK) {
		return ret;
	}
	if (m.map >= m.limit) {
		return store_fail(HG_EMAPFULL,
		                  "%s: database map full at its limit of %llu bytes "
		                  "(%llu in use): raise HG_STORE_MAPSIZE_MAX",
		                  store_path(store), (unsigned long long)m.limit,
		                  (unsigned long long)m.used);
	}
	uint64_t next = m.map * 2 < m.limit ? m.map * 2 : m.limit;
	ret = store_remap_to(store, (size_t)next, true);
	if (ret != HG_EOK) {
		return store_fail(ret, "%s: cannot grow the map to %llu bytes: %s",
		                  store_path(store), (unsigned long long)next, hg_strerror(ret));
	}
	atomic_fetch_add(&store->grows, 1);
	hg_notice("%s: map grown to %llu bytes (limit %llu)", store_path(store),
	          (unsigned long long)next, (unsigned long long)m.limit);
	return HG_EOK;
}

int store_write(store_t *store, store_write_fn fn, void *ctx)
{
	for (;;) {
		store_wtxn_t w;
		int ret = store_wtxn_begin(store, &w);
		if (ret == HG_EOK) {
			ret = fn(&w, ctx);
			if (ret == HG_EOK) {
				ret = store_wtxn_commit(&w);
			} else {
				store_wtxn_abort(&w);
			}
		}
		if (ret == HG_EMAPRESIZED) {
			/* Another writer grew the file beyond this map: follow it. */
			ret = store_remap(store);
			if (ret == HG_EOK) {
				continue;
			}
			return ret;
		}
		if (ret != HG_EMAPFULL) {
			return ret;
		}
		ret = store_grow(store); /* then run the whole transaction again */
		if (ret != HG_EOK) {
			return ret;
		}
	}
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
	int ret = store_iter_walk(wtxn->txn, store_dbi(wtxn->store, db), STORE_ITER_PREFIX, prefix,
	                          plen, fn, ctx, true);
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
	int ret = store_iter_walk(wtxn->txn, store_dbi(wtxn->store, db), STORE_ITER_DUPS, key, klen,
	                          fn, ctx, true);
	if (ret < 0) {
		store_wtxn_fail(wtxn, ret);
	}
	return ret;
}
