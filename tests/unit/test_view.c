/*  SPDX-License-Identifier: GPL-3.0-or-later */
/*  View and set codec: what view_build() and view_set_build() encode,
 *  limits, patches, binding, and that view_open()/view_set_open() never let
 *  a damaged blob take the reader out of bounds. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "sel_fixture.h"
#include "tap.h"

#define NOW 1700000000000ull

static void world(fx_t *fx)
{
	fx_prober(fx, "eu-fra", 50.11, 8.68);
	fx_prober(fx, "ap-sin", 1.35, 103.82);
	fx_prober(fx, "us-iad", 38.95, -77.45);
	fx_pool(fx, "eu", 1);
	fx_ep(fx, "fra", "198.51.100.10 2001:db8:10::10", 50.11, 8.68, 100);
	fx_ep(fx, "ams", "198.51.100.20 198.51.100.21 2001:db8:10::20", 52.37, 4.90, 50);
	fx_pool(fx, "ap", 1);
	fx_ep(fx, "sin", "203.0.113.10 2001:db8:20::10", 1.29, 103.85, 1);
	fx_ep(fx, "jkt", "203.0.113.20", -6.21, 106.85, 1);
	fx_pool(fx, "us", 2);
	fx_ep(fx, "iad", "192.0.2.10 2001:db8:30::10", 38.95, -77.45, 1);
	fx_pool(fx, "cdn", 3);
	fx_ep_cname(fx, "cdn-b", "app.cdn-b.example.org.");
	fx_pool(fx, "null", 0);
	fx_ep(fx, "null-island", "10.0.0.1", 0.0, 0.0, 7);
}

/* Name 0: pools in an order different from the policy's. */
static size_t ref_name(fx_t *fx)
{
	size_t n = fx_name(fx, "global.gslb.example.net.", "us eu ap cdn",
	                   "up geofence loss=200 latency=20 shuffle first=2", "ap");
	fx_rule(fx, n, "country=ID", "ep:jkt", false);
	fx_rule(fx, n, "continent=EU prefix=10.0.0.0/8 asn=64500,64501", "pool:eu ep:iad", true);
	return n;
}

static bool str_is(const view_t *v, uint16_t off, uint8_t len, const void *want, size_t want_len)
{
	return len == want_len && memcmp(v->s.strings + off, want, want_len) == 0;
}

/* The set of name 0 without inputs (no measurement, no override). */
static int build_bare_set(fx_t *fx, uint64_t gen, uint8_t **blob, size_t *len)
{
	const policy_name_t *nm = &fx->p.names[0];
	view_set_spec_t spec = { .pools = nm->pools,
		                 .n_pools = nm->n_pools,
		                 .quorum_ppm = nm->quorum_ppm,
		                 .stale_after_ms = nm->stale_after_ms,
		                 .set_id = 7 };
	return view_set_build(&fx->p, &spec, NULL, gen, NOW, blob, len);
}

