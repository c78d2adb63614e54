/*  SPDX-License-Identifier: GPL-3.0-or-later */
/*  Patching the sets that hold an endpoint (epsets index), or every set. */
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "view_lookup.h"
#include "writer_int.h"

/* Set ids, collected before any set is written: writing sets while a
 * cursor walks epsets would be safe in LMDB, but a list keeps it obvious. */
typedef struct {
	uint32_t *ids;
	size_t n, cap;
} id_list_t;

static int id_push(id_list_t *l, uint32_t id)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 8;
		uint32_t *grown = realloc(l->ids, cap * sizeof(*grown));
		if (grown == NULL) {
			return HG_ENOMEM;
		}
		l->ids = grown;
		l->cap = cap;
	}
	l->ids[l->n++] = id;
	return HG_EOK;
}

static uint32_t id_of_key(const uint8_t *k)
{
	return (uint32_t)k[0] << 24 | (uint32_t)k[1] << 16 | (uint32_t)k[2] << 8 | k[3];
}

static int collect_epset(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
	(void)key;
	(void)klen;
	return vlen == 4 ? id_push(ctx, id_of_key(val)) : HG_ECORRUPT;
}

static int collect_set(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
	(void)val;
	(void)vlen;
	return klen == 4 ? id_push(ctx, id_of_key(key)) : HG_ECORRUPT;
}

static int patch_one(store_wtxn_t *wtxn, uint32_t id, writer_patch_fn fn, void *ctx)
{
	uint8_t key[4];
	view_set_key(id, key);
	const void *val;
	size_t len;
	int ret = store_wget(wtxn, STORE_SETS, key, sizeof(key), &val, &len);
	if (ret == HG_ENOENT) {
		return HG_ECORRUPT; /* epsets names a set that does not exist */
	} else if (ret != HG_EOK) {
		return ret;
	}
	/* A value read in a write txn may move when the txn writes: copy it. */
	uint8_t *copy = malloc(len);
	if (copy == NULL) {
		return HG_ENOMEM;
	}
	memcpy(copy, val, len);
	ret = fn(copy, len, ctx);
	if (ret == HG_EOK) {
		store_put(wtxn, STORE_SETS, key, sizeof(key), copy, len);
		ret = wtxn->err;
	} else if (ret == WRITER_PATCH_UNCHANGED) {
		ret = HG_EOK;
	}
	free(copy);
	return ret;
}

static int patch_list(store_wtxn_t *wtxn, id_list_t *ids, int ret, writer_patch_fn fn, void *ctx)
{
	for (size_t i = 0; i < ids->n && ret == HG_EOK; i++) {
		ret = patch_one(wtxn, ids->ids[i], fn, ctx);
	}
	free(ids->ids);
	store_wtxn_fail(wtxn, ret);
	return ret;
}

int writer_patch_sets(store_wtxn_t *wtxn, const char *endpoint, writer_patch_fn fn, void *ctx)
{
	id_list_t ids = { 0 };
	int ret = store_wforeach_dup(wtxn, STORE_EPSETS, endpoint, strlen(endpoint), collect_epset,
	                             &ids);
	return patch_list(wtxn, &ids, ret, fn, ctx);
}

int writer_patch_all_sets(store_wtxn_t *wtxn, writer_patch_fn fn, void *ctx)
{
	id_list_t ids = { 0 };
	int ret = store_wforeach(wtxn, STORE_SETS, NULL, 0, collect_set, &ids);
	return patch_list(wtxn, &ids, ret, fn, ctx);
}
