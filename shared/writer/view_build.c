/*  SPDX-License-Identifier: GPL-3.0-or-later */
/*  Encoding endpoint sets and views from the policy model plus measurements
 *  and overrides. Runs on the write side (ctl load, syncd), so clarity over
 *  speed; each set is built once per load, each view once per name. */
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "geo.h"
#include "view_build.h"

/* The endpoints of a list of pools, in order: a set's, and so its names'. */
typedef struct {
	size_t n_ep, n_v4, n_v6, strings;
	size_t ep_index[HG_NAME_EP_MAX]; /* set endpoint → policy endpoint */
} vb_eps_t;

static int vb_endpoints(const policy_t *p, const size_t *pools, size_t n_pools, vb_eps_t *c)
{
	memset(c, 0, sizeof(*c));
	if (n_pools == 0 || n_pools > HG_NAME_POOLS_MAX || p->n_probers > HG_PROBER_MAX) {
		return n_pools == 0 ? HG_EINVAL : HG_ERANGE;
	}
	for (size_t i = 0; i < n_pools; i++) {
		if (pools[i] >= p->n_pools) {
			return HG_EINVAL;
		}
		const policy_pool_t *pool = &p->pools[pools[i]];
		for (size_t k = 0; k < pool->n_endpoints; k++) {
			size_t e = pool->first_endpoint + k;
			if (e >= p->n_endpoints) {
				return HG_EINVAL;
			}
			if (c->n_ep == HG_NAME_EP_MAX) {
				return HG_ERANGE;
			}
			const policy_endpoint_t *ep = &p->endpoints[e];
			c->ep_index[c->n_ep++] = e;
			c->n_v4 += ep->n_v4;
			c->n_v6 += ep->n_v6;
			c->strings += strnlen(ep->id, HG_ID_SIZE) + ep->cname_len;
		}
	}
	for (size_t i = 0; i < p->n_probers; i++) {
		c->strings += strnlen(p->probers[i].id, HG_ID_SIZE);
	}
	return c->strings > UINT16_MAX ? HG_ERANGE : HG_EOK;
}

/* Cursor over the sections of the set being written. */
typedef struct {
	hg_set_hdr_t *hdr;
	hg_view_ep_t *ep;
	hg_view_prober_t *prober;
	hg_view_cell_t *cell;
	uint8_t (*v4)[4];
	uint8_t (*v6)[16];
	uint8_t *strings;
	uint16_t str_pos;
} vb_out_t;

static uint16_t vb_put_str(vb_out_t *o, const void *s, size_t len)
{
	uint16_t off = o->str_pos;
	memcpy(o->strings + off, s, len);
	o->str_pos = (uint16_t)(off + len);
	return off;
}

static void vb_put_probers(const policy_t *p, vb_out_t *o)
{
	for (size_t j = 0; j < p->n_probers; j++) {
		const policy_prober_t *src = &p->probers[j];
		hg_view_prober_t *dst = &o->prober[j];
		float v[3];
		geo_unit_vector(src->lat, src->lon, v);
		dst->x = v[0];
		dst->y = v[1];
		dst->z = v[2];
		dst->lat = (float)src->lat;
		dst->lon = (float)src->lon;
		size_t id_len = strnlen(src->id, HG_ID_SIZE);
		dst->id_len = (uint8_t)id_len;
		dst->id_off = vb_put_str(o, src->id, id_len);
	}
}

