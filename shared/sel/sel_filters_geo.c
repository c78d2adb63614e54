/*  SPDX-License-Identifier: GPL-3.0-or-later */
/*  Filters driven by the client's geo data: geofence rules and nearest. */
#include <math.h>
#include <string.h>

#include "schema_names.h"
#include "sel_internal.h"

#define SEL_EARTH_KM 6371.0

bool sel_client_loc(sel_ctx_t *c)
{
	if (!c->loc_done) {
		c->loc_done = true;
		const geo_info_t *g = c->client->geo;
		c->has_loc = g != NULL && g->has_location && isfinite(g->lat) && isfinite(g->lon);
		if (c->has_loc && g->has_xyz) {
			/* From the geo record cache: the same geo_unit_vector(). */
			c->cx = g->x;
			c->cy = g->y;
			c->cz = g->z;
		} else if (c->has_loc) {
			/* A geo_info_t built by hand (tests, tools). */
			float v[3];
			geo_unit_vector(g->lat, g->lon, v);
			c->cx = v[0];
			c->cy = v[1];
			c->cz = v[2];
		}
	}
	return c->has_loc;
}

/* strnlen()/memcmp() on 2 to 8 bytes: cheaper inline than as libc calls. */
static size_t sel_code_len(const char *s, size_t cap)
{
	size_t n = 0;
	while (n < cap && s[n] != '\0') {
		n++;
	}
	return n;
}

/* One value of a rule against the client; *scope gets the prefix length the
 * outcome depends on (0 when it does not depend on the address at all). */
static bool sel_match_one(const sel_ctx_t *c, const hg_view_match_t *m, unsigned *scope)
{
	const geo_info_t *g = c->client->geo;
	*scope = 0;
	switch (m->kind) {
	case HG_M_PREFIX: return sel_prefix_match(c->client, m, scope);
	case HG_M_ASN:
		if (g == NULL) {
			return false;
		}
		*scope = g->asn_prefix_len;
		uint32_t asn;
		memcpy(&asn, m->data, sizeof(asn));
		return g->has_asn && g->asn == asn;
	default: break;
	}
	if (g == NULL) {
		return false;
	}
	*scope = g->prefix_len;
	const char *have = m->kind == HG_M_COUNTRY     ? g->country
	                   : m->kind == HG_M_CONTINENT ? g->continent
	                                               : g->subdivision;
	size_t cap = m->kind == HG_M_SUBDIVISION ? sizeof(g->subdivision) : 2;
	size_t want_len = sel_code_len((const char *)m->data, cap);
	if (want_len == 0 || sel_code_len(have, cap) != want_len) {
		return false;
	}
	for (size_t i = 0; i < want_len; i++) {
		if ((uint8_t)have[i] != m->data[i]) {
			return false;
		}
	}
	return true;
}

/* A rule matches when every kind it names has at least one matching value;
 * a rule without conditions matches everyone. Every value is looked at so
 * the scope covers whatever decided the outcome. */
static bool sel_rule_match(sel_ctx_t *c, const hg_view_rule_t *r, const hg_view_match_t **hit)
{
	unsigned present = 0, matched = 0;
	*hit = NULL;
	for (unsigned k = 0; k < r->n_match; k++) {
		const hg_view_match_t *m = &c->v->match[r->first_match + k];
		unsigned s;
		bool ok = sel_match_one(c, m, &s);
		present |= 1u << m->kind;
		if (ok) {
			matched |= 1u << m->kind;
			if (*hit == NULL) {
				*hit = m;
			}
		}
		/* Without geo data only prefix values looked at the client. */
		if (c->client->geo != NULL || m->kind == HG_M_PREFIX) {
			sel_scope_add(c, s);
		}
	}
	return (present & ~matched) == 0;
}

