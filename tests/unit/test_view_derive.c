/*  SPDX-License-Identifier: GPL-3.0-or-later */
/*  view_derive(): the state a writer stores in a set is what the per-query
 *  computation gives, at every instant of its window, and nowhere else;
 *  property-tested on random sets and times (stale 0, time 0, stamps in
 *  the future, near UINT64_MAX). And sel_decide() answers the same from the
 *  stored state as when it must recompute it. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "sel_fixture.h"
#include "tap.h"
#include "view_health.h"

static uint64_t rnd_state = 13;

static uint64_t rnd(void)
{
	uint64_t z = (rnd_state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint64_t rnd_below(uint64_t n)
{
	return n == 0 ? 0 : rnd() % n;
}

static const uint32_t stales[] = { 0, 1, 1000, 15000, 3600000, UINT32_MAX };

/* A timestamp around base, or one of the edges. */
static uint64_t rnd_ts(uint64_t base, uint64_t stale)
{
	switch (rnd_below(10)) {
	case 0: return 0;                           /* no data */
	case 1: return 1 + rnd_below(3);            /* near the epoch */
	case 2: return UINT64_MAX - rnd_below(3);   /* absurd future */
	case 3: return base + stale + rnd_below(3); /* just ahead of the window */
	default: {
		uint64_t span = 4 * stale + 10;
		uint64_t off = rnd_below(span);
		return base > span / 2 ? base - span / 2 + off : 1 + off;
	}
	}
}

typedef struct {
	fx_t *fx;
	uint8_t *blob;
	size_t len;
	view_t v;
	uint64_t built;
	uint8_t *blob2; /* a second name over the same set (make_world2) */
	size_t len2;
	view_t v2;
} world_t;

/* A random set: 1..64 endpoints over 1..4 pools, 1..32 probers, random
 * cells, admin states, quorum and stale-after; the writer's clock `built`. */
