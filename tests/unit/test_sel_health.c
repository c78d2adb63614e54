/*  SPDX-License-Identifier: GPL-3.0-or-later */
/*  The health step: sel_health() verdicts one line per case, and the proof
 *  that it is the `up` filter's rule: on random views its verdict and
 *  sel_decide()'s trace never disagree. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "sel_fixture.h"
#include "tap.h"

#define NOW   1700000000000ull
#define STALE 15000u

/* One cell per character, prober 0 first:
 *   u up, d down, w warming up (state unknown), all stamped NOW;
 *   o down, exactly stale-after old (still fresh); s down, 1 ms staler;
 *   f down, stamped 1 h ahead (absurd skew: ignored); F up, stale-after
 *   ahead (accepted skew); - no data. */
static void cells(fx_t *fx, size_t ep, const char *spec, uint32_t stale)
{
	for (size_t j = 0; spec[j] != '\0'; j++) {
		uint8_t st = HG_HEALTH_DOWN;
		uint64_t ts = NOW;
		switch (spec[j]) {
		case 'u': st = HG_HEALTH_UP; break;
		case 'd': break;
		case 'w': st = HG_HEALTH_UNKNOWN; break;
		case 'o': ts = NOW - stale; break;
		case 's': ts = NOW - stale - 1; break;
		case 'f': ts = NOW + 3600000; break;
		case 'F':
			st = HG_HEALTH_UP;
			ts = NOW + stale;
			break;
		default: fx->has[ep][j] = false; continue;
		}
		fx_measure(fx, ep, j, st, ts, 10.0 + (double)j, (uint16_t)(100 * j));
	}
}

/* A name "h." over one pool of one endpoint, seen by three probers. */
static fx_t *one_endpoint(const char *spec, uint32_t quorum_ppm, uint32_t stale, uint8_t admin)
{
	fx_t *fx = fx_new();
	fx_prober(fx, "p0", 50, 8);
	fx_prober(fx, "p1", 1, 103);
	fx_prober(fx, "p2", 38, -77);
	fx_pool(fx, "pool", 1);
	size_t e = fx_ep(fx, "ep", "192.0.2.1", NAN, NAN, 1);
	size_t n = fx_name(fx, "h.", "pool", "up", "none");
	fx->p.names[n].quorum_ppm = quorum_ppm;
	fx->p.names[n].stale_after_ms = stale;
	fx->admin[e] = admin;
	cells(fx, e, spec, stale);
	return fx;
}

static int open_view(fx_t *fx, uint8_t **blob, view_t *v)
{
	size_t len;
	int ret = fx_build(fx, 0, NOW, blob, &len);
	return ret == HG_EOK ? fx_open(*blob, len, v) : ret;
}

