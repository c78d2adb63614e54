/*  SPDX-License-Identifier: GPL-3.0-or-later */
/*  Measurements and overrides: write the record, patch the affected views. */
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "policy_store.h"
#include "policy_store_int.h"
#include "text.h"
#include "view.h"

/* Owners are collected before any view is written: writing views while a
 * cursor walks epnames would be safe in LMDB, but a list keeps it obvious. */
static int ps_owners(store_wtxn_t *wtxn, const char *endpoint, uint8_t **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	MDB_cursor *cur = NULL;
	int rc = mdb_cursor_open(wtxn->txn, store_dbi(wtxn->store, STORE_EPNAMES), &cur);
	if (rc != MDB_SUCCESS) {
		return hg_err_from_mdb(rc);
	}
	int ret = HG_EOK;
	size_t cap = 0;
	MDB_val k = { strlen(endpoint), (void *)endpoint }, v;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_KEY); rc == MDB_SUCCESS;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT_DUP)) {
		if (v.mv_size == 0 || v.mv_size > HG_DNAME_MAX) {
			ret = HG_ECORRUPT;
			goto cleanup;
		}
		if (*n == cap) {
			cap = cap ? cap * 2 : 4;
			uint8_t *grown = realloc(*out, cap * (HG_DNAME_MAX + 1));
			if (grown == NULL) {
				ret = HG_ENOMEM;
				goto cleanup;
			}
			*out = grown;
		}
		/* Slot: length byte then the wire name. */
		uint8_t *slot = *out + *n * (HG_DNAME_MAX + 1);
		slot[0] = (uint8_t)v.mv_size;
		memcpy(slot + 1, v.mv_data, v.mv_size);
		(*n)++;
	}
	if (rc != MDB_NOTFOUND) {
		ret = hg_err_from_mdb(rc);
	}
cleanup:
	mdb_cursor_close(cur);
	if (ret != HG_EOK) {
		free(*out);
		*out = NULL;
		*n = 0;
	}
	return ret;
}

static int ps_patch_one(store_wtxn_t *wtxn, const uint8_t *owner, size_t olen,
                        ps_patch_fn fn, void *ctx)
{
	const void *val;
	size_t len;
	int ret = store_wget(wtxn, STORE_VIEWS, owner, olen, &val, &len);
	if (ret == HG_ENOENT) {
		return HG_ECORRUPT;    /* epnames names an owner that has no view */
	} else if (ret != HG_EOK) {
		return ret;
	}
	uint8_t *copy = malloc(len);
	if (copy == NULL) {
		return HG_ENOMEM;
	}
	memcpy(copy, val, len);
	ret = fn(copy, len, ctx);
	if (ret == HG_EOK) {
		store_put(wtxn, STORE_VIEWS, owner, olen, copy, len);
		ret = wtxn->err;
	}
	free(copy);
	return ret;
}

int ps_patch_owner_views(store_wtxn_t *wtxn, const char *endpoint, ps_patch_fn fn, void *ctx)
{
	uint8_t *owners = NULL;
	size_t n = 0;
	int ret = ps_owners(wtxn, endpoint, &owners, &n);
	for (size_t i = 0; i < n && ret == HG_EOK; i++) {
		const uint8_t *slot = owners + i * (HG_DNAME_MAX + 1);
		ret = ps_patch_one(wtxn, slot + 1, slot[0], fn, ctx);
	}
	free(owners);
	store_wtxn_fail(wtxn, ret);
	return ret;
}

static bool ps_exists(store_wtxn_t *wtxn, enum store_dbi db, const char *id, int *err)
{
	const void *val;
	size_t len;
	*err = store_wget(wtxn, db, id, strlen(id), &val, &len);
	return *err == HG_EOK;
}

typedef struct {
	const char *endpoint, *prober;
	const hg_rec_measure_t *m;
	uint8_t admin;
	uint64_t now;
} ps_patch_ctx_t;

static int ps_patch_measure(uint8_t *blob, size_t len, void *ctx)
{
	ps_patch_ctx_t *c = ctx;
	return view_patch_measure(blob, len, c->endpoint, c->prober, c->m, c->now);
}

static int ps_patch_admin(uint8_t *blob, size_t len, void *ctx)
{
	ps_patch_ctx_t *c = ctx;
	return view_patch_admin(blob, len, c->endpoint, c->admin, c->now);
}

int policy_store_measure(store_wtxn_t *wtxn, const char *endpoint, const char *prober,
                         const hg_rec_measure_t *measure)
{
	if (wtxn->err != HG_EOK) {
		return wtxn->err;
	}
	int ret;
	/* Unknown ids are refused without poisoning the txn: one stray record in
	 * a replicated batch must not lose the rest of the batch. */
	if (!ps_exists(wtxn, STORE_ENDPOINTS, endpoint, &ret) ||
	    !ps_exists(wtxn, STORE_PROBERS, prober, &ret)) {
		return ret;
	}
	uint8_t key[STORE_MEASURE_KEY_MAX];
	size_t klen = store_measure_key(key, sizeof(key), endpoint, prober);
	if (klen == 0) {
		return HG_EINVAL;
	}
	hg_rec_measure_t rec = *measure;
	rec.layout = HG_REC_LAYOUT;   /* the writer stamps the layout it wrote */
	store_put(wtxn, STORE_MEASUREMENTS, key, klen, &rec, sizeof(rec));
	ps_patch_ctx_t ctx = { .endpoint = endpoint, .prober = prober, .m = &rec,
	                       .now = store_now_ms() };
	ps_patch_owner_views(wtxn, endpoint, ps_patch_measure, &ctx);
	return wtxn->err;
}