static void vb_put_endpoints(const policy_t *p, const view_set_spec_t *spec, const vb_eps_t *c,
                             const view_inputs_t *in, vb_out_t *o)
{
	uint16_t n4 = 0, n6 = 0;
	for (size_t i = 0; i < c->n_ep; i++) {
		const policy_endpoint_t *src = &p->endpoints[c->ep_index[i]];
		hg_view_ep_t *e = &o->ep[i];
		size_t id_len = strnlen(src->id, HG_ID_SIZE);
		e->id_hash = view_id_hash(src->id, id_len);
		e->id_len = (uint8_t)id_len;
		e->id_off = vb_put_str(o, src->id, id_len);
		if (src->has_location) {
			float v[3];
			geo_unit_vector(src->lat, src->lon, v);
			e->x = v[0];
			e->y = v[1];
			e->z = v[2];
			e->lat = (float)src->lat;
			e->lon = (float)src->lon;
			e->flags |= HG_VEP_HAS_LOCATION;
		}
		e->weight = src->weight;
		e->priority = src->priority;
		for (size_t k = 0; k < spec->n_pools; k++) {
			if (spec->pools[k] == src->pool_index) {
				e->pool = (uint8_t)k;
				break;
			}
		}
		if (src->cname_len > 0) {
			e->flags |= HG_VEP_CNAME;
			e->cname_len = src->cname_len;
			e->cname_off = vb_put_str(o, src->cname, src->cname_len);
		}
		e->admin = (in && in->admin) ? in->admin(in->ctx, c->ep_index[i]) : HG_ADMIN_NONE;
		if (e->admin > HG_ADMIN_FORCE_UP) {
			e->admin = HG_ADMIN_NONE;
		}
		e->n_v4 = src->n_v4;
		e->n_v6 = src->n_v6;
		e->first_v4 = n4;
		e->first_v6 = n6;
		memcpy(o->v4[n4], src->v4, (size_t)src->n_v4 * 4);
		memcpy(o->v6[n6], src->v6, (size_t)src->n_v6 * 16);
		n4 = (uint16_t)(n4 + src->n_v4);
		n6 = (uint16_t)(n6 + src->n_v6);
		for (size_t j = 0; j < p->n_probers; j++) {
			const hg_rec_measure_t *m =
			        (in && in->measure) ? in->measure(in->ctx, c->ep_index[i], j)
			                            : NULL;
			view_cell_from_measure(&o->cell[i * p->n_probers + j], m);
		}
	}
}

int view_set_build(const policy_t *policy, const view_set_spec_t *spec, const view_inputs_t *in,
                   uint64_t generation, uint64_t now_ms, uint8_t **out, size_t *len)
{
	if (policy == NULL || spec == NULL || out == NULL || len == NULL) {
		return HG_EINVAL;
	}
	vb_eps_t c;
	int ret = vb_endpoints(policy, spec->pools, spec->n_pools, &c);
	if (ret != HG_EOK) {
		return ret;
	}
	size_t n_pr = policy->n_probers;
	size_t total = view_set_size(c.n_ep, n_pr, c.n_v4, c.n_v6, c.strings);
	uint8_t *blob = calloc(1, total);
	if (blob == NULL) {
		return HG_ENOMEM;
	}
	vb_out_t o = { .hdr = (hg_set_hdr_t *)blob };
	uint8_t *p = blob + sizeof(hg_set_hdr_t);
	o.ep = (hg_view_ep_t *)p;
	p += c.n_ep * sizeof(hg_view_ep_t);
	o.prober = (hg_view_prober_t *)p;
	p += n_pr * sizeof(hg_view_prober_t);
	o.cell = (hg_view_cell_t *)p;
	p += c.n_ep * n_pr * sizeof(hg_view_cell_t);
	p += sizeof(hg_set_derived_t) + n_pr * sizeof(uint64_t); /* view_set_refresh() */
	o.v4 = (uint8_t(*)[4])p;
	p += c.n_v4 * 4;
	o.v6 = (uint8_t(*)[16])p;
	p += c.n_v6 * 16;
	o.strings = p;

	hg_set_hdr_t *h = o.hdr;
	h->magic = HG_SET_MAGIC;
	h->layout = HG_SET_LAYOUT;
	h->generation = generation;
	h->quorum_ppm = spec->quorum_ppm;
	h->stale_after_ms = spec->stale_after_ms;
	h->set_id = spec->set_id;
	h->total_len = (uint32_t)total;
	h->n_endpoints = (uint8_t)c.n_ep;
	h->n_probers = (uint8_t)n_pr;
	h->n_pools = (uint8_t)spec->n_pools;
	h->n_v4 = (uint16_t)c.n_v4;
	h->n_v6 = (uint16_t)c.n_v6;
	h->strings_len = (uint16_t)c.strings;
	h->n_names = spec->n_names;
	vb_put_probers(policy, &o);
	vb_put_endpoints(policy, spec, &c, in, &o);
	ret = view_set_refresh(blob, total, now_ms);
	if (ret != HG_EOK) {
		free(blob);
		return ret;
	}
	*out = blob;
	*len = total;
	return HG_EOK;
}