static int make_world2(world_t *w, const char *chain, const char *chain2)
{
	memset(w, 0, sizeof(*w));
	fx_t *fx = w->fx = fx_new();
	unsigned n_pr = 1 + (unsigned)rnd_below(32), n_ep = 1 + (unsigned)rnd_below(64);
	unsigned n_pools = 1 + (unsigned)rnd_below(4);
	for (unsigned j = 0; j < n_pr; j++) {
		char id[16];
		snprintf(id, sizeof(id), "p%u", j);
		fx_prober(fx, id, -60.0 + rnd_below(120), -170.0 + rnd_below(340));
	}
	char pools[64] = "";
	for (unsigned k = 0, e = 0; k < n_pools; k++) {
		char id[16];
		snprintf(id, sizeof(id), "pool%u", k);
		fx_pool(fx, id, (int32_t)rnd_below(3));
		snprintf(pools + strlen(pools), sizeof(pools) - strlen(pools), "%s%s", k ? " " : "",
		         id);
		unsigned n = k + 1 == n_pools
		                     ? n_ep - e
		                     : 1 + (unsigned)rnd_below(n_ep - e - (n_pools - k - 1));
		for (unsigned i = 0; i < n && e < n_ep; i++, e++) {
			char eid[16], addrs[64];
			snprintf(eid, sizeof(eid), "e%u", e);
			switch (rnd_below(8)) {
			case 0: fx_ep_cname(fx, eid, "cdn.example.org."); continue;
			case 1: snprintf(addrs, sizeof(addrs), "2001:db8::%x", e + 1); break;
			case 2: snprintf(addrs, sizeof(addrs), "10.0.%u.1", e); break;
			default:
				snprintf(addrs, sizeof(addrs), "10.0.%u.1 2001:db8::%x", e, e + 1);
				break;
			}
			fx_ep(fx, eid, addrs, rnd_below(5) ? -60.0 + rnd_below(120) : NAN,
			      -170.0 + rnd_below(340), (uint32_t)rnd_below(4) * 10);
		}
	}
	size_t nm = fx_name(fx, "x.example.", pools, chain, "all");
	bool strict = rnd_below(2);
	if (strstr(chain, "geofence") != NULL) {
		fx_rule(fx, nm, "continent=EU", "pool:pool0", strict);
	}
	uint32_t stale = stales[rnd_below(sizeof(stales) / sizeof(stales[0]))];
	static const uint32_t quorums[] = { 1, 333333, 500000, 1000000 };
	fx->p.names[nm].stale_after_ms = stale;
	fx->p.names[nm].quorum_ppm = quorums[rnd_below(4)];
	size_t nm2 = 0;
	if (chain2 != NULL) {
		nm2 = fx_name(fx, "y.example.", pools, chain2, "all");
		if (strstr(chain2, "geofence") != NULL) {
			fx_rule(fx, nm2, "continent=EU", "pool:pool0", strict);
		}
		fx->p.names[nm2].stale_after_ms = stale;
		fx->p.names[nm2].quorum_ppm = fx->p.names[nm].quorum_ppm;
	}
	w->built = rnd_below(6) == 0 ? rnd_below(3) : 1700000000000ull + rnd_below(100000);
	for (unsigned e = 0; e < fx->p.n_endpoints; e++) {
		fx->admin[e] = rnd_below(10) == 0   ? HG_ADMIN_DRAIN
		               : rnd_below(10) == 0 ? HG_ADMIN_FORCE_UP
		                                    : 0;
		for (unsigned j = 0; j < n_pr; j++) {
			uint64_t ts = rnd_ts(w->built, stale);
			if (ts == 0) {
				continue;
			}
			static const uint8_t states[] = { HG_HEALTH_UP, HG_HEALTH_UP,
				                          HG_HEALTH_DOWN, HG_HEALTH_UNKNOWN };
			fx_measure(fx, e, j, states[rnd_below(4)], ts,
			           rnd_below(5) ? (double)rnd_below(300) : -1.0,
			           (uint16_t)rnd_below(400));
		}
	}
	int ret = fx_build(fx, nm, w->built, &w->blob, &w->len);
	if (ret == HG_EOK) {
		ret = fx_open(w->blob, w->len, &w->v);
	}
	if (ret == HG_EOK && chain2 != NULL) {
		ret = fx_build(fx, nm2, w->built, &w->blob2, &w->len2);
		if (ret == HG_EOK) {
			ret = fx_open(w->blob2, w->len2, &w->v2);
		}
	}
	return ret;
}

static int make_world(world_t *w, const char *chain)
{
	return make_world2(w, chain, NULL);
}

static void free_world(world_t *w)
{
	free(w->blob2);
	free(w->blob);
	fx_free(w->fx);
}

/* The facts of a state, without its window and clock. */
static bool same_facts(const view_state_t *a, const hg_set_derived_t *d, const hg_u64_t *fresh,
                       unsigned n_pr)
{
	if (a->d.down != d->down || a->d.unknown != d->unknown || a->d.drained != d->drained ||
	    a->d.forced != d->forced || a->d.fam_v4 != d->fam_v4 || a->d.fam_v6 != d->fam_v6 ||
	    a->d.fresh_probers != d->fresh_probers) {
		return false;
	}
	for (unsigned j = 0; j < n_pr; j++) {
		if (a->fresh[j].v != fresh[j].v) {
			return false;
		}
	}
	return true;
}

static bool same_fresh(const view_state_t *a, const view_state_t *b, unsigned n_pr)
{
	for (unsigned j = 0; j < n_pr; j++) {
		if (a->fresh[j].v != b->fresh[j].v) {
			return false;
		}
	}
	return true;
}

/* The state at t, checked against the independent rules: sel_fresh() per
 * cell and sel_health() per endpoint (the tools' path). */