int policy_store_override(store_wtxn_t *wtxn, const char *endpoint, uint8_t admin,
                          const char *reason)
{
	if (wtxn->err != HG_EOK) {
		return wtxn->err;
	}
	if (admin > HG_ADMIN_FORCE_UP) {
		return HG_EINVAL;
	}
	int ret;
	if (!ps_exists(wtxn, STORE_ENDPOINTS, endpoint, &ret)) {
		return ret;
	}
	uint64_t now = store_now_ms();
	if (admin == HG_ADMIN_NONE) {
		store_del(wtxn, STORE_OVERRIDES, endpoint, strlen(endpoint));
	} else {
		hg_rec_override_t r = { .layout = HG_REC_LAYOUT, .admin = admin, .set_ms = now };
		hg_fixed_set(r.reason, sizeof(r.reason), reason != NULL ? reason : "");
		store_put(wtxn, STORE_OVERRIDES, endpoint, strlen(endpoint), &r, sizeof(r));
	}
	ps_patch_ctx_t ctx = { .endpoint = endpoint, .admin = admin, .now = now };
	ps_patch_owner_views(wtxn, endpoint, ps_patch_admin, &ctx);
	return wtxn->err;
}

/* Re-derive every cell and the admin state of one view from the
 * measurements and overrides DBs. The policy part of a view (chain,
 * endpoints, probers) only changes with a load, which builds views whole. */
static int ps_refresh_view(uint8_t *blob, size_t len, void *ctx)
{
	store_wtxn_t *wtxn = ctx;
	view_t v;
	int ret = view_open(blob, len, &v);
	uint64_t now = store_now_ms();
	const hg_rec_measure_t none = { .layout = HG_REC_LAYOUT, .state = HG_HEALTH_UNKNOWN,
	                                .rtt_last_us = HG_RTT_NONE, .rtt_ewma_us = HG_RTT_NONE,
	                                .rtt_median_us = HG_RTT_NONE };
	for (unsigned i = 0; ret == HG_EOK && i < v.hdr->n_endpoints; i++) {
		char ep[HG_ID_SIZE];
		hg_fixed_get((const char *)v.strings + v.ep[i].id_off, v.ep[i].id_len, ep, sizeof(ep));
		for (unsigned j = 0; ret == HG_EOK && j < v.hdr->n_probers; j++) {
			char pr[HG_ID_SIZE];
			hg_fixed_get((const char *)v.strings + v.prober[j].id_off, v.prober[j].id_len,
			             pr, sizeof(pr));
			uint8_t key[STORE_MEASURE_KEY_MAX];
			size_t klen = store_measure_key(key, sizeof(key), ep, pr);
			const void *val;
			size_t vlen;
			const hg_rec_measure_t *m = &none;
			if (klen > 0 && store_wget(wtxn, STORE_MEASUREMENTS, key, klen, &val, &vlen) == HG_EOK &&
			    vlen == sizeof(hg_rec_measure_t) &&
			    ((const hg_rec_measure_t *)val)->layout == HG_REC_LAYOUT) {
				m = val;
			}
			ret = view_patch_measure(blob, len, ep, pr, m, now);
		}
		uint8_t admin = HG_ADMIN_NONE;
		const void *val;
		size_t vlen;
		if (ret == HG_EOK &&
		    store_wget(wtxn, STORE_OVERRIDES, ep, strlen(ep), &val, &vlen) == HG_EOK &&
		    vlen == sizeof(hg_rec_override_t)) {
			admin = ((const hg_rec_override_t *)val)->admin;
		}
		if (ret == HG_EOK) {
			ret = view_patch_admin(blob, len, ep, admin, now);
		}
	}
	return ret != HG_EOK ? ret : wtxn->err;
}

int policy_store_rebuild_view(store_wtxn_t *wtxn, const uint8_t *owner, size_t owner_len)
{
	if (wtxn->err != HG_EOK) {
		return wtxn->err;
	}
	const void *val;
	size_t len;
	int ret = store_wget(wtxn, STORE_VIEWS, owner, owner_len, &val, &len);
	if (ret != HG_EOK) {
		return ret;    /* HG_ENOENT: not a GSLB name of the loaded policy */
	}
	ret = ps_patch_one(wtxn, owner, owner_len, ps_refresh_view, wtxn);
	store_wtxn_fail(wtxn, ret);
	return ret;
}