static void test_verdicts(void)
{
	static const struct {
		const char *cells;
		uint32_t quorum_ppm, stale;
		uint8_t admin;
		uint8_t verdict, n_voters, n_up, n_warming;
		uint32_t voters;
	} c[] = {
		{ "uuu", 500000, STALE, HG_ADMIN_NONE, SEL_HEALTH_UP, 3, 3, 0, 07 },
		{ "udd", 500000, STALE, HG_ADMIN_NONE, SEL_HEALTH_DOWN, 3, 1, 0, 07 },
		{ "ud-", 500000, STALE, HG_ADMIN_NONE, SEL_HEALTH_UP, 2, 1, 0,
		  03 }, /* at quorum: up */
		{ "ud-", 1000000, STALE, HG_ADMIN_NONE, SEL_HEALTH_DOWN, 2, 1, 0, 03 },
		{ "uud", 666667, STALE, HG_ADMIN_NONE, SEL_HEALTH_DOWN, 3, 2, 0,
		  07 }, /* 2/3 < 0.666667 */
		{ "uud", 666666, STALE, HG_ADMIN_NONE, SEL_HEALTH_UP, 3, 2, 0, 07 },
		{ "wwu", 1000000, STALE, HG_ADMIN_NONE, SEL_HEALTH_UP, 1, 1, 2,
		  04 }, /* warm-up abstains */
		{ "wwd", 500000, STALE, HG_ADMIN_NONE, SEL_HEALTH_DOWN, 1, 0, 2, 04 },
		{ "www", 500000, STALE, HG_ADMIN_NONE, SEL_HEALTH_UNKNOWN, 0, 0, 3, 0 },
		{ "sss", 500000, STALE, HG_ADMIN_NONE, SEL_HEALTH_UNKNOWN, 0, 0, 0, 0 },
		{ "---", 500000, STALE, HG_ADMIN_NONE, SEL_HEALTH_UNKNOWN, 0, 0, 0, 0 },
		{ "uos", 1000000, STALE, HG_ADMIN_NONE, SEL_HEALTH_DOWN, 2, 1, 0,
		  03 }, /* o fresh, s not */
		{ "ffu", 500000, STALE, HG_ADMIN_NONE, SEL_HEALTH_UP, 1, 1, 0,
		  04 }, /* far future ignored */
		{ "Fdd", 500000, STALE, HG_ADMIN_NONE, SEL_HEALTH_DOWN, 3, 1, 0,
		  07 }, /* skew accepted */
		{ "uoo", 1000000, 2000, HG_ADMIN_NONE, SEL_HEALTH_DOWN, 3, 1, 0,
		  07 }, /* o: 2 s old, fresh */
		{ "uss", 1000000, 2000, HG_ADMIN_NONE, SEL_HEALTH_UP, 1, 1, 0,
		  01 }, /* s: stale at 2 s */
		{ "uuu", 500000, STALE, HG_ADMIN_DRAIN, SEL_HEALTH_DRAINED, 3, 3, 0, 07 },
		{ "---", 500000, STALE, HG_ADMIN_DRAIN, SEL_HEALTH_DRAINED, 0, 0, 0, 0 },
		{ "ddd", 500000, STALE, HG_ADMIN_FORCE_UP, SEL_HEALTH_FORCED_UP, 3, 0, 0, 07 },
		{ "---", 500000, STALE, HG_ADMIN_FORCE_UP, SEL_HEALTH_FORCED_UP, 0, 0, 0, 0 },
	};
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		fx_t *fx = one_endpoint(c[i].cells, c[i].quorum_ppm, c[i].stale, c[i].admin);
		uint8_t *blob = NULL;
		view_t v;
		sel_health_t h;
		memset(&h, 0xee, sizeof(h));
		int ret = open_view(fx, &blob, &v);
		if (ret == HG_EOK) {
			ret = sel_health(&v.s, 0, NOW, &h);
		}
		ok(ret == HG_EOK && h.verdict == c[i].verdict && h.n_voters == c[i].n_voters &&
		           h.n_up == c[i].n_up && h.n_warming == c[i].n_warming &&
		           h.voters == c[i].voters && h.quorum_ppm == c[i].quorum_ppm &&
		           h.stale_after_ms == c[i].stale,
		   "'%s' quorum %u stale %u admin %u: %s %u/%u warming %u voters %o "
		   "(got %d: %s %u/%u warming %u voters %o)",
		   c[i].cells, c[i].quorum_ppm, c[i].stale, c[i].admin,
		   sel_health_name(c[i].verdict), c[i].n_up, c[i].n_voters, c[i].n_warming,
		   c[i].voters, ret, sel_health_name(h.verdict), h.n_up, h.n_voters, h.n_warming,
		   h.voters);
		free(blob);
		fx_free(fx);
	}
}

/* ---- agreement with sel_decide() ---- */

typedef struct {
	uint8_t prefilter_reason[HG_NAME_EP_MAX];
	bool up_seen;
	bool up_out[HG_NAME_EP_MAX];
	uint8_t up_reason[HG_NAME_EP_MAX];
	double up_metric[HG_NAME_EP_MAX];
} decide_log_t;

static void log_step(void *ctx, const sel_trace_step_t *s)
{
	decide_log_t *l = ctx;
	if (s->filter == -1) {
		memcpy(l->prefilter_reason, s->reason, sizeof(l->prefilter_reason));
	} else if (s->type == HG_F_UP) {
		l->up_seen = true;
		for (unsigned i = 0; i < s->n_out; i++) {
			l->up_out[s->out[i]] = true;
		}
		for (unsigned i = 0; i < s->n_in; i++) {
			l->up_reason[s->in[i]] = s->reason[s->in[i]];
			l->up_metric[s->in[i]] = s->metric[s->in[i]];
		}
	}
}

static uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Random fleet: up to 5 probers, 12 endpoints, every kind of cell, random
 * admin states, quorum and stale-after. */
static fx_t *random_world(uint64_t *seed)
{
	static const uint32_t quorums[] = { 1, 250000, 500000, 666667, 1000000 };
	static const uint32_t stales[] = { 1, 2000, 15000, 600000 };
	static const char kinds[] = "udwosfF-";
	fx_t *fx = fx_new();
	unsigned n_pr = 1 + (unsigned)(splitmix(seed) % 5);
	for (unsigned j = 0; j < n_pr; j++) {
		char id[8];
		snprintf(id, sizeof(id), "p%u", j);
		fx_prober(fx, id, (double)j * 10, (double)j * 20);
	}
	fx_pool(fx, "pool", 1);
	uint32_t stale = stales[splitmix(seed) % 4];
	for (unsigned e = 0; e < 12; e++) {
		char id[8], addr[16], spec[8] = { 0 };
		snprintf(id, sizeof(id), "e%u", e);
		snprintf(addr, sizeof(addr), "10.0.0.%u", e + 1);
		size_t ep = fx_ep(fx, id, addr, NAN, NAN, 1);
		for (unsigned j = 0; j < n_pr; j++) {
			spec[j] = kinds[splitmix(seed) % 8];
		}
		cells(fx, ep, spec, stale);
		uint64_t a = splitmix(seed) % 10;
		fx->admin[ep] = a == 0   ? HG_ADMIN_DRAIN
		                : a == 1 ? HG_ADMIN_FORCE_UP
		                         : HG_ADMIN_NONE;
	}
	size_t n = fx_name(fx, "r.", "pool", "up", "none");
	fx->p.names[n].quorum_ppm = quorums[splitmix(seed) % 5];
	fx->p.names[n].stale_after_ms = stale;
	return fx;
}

/* What sel_decide() did to endpoint e must be what sel_health() says. */
static bool agrees(const decide_log_t *l, const sel_health_t *h, unsigned e, bool *unknown)
{
	switch (h->verdict) {
	case SEL_HEALTH_DRAINED: return l->prefilter_reason[e] == SEL_R_DRAINED && !l->up_out[e];
	case SEL_HEALTH_DOWN:
		return l->up_seen && !l->up_out[e] && l->up_reason[e] == SEL_R_DOWN &&
		       fabs(l->up_metric[e] - 100.0 * h->n_up / h->n_voters) < 1e-9;
	case SEL_HEALTH_UP:
		return l->up_seen && l->up_out[e] &&
		       fabs(l->up_metric[e] - 100.0 * h->n_up / h->n_voters) < 1e-9;
	case SEL_HEALTH_UNKNOWN:
		*unknown = true;
		return l->up_seen && l->up_out[e] && isnan(l->up_metric[e]);
	case SEL_HEALTH_FORCED_UP: return l->up_seen && l->up_out[e] && isnan(l->up_metric[e]);
	default: return false;
	}
}