static void test_build(void)
{
	fx_t *fx = fx_new();
	world(fx);
	ref_name(fx);
	fx_measure(fx, 1, 2, HG_HEALTH_DOWN, NOW - 5, 12.5, 321);
	fx->meas[1][2].loss_bp = 321;
	fx->admin[3] = HG_ADMIN_DRAIN;
	uint8_t *blob = NULL;
	size_t len = 0;
	view_t v;
	is_int(fx_build(fx, 0, NOW, &blob, &len), HG_EOK, "build: reference name");
	is_int(fx_open(blob, len, &v), HG_EOK, "build: opens and binds");
	const hg_view_hdr_t *h = v.hdr;
	const hg_set_hdr_t *sh = v.s.hdr;
	ok(h->magic == HG_VIEW_MAGIC && h->layout == HG_VIEW_LAYOUT && sh->magic == HG_SET_MAGIC &&
	           sh->layout == HG_SET_LAYOUT && h->total_len + sh->total_len + 8 == len,
	   "hdr: magic, layout, total_len of view and set");
	is_int(h->total_len, view_size(h->n_filters, h->n_rules, h->n_matches, h->owner_len),
	       "hdr: view_size matches");
	is_int(sh->total_len,
	       view_set_size(sh->n_endpoints, sh->n_probers, sh->n_v4, sh->n_v6, sh->strings_len),
	       "hdr: view_set_size matches");
	long counts[][2] = {
		{ sh->n_endpoints, 6 },
		{ sh->n_probers, 3 },
		{ h->n_filters, 6 },
		{ h->n_rules, 2 },
		{ h->n_matches, 5 },
		{ sh->n_v4, 6 },
		{ sh->n_v6, 4 },
		{ sh->n_pools, 4 },
		{ h->fallback, HG_FALLBACK_POOL },
		{ h->fallback_pool, 2 },
		{ h->ttl, 30 },
		{ h->degraded_ttl, 10 },
		{ sh->quorum_ppm, 500000 },
		{ sh->stale_after_ms, 15000 },
		{ (long)h->generation, 1 },
		{ h->flags, HG_VIEW_CLIENT_DEPENDENT | HG_VIEW_NEEDS_GEO | HG_VIEW_RANDOM },
		{ h->set_id, 7 },
		{ sh->set_id, 7 },
		{ h->n_endpoints, 6 },
		{ sh->n_names, 1 },
	};
	static const char *count_names[] = {
		"n_endpoints", "n_probers",    "n_filters",  "n_rules",          "n_matches",
		"n_v4",        "n_v6",         "n_pools",    "fallback",         "fallback_pool",
		"ttl",         "degraded_ttl", "quorum_ppm", "stale_after_ms",   "generation",
		"flags",       "view set_id",  "set set_id", "view n_endpoints", "set n_names",
	};
	for (unsigned i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
		is_int(counts[i][0], counts[i][1], "hdr: %s", count_names[i]);
	}
	ok(h->built_ms == NOW && sh->updated_ms == NOW, "hdr: built_ms, updated_ms");
	ok(h->owner_len == 25 && memcmp(v.owner, "\6global\4gslb\7example\3net", 25) == 0,
	   "hdr: owner wire");
	/* Derived at NOW: jkt drained; ams down (its one fresh voter says so);
	 * the others unknown (no data); jkt has no IPv6. */
	const hg_set_derived_t *d = v.s.derived;
	ok(d->drained == (1u << 4) && d->down == (1u << 2) &&
	           d->unknown == (0x3fu & ~(1u << 2) & ~(1u << 4)) && d->forced == 0 &&
	           d->fam_v4 == 0x3f && d->fam_v6 == (0x3fu & ~(1u << 4)) &&
	           d->fresh_probers == (1u << 2) && v.s.fresh[2].v == (1u << 2) &&
	           v.s.fresh[0].v == 0 && d->computed_ms == NOW &&
	           d->valid_from == NOW - 5 - 15000 && d->valid_until == NOW - 5 + 15001,
	   "derived: masks and window [ts - stale, ts + stale + 1) of the one cell");

	/* Endpoints in the name's pool order, within a pool in policy order. */
	static const struct {
		const char *id;
		uint8_t pool, flags, admin, n_v4, n_v6;
		uint16_t first_v4, first_v6;
		uint32_t weight;
		int32_t prio;
	} eps[] = {
		{ "iad", 0, HG_VEP_HAS_LOCATION, 0, 1, 1, 0, 0, 1, 2 },
		{ "fra", 1, HG_VEP_HAS_LOCATION, 0, 1, 1, 1, 1, 100, 1 },
		{ "ams", 1, HG_VEP_HAS_LOCATION, 0, 2, 1, 2, 2, 50, 1 },
		{ "sin", 2, HG_VEP_HAS_LOCATION, 0, 1, 1, 4, 3, 1, 1 },
		{ "jkt", 2, HG_VEP_HAS_LOCATION, HG_ADMIN_DRAIN, 1, 0, 5, 4, 1, 1 },
		{ "cdn-b", 3, HG_VEP_CNAME, 0, 0, 0, 6, 4, 1, 3 },
	};
	for (unsigned i = 0; i < 6; i++) {
		const hg_view_ep_t *e = &v.s.ep[i];
		ok(str_is(&v, e->id_off, e->id_len, eps[i].id, strlen(eps[i].id)) &&
		           e->pool == eps[i].pool && e->flags == eps[i].flags &&
		           e->admin == eps[i].admin && e->n_v4 == eps[i].n_v4 &&
		           e->n_v6 == eps[i].n_v6 && e->first_v4 == eps[i].first_v4 &&
		           e->first_v6 == eps[i].first_v6 && e->weight == eps[i].weight &&
		           e->priority == eps[i].prio &&
		           e->id_hash == view_id_hash(eps[i].id, strlen(eps[i].id)),
		   "ep %u: %s pool %u flags %u admin %u v4 %u@%u v6 %u@%u w %u prio %d", i,
		   eps[i].id, e->pool, e->flags, e->admin, e->n_v4, e->first_v4, e->n_v6,
		   e->first_v6, e->weight, (int)e->priority);
	}
	static const uint8_t ams2[4] = { 198, 51, 100, 21 }, jkt4[4] = { 203, 0, 113, 20 };
	ok(memcmp(v.s.v4[3], ams2, 4) == 0 && memcmp(v.s.v4[5], jkt4, 4) == 0,
	   "addresses copied in order");
	ok(str_is(&v, v.s.ep[5].cname_off, v.s.ep[5].cname_len, "\3app\5cdn-b\7example\3org", 23),
	   "cname wire in strings");
	/* Unit vectors: |v| = 1 and lat/lon agree with the vector. */
	for (unsigned i = 0; i < 5; i++) {
		const hg_view_ep_t *e = &v.s.ep[i];
		double n = (double)e->x * e->x + (double)e->y * e->y + (double)e->z * e->z;
		double lat = asin(e->z) * 180 / M_PI, lon = atan2(e->y, e->x) * 180 / M_PI;
		ok(fabs(n - 1) < 1e-5 && fabs(lat - e->lat) < 1e-3 && fabs(lon - e->lon) < 1e-3,
		   "ep %u: unit vector (%.4f, %.4f)", i, lat, lon);
	}
	static const char *probers[] = { "eu-fra", "ap-sin", "us-iad" };
	for (unsigned j = 0; j < 3; j++) {
		const hg_view_prober_t *p = &v.s.prober[j];
		ok(str_is(&v, p->id_off, p->id_len, probers[j], strlen(probers[j])) &&
		           fabs((double)p->x * p->x + (double)p->y * p->y + (double)p->z * p->z -
		                1) < 1e-5,
		   "prober %u: %s", j, probers[j]);
	}
	/* Cells: ams (view 2) x us-iad (2) has the measurement; others empty except all_up absent. */
	const hg_view_cell_t *c = view_cell(&v.s, 2, 2);
	ok(c->ts_ms == NOW - 5 && c->rtt_us == 12500 && c->loss_bp == 321 &&
	           c->state == HG_HEALTH_DOWN,
	   "cell: measurement copied");
	c = view_cell(&v.s, 0, 0);
	ok(c->ts_ms == 0 && c->rtt_us == HG_RTT_NONE && c->state == HG_HEALTH_UNKNOWN,
	   "cell: empty");
	/* Chain and rules. */
	static const uint8_t types[] = {
		HG_F_UP,   HG_F_GEOFENCE, HG_F_MAX_LOSS, HG_F_LOWEST_LATENCY, HG_F_WEIGHTED_SHUFFLE,
		HG_F_FIRST
	};
	static const uint32_t args[] = { 0, 0, 200, 20000, 0, 2 };
	for (unsigned f = 0; f < 6; f++) {
		ok(v.filter[f].type == types[f] && v.filter[f].arg == args[f],
		   "filter %u: %s arg %u", f, sel_filter_name(v.filter[f].type), v.filter[f].arg);
	}
	ok(v.filter[1].first_rule == 0 && v.filter[1].n_rules == 2, "geofence: rules 0..1");
	ok(v.rule[0].targets == (1u << 4) && v.rule[0].n_match == 1 && v.rule[0].flags == 0,
	   "rule 1: targets jkt");
	ok(v.rule[1].targets == 0x7 && v.rule[1].first_match == 1 && v.rule[1].n_match == 4 &&
	           v.rule[1].flags == HG_VR_STRICT,
	   "rule 2: targets eu + iad, strict, 4 values");
	uint32_t asn;
	memcpy(&asn, v.match[4].data, 4);
	ok(v.match[0].kind == HG_M_COUNTRY && memcmp(v.match[0].data, "ID", 3) == 0 &&
	           v.match[2].kind == HG_M_PREFIX && v.match[2].family == 4 &&
	           v.match[2].prefix_len == 8 && v.match[2].data[0] == 10 &&
	           v.match[4].kind == HG_M_ASN && asn == 64501,
	   "matches copied");
	free(blob);

	/* No inputs at all: empty cells, no admin. */
	view_set_t s;
	is_int(build_bare_set(fx, 9, &blob, &len), HG_EOK, "build: set without inputs");
	is_int(view_set_open(blob, len, &s), HG_EOK, "build: without inputs opens");
	ok(s.ep[4].admin == 0 && view_cell(&s, 2, 2)->ts_ms == 0 && s.hdr->generation == 9 &&
	           s.derived->unknown == 0x3f && s.derived->valid_from == 0 &&
	           s.derived->valid_until == UINT64_MAX,
	   "build: without inputs: no admin, no data, all unknown for ever");
	free(blob);
	fx_free(fx);
}