static bool matches_reference(const view_set_t *s, uint64_t t, const view_state_t *st)
{
	const hg_set_hdr_t *h = s->hdr;
	for (unsigned e = 0; e < h->n_endpoints; e++) {
		uint64_t bit = 1ull << e;
		for (unsigned j = 0; j < h->n_probers; j++) {
			const hg_view_cell_t *c = view_cell(s, e, j);
			bool fresh = c->ts_ms != 0 && sel_fresh(c->ts_ms, t, h->stale_after_ms);
			if (fresh != ((st->fresh[j].v & bit) != 0)) {
				return false;
			}
		}
		sel_health_t hl;
		if (sel_health(s, e, t, &hl) != HG_EOK) {
			return false;
		}
		if ((hl.verdict == SEL_HEALTH_DOWN) != ((st->d.down & bit) != 0) ||
		    (hl.verdict == SEL_HEALTH_UNKNOWN) != ((st->d.unknown & bit) != 0) ||
		    (hl.verdict == SEL_HEALTH_DRAINED) != ((st->d.drained & bit) != 0) ||
		    (hl.verdict == SEL_HEALTH_FORCED_UP) != ((st->d.forced & bit) != 0)) {
			return false;
		}
	}
	for (unsigned j = 0; j < h->n_probers; j++) {
		if ((st->fresh[j].v != 0) != ((st->d.fresh_probers >> j) & 1)) {
			return false;
		}
	}
	return true;
}

static uint64_t pick_inside(uint64_t from, uint64_t until)
{
	switch (rnd_below(4)) {
	case 0: return from;
	case 1: return until - 1;
	default: return from + rnd_below(until - from);
	}
}

static void test_window(void)
{
	unsigned n = 0, bad_inside = 0, bad_ref = 0, loose = 0, bad_built = 0, edges = 0;
	for (unsigned it = 0; it < 3000; it++) {
		world_t w;
		if (make_world(&w, "up") != HG_EOK) {
			ok(0, "random world %u builds", it);
			free_world(&w);
			return;
		}
		const view_set_t *s = &w.v.s;
		const hg_set_derived_t *d = s->derived;
		unsigned n_pr = s->hdr->n_probers;
		view_state_t st;
		n++;
		bad_built += !(d->computed_ms == w.built && d->valid_from <= w.built &&
		               w.built < d->valid_until);
		for (unsigned k = 0; k < 8; k++) {
			uint64_t t = pick_inside(d->valid_from, d->valid_until);
			view_derive(s, t, &st);
			bad_inside += !same_facts(&st, d, s->fresh, n_pr);
			bad_ref += !matches_reference(s, t, &st);
		}
		/* Tight: one instant outside, some cell's freshness differs. */
		view_state_t at_from, before, at_last, after;
		if (d->valid_from > 0) {
			view_derive(s, d->valid_from, &at_from);
			view_derive(s, d->valid_from - 1, &before);
			loose += same_fresh(&at_from, &before, n_pr);
			bad_ref += !matches_reference(s, d->valid_from - 1, &before);
			edges++;
		}
		if (d->valid_until != UINT64_MAX) {
			view_derive(s, d->valid_until - 1, &at_last);
			view_derive(s, d->valid_until, &after);
			loose += same_fresh(&at_last, &after, n_pr);
			bad_ref += !matches_reference(s, d->valid_until, &after);
			edges++;
		}
		/* view_state(): stored inside, recomputed outside, same facts. */
		const hg_set_derived_t *pd;
		const hg_u64_t *pf;
		view_state_t scratch;
		uint64_t t = rnd_below(3) ? pick_inside(d->valid_from, d->valid_until) : rnd();
		bool stored = view_state(s, t, &scratch, &pd, &pf);
		view_derive(s, t, &st);
		bad_inside += stored != (t >= d->valid_from && t < d->valid_until) ||
		              !same_facts(&st, pd, pf, n_pr);
		free_world(&w);
	}
	is_int(bad_built, 0, "%u random sets: the writer's clock is inside the stored window", n);
	is_int(bad_inside, 0,
	       "stored state = view_derive() at every sampled instant of its window");
	is_int(bad_ref, 0, "view_derive() = sel_fresh() per cell and sel_health() per endpoint");
	is_int(loose, 0, "windows are tight: %u edges checked, each one changes a cell", edges);
	ok(edges > 1000, "edges exercised (%u)", edges);
}