/* ---- views ---- */

/* Position of policy endpoint id among the set's endpoints, -1 if the name
 * does not use it (a rule naming it can then never select it). */
static long vb_find_ep(const policy_t *p, const vb_eps_t *c, const char *id)
{
	for (size_t i = 0; i < c->n_ep; i++) {
		if (strncmp(p->endpoints[c->ep_index[i]].id, id, HG_ID_SIZE) == 0) {
			return (long)i;
		}
	}
	return -1;
}

static uint64_t vb_rule_targets(const policy_t *p, const vb_eps_t *c, const policy_rule_t *r)
{
	uint64_t mask = 0;
	for (size_t k = 0; k < r->n_endpoints; k++) {
		long i = vb_find_ep(p, c, r->endpoints[k]);
		if (i >= 0) {
			mask |= 1ull << i;
		}
	}
	for (size_t k = 0; k < r->n_pools; k++) {
		for (size_t i = 0; i < c->n_ep; i++) {
			const policy_endpoint_t *ep = &p->endpoints[c->ep_index[i]];
			if (strncmp(ep->pool, r->pools[k], HG_ID_SIZE) == 0) {
				mask |= 1ull << i;
			}
		}
	}
	return mask;
}

static uint16_t vb_chain_flags(const policy_name_t *nm)
{
	uint16_t flags = 0;
	for (size_t f = 0; f < nm->n_filters; f++) {
		uint8_t type = nm->chain[f].type;
		bool geo = type == HG_F_GEOFENCE || type == HG_F_NEAREST ||
		           type == HG_F_LOWEST_LATENCY || type == HG_F_MAX_LOSS;
		if (geo) {
			flags |= HG_VIEW_NEEDS_GEO | HG_VIEW_CLIENT_DEPENDENT;
		} else if (type == HG_F_WEIGHTED && nm->chain[f].sticky) {
			flags |= HG_VIEW_CLIENT_DEPENDENT; /* the address, not its location */
		} else if (type == HG_F_WEIGHTED || type == HG_F_WEIGHTED_SHUFFLE ||
		           type == HG_F_ROUND_ROBIN) {
			flags |= HG_VIEW_RANDOM; /* its answer differs per query */
		}
	}
	return flags;
}

static void vb_put_chain(const policy_t *p, const policy_name_t *nm, const vb_eps_t *c,
                         hg_view_filter_t *filter, hg_view_rule_t *rule, hg_view_match_t *match)
{
	size_t n_rules = 0, n_match = 0;
	for (size_t f = 0; f < nm->n_filters; f++) {
		const policy_filter_t *src = &nm->chain[f];
		hg_view_filter_t *dst = &filter[f];
		dst->type = src->type;
		dst->flags = src->sticky ? HG_VF_STICKY : 0;
		dst->arg = src->arg;
		dst->first_rule = (uint8_t)n_rules;
		dst->n_rules = (uint8_t)src->n_rules;
		for (size_t r = 0; r < src->n_rules; r++) {
			const policy_rule_t *rs = &src->rules[r];
			hg_view_rule_t *rd = &rule[n_rules++];
			rd->targets = vb_rule_targets(p, c, rs);
			rd->first_match = (uint16_t)n_match;
			rd->n_match = (uint16_t)rs->n_matches;
			rd->flags = rs->strict ? HG_VR_STRICT : 0;
			if (rs->strict && rs->has_fallback_pool) {
				/* An index into the name's (= its set's) pools; the
				 * parser checked it is one of them. */
				for (size_t k = 0; k < nm->n_pools; k++) {
					if (nm->pools[k] == rs->fallback_pool) {
						rd->flags |= HG_VR_FALLBACK_POOL;
						rd->fallback_pool = (uint8_t)k;
						break;
					}
				}
			}
			for (size_t m = 0; m < rs->n_matches; m++) {
				hg_view_match_t *md = &match[n_match++];
				md->kind = rs->matches[m].kind;
				md->family = rs->matches[m].family;
				md->prefix_len = rs->matches[m].prefix_len;
				memcpy(md->data, rs->matches[m].data, sizeof(md->data));
			}
		}
	}
}