static void test_client_dependent(void)
{
	static const struct {
		const char *chain;
		bool dep, geo, random;
	} cases[] = {
		{ "up", false, false, false },
		{ "up priority first=1", false, false, false },
		{ "shuffle rr first=2", false, false, true },
		{ "weighted", false, false, true },
		{ "rr", false, false, true },
		{ "shuffle", false, false, true },
		{ "sticky", true, false, false },
		{ "nearest", true, true, false },
		{ "latency=20", true, true, false },
		{ "loss=100", true, true, false },
		{ "up geofence", true, true, false },
		{ "up sticky first=1", true, false, false },
		{ "up geofence shuffle", true, true, true },
	};
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		fx_t *fx = fx_new();
		world(fx);
		fx_name(fx, "x.", "eu", cases[i].chain, "all");
		uint8_t *blob = NULL;
		size_t len;
		view_t v;
		int ret = fx_build(fx, 0, NOW, &blob, &len);
		ok(ret == HG_EOK && fx_open(blob, len, &v) == HG_EOK &&
		           !!(v.hdr->flags & HG_VIEW_CLIENT_DEPENDENT) == cases[i].dep &&
		           !!(v.hdr->flags & HG_VIEW_NEEDS_GEO) == cases[i].geo &&
		           !!(v.hdr->flags & HG_VIEW_RANDOM) == cases[i].random,
		   "flags: %-20s -> client-dependent %d, needs geo %d, random %d", cases[i].chain,
		   cases[i].dep, cases[i].geo, cases[i].random);
		free(blob);
		fx_free(fx);
	}
}

