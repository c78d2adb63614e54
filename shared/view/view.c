/*  SPDX-License-Identifier: GPL-3.0-or-later */
/*  Reading a view and a set in place: validation, sizes, id lookups. The
 *  query path opens a view per name and a set per snapshot (view_lookup.c
 *  caches both), so the checks are those that keep the reader in bounds
 *  and consistent; nothing is copied. Float fields are not checked: a NaN
 *  coordinate only yields an arbitrary (still in-bounds) distance order. */
#include <stdbool.h>
#include <string.h>

#include "errors.h"
#include "view.h"

size_t view_size(unsigned n_filt, unsigned n_rules, unsigned n_match, unsigned owner_len)
{
	return sizeof(hg_view_hdr_t) + (size_t)n_filt * sizeof(hg_view_filter_t) +
	       (size_t)n_rules * sizeof(hg_view_rule_t) +
	       (size_t)n_match * sizeof(hg_view_match_t) + owner_len;
}

size_t view_set_size(unsigned n_ep, unsigned n_prob, unsigned n_v4, unsigned n_v6,
                     unsigned strings_len)
{
	return sizeof(hg_set_hdr_t) + (size_t)n_ep * sizeof(hg_view_ep_t) +
	       (size_t)n_prob * sizeof(hg_view_prober_t) +
	       (size_t)n_ep * n_prob * sizeof(hg_view_cell_t) + sizeof(hg_set_derived_t) +
	       (size_t)n_prob * sizeof(uint64_t) + (size_t)n_v4 * 4 + (size_t)n_v6 * 16 +
	       strings_len;
}

/* A wire name must be well formed because the module hands it to libknot:
 * labels of 1..63 bytes, no compression, ending with the root exactly at len. */
static int view_check_dname(const uint8_t *s, unsigned len)
{
	unsigned pos = 0;
	while (pos < len) {
		uint8_t l = s[pos];
		if (l == 0) {
			return pos + 1 == len ? HG_EOK : HG_ECORRUPT;
		}
		if (l > 63) {
			return HG_ECORRUPT;
		}
		pos += 1u + l;
	}
	return HG_ECORRUPT;
}

static bool view_str_ok(const hg_set_hdr_t *h, unsigned off, unsigned len)
{
	return off + len <= h->strings_len;
}

static int view_check_eps(const view_set_t *s)
{
	const hg_set_hdr_t *h = s->hdr;
	for (unsigned i = 0; i < h->n_endpoints; i++) {
		const hg_view_ep_t *e = &s->ep[i];
		if (!view_str_ok(h, e->id_off, e->id_len) || e->n_v4 > HG_ADDR_MAX ||
		    e->n_v6 > HG_ADDR_MAX || (unsigned)e->first_v4 + e->n_v4 > h->n_v4 ||
		    (unsigned)e->first_v6 + e->n_v6 > h->n_v6 || e->pool >= h->n_pools ||
		    e->admin > HG_ADMIN_FORCE_UP) {
			return HG_ECORRUPT;
		}
		if (e->flags & HG_VEP_CNAME) {
			if (e->cname_len == 0 || !view_str_ok(h, e->cname_off, e->cname_len) ||
			    view_check_dname(s->strings + e->cname_off, e->cname_len) != HG_EOK) {
				return HG_ECORRUPT;
			}
		}
	}
	for (unsigned j = 0; j < h->n_probers; j++) {
		if (!view_str_ok(h, s->prober[j].id_off, s->prober[j].id_len)) {
			return HG_ECORRUPT;
		}
	}
	return HG_EOK;
}

/* The query path turns derived masks into endpoint and prober indexes:
 * no bit may name one the set does not have. */
static int view_check_derived(const view_set_t *s)
{
	const hg_set_hdr_t *h = s->hdr;
	const hg_set_derived_t *d = s->derived;
	uint64_t ep_mask = h->n_endpoints >= 64 ? UINT64_MAX : (1ull << h->n_endpoints) - 1;
	uint32_t pr_mask = h->n_probers >= 32 ? UINT32_MAX : (1u << h->n_probers) - 1;
	uint64_t any = d->down | d->unknown | d->drained | d->forced | d->fam_v4 | d->fam_v6;
	for (unsigned j = 0; j < h->n_probers; j++) {
		any |= s->fresh[j].v;
	}
	return (any & ~ep_mask) == 0 && (d->fresh_probers & ~pr_mask) == 0 ? HG_EOK : HG_ECORRUPT;
}

int view_set_open(const void *data, size_t len, view_set_t *out)
{
	if (data == NULL || out == NULL) {
		return HG_EINVAL;
	}
	memset(out, 0, sizeof(*out));
	if (len < sizeof(hg_set_hdr_t)) {
		return HG_ECORRUPT;
	}
	const hg_set_hdr_t *h = data;
	if (h->magic != HG_SET_MAGIC || h->layout != HG_SET_LAYOUT) {
		return HG_ESCHEMA;
	}
	if (h->total_len != len || h->n_endpoints > HG_NAME_EP_MAX ||
	    h->n_probers > HG_PROBER_MAX || h->n_pools == 0 || h->n_pools > HG_NAME_POOLS_MAX ||
	    h->n_v4 > HG_NAME_EP_MAX * HG_ADDR_MAX || h->n_v6 > HG_NAME_EP_MAX * HG_ADDR_MAX ||
	    view_set_size(h->n_endpoints, h->n_probers, h->n_v4, h->n_v6, h->strings_len) != len) {
		return HG_ECORRUPT;
	}
	view_set_t s = { .hdr = h };
	const uint8_t *p = (const uint8_t *)data + sizeof(*h);
	s.ep = (const hg_view_ep_t *)p;
	p += h->n_endpoints * sizeof(hg_view_ep_t);
	s.prober = (const hg_view_prober_t *)p;
	p += h->n_probers * sizeof(hg_view_prober_t);
	s.cell = (const hg_view_cell_t *)p;
	p += (size_t)h->n_endpoints * h->n_probers * sizeof(hg_view_cell_t);
	s.derived = (const hg_set_derived_t *)p;
	p += sizeof(hg_set_derived_t);
	s.fresh = (const hg_u64_t *)p;
	p += h->n_probers * sizeof(hg_u64_t);
	s.v4 = (const uint8_t(*)[4])p;
	p += (size_t)h->n_v4 * 4;
	s.v6 = (const uint8_t(*)[16])p;
	p += (size_t)h->n_v6 * 16;
	s.strings = p;
	int ret = view_check_eps(&s);
	if (ret == HG_EOK) {
		ret = view_check_derived(&s);
	}
	if (ret == HG_EOK) {
		*out = s;
	}
	return ret;
}

