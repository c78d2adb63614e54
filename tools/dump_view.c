/*  SPDX-License-Identifier: GPL-3.0-or-later */
/*  Full decoding of views and endpoint sets: what the module reads for a name. */
#include <arpa/inet.h>
#include <string.h>

#include "dump.h"
#include "errors.h"
#include "view.h"

static void view_id(dump_out_t *o, const char *key, const view_set_t *v, uint16_t off, uint8_t len)
{
	dump_strn(o, key, (const char *)v->strings + off, len);
}

static void view_endpoints(dump_out_t *o, const view_set_t *v)
{
	const hg_set_hdr_t *h = v->hdr;
	dump_arr_begin(o, "endpoints");
	for (unsigned i = 0; i < h->n_endpoints; i++) {
		const hg_view_ep_t *e = &v->ep[i];
		dump_obj_begin(o, NULL);
		view_id(o, "id", v, e->id_off, e->id_len);
		dump_uint(o, "pool", e->pool);
		dump_enum(o, "admin", &schema_admins, e->admin);
		dump_uint(o, "weight", e->weight);
		dump_int(o, "priority", e->priority);
		if (e->flags & HG_VEP_HAS_LOCATION) {
			dump_double(o, "lat", e->lat);
			dump_double(o, "lon", e->lon);
		}
		if (e->flags & HG_VEP_CNAME) {
			dump_dname(o, "cname", v->strings + e->cname_off, e->cname_len);
		}
		dump_arr_begin(o, "addresses");
		for (unsigned a = 0; a < e->n_v4; a++) {
			dump_addr(o, NULL, 4, v->v4[e->first_v4 + a]);
		}
		for (unsigned a = 0; a < e->n_v6; a++) {
			dump_addr(o, NULL, 6, v->v6[e->first_v6 + a]);
		}
		dump_arr_end(o);
		dump_arr_begin(o, "cells"); /* one per prober, in the probers order */
		for (unsigned j = 0; j < h->n_probers; j++) {
			const hg_view_cell_t *c = view_cell(v, i, j);
			dump_obj_begin(o, NULL);
			view_id(o, "prober", v, v->prober[j].id_off, v->prober[j].id_len);
			dump_enum(o, "state", &schema_healths, c->state);
			dump_time_ms(o, "ts", c->ts_ms);
			if (c->rtt_us == HG_RTT_NONE) {
				dump_null(o, "rtt_us");
			} else {
				dump_uint(o, "rtt_us", c->rtt_us);
			}
			dump_uint(o, "loss_bp", c->loss_bp);
			dump_obj_end(o);
		}
		dump_arr_end(o);
		dump_obj_end(o);
	}
	dump_arr_end(o);
}

static void view_match(dump_out_t *o, const hg_view_match_t *m)
{
	const char *kind = schema_name(&schema_match_kinds, m->kind);
	char buf[64];
	uint32_t asn;
	switch (m->kind) {
	case HG_M_COUNTRY:
	case HG_M_CONTINENT:
	case HG_M_SUBDIVISION:
		dump_strn(o, kind, (const char *)m->data,
		          strnlen((const char *)m->data, sizeof(m->data)));
		break;
	case HG_M_ASN:
		memcpy(&asn, m->data, 4);
		dump_uint(o, kind, asn);
		break;
	case HG_M_PREFIX: {
		char addr[INET6_ADDRSTRLEN] = "?";
		inet_ntop(m->family == 6 ? AF_INET6 : AF_INET, m->data, addr, sizeof(addr));
		snprintf(buf, sizeof(buf), "%s/%u", addr, m->prefix_len);
		dump_str(o, kind, buf);
		break;
	}
	default: dump_uint(o, "kind", m->kind);
	}
}

static void view_rules(dump_out_t *o, const view_t *v, const hg_view_filter_t *f)
{
	dump_arr_begin(o, "rules");
	for (unsigned r = f->first_rule;
	     r < (unsigned)f->first_rule + f->n_rules && r < v->hdr->n_rules; r++) {
		const hg_view_rule_t *rule = &v->rule[r];
		dump_obj_begin(o, NULL);
		dump_bool(o, "strict", rule->flags & HG_VR_STRICT);
		if (rule->flags & HG_VR_FALLBACK_POOL) {
			dump_uint(o, "fallback_pool",
			          rule->fallback_pool); /* index into the set's pools */
		} else if (rule->flags & HG_VR_STRICT) {
			dump_str(o, "fallback", "none");
		}
		dump_arr_begin(o, "match");
		for (unsigned m = rule->first_match;
		     m < (unsigned)rule->first_match + rule->n_match && m < v->hdr->n_matches;
		     m++) {
			dump_obj_begin(o, NULL);
			view_match(o, &v->match[m]);
			dump_obj_end(o);
		}
		dump_arr_end(o);
		dump_arr_begin(o, "targets"); /* endpoint indexes of the view's set */
		for (unsigned i = 0; i < v->hdr->n_endpoints && i < 64; i++) {
			if (rule->targets & (1ull << i)) {
				dump_uint(o, NULL, i);
			}
		}
		dump_arr_end(o);
		dump_obj_end(o);
	}
	dump_arr_end(o);
}