static void limit_eps(fx_t *fx, unsigned n)
{
	fx_prober(fx, "p", 0, 0);
	fx_pool(fx, "a", 0);
	for (unsigned i = 0; i < n; i++) {
		char id[16];
		snprintf(id, sizeof(id), "e%u", i);
		fx_ep(fx, id, "10.0.0.1", NAN, NAN, 1);
	}
	fx_name(fx, "x.", "a", "up", "all");
}
static void limit_64(fx_t *fx)
{
	limit_eps(fx, 64);
}
static void limit_65(fx_t *fx)
{
	limit_eps(fx, 65);
}
static void limit_probers(fx_t *fx, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		char id[16];
		snprintf(id, sizeof(id), "p%u", i);
		fx_prober(fx, id, 0, 0);
	}
	fx_pool(fx, "a", 0);
	fx_ep(fx, "e", "10.0.0.1", NAN, NAN, 1);
	fx_name(fx, "x.", "a", "up", "all");
}
static void limit_p32(fx_t *fx)
{
	limit_probers(fx, 32);
}
static void limit_p33(fx_t *fx)
{
	limit_probers(fx, 33);
}
static void limit_rules(fx_t *fx, unsigned n, unsigned values)
{
	fx_prober(fx, "p", 0, 0);
	fx_pool(fx, "a", 0);
	fx_ep(fx, "e", "10.0.0.1", NAN, NAN, 1);
	size_t nm = fx_name(fx, "x.", "a", "geofence", "all");
	char match[4096] = "asn=";
	for (unsigned k = 0; k < values; k++) {
		snprintf(match + strlen(match), sizeof(match) - strlen(match), "%s%u", k ? "," : "",
		         k + 1);
	}
	for (unsigned i = 0; i < n; i++) {
		fx_rule(fx, nm, match, "ep:e", false);
	}
}
static void limit_r32(fx_t *fx)
{
	limit_rules(fx, 32, 8);
}
static void limit_r33(fx_t *fx)
{
	limit_rules(fx, 33, 1);
}
static void limit_m256(fx_t *fx)
{
	limit_rules(fx, 2, 128);
}
static void limit_m257(fx_t *fx)
{
	limit_rules(fx, 1, 257);
}
static void bad_fallback(fx_t *fx)
{
	fx_prober(fx, "p", 0, 0);
	fx_pool(fx, "a", 0);
	fx_ep(fx, "e", "10.0.0.1", NAN, NAN, 1);
	fx_pool(fx, "b", 0);
	fx_ep(fx, "f", "10.0.0.2", NAN, NAN, 1);
	fx_name(fx, "x.", "a", "up", "b");
}

static void test_limits(void)
{
	static const struct {
		const char *desc;
		void (*make)(fx_t *);
		int want;
	} cases[] = {
		{ "64 endpoints", limit_64, HG_EOK },
		{ "65 endpoints", limit_65, HG_ERANGE },
		{ "32 probers", limit_p32, HG_EOK },
		{ "33 probers", limit_p33, HG_ERANGE },
		{ "32 rules", limit_r32, HG_EOK },
		{ "33 rules", limit_r33, HG_ERANGE },
		{ "256 match values", limit_m256, HG_EOK },
		{ "257 match values", limit_m257, HG_ERANGE },
		{ "fallback pool unused", bad_fallback, HG_EINVAL },
	};
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		fx_t *fx = fx_new();
		cases[i].make(fx);
		uint8_t *blob = NULL;
		size_t len = 0;
		view_t v;
		int ret = fx_build(fx, 0, NOW, &blob, &len);
		if (ret == HG_EOK) {
			ret = fx_open(blob, len, &v);
		}
		is_int(ret, cases[i].want, "limit: %s", cases[i].desc);
		free(blob);
		fx_free(fx);
	}
	fx_t *fx = fx_new();
	limit_64(fx);
	uint8_t *blob = NULL;
	size_t len = 0;
	is_int(view_build(&fx->p, 1, 0, 1, NOW, &blob, &len), HG_EINVAL, "limit: name index");
	is_int(view_build(NULL, 0, 0, 1, NOW, &blob, &len), HG_EINVAL, "limit: no policy");
	view_set_spec_t spec = { .pools = NULL, .n_pools = 0 };
	is_int(view_set_build(&fx->p, &spec, NULL, 1, NOW, &blob, &len), HG_EINVAL,
	       "limit: set without pools");
	fx_free(fx);
}

