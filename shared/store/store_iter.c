/*  SPDX-License-Identifier: GPL-3.0-or-later */
/*  Iteration over a named DB (all keys, a key prefix, the values of one
 *  DUPSORT key), entry counts and the measurements key split. No cursor
 *  exists outside store*.c: every caller gets the same end-of-DB and error
 *  handling from these. */
#include <string.h>

#include "errors.h"
#include "store.h"
#include "store_int.h"

int store_iter_walk(MDB_txn *txn, MDB_dbi dbi, enum store_iter_mode mode, const void *key,
                    size_t klen, store_visit_fn fn, void *ctx, bool del)
{
	MDB_cursor *cur = NULL;
	int rc = mdb_cursor_open(txn, dbi, &cur);
	if (rc != MDB_SUCCESS) {
		return hg_err_from_mdb(rc);
	}
	MDB_val k = { klen, (void *)key }, v;
	MDB_cursor_op first = klen == 0                 ? MDB_FIRST
	                      : mode == STORE_ITER_DUPS ? MDB_SET_KEY
	                                                : MDB_SET_RANGE;
	MDB_cursor_op next = mode == STORE_ITER_DUPS ? MDB_NEXT_DUP : MDB_NEXT;
	int ret = HG_EOK;
	for (rc = mdb_cursor_get(cur, &k, &v, first); rc == MDB_SUCCESS;
	     rc = mdb_cursor_get(cur, &k, &v, next)) {
		if (mode == STORE_ITER_PREFIX && klen > 0 &&
		    (k.mv_size < klen || memcmp(k.mv_data, key, klen) != 0)) {
			break; /* keys are sorted: the prefix range has ended */
		}
		ret = fn(ctx, k.mv_data, k.mv_size, v.mv_data, v.mv_size);
		if (del && ret == STORE_ITER_DELETE) {
			ret = HG_EOK;
			if ((rc = mdb_cursor_del(cur, 0)) != MDB_SUCCESS) {
				break;
			}
		} else if (ret != HG_EOK) {
			break;
		}
	}
	mdb_cursor_close(cur);
	if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND) {
		return hg_err_from_mdb(rc);
	}
	return ret;
}

int store_foreach(store_rtxn_t *rtxn, enum store_dbi db, const void *prefix, size_t plen,
                  store_visit_fn fn, void *ctx)
{
	if (!rtxn->active) {
		return HG_EINVAL;
	}
	return store_iter_walk(rtxn->txn, store_dbi(rtxn->store, db), STORE_ITER_PREFIX, prefix,
	                       plen, fn, ctx, false);
}

int store_foreach_dup(store_rtxn_t *rtxn, enum store_dbi db, const void *key, size_t klen,
                      store_visit_fn fn, void *ctx)
{
	if (!rtxn->active || klen == 0) {
		return HG_EINVAL;
	}
	return store_iter_walk(rtxn->txn, store_dbi(rtxn->store, db), STORE_ITER_DUPS, key, klen,
	                       fn, ctx, false);
}

int store_count(store_rtxn_t *rtxn, enum store_dbi db, size_t *n)
{
	if (!rtxn->active) {
		return HG_EINVAL;
	}
	MDB_stat st;
	int rc = mdb_stat(rtxn->txn, store_dbi(rtxn->store, db), &st);
	if (rc != MDB_SUCCESS) {
		return hg_err_from_mdb(rc);
	}
	*n = st.ms_entries;
	return HG_EOK;
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

int store_measure_key_split(const void *key, size_t klen, char endpoint[HG_ID_SIZE],
                            char prober[HG_ID_SIZE])
{
	const char *k = key;
	const char *sep = klen > 0 ? memchr(k, '\0', klen) : NULL;
	if (sep == NULL) {
		return HG_ECORRUPT;
	}
	size_t elen = (size_t)(sep - k), plen = klen - elen - 1;
	if (elen == 0 || plen == 0 || elen > HG_ID_MAX || plen > HG_ID_MAX ||
	    memchr(sep + 1, '\0', plen) != NULL) {
		return HG_ECORRUPT;
	}
	memcpy(endpoint, k, elen);
	endpoint[elen] = '\0';
	memcpy(prober, sep + 1, plen);
	prober[plen] = '\0';
	return HG_EOK;
}