/* The fallback pool as an index into the name's (= its set's) pools. */
static int vb_fallback_pool(const policy_name_t *nm, uint8_t *index)
{
	*index = 0;
	if (nm->fallback == HG_FALLBACK_POOL) {
		size_t k = 0;
		while (k < nm->n_pools && nm->pools[k] != nm->fallback_pool) {
			k++;
		}
		if (k == nm->n_pools) {
			return HG_EINVAL; /* the fallback pool must be one of the name's */
		}
		*index = (uint8_t)k;
	} else if (nm->fallback > HG_FALLBACK_NONE) {
		return HG_EINVAL;
	}
	return HG_EOK;
}

int view_build(const policy_t *policy, size_t name_index, uint32_t set_id, uint64_t generation,
               uint64_t now_ms, uint8_t **out, size_t *len)
{
	if (policy == NULL || out == NULL || len == NULL || name_index >= policy->n_names) {
		return HG_EINVAL;
	}
	const policy_name_t *nm = &policy->names[name_index];
	vb_eps_t c;
	int ret = vb_endpoints(policy, nm->pools, nm->n_pools, &c);
	if (ret != HG_EOK) {
		return ret;
	}
	if (nm->n_filters > HG_CHAIN_MAX || nm->owner_len == 0) {
		return HG_ERANGE;
	}
	size_t n_rules = 0, n_match = 0;
	for (size_t f = 0; f < nm->n_filters; f++) {
		n_rules += nm->chain[f].n_rules;
		for (size_t r = 0; r < nm->chain[f].n_rules; r++) {
			n_match += nm->chain[f].rules[r].n_matches;
		}
	}
	uint8_t fb_pool;
	if (n_rules > HG_RULES_MAX || n_match > HG_MATCH_MAX) {
		return HG_ERANGE;
	}
	if ((ret = vb_fallback_pool(nm, &fb_pool)) != HG_EOK) {
		return ret;
	}
	size_t total = view_size(nm->n_filters, n_rules, n_match, nm->owner_len);
	uint8_t *blob = calloc(1, total);
	if (blob == NULL) {
		return HG_ENOMEM;
	}
	hg_view_hdr_t *h = (hg_view_hdr_t *)blob;
	hg_view_filter_t *filter = (hg_view_filter_t *)(blob + sizeof(*h));
	hg_view_rule_t *rule = (hg_view_rule_t *)(filter + nm->n_filters);
	hg_view_match_t *match = (hg_view_match_t *)(rule + n_rules);
	uint8_t *owner = (uint8_t *)(match + n_match);
	h->magic = HG_VIEW_MAGIC;
	h->layout = HG_VIEW_LAYOUT;
	h->flags = vb_chain_flags(nm);
	h->generation = generation;
	h->built_ms = now_ms;
	h->ttl = nm->ttl;
	h->degraded_ttl = nm->degraded_ttl;
	h->set_id = set_id;
	h->total_len = (uint32_t)total;
	h->n_filters = (uint8_t)nm->n_filters;
	h->n_rules = (uint8_t)n_rules;
	h->fallback = nm->fallback;
	h->fallback_pool = fb_pool;
	h->n_matches = (uint16_t)n_match;
	h->owner_len = nm->owner_len;
	h->n_endpoints = (uint8_t)c.n_ep;
	vb_put_chain(policy, nm, &c, filter, rule, match);
	memcpy(owner, nm->owner, nm->owner_len);
	*out = blob;
	*len = total;
	return HG_EOK;
}