static void test_patch(void)
{
	fx_t *fx = fx_new();
	world(fx);
	ref_name(fx);
	uint8_t *blob = NULL, *vb, *sb;
	size_t len = 0, vl, sl;
	view_t v;
	fx_build(fx, 0, NOW, &blob, &len);
	fx_parts(blob, len, &vb, &vl, &sb, &sl);
	hg_rec_measure_t m;
	memset(&m, 0, sizeof(m));
	m.state = HG_HEALTH_UP;
	m.ts_ms = NOW + 10;
	m.rtt_median_us = 4321;
	m.rtt_ewma_us = 9999;
	m.loss_bp = 12000; /* clamped to 100 % */
	is_int(view_set_patch_measure(sb, sl, "sin", "ap-sin", &m, NOW + 20), HG_EOK,
	       "patch: measure");
	fx_open(blob, len, &v);
	const hg_view_cell_t *c = view_cell(&v.s, 3, 1);
	ok(c->ts_ms == NOW + 10 && c->rtt_us == 4321 && c->loss_bp == 10000 &&
	           c->state == HG_HEALTH_UP,
	   "patch: cell sinxap-sin written (median RTT, loss clamped)");
	ok(view_cell(&v.s, 3, 0)->ts_ms == 0 && view_cell(&v.s, 2, 1)->ts_ms == 0,
	   "patch: neighbours untouched");
	ok(v.s.hdr->updated_ms == NOW + 20, "patch: updated_ms");
	ok(v.s.derived->computed_ms == NOW + 20 && !(v.s.derived->unknown & (1u << 3)) &&
	           (v.s.fresh[1].v & (1u << 3)) && (v.s.derived->fresh_probers & 2u),
	   "patch: derived state refreshed (sin now voted up, ap-sin fresh)");
	is_int(view_set_patch_measure(sb, sl, "nope", "ap-sin", &m, NOW), HG_ENOENT,
	       "patch: unknown endpoint");
	is_int(view_set_patch_measure(sb, sl, "sin", "nope", &m, NOW), HG_ENOENT,
	       "patch: unknown prober");
	is_int(view_set_patch_measure(sb, sl, "null-island", "ap-sin", &m, NOW), HG_ENOENT,
	       "patch: endpoint of another set");
	is_int(view_set_patch_measure(sb, sl, "si", "ap-sin", &m, NOW), HG_ENOENT,
	       "patch: id prefix is not a match");
	is_int(view_set_patch_admin(sb, sl, "fra", HG_ADMIN_DRAIN, NOW + 30), HG_EOK,
	       "patch: drain");
	fx_open(blob, len, &v);
	ok(v.s.ep[1].admin == HG_ADMIN_DRAIN && v.s.hdr->updated_ms == NOW + 30 &&
	           (v.s.derived->drained & 2u),
	   "patch: admin written, drained mask");
	is_int(view_set_patch_admin(sb, sl, "fra", 7, NOW), HG_EINVAL, "patch: bad admin value");
	is_int(view_set_patch_admin(sb, sl, "nope", 0, NOW), HG_ENOENT,
	       "patch: admin unknown endpoint");
	is_int(view_set_patch_measure(sb, sl - 1, "sin", "ap-sin", &m, NOW), HG_ECORRUPT,
	       "patch: short blob refused");
	/* A heartbeat re-stamps the prober's cells that have data, not the others. */
	is_int(view_set_touch_prober(sb, sl, "ap-sin", NOW + 50, NOW + 50), 1, "touch: one cell");
	fx_open(blob, len, &v);
	ok(view_cell(&v.s, 3, 1)->ts_ms == NOW + 50 && view_cell(&v.s, 2, 1)->ts_ms == 0 &&
	           v.s.derived->computed_ms == NOW + 50,
	   "touch: stamped, empty cells untouched, refreshed");
	is_int(view_set_touch_prober(sb, sl, "ap-sin", NOW + 40, NOW + 60), 0, "touch: never back");
	is_int(view_set_touch_prober(sb, sl, "nope", NOW, NOW), HG_ENOENT, "touch: unknown prober");
	is_int(view_set_patch_measure(sb, sl, "sin", "ap-sin", NULL, NOW + 40), HG_EOK,
	       "patch: clear a cell");
	fx_open(blob, len, &v);
	ok(view_cell(&v.s, 3, 1)->ts_ms == 0 && view_cell(&v.s, 3, 1)->rtt_us == HG_RTT_NONE,
	   "patch: cell cleared");
	free(blob);
	fx_free(fx);
}