static void test_agrees_with_decide(void)
{
	uint64_t seed = 8;
	unsigned runs = 0, bad = 0, seen[5] = { 0 };
	for (unsigned r = 0; r < 400; r++) {
		fx_t *fx = random_world(&seed);
		uint8_t *blob = NULL;
		view_t v;
		if (open_view(fx, &blob, &v) != HG_EOK) {
			bad++;
			fx_free(fx);
			continue;
		}
		/* now moves around the cells' stamps so windows cut through them */
		uint64_t now = NOW + (splitmix(&seed) % 3) - 1;
		decide_log_t l;
		memset(&l, 0, sizeof(l));
		sel_trace_t tr = { log_step, &l };
		sel_client_t cl = fx_client("192.0.2.99", 0, NULL);
		sel_rng_t rng;
		sel_rng_seed(&rng, r);
		sel_answer_t a;
		bool any_unknown = false, all_drained = true;
		if (sel_decide(&v, &cl, 1, now, &rng, &a, &tr) != HG_EOK) {
			bad++;
		}
		for (unsigned e = 0; e < v.s.hdr->n_endpoints; e++) {
			sel_health_t h;
			if (sel_health(&v.s, e, now, &h) != HG_EOK ||
			    !agrees(&l, &h, e, &any_unknown)) {
				bad++;
				diag("run %u endpoint %u: sel_health says %s %u/%u", r, e,
				     sel_health_name(h.verdict), h.n_up, h.n_voters);
			}
			seen[h.verdict < 5 ? h.verdict : 0]++;
			all_drained &= h.verdict == SEL_HEALTH_DRAINED;
		}
		/* The decision's flag says "some candidate had no fresh data" exactly
		 * when some endpoint's verdict is unknown (if `up` ran at all). */
		if (!all_drained && ((a.flags & SEL_UNKNOWN_HEALTH) != 0) != any_unknown) {
			bad++;
			diag("run %u: SEL_UNKNOWN_HEALTH %d, unknown verdicts %d", r,
			     (a.flags & SEL_UNKNOWN_HEALTH) != 0, any_unknown);
		}
		runs++;
		free(blob);
		fx_free(fx);
	}
	is_int(bad, 0, "sel_health agrees with sel_decide's trace on %u random views", runs);
	ok(seen[SEL_HEALTH_UP] && seen[SEL_HEALTH_DOWN] && seen[SEL_HEALTH_UNKNOWN] &&
	           seen[SEL_HEALTH_DRAINED] && seen[SEL_HEALTH_FORCED_UP],
	   "every verdict occurred (up %u, down %u, unknown %u, drained %u, forced-up %u)", seen[0],
	   seen[1], seen[2], seen[3], seen[4]);
}

static void test_fresh(void)
{
	static const struct {
		uint64_t ts, now;
		uint32_t stale;
		bool fresh;
	} c[] = {
		{ 0, NOW, STALE, false }, /* no data */
		{ NOW, NOW, STALE, true },
		{ NOW - STALE, NOW, STALE, true }, /* exactly stale-after old */
		{ NOW - STALE - 1, NOW, STALE, false },
		{ NOW + STALE, NOW, STALE, true }, /* skew up to the window */
		{ NOW + STALE + 1, NOW, STALE, false },
		{ 1, 100, STALE, true }, /* now < stale: window starts at 1 */
		{ 0, 100, STALE, false },
		{ UINT64_MAX, UINT64_MAX - 10, STALE, true }, /* no overflow at the top */
		{ NOW, NOW, 0, true },                        /* stale-after 0: this instant only */
		{ NOW - 1, NOW, 0, false },
	};
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		ok(sel_fresh(c[i].ts, c[i].now, c[i].stale) == c[i].fresh,
		   "sel_fresh(ts %llu, now %llu, stale %u) is %s", (unsigned long long)c[i].ts,
		   (unsigned long long)c[i].now, c[i].stale, c[i].fresh ? "fresh" : "not fresh");
	}
}

static void test_api(void)
{
	fx_t *fx = one_endpoint("uuu", 500000, STALE, HG_ADMIN_NONE);
	uint8_t *blob = NULL;
	view_t v;
	sel_health_t h;
	is_int(open_view(fx, &blob, &v), HG_EOK, "api: view");
	is_int(sel_health(NULL, 0, NOW, &h), HG_EINVAL, "NULL view: HG_EINVAL");
	is_int(sel_health(&v.s, 1, NOW, &h), HG_EINVAL, "endpoint out of range: HG_EINVAL");
	is_int(sel_health(&v.s, 0, NOW, NULL), HG_EINVAL, "NULL out: HG_EINVAL");
	free(blob);
	fx_free(fx);
	static const struct {
		uint8_t v;
		const char *name;
	} n[] = {
		{ SEL_HEALTH_UP, "up" },
		{ SEL_HEALTH_DOWN, "down" },
		{ SEL_HEALTH_UNKNOWN, "unknown" },
		{ SEL_HEALTH_DRAINED, "drained" },
		{ SEL_HEALTH_FORCED_UP, "forced-up" },
		{ 99, "invalid" },
	};
	for (size_t i = 0; i < sizeof(n) / sizeof(n[0]); i++) {
		is_str(sel_health_name(n[i].v), n[i].name, "verdict %u is '%s'", n[i].v, n[i].name);
	}
}

int main(void)
{
	test_verdicts();
	test_agrees_with_decide();
	test_fresh();
	test_api();
	return done_testing();
}