/* sel_decide() from the stored state and from a recomputed one (the window
 * of a copy forced empty) gives the same answer, for random chains, clients
 * and times in and out of the window. */
static void trace_nothing(void *ctx, const sel_trace_step_t *st)
{
	(void)ctx;
	(void)st;
}

static void test_decide_same(void)
{
	static const char *chains[] = {
		"up geofence loss=200 latency=20 shuffle first=3",
		"up nearest first=2",
		"up latency=50 first=1",
		"up sticky first=1",
		"up rr first=8",
		"up priority",
		"loss=100 latency=10",
		"up",
		"up nearest first=1",
		"sticky first=3",
		"up geofence latency=5 first=4",
		"nearest first=63",
	};
	static const geo_info_t geos[] = {
		{ .found = true,
		  .continent = "EU",
		  .country = "DE",
		  .has_location = true,
		  .lat = 50.1,
		  .lon = 8.7,
		  .prefix_len = 20 },
		{ .found = true,
		  .continent = "AS",
		  .country = "ID",
		  .has_location = true,
		  .lat = -6.2,
		  .lon = 106.8,
		  .prefix_len = 24 },
		{ .found = true, .continent = "NA", .country = "US", .prefix_len = 16 },
	};
	unsigned n = 0, diff = 0, recomputed = 0, traced_diff = 0;
	for (unsigned it = 0; it < 1500; it++) {
		const char *chain = chains[it % (sizeof(chains) / sizeof(chains[0]))];
		world_t w;
		if (make_world(&w, chain) != HG_EOK) {
			ok(0, "random world %u builds", it);
			free_world(&w);
			return;
		}
		uint8_t *copy = malloc(w.len);
		memcpy(copy, w.blob, w.len);
		uint8_t *vb, *sb;
		size_t vl, sl;
		fx_parts(copy, w.len, &vb, &vl, &sb, &sl);
		view_t cv;
		fx_open(copy, w.len, &cv);
		hg_set_derived_t *cd = (hg_set_derived_t *)(sb + ((const uint8_t *)cv.s.derived -
		                                                  (const uint8_t *)cv.s.hdr));
		cd->valid_from = cd->valid_until = 0; /* never valid: recomputed per query */
		/* And poison the stored facts: a decision must not read them. */
		cd->down = cd->unknown = cd->drained = cd->forced = 0;
		for (unsigned k = 0; k < 6; k++) {
			const hg_set_derived_t *d = w.v.s.derived;
			uint64_t t = k < 4 ? pick_inside(d->valid_from, d->valid_until) : rnd();
			const geo_info_t *g = &geos[rnd_below(3)];
			char addr[64];
			snprintf(addr, sizeof(addr), k & 1 ? "2001:db8:%x::1" : "10.%u.0.1",
			         (unsigned)rnd_below(200));
			sel_client_t cl = fx_client(addr, k & 2 ? 24 : 0, rnd_below(5) ? g : NULL);
			uint16_t qtype = k & 1 ? 28 : 1;
			sel_rng_t r1, r2;
			sel_rng_seed(&r1, it * 7 + k);
			sel_rng_seed(&r2, it * 7 + k);
			sel_answer_t a1, a2;
			int x1 = sel_decide(&w.v, &cl, qtype, t, &r1, &a1, NULL);
			int x2 = sel_decide(&cv, &cl, qtype, t, &r2, &a2, NULL);
			/* With a trace every sort is a full sort; without one a sort
			 * before `first: N` only selects the first N: same answer. */
			sel_rng_t r3;
			sel_rng_seed(&r3, it * 7 + k);
			sel_answer_t a3;
			sel_trace_t tr = { trace_nothing, NULL };
			int x3 = sel_decide(&w.v, &cl, qtype, t, &r3, &a3, &tr);
			char t3[1024], t1b[1024];
			fx_answer_text(&a3, qtype, t3, sizeof(t3));
			fx_answer_text(&a1, qtype, t1b, sizeof(t1b));
			traced_diff += x3 != x1 || strcmp(t3, t1b) != 0 || a3.flags != a1.flags ||
			               a3.scope != a1.scope;
			char t1[1024], t2[1024];
			fx_answer_text(&a1, qtype, t1, sizeof(t1));
			fx_answer_text(&a2, qtype, t2, sizeof(t2));
			n++;
			recomputed += !(t >= d->valid_from && t < d->valid_until);
			if (x1 != x2 || strcmp(t1, t2) != 0 || a1.ttl != a2.ttl ||
			    a1.flags != a2.flags || a1.scope != a2.scope ||
			    a1.vantage != a2.vantage || a1.n_endpoints != a2.n_endpoints ||
			    memcmp(a1.endpoints, a2.endpoints, a1.n_endpoints) != 0) {
				if (diff++ < 5) {
					diag("chain [%s] t=%llu: stored '%s' flags %u, recomputed "
					     "'%s' flags %u",
					     chain, (unsigned long long)t, t1, a1.flags, t2,
					     a2.flags);
				}
			}
		}
		free(copy);
		free_world(&w);
	}
	is_int(diff, 0,
	       "%u decisions: the same answer from the stored state and recomputed "
	       "(%u of them outside the window)",
	       n, recomputed);
	is_int(traced_diff, 0, "the same answer with a trace (full sorts) as without (top N only)");
}