/* A view binds only to its own set. */
static void test_bind(void)
{
	fx_t *fx = fx_new();
	world(fx);
	ref_name(fx);
	fx_name(fx, "other.", "eu", "up", "all");
	uint8_t *a = NULL, *b = NULL, *av, *as, *bv, *bs;
	size_t al, bl, avl, asl, bvl, bsl;
	fx_build(fx, 0, NOW, &a, &al);
	fx_build(fx, 1, NOW, &b, &bl);
	fx_parts(a, al, &av, &avl, &as, &asl);
	fx_parts(b, bl, &bv, &bvl, &bs, &bsl);
	view_t v;
	view_set_t s;
	view_open(av, avl, &v);
	view_set_open(bs, bsl, &s); /* both set id 7, another endpoint count */
	is_int(view_bind(&v, &s), HG_ECORRUPT, "bind: another set (endpoint count) refused");
	view_set_open(as, asl, &s);
	is_int(view_bind(&v, &s), HG_EOK, "bind: its own set");
	hg_set_hdr_t *sh = (hg_set_hdr_t *)as;
	sh->set_id = 8;
	view_set_open(as, asl, &s);
	is_int(view_bind(&v, &s), HG_ECORRUPT, "bind: another set id refused");
	free(a);
	free(b);
	fx_free(fx);
}