static void view_chain(dump_out_t *o, const view_t *v)
{
	dump_arr_begin(o, "chain");
	for (unsigned i = 0; i < v->hdr->n_filters; i++) {
		const hg_view_filter_t *f = &v->filter[i];
		dump_obj_begin(o, NULL);
		dump_enum(o, "filter", &schema_filters, f->type);
		switch (f->type) {
		case HG_F_GEOFENCE: view_rules(o, v, f); break;
		case HG_F_LOWEST_LATENCY: dump_uint(o, "tolerance_us", f->arg); break;
		case HG_F_MAX_LOSS: dump_uint(o, "max_loss_bp", f->arg); break;
		case HG_F_FIRST: dump_uint(o, "n", f->arg); break;
		case HG_F_WEIGHTED: dump_bool(o, "sticky", f->flags & HG_VF_STICKY); break;
		default: break;
		}
		dump_obj_end(o);
	}
	dump_arr_end(o);
}

void dump_view(dump_out_t *o, const char *key, const void *data, size_t len)
{
	view_t v;
	int ret = view_open(data, len, &v);
	dump_obj_begin(o, key);
	if (ret != HG_EOK) {
		dump_str(o, "error", hg_strerror(ret));
		dump_uint(o, "size", len);
		dump_obj_end(o);
		return;
	}
	const hg_view_hdr_t *h = v.hdr;
	dump_dname(o, "owner", v.owner, h->owner_len);
	dump_uint(o, "layout", h->layout);
	dump_uint(o, "generation", h->generation);
	dump_time_ms(o, "built", h->built_ms);
	dump_uint(o, "set", h->set_id);
	dump_bool(o, "client_dependent", h->flags & HG_VIEW_CLIENT_DEPENDENT);
	dump_bool(o, "needs_geo", h->flags & HG_VIEW_NEEDS_GEO);
	dump_uint(o, "ttl", h->ttl);
	dump_uint(o, "degraded_ttl", h->degraded_ttl);
	dump_enum(o, "fallback", &schema_fallbacks, h->fallback);
	if (h->fallback == HG_FALLBACK_POOL) {
		dump_uint(o, "fallback_pool", h->fallback_pool);
	}
	dump_uint(o, "size", h->total_len);
	view_chain(o, &v);
	dump_obj_end(o);
}

/* An endpoint mask as the ids it holds. */
static void set_mask(dump_out_t *o, const char *key, const view_set_t *s, uint64_t mask)
{
	dump_arr_begin(o, key);
	for (unsigned i = 0; i < s->hdr->n_endpoints; i++) {
		if (mask & (1ull << i)) {
			view_id(o, NULL, s, s->ep[i].id_off, s->ep[i].id_len);
		}
	}
	dump_arr_end(o);
}

static void set_derived(dump_out_t *o, const view_set_t *s)
{
	const hg_set_derived_t *d = s->derived;
	dump_obj_begin(o, "derived");
	dump_time_ms(o, "computed", d->computed_ms);
	dump_time_ms(o, "valid_from", d->valid_from);
	if (d->valid_until == UINT64_MAX) {
		dump_null(o, "valid_until");
	} else {
		dump_time_ms(o, "valid_until", d->valid_until);
	}
	set_mask(o, "down", s, d->down);
	set_mask(o, "unknown", s, d->unknown);
	set_mask(o, "drained", s, d->drained);
	set_mask(o, "forced_up", s, d->forced);
	dump_arr_begin(o, "fresh_probers");
	for (unsigned j = 0; j < s->hdr->n_probers; j++) {
		if (d->fresh_probers & (1u << j)) {
			view_id(o, NULL, s, s->prober[j].id_off, s->prober[j].id_len);
		}
	}
	dump_arr_end(o);
	dump_obj_end(o);
}

void dump_set(dump_out_t *o, const char *key, const void *data, size_t len)
{
	view_set_t s;
	int ret = view_set_open(data, len, &s);
	dump_obj_begin(o, key);
	if (ret != HG_EOK) {
		dump_str(o, "error", hg_strerror(ret));
		dump_uint(o, "size", len);
		dump_obj_end(o);
		return;
	}
	const hg_set_hdr_t *h = s.hdr;
	dump_uint(o, "layout", h->layout);
	dump_uint(o, "generation", h->generation);
	dump_time_ms(o, "updated", h->updated_ms);
	dump_uint(o, "names", h->n_names);
	dump_double(o, "quorum", h->quorum_ppm / 1e6);
	dump_duration_ms(o, "stale_after", h->stale_after_ms);
	dump_uint(o, "pools", h->n_pools);
	dump_uint(o, "size", h->total_len);
	dump_arr_begin(o, "probers");
	for (unsigned j = 0; j < h->n_probers; j++) {
		dump_obj_begin(o, NULL);
		view_id(o, "id", &s, s.prober[j].id_off, s.prober[j].id_len);
		dump_double(o, "lat", s.prober[j].lat);
		dump_double(o, "lon", s.prober[j].lon);
		dump_obj_end(o);
	}
	dump_arr_end(o);
	view_endpoints(o, &s);
	set_derived(o, &s);
	dump_obj_end(o);
}
