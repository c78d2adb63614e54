/*  SPDX-License-Identifier: GPL-3.0-or-later */
/*  Patching the views of every name that uses an endpoint (epnames index),
 *  or of every name. */
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "writer_int.h"

/* Owners of one endpoint, collected before any view is written: writing
 * views while a cursor walks epnames would be safe in LMDB, but a list
 * keeps it obvious. Each slot is a length byte then the wire name. */
typedef struct {
	uint8_t *slots;
	size_t n, cap;
} owner_list_t;

#define OWNER_SLOT (HG_DNAME_MAX + 1)

static int owner_add(owner_list_t *l, const void *val, size_t vlen)
{
	if (vlen == 0 || vlen > HG_DNAME_MAX) {
		return HG_ECORRUPT;
	}
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 4;
		uint8_t *grown = realloc(l->slots, cap * OWNER_SLOT);
		if (grown == NULL) {
			return HG_ENOMEM;
		}
		l->slots = grown;
		l->cap = cap;
	}
	uint8_t *slot = l->slots + l->n * OWNER_SLOT;
	slot[0] = (uint8_t)vlen;
	memcpy(slot + 1, val, vlen);
	l->n++;
	return HG_EOK;
}

/* epnames values are owners. */
static int collect_owner(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
	(void)key;
	(void)klen;
	return owner_add(ctx, val, vlen);
}

/* views keys are owners. */
static int collect_view_key(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
	(void)val;
	(void)vlen;
	return owner_add(ctx, key, klen);
}

static int patch_one(store_wtxn_t *wtxn, const uint8_t *owner, size_t olen, writer_patch_fn fn,
                     void *ctx)
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
	} else if (ret == WRITER_PATCH_UNCHANGED) {
		ret = HG_EOK;
	}
	free(copy);
	return ret;
}

static int patch_owners(store_wtxn_t *wtxn, owner_list_t owners, int ret, writer_patch_fn fn,
                        void *ctx)
{
	for (size_t i = 0; i < owners.n && ret == HG_EOK; i++) {
		const uint8_t *slot = owners.slots + i * OWNER_SLOT;
		ret = patch_one(wtxn, slot + 1, slot[0], fn, ctx);
	}
	free(owners.slots);
	store_wtxn_fail(wtxn, ret);
	return ret;
}

int writer_patch_views(store_wtxn_t *wtxn, const char *endpoint, writer_patch_fn fn, void *ctx)
{
	owner_list_t owners = { 0 };
	int ret = store_wforeach_dup(wtxn, STORE_EPNAMES, endpoint, strlen(endpoint),
	                             collect_owner, &owners);
	return patch_owners(wtxn, owners, ret, fn, ctx);
}

int writer_patch_all_views(store_wtxn_t *wtxn, writer_patch_fn fn, void *ctx)
{
	owner_list_t owners = { 0 };
	int ret = store_wforeach(wtxn, STORE_VIEWS, NULL, 0, collect_view_key, &owners);
	return patch_owners(wtxn, owners, ret, fn, ctx);
}