static uint64_t test_rand(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Decide on a (possibly damaged) view and check the answer stays inside it. */
static unsigned trace_calls;
static void count_step(void *ctx, const sel_trace_step_t *st)
{
	(void)ctx;
	trace_calls += st->n_out <= HG_NAME_EP_MAX;
}

static bool decide_in_bounds(const view_t *v, const uint8_t *blob, size_t len)
{
	static const geo_info_t de = { .found = true,
		                       .continent = "EU",
		                       .country = "DE",
		                       .subdivision = "DE-HE",
		                       .has_location = true,
		                       .lat = 50.1,
		                       .lon = 8.7,
		                       .has_asn = true,
		                       .asn = 64500,
		                       .prefix_len = 22,
		                       .asn_prefix_len = 12 };
	static const char *clients[] = { "10.1.2.3", "91.0.0.1", "2001:db8::1" };
	sel_trace_t tr = { count_step, NULL };
	for (unsigned k = 0; k < 6; k++) {
		sel_client_t cl = fx_client(clients[k % 3], 0, k < 3 ? &de : NULL);
		sel_rng_t rng;
		sel_rng_seed(&rng, k);
		sel_answer_t a;
		if (sel_decide(v, &cl, k & 1 ? 28 : 1, NOW, &rng, &a, k == 1 ? &tr : NULL) !=
		    HG_EOK) {
			return false;
		}
		if (a.n_addr > HG_ANSWER_MAX || a.n_endpoints > HG_NAME_EP_MAX) {
			return false;
		}
		for (unsigned i = 0; i < a.n_addr; i++) {
			if (a.addr[i] < blob || a.addr[i] + (k & 1 ? 16 : 4) > blob + len) {
				return false;
			}
		}
		if (a.cname && (a.cname < blob || a.cname + a.cname_len > blob + len)) {
			return false;
		}
	}
	return true;
}

static void test_robustness(void)
{
	fx_t *fx = fx_new();
	world(fx);
	ref_name(fx);
	fx_all_up(fx, NOW);
	uint8_t *blob = NULL;
	size_t len = 0;
	view_t v;
	fx_build(fx, 0, NOW, &blob, &len);
	uint8_t *copy = malloc(len + 1);

	uint8_t *vb, *sb;
	size_t vl, sl;
	fx_parts(blob, len, &vb, &vl, &sb, &sl);
	size_t soff = 8 + vl; /* the set inside the container */

	/* Header checks, one line each: offsets into the container. */
	static const struct {
		const char *desc;
		bool set;
		size_t off;
		uint8_t val;
		int want;
	} hdr[] = {
		{ "view magic", false, 0, 0x00, HG_ESCHEMA },
		{ "view layout", false, 4, 0x03, HG_ESCHEMA },
		{ "view total_len", false, 36, 0x01, HG_ECORRUPT },
		{ "view n_filters", false, 40, 17, HG_ECORRUPT },
		{ "view fallback", false, 42, 3, HG_ECORRUPT },
		{ "view fallback_pool", false, 43, 4, HG_ECORRUPT },
		{ "view owner_len", false, 46, 0xff, HG_ECORRUPT },
		{ "view n_endpoints", false, 47, 5, HG_ECORRUPT },
		{ "view set_id", false, 32, 8, HG_ECORRUPT },
		{ "set magic", true, 0, 0x00, HG_ESCHEMA },
		{ "set layout", true, 4, 0x02, HG_ESCHEMA },
		{ "set set_id", true, 32, 8, HG_ECORRUPT },
		{ "set total_len", true, 36, 0x01, HG_ECORRUPT },
		{ "set n_endpoints", true, 40, 65, HG_ECORRUPT },
		{ "set n_probers", true, 41, 0, HG_ECORRUPT },
		{ "set n_pools", true, 42, 0, HG_ECORRUPT },
	};
	for (unsigned i = 0; i < sizeof(hdr) / sizeof(hdr[0]); i++) {
		memcpy(copy, blob, len);
		copy[(hdr[i].set ? soff : 8) + hdr[i].off] = hdr[i].val;
		is_int(fx_open(copy, len, &v), hdr[i].want, "open: bad %s", hdr[i].desc);
	}
	uint8_t *t1 = malloc(vl + 1);
	memcpy(t1, vb, vl);
	t1[vl] = 0;
	is_int(view_open(t1, vl + 1, &v), HG_ECORRUPT, "open: view with a trailing byte");
	free(t1);
	t1 = malloc(sl + 1);
	memcpy(t1, sb, sl);
	t1[sl] = 0;
	view_set_t s;
	is_int(view_set_open(t1, sl + 1, &s), HG_ECORRUPT, "open: set with a trailing byte");
	free(t1);
	is_int(view_open(NULL, vl, &v), HG_EINVAL, "open: NULL view");
	is_int(view_set_open(NULL, sl, &s), HG_EINVAL, "open: NULL set");

	/* Every truncation fails. Each copy is exactly the truncated size so
	 * ASan catches any read past it. */
	unsigned trunc_ok = 0;
	for (size_t l = 0; l < vl; l++) {
		uint8_t *t = malloc(l ? l : 1);
		memcpy(t, vb, l);
		trunc_ok += view_open(t, l, &v) != HG_EOK;
		free(t);
	}
	for (size_t l = 0; l < sl; l++) {
		uint8_t *t = malloc(l ? l : 1);
		memcpy(t, sb, l);
		trunc_ok += view_set_open(t, l, &s) != HG_EOK;
		free(t);
	}
	is_int(trunc_ok, vl + sl, "open: all %zu truncations of view and set refused", vl + sl);

	/* Every byte, several corruptions: open fails or decisions stay in bounds. */
	static const uint8_t xors[] = { 0x01, 0x80, 0xff, 0x40, 0x10 };
	unsigned bad = 0, opened = 0;
	for (size_t i = 8; i < len; i++) {
		for (unsigned x = 0; x < sizeof(xors); x++) {
			uint8_t *t = malloc(len);
			memcpy(t, blob, len);
			t[i] ^= xors[x];
			if (fx_open(t, len, &v) == HG_EOK) {
				opened++;
				bad += !decide_in_bounds(&v, t, len);
			}
			free(t);
		}
	}
	is_int(bad, 0, "corruption: %zu bytes x %zu patterns, %u still open, all in bounds", len,
	       sizeof(xors), opened);

	/* Random multi-byte damage. */
	uint64_t rng = 2024;
	bad = opened = 0;
	for (unsigned it = 0; it < 20000; it++) {
		uint8_t *t = malloc(len);
		memcpy(t, blob, len);
		for (unsigned k = 0; k < 4; k++) {
			uint64_t r = test_rand(&rng);
			t[8 + r % (len - 8)] = (uint8_t)(r >> 32);
		}
		if (fx_open(t, len, &v) == HG_EOK) {
			opened++;
			bad += !decide_in_bounds(&v, t, len);
		}
		free(t);
	}
	is_int(bad, 0, "random damage: 20000 blobs, %u still open, all in bounds", opened);
	ok(trace_calls > 0, "trace ran on damaged views");

	/* And the undamaged view decides. */
	is_int(fx_open(blob, len, &v), HG_EOK, "open: original");
	ok(decide_in_bounds(&v, blob, len), "original decides in bounds");
	free(copy);
	free(blob);
	fx_free(fx);
}

static void test_hash_and_cells(void)
{
	/* The hash is on disk (hg_view_ep_t.id_hash) and decides which endpoint a
	 * sticky client gets: a change would move every client at the next
	 * load, and views written by another build would disagree with this
	 * one. Pinned to known values (FNV-1a 64 + the murmur3 finalizer). */
	static const struct {
		const char *id;
		uint64_t hash;
	} pins[] = {
		{ "", 0xefd01f60ba992926ull },    { "fra", 0x9de01e6d4b11a57cull },
		{ "frb", 0x01aea58143a4fbaeull }, { "e1", 0x50295bda7c69a087ull },
		{ "e2", 0xa31f2e8b8bdbae5cull },  { "waf-fra-aws", 0x1b4dfca177ad0a08ull },
	};
	for (size_t i = 0; i < sizeof(pins) / sizeof(pins[0]); i++) {
		uint64_t got = view_id_hash(pins[i].id, strlen(pins[i].id));
		ok(got == pins[i].hash, "id hash: '%s' = 0x%016llx (got 0x%016llx)", pins[i].id,
		   (unsigned long long)pins[i].hash, (unsigned long long)got);
	}
	/* And view_build() writes that value, little-endian, at offset 0 of the
	 * endpoint record of the set (SCHEMA.md hg_view_ep_t). */
	fx_t *fx = fx_new();
	world(fx);
	ref_name(fx);
	uint8_t *blob = NULL;
	size_t len = 0;
	view_t v;
	bool opened =
	        fx_build(fx, 0, NOW, &blob, &len) == HG_EOK && fx_open(blob, len, &v) == HG_EOK;
	ok(opened, "id hash: reference view and its set build");
	int found = 0;
	for (unsigned e = 0; opened && e < v.s.hdr->n_endpoints; e++) {
		if (str_is(&v, v.s.ep[e].id_off, v.s.ep[e].id_len, "fra", 3)) {
			const uint8_t *raw = (const uint8_t *)&v.s.ep[e];
			uint64_t le = 0;
			for (unsigned b = 0; b < 8; b++) {
				le |= (uint64_t)raw[b] << (8 * b);
			}
			found = le == 0x9de01e6d4b11a57cull ? 1 : -1;
		}
	}
	is_int(found, 1, "id hash: endpoint 'fra' carries 0x9de01e6d4b11a57c on disk");
	free(blob);
	fx_free(fx);
	hg_view_cell_t c;
	hg_rec_measure_t m;
	memset(&m, 0, sizeof(m));
	m.state = 9;
	m.ts_ms = 5;
	m.rtt_median_us = HG_RTT_NONE;
	view_cell_from_measure(&c, &m);
	ok(c.state == HG_HEALTH_UNKNOWN && c.rtt_us == HG_RTT_NONE && c.ts_ms == 5,
	   "cell: bad state -> unknown");
}

/* view_find_ep / view_find_prober: by id, exact, in the view's own order. */
static void test_find(void)
{
	fx_t *fx = fx_new();
	world(fx);
	ref_name(fx);
	uint8_t *blob = NULL;
	size_t len = 0;
	view_t v;
	is_int(fx_build(fx, 0, NOW, &blob, &len), HG_EOK, "find: build");
	is_int(fx_open(blob, len, &v), HG_EOK, "find: opens");
	static const char *const eps[] = { "fra", "ams", "sin", "jkt", "iad", "cdn-b" };
	for (size_t i = 0; i < sizeof(eps) / sizeof(eps[0]); i++) {
		long e = view_find_ep(&v.s, eps[i]);
		ok(e >= 0 && v.s.ep[e].id_len == strlen(eps[i]) &&
		           memcmp(v.s.strings + v.s.ep[e].id_off, eps[i], strlen(eps[i])) == 0,
		   "find endpoint %s: index %ld", eps[i], e);
	}
	static const char *const missing[] = { "null-island", "fr", "fraa", "FRA", "" };
	for (size_t i = 0; i < sizeof(missing) / sizeof(missing[0]); i++) {
		is_int(view_find_ep(&v.s, missing[i]), -1, "endpoint '%s' is not in the set",
		       missing[i]);
	}
	static const char *const probers[] = { "eu-fra", "ap-sin", "us-iad" };
	for (size_t j = 0; j < 3; j++) {
		is_int(view_find_prober(&v.s, probers[j]), (long)j, "find prober %s", probers[j]);
	}
	is_int(view_find_prober(&v.s, "eu"), -1, "prober 'eu' is not in the set");
	free(blob);
	fx_free(fx);
}

int main(void)
{
	test_build();
	test_find();
	test_client_dependent();
	test_limits();
	test_patch();
	test_bind();
	test_hash_and_cells();
	test_robustness();
	return done_testing();
}