static int view_check_chain(const view_t *v)
{
	const hg_view_hdr_t *h = v->hdr;
	for (unsigned i = 0; i < h->n_filters; i++) {
		const hg_view_filter_t *f = &v->filter[i];
		if (f->type < HG_F_UP || f->type > HG_F_FIRST ||
		    (unsigned)f->first_rule + f->n_rules > h->n_rules) {
			return HG_ECORRUPT;
		}
	}
	uint64_t ep_mask = h->n_endpoints >= 64 ? UINT64_MAX : (1ull << h->n_endpoints) - 1;
	for (unsigned i = 0; i < h->n_rules; i++) {
		const hg_view_rule_t *r = &v->rule[i];
		bool bad_flags = (r->flags & ~(HG_VR_STRICT | HG_VR_FALLBACK_POOL)) != 0 ||
		                 ((r->flags & HG_VR_FALLBACK_POOL) && !(r->flags & HG_VR_STRICT));
		if ((r->targets & ~ep_mask) != 0 || bad_flags ||
		    (unsigned)r->first_match + r->n_match > h->n_matches) {
			return HG_ECORRUPT;
		}
	}
	for (unsigned i = 0; i < h->n_matches; i++) {
		const hg_view_match_t *m = &v->match[i];
		if (m->kind < HG_M_COUNTRY || m->kind > HG_M_PREFIX) {
			return HG_ECORRUPT;
		}
		if (m->kind == HG_M_PREFIX && !((m->family == 4 && m->prefix_len <= 32) ||
		                                (m->family == 6 && m->prefix_len <= 128))) {
			return HG_ECORRUPT;
		}
	}
	return HG_EOK;
}

int view_open(const void *data, size_t len, view_t *out)
{
	if (data == NULL || out == NULL) {
		return HG_EINVAL;
	}
	memset(out, 0, sizeof(*out));
	if (len < sizeof(hg_view_hdr_t)) {
		return HG_ECORRUPT;
	}
	const hg_view_hdr_t *h = data;
	if (h->magic != HG_VIEW_MAGIC || h->layout != HG_VIEW_LAYOUT) {
		return HG_ESCHEMA;
	}
	if (h->total_len != len || h->n_endpoints > HG_NAME_EP_MAX || h->n_filters > HG_CHAIN_MAX ||
	    h->n_rules > HG_RULES_MAX || h->n_matches > HG_MATCH_MAX ||
	    h->fallback > HG_FALLBACK_NONE ||
	    view_size(h->n_filters, h->n_rules, h->n_matches, h->owner_len) != len) {
		return HG_ECORRUPT;
	}
	view_t v = { .hdr = h };
	const uint8_t *p = (const uint8_t *)data + sizeof(*h);
	v.filter = (const hg_view_filter_t *)p;
	p += h->n_filters * sizeof(hg_view_filter_t);
	v.rule = (const hg_view_rule_t *)p;
	p += h->n_rules * sizeof(hg_view_rule_t);
	v.match = (const hg_view_match_t *)p;
	p += h->n_matches * sizeof(hg_view_match_t);
	v.owner = p;
	if (view_check_dname(v.owner, h->owner_len) != HG_EOK) {
		return HG_ECORRUPT;
	}
	int ret = view_check_chain(&v);
	if (ret == HG_EOK) {
		*out = v;
	}
	return ret;
}

int view_bind(view_t *view, const view_set_t *set)
{
	const hg_view_hdr_t *h = view->hdr;
	const hg_set_hdr_t *sh = set->hdr;
	if (h == NULL || sh == NULL || h->set_id != sh->set_id ||
	    h->n_endpoints != sh->n_endpoints ||
	    (h->fallback == HG_FALLBACK_POOL && h->fallback_pool >= sh->n_pools)) {
		return HG_ECORRUPT;
	}
	view->s = *set;
	return HG_EOK;
}

static bool view_id_eq(const uint8_t *strings, uint16_t off, uint8_t len, const char *id,
                       size_t id_len)
{
	return len == id_len && memcmp(strings + off, id, id_len) == 0;
}

long view_find_ep(const view_set_t *s, const char *id)
{
	size_t id_len = strlen(id);
	for (unsigned i = 0; i < s->hdr->n_endpoints; i++) {
		if (view_id_eq(s->strings, s->ep[i].id_off, s->ep[i].id_len, id, id_len)) {
			return (long)i;
		}
	}
	return -1;
}

long view_find_prober(const view_set_t *s, const char *id)
{
	size_t id_len = strlen(id);
	for (unsigned i = 0; i < s->hdr->n_probers; i++) {
		if (view_id_eq(s->strings, s->prober[i].id_off, s->prober[i].id_len, id, id_len)) {
			return (long)i;
		}
	}
	return -1;
}