/* Sticky before `first: N` scores only the endpoints that can still be
 * among the first N (sel_filters_order.c): the same answer as the full
 * scoring a trace runs, on 64 endpoints of widely different weights (some
 * 0) and many client networks. */
static void test_sticky_pruned(void)
{
	unsigned n = 0, diff = 0;
	for (unsigned it = 0; it < 40; it++) {
		unsigned k = 1 + it % 4;
		fx_t *fx = fx_new();
		fx_prober(fx, "p0", 50.0, 8.0);
		fx_pool(fx, "pool0", 0);
		unsigned n_ep = it < 4 ? k + 1 : 2 + (unsigned)rnd_below(63);
		for (unsigned e = 0; e < n_ep; e++) {
			char eid[16], addrs[32];
			snprintf(eid, sizeof(eid), "e%u", e);
			snprintf(addrs, sizeof(addrs), "10.0.%u.1", e);
			uint32_t wt =
			        rnd_below(6) == 0 ? 0
			        : it % 3 == 0
			                ? 100
			                : (uint32_t)(1 + rnd_below(it % 3 == 1 ? 10 : 100000));
			fx_ep(fx, eid, addrs, NAN, 0.0, wt);
		}
		char chain[32];
		snprintf(chain, sizeof(chain), "sticky first=%u", k);
		size_t nm = fx_name(fx, "x.example.", "pool0", chain, "all");
		uint8_t *blob;
		size_t len;
		view_t v;
		if (fx_build(fx, nm, 1700000000000ull, &blob, &len) != HG_EOK ||
		    fx_open(blob, len, &v) != HG_EOK) {
			ok(0, "sticky world %u builds", it);
			fx_free(fx);
			return;
		}
		for (unsigned q = 0; q < 500; q++) {
			char addr[32];
			snprintf(addr, sizeof(addr), "%u.%u.%u.1", 1 + (unsigned)rnd_below(223),
			         (unsigned)rnd_below(256), (unsigned)rnd_below(256));
			sel_client_t cl = fx_client(addr, 24, NULL);
			sel_rng_t r1, r2;
			sel_rng_seed(&r1, q);
			sel_rng_seed(&r2, q);
			sel_answer_t a1, a2;
			sel_trace_t tr = { trace_nothing, NULL };
			int x1 = sel_decide(&v, &cl, 1, 1700000000000ull, &r1, &a1, NULL);
			int x2 = sel_decide(&v, &cl, 1, 1700000000000ull, &r2, &a2, &tr);
			n++;
			if (x1 != x2 || a1.n_endpoints != a2.n_endpoints || a1.flags != a2.flags ||
			    memcmp(a1.endpoints, a2.endpoints, a1.n_endpoints) != 0) {
				if (diff++ < 5) {
					diag("sticky first=%u over %u endpoints, client %s: %u vs "
					     "%u endpoints",
					     k, n_ep, addr, a1.n_endpoints, a2.n_endpoints);
				}
			}
		}
		free(blob);
		fx_free(fx);
	}
	is_int(diff, 0, "%u sticky decisions: pruned scoring = full scoring", n);
}

