/*  SPDX-License-Identifier: GPL-3.0-or-later */
/*  Measurements and overrides: write the record, patch the sets that hold
 *  the endpoint. */
#include <string.h>

#include "errors.h"
#include "text.h"
#include "view_build.h"
#include "writer.h"
#include "writer_int.h"

static bool exists(store_wtxn_t *wtxn, enum store_dbi db, const char *id, int *err)
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
} patch_ctx_t;

static int patch_measure(uint8_t *blob, size_t len, void *ctx)
{
	patch_ctx_t *c = ctx;
	return view_set_patch_measure(blob, len, c->endpoint, c->prober, c->m, c->now);
}

static int patch_admin(uint8_t *blob, size_t len, void *ctx)
{
	patch_ctx_t *c = ctx;
	return view_set_patch_admin(blob, len, c->endpoint, c->admin, c->now);
}

int writer_apply_measure(store_wtxn_t *wtxn, const char *endpoint, const char *prober,
                         const hg_rec_measure_t *measure)
{
	if (wtxn->err != HG_EOK) {
		return wtxn->err;
	}
	int ret;
	if (!exists(wtxn, STORE_ENDPOINTS, endpoint, &ret) ||
	    !exists(wtxn, STORE_PROBERS, prober, &ret)) {
		return ret;
	}
	uint8_t key[STORE_MEASURE_KEY_MAX];
	size_t klen = store_measure_key(key, sizeof(key), endpoint, prober);
	if (klen == 0) {
		return HG_EINVAL;
	}
	hg_rec_measure_t rec = *measure;
	rec.layout = HG_REC_LAYOUT; /* the writer stamps the layout it wrote */
	store_put(wtxn, STORE_MEASUREMENTS, key, klen, &rec, sizeof(rec));
	patch_ctx_t ctx = {
		.endpoint = endpoint, .prober = prober, .m = &rec, .now = store_now_ms()
	};
	writer_patch_sets(wtxn, endpoint, patch_measure, &ctx);
	return wtxn->err;
}

int writer_forget_measure(store_wtxn_t *wtxn, const char *endpoint, const char *prober)
{
	if (wtxn->err != HG_EOK) {
		return wtxn->err;
	}
	int ret;
	if (!exists(wtxn, STORE_ENDPOINTS, endpoint, &ret) ||
	    !exists(wtxn, STORE_PROBERS, prober, &ret)) {
		return ret;
	}
	uint8_t key[STORE_MEASURE_KEY_MAX];
	size_t klen = store_measure_key(key, sizeof(key), endpoint, prober);
	if (klen == 0) {
		return HG_EINVAL;
	}
	store_del(wtxn, STORE_MEASUREMENTS, key, klen);
	patch_ctx_t ctx = {
		.endpoint = endpoint, .prober = prober, .m = NULL, .now = store_now_ms()
	};
	writer_patch_sets(wtxn, endpoint, patch_measure, &ctx);
	return wtxn->err;
}

int writer_apply_override(store_wtxn_t *wtxn, const char *endpoint, uint8_t admin,
                          const char *reason)
{
	if (wtxn->err != HG_EOK) {
		return wtxn->err;
	}
	if (admin > HG_ADMIN_FORCE_UP) {
		return HG_EINVAL;
	}
	int ret;
	if (!exists(wtxn, STORE_ENDPOINTS, endpoint, &ret)) {
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
	patch_ctx_t ctx = { .endpoint = endpoint, .admin = admin, .now = now };
	writer_patch_sets(wtxn, endpoint, patch_admin, &ctx);
	return wtxn->err;
}