static void sel_note_rule(sel_ctx_t *c, unsigned idx, const hg_view_match_t *m, const char *tail)
{
	if (!c->tracing) {
		return;
	}
	if (m == NULL) {
		sel_note(c, "rule %u matched (no conditions)%s", idx, tail);
		return;
	}
	switch (m->kind) {
	case HG_M_ASN: {
		uint32_t asn;
		memcpy(&asn, m->data, sizeof(asn));
		sel_note(c, "rule %u matched asn=%u%s", idx, asn, tail);
		break;
	}
	case HG_M_PREFIX:
		sel_note(c, "rule %u matched prefix/%u%s", idx, m->prefix_len, tail);
		break;
	default:
		sel_note(c, "rule %u matched %s=%.8s%s", idx,
		         schema_name(&schema_match_kinds, m->kind), (const char *)m->data, tail);
	}
}

void sel_f_geofence(sel_ctx_t *c, const hg_view_filter_t *f)
{
	sel_note(c, "no rule matched");
	for (unsigned r = 0; r < f->n_rules; r++) {
		const hg_view_rule_t *rule = &c->v->rule[f->first_rule + r];
		const hg_view_match_t *hit;
		if (!sel_rule_match(c, rule, &hit)) {
			continue;
		}
		bool strict = rule->flags & HG_VR_STRICT;
		if (strict) {
			c->fence = rule;
			c->fence_rule = (uint8_t)(r + 1);
		}
		unsigned n_keep = 0;
		if (c->asc) {
			n_keep = (c->mask & rule->targets) != 0;
			if (n_keep > 0 || strict) {
				sel_keep_mask(c, rule->targets, SEL_R_NOT_IN_RULE);
			}
		} else {
			bool keep[HG_NAME_EP_MAX] = { false };
			for (uint8_t i = 0; i < c->n; i++) {
				keep[i] = (rule->targets >> c->list[i]) & 1;
				n_keep += keep[i];
			}
			if (n_keep > 0 || strict) {
				sel_compact(c, keep, SEL_R_NOT_IN_RULE);
			}
		}
		sel_note_rule(c, r + 1, hit,
		              n_keep > 0 ? ""
		              : strict   ? ", no target left (strict)"
		                         : ", no target left: unchanged");
		return;
	}
}

void sel_fence_probe(sel_ctx_t *c, const hg_view_filter_t *f)
{
	for (unsigned r = 0; r < f->n_rules; r++) {
		const hg_view_rule_t *rule = &c->v->rule[f->first_rule + r];
		const hg_view_match_t *hit;
		if (!sel_rule_match(c, rule, &hit)) {
			continue;
		}
		/* The first matching rule is the one the filter would apply. */
		if (rule->flags & HG_VR_STRICT) {
			c->fence = rule;
			c->fence_rule = (uint8_t)(r + 1);
		}
		return;
	}
}

void sel_f_nearest(sel_ctx_t *c)
{
	if (c->client->geo == NULL || c->n <= 1) {
		return;
	}
	sel_scope_add(c, c->client->geo->prefix_len);
	if (!sel_client_loc(c)) {
		sel_note(c, "client location unknown: unchanged");
		return;
	}
	double cx = c->cx, cy = c->cy, cz = c->cz;
	/* Before `first: 1` only the nearest matters: found in the same pass
	 * (the earliest of equals, as the stable sort puts it first), then
	 * moved to the front with the others kept in order, as
	 * sel_sort_desc() with sort_limit 1 does. */
	bool one = c->sort_limit == 1;
	double best = 0.0;
	uint8_t best_i = 0;
	for (uint8_t i = 0; i < c->n; i++) {
		uint8_t e = c->list[i];
		const hg_view_ep_t *ep = &c->s->ep[e];
		double k = -2.0; /* no location: after every located endpoint, order kept */
		if (ep->flags & HG_VEP_HAS_LOCATION) {
			/* Larger dot product of unit vectors = shorter great circle. */
			k = (double)ep->x * cx + (double)ep->y * cy + (double)ep->z * cz;
			if (c->tracing) {
				double d = k > 1.0 ? 1.0 : k < -1.0 ? -1.0 : k;
				c->metric[e] = acos(d) * SEL_EARTH_KM;
			}
		}
		c->key[e] = k;
		if (i == 0 || k > best) {
			best = k;
			best_i = i;
		}
	}
	if (!one) {
		sel_sort_desc(c);
		return;
	}
	uint8_t e = c->list[best_i];
	for (uint8_t j = best_i; j > 0; j--) {
		c->list[j] = c->list[j - 1];
	}
	c->list[0] = e;
}
