/*  SPDX-License-Identifier: GPL-3.0-or-later */
/* Id lookups and duplicate checks by sorting: O(n log n) per section and
 * O(log n) per lookup, where comparing each item with every earlier one made
 * a 100k-name policy take a minute. Sorting, not hashing: no input can make
 * it slow. */

#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "policy_ctx.h"

struct policy_index {
	uint32_t *probers, *pools, *endpoints; /*!< model indexes sorted by (id, index) */
	size_t n_probers, n_pools, n_endpoints;
};

typedef struct {
	const char *id;
	uint32_t index;
} id_ref_t;

static int id_ref_cmp(const void *a, const void *b)
{
	const id_ref_t *x = a, *y = b;
	int d = strcmp(x->id, y->id);
	return d != 0 ? d : (x->index > y->index) - (x->index < y->index);
}

/* One section: \a n items of \a stride bytes at \a base, each starting with
 * its id; \a pos_off is the offset of its policy_pos_t. Items whose id did not
 * parse ("") are left out. Reports every repeated id at id_pos[i] (the id's
 * value node) and returns the sorted order (*n_out entries), or NULL with
 * *n_out 0 when empty or out of memory. */
static uint32_t *sort_section(pctx_t *c, const void *base, size_t stride, size_t pos_off, size_t n,
                              const policy_pos_t *id_pos, const char *what, size_t *n_out)
{
	id_ref_t *refs = n > 0 ? malloc(n * sizeof(*refs)) : NULL;
	uint32_t *order = n > 0 ? malloc(n * sizeof(*order)) : NULL;
	size_t m = 0;
	*n_out = 0;
	if (n > 0 && (refs == NULL || order == NULL)) {
		c->nomem = true;
		free(refs);
		free(order);
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		const char *id = (const char *)base + i * stride;
		if (id[0] != '\0') {
			refs[m++] = (id_ref_t){ id, (uint32_t)i };
		}
	}
	if (m > 1) {
		qsort(refs, m, sizeof(*refs), id_ref_cmp);
	}
	size_t first = 0; /* start of the run of equal ids */
	for (size_t i = 0; i < m; i++) {
		order[i] = refs[i].index;
		if (strcmp(refs[first].id, refs[i].id) != 0) {
			first = i;
		}
		if (first < i && id_pos != NULL && !pctx_stopped(c)) {
			const policy_pos_t *fp =
			        (const policy_pos_t *)((const char *)base +
			                               refs[first].index * stride + pos_off);
			pctx_err_at(c, id_pos[refs[i].index],
			            "duplicate %s id '%s' (first at line %u)", what, refs[i].id,
			            fp->line);
		}
	}
	free(refs);
	*n_out = m;
	return order;
}

static bool index_get(pctx_t *c)
{
	if (c->pol->index == NULL) {
		c->pol->index = calloc(1, sizeof(*c->pol->index));
		if (c->pol->index == NULL) {
			c->nomem = true;
			return false;
		}
	}
	return true;
}

void pindex_probers(pctx_t *c)
{
	const policy_t *pol = c->pol;
	if (!index_get(c)) {
		return;
	}
	struct policy_index *x = pol->index;
	free(x->probers);
	x->probers =
	        sort_section(c, pol->probers, sizeof(*pol->probers), offsetof(policy_prober_t, pos),
	                     pol->n_probers, c->prober_id_pos, "prober", &x->n_probers);
}

void pindex_pools(pctx_t *c)
{
	const policy_t *pol = c->pol;
	if (!index_get(c)) {
		return;
	}
	struct policy_index *x = pol->index;
	free(x->pools);
	free(x->endpoints);
	x->pools = sort_section(c, pol->pools, sizeof(*pol->pools), offsetof(policy_pool_t, pos),
	                        pol->n_pools, c->pool_id_pos, "pool", &x->n_pools);
	x->endpoints = sort_section(c, pol->endpoints, sizeof(*pol->endpoints),
	                            offsetof(policy_endpoint_t, pos), pol->n_endpoints,
	                            c->endpoint_id_pos, "endpoint", &x->n_endpoints);
}