/* Up, geofence and max-loss work on the candidate bitmask while the list
 * is in the prefilter's order, and walk the list otherwise (sel_decide.c).
 * A round-robin first (its rotation is 0 on a fresh rng: the order stays)
 * makes the same chain take the list path: both must answer alike. */
static void test_mask_path(void)
{
	static const char *chains[] = {
		"up",
		"up geofence first=3",
		"geofence up nearest first=1",
		"up geofence loss=200 latency=20 first=2",
		"loss=100 up geofence",
		"up loss=50 sticky first=1",
		"geofence loss=300",
	};
	unsigned n = 0, diff = 0;
	for (unsigned it = 0; it < 1400; it++) {
		const char *chain = chains[it % (sizeof(chains) / sizeof(chains[0]))];
		char listed[128];
		snprintf(listed, sizeof(listed), "rr %s", chain);
		world_t w;
		if (make_world2(&w, chain, listed) != HG_EOK) {
			ok(0, "random world %u builds", it);
			free_world(&w);
			return;
		}
		static const geo_info_t geos[] = {
			{ .found = true,
			  .continent = "EU",
			  .country = "DE",
			  .has_location = true,
			  .lat = 50.1,
			  .lon = 8.7,
			  .prefix_len = 20 },
			{ .found = true,
			  .continent = "AS",
			  .country = "ID",
			  .has_location = true,
			  .lat = -6.2,
			  .lon = 106.8,
			  .prefix_len = 24 },
		};
		for (unsigned k = 0; k < 4; k++) {
			const hg_set_derived_t *d = w.v.s.derived;
			uint64_t t = k < 3 ? pick_inside(d->valid_from, d->valid_until) : rnd();
			sel_client_t cl = fx_client(k & 1 ? "2001:db8:7::1" : "10.9.0.1", 24,
			                            rnd_below(4) ? &geos[rnd_below(2)] : NULL);
			uint16_t qtype = k & 1 ? 28 : 1;
			sel_rng_t r1, r2;
			sel_rng_seed(&r1, it);
			sel_rng_seed(&r2, it);
			sel_answer_t a1, a2;
			int x1 = sel_decide(&w.v, &cl, qtype, t, &r1, &a1, NULL);
			int x2 = sel_decide(&w.v2, &cl, qtype, t, &r2, &a2, NULL);
			char t1[1024], t2[1024];
			fx_answer_text(&a1, qtype, t1, sizeof(t1));
			fx_answer_text(&a2, qtype, t2, sizeof(t2));
			n++;
			if (x1 != x2 || strcmp(t1, t2) != 0 || a1.ttl != a2.ttl ||
			    a1.flags != a2.flags || a1.scope != a2.scope ||
			    a1.n_endpoints != a2.n_endpoints ||
			    memcmp(a1.endpoints, a2.endpoints, a1.n_endpoints) != 0) {
				if (diff++ < 5) {
					diag("%s: mask path '%s' vs list path '%s'", chain, t1, t2);
				}
			}
		}
		free_world(&w);
	}
	is_int(diff, 0, "%u decisions: the mask path answers as the list path", n);
}

int main(void)
{
	test_window();
	test_decide_same();
	test_sticky_pruned();
	test_mask_path();
	return done_testing();
}