typedef struct {
	const policy_name_t *name;
	uint32_t index;
} name_ref_t;

static int name_ref_cmp(const void *a, const void *b)
{
	const name_ref_t *x = a, *y = b;
	const policy_name_t *p = x->name, *q = y->name;
	if (p->owner_len != q->owner_len) {
		return p->owner_len < q->owner_len ? -1 : 1;
	}
	int d = memcmp(p->owner, q->owner, p->owner_len);
	return d != 0 ? d : (x->index > y->index) - (x->index < y->index);
}

void pindex_name_dups(pctx_t *c)
{
	const policy_t *pol = c->pol;
	size_t n = pol->n_names, m = 0;
	if (n < 2) {
		return;
	}
	name_ref_t *refs = malloc(n * sizeof(*refs));
	if (refs == NULL) {
		c->nomem = true;
		return;
	}
	for (size_t i = 0; i < n; i++) {
		if (pol->names[i].owner_len > 0) {
			refs[m++] = (name_ref_t){ &pol->names[i], (uint32_t)i };
		}
	}
	qsort(refs, m, sizeof(*refs), name_ref_cmp);
	size_t first = 0;
	for (size_t i = 1; i < m && !pctx_stopped(c); i++) {
		const policy_name_t *a = refs[first].name, *b = refs[i].name;
		if (a->owner_len != b->owner_len || memcmp(a->owner, b->owner, a->owner_len) != 0) {
			first = i;
			continue;
		}
		pctx_err_at(c, c->name_pos[refs[i].index], "duplicate name '%s' (first at line %u)",
		            b->text, a->pos.line);
	}
	free(refs);
}

/* First entry of \a order (sorted by id) whose id is \a id, or -1. */
static long find_sorted(const uint32_t *order, size_t n, const void *base, size_t stride,
                        const char *id)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (strcmp((const char *)base + order[mid] * stride, id) < 0) {
			lo = mid + 1;
		} else {
			hi = mid;
		}
	}
	if (lo < n && strcmp((const char *)base + order[lo] * stride, id) == 0) {
		return (long)order[lo];
	}
	return -1;
}

/* Without an index (a model built by hand) the lookups scan. */
static long find_linear(const void *base, size_t stride, size_t n, const char *id)
{
	for (size_t i = 0; i < n; i++) {
		if (strcmp((const char *)base + i * stride, id) == 0) {
			return (long)i;
		}
	}
	return -1;
}

long policy_find_endpoint(const policy_t *p, const char *id)
{
	if (p == NULL || id == NULL) {
		return -1;
	}
	if (p->index == NULL || p->index->endpoints == NULL) {
		return find_linear(p->endpoints, sizeof(*p->endpoints), p->n_endpoints, id);
	}
	return find_sorted(p->index->endpoints, p->index->n_endpoints, p->endpoints,
	                   sizeof(*p->endpoints), id);
}

long policy_find_pool(const policy_t *p, const char *id)
{
	if (p == NULL || id == NULL) {
		return -1;
	}
	if (p->index == NULL || p->index->pools == NULL) {
		return find_linear(p->pools, sizeof(*p->pools), p->n_pools, id);
	}
	return find_sorted(p->index->pools, p->index->n_pools, p->pools, sizeof(*p->pools), id);
}

long policy_find_prober(const policy_t *p, const char *id)
{
	if (p == NULL || id == NULL) {
		return -1;
	}
	if (p->index == NULL || p->index->probers == NULL) {
		return find_linear(p->probers, sizeof(*p->probers), p->n_probers, id);
	}
	return find_sorted(p->index->probers, p->index->n_probers, p->probers, sizeof(*p->probers),
	                   id);
}

void pindex_free(struct policy_index *x)
{
	if (x != NULL) {
		free(x->probers);
		free(x->pools);
		free(x->endpoints);
		free(x);
	}
}
