/*  SPDX-License-Identifier: GPL-3.0-or-later */
/*  Statistical properties of the random and sticky orderings. Seeds are
 *  fixed, so these are deterministic; the bounds still hold for any seed. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "sel_fixture.h"
#include "tap.h"

#define NOW 1700000000000ull

typedef struct {
	fx_t *fx;
	uint8_t *blob;
	view_t v;
} world_t;

/* One pool with the given weights; endpoint i answers 10.0.0.(i+1). */
static void world_open(world_t *w, const uint32_t *weights, unsigned n, const char *chain)
{
	w->fx = fx_new();
	fx_prober(w->fx, "p", 0, 0);
	fx_pool(w->fx, "a", 0);
	for (unsigned i = 0; i < n; i++) {
		char id[16], addr[32];
		snprintf(id, sizeof(id), "ep%u", i);
		snprintf(addr, sizeof(addr), "10.0.0.%u", i + 1);
		fx_ep(w->fx, id, addr, NAN, NAN, weights[i]);
	}
	fx_name(w->fx, "w.", "a", chain, "all");
	fx_all_up(w->fx, NOW);
	size_t len;
	if (fx_build(w->fx, 0, NOW, &w->blob, &len) != HG_EOK ||
	    fx_open(w->blob, len, &w->v) != HG_EOK) {
		fprintf(stderr, "cannot build view\n");
		abort();
	}
}

static void world_close(world_t *w)
{
	free(w->blob);
	fx_free(w->fx);
}

/* Decisions that failed or answered nothing, over the whole run: a property
 * "holds" trivially when nothing is answered, so every test checks this too. */
static unsigned failed_decisions;

/* Index (in view order) of the first answered endpoint, -1 if none. */
static int first_ep(const world_t *w, const sel_client_t *cl, sel_rng_t *rng)
{
	sel_answer_t a;
	if (sel_decide(&w->v, cl, 1, NOW, rng, &a, NULL) != HG_EOK || a.n_endpoints == 0) {
		failed_decisions++;
		return -1;
	}
	return a.endpoints[0];
}

static sel_client_t client_v4(uint32_t prefix24, uint8_t host)
{
	char addr[32];
	snprintf(addr, sizeof(addr), "%u.%u.%u.%u", (prefix24 >> 16) & 0xff, (prefix24 >> 8) & 0xff,
	         prefix24 & 0xff, host);
	return fx_client(addr, 0, NULL);
}

static void test_weighted_distribution(const char *chain)
{
	static const uint32_t weights[] = { 100, 50, 30, 20, 0 };
	world_t w;
	world_open(&w, weights, 5, chain);
	sel_rng_t rng;
	sel_rng_seed(&rng, 12345);
	sel_client_t cl = fx_client("192.0.2.1", 0, NULL);
	unsigned count[5] = { 0 }, failed = failed_decisions;
	for (unsigned i = 0; i < 100000; i++) {
		int e = first_ep(&w, &cl, &rng);
		if (e >= 0) {
			count[e]++;
		}
	}
	is_int(failed_decisions - failed, 0, "%s: all 100000 decisions answered", chain);
	for (unsigned e = 0; e < 4; e++) {
		double got = count[e] / 1000.0, want = weights[e] / 2.0;
		ok(fabs(got - want) <= 2.0, "%s: endpoint weight %u first %.2f%% (want %.1f%% ± 2)",
		   chain, weights[e], got, want);
	}
	/* Weight 0 means "only when nothing else is left": never first while
	 * another endpoint is up. */
	is_int(count[4], 0, "%s: endpoint weight 0 never first", chain);
	world_close(&w);
}

static void test_sticky_same_prefix(void)
{
	static const uint32_t weights[] = { 1, 1, 1, 1, 1 };
	world_t w;
	world_open(&w, weights, 5, "sticky");
	unsigned unstable = 0, count[5] = { 0 };
	for (uint32_t p = 0; p < 2000; p++) {
		uint32_t prefix = 0x0a0000 + p * 7919;
		sel_rng_t rng;
		sel_rng_seed(&rng, p);
		sel_client_t cl = client_v4(prefix, 1);
		int e0 = first_ep(&w, &cl, &rng);
		count[e0 < 0 ? 0 : e0]++;
		for (unsigned host = 2; host < 255; host += 50) {
			cl = client_v4(prefix, (uint8_t)host);
			sel_rng_seed(&rng, host * 31 + p); /* the rng must not matter */
			unstable += first_ep(&w, &cl, &rng) != e0;
		}
	}
	is_int(unstable, 0, "sticky: same /24 -> same first endpoint (2000 prefixes x 6 hosts)");
	is_int(failed_decisions, 0, "sticky: every decision answered");
	for (unsigned e = 0; e < 5; e++) {
		double share = count[e] / 20.0;
		ok(fabs(share - 20.0) <= 3.0,
		   "sticky: /24s spread, endpoint %u gets %.1f%% (want 20 ± 3)", e, share);
	}
	world_close(&w);
}

static void test_sticky_weighted(void)
{
	static const uint32_t weights[] = { 100, 50 };
	world_t w;
	world_open(&w, weights, 2, "sticky");
	unsigned count[2] = { 0 }, failed = 0;
	for (uint32_t p = 0; p < 10000; p++) {
		sel_rng_t rng;
		sel_rng_seed(&rng, 1);
		sel_client_t cl = client_v4(0x640000 + p, 1);
		int e = first_ep(&w, &cl, &rng);
		if (e < 0) {
			failed++;
		} else {
			count[e]++;
		}
	}
	is_int(failed, 0, "sticky 100:50: all 10000 decisions answered");
	double share = count[0] / 100.0;
	ok(fabs(share - 100.0 * 2 / 3) <= 2.0,
	   "sticky 100:50: heavy endpoint gets %.2f%% of /24s (want 66.7 ± 2)", share);
	world_close(&w);
}

static void test_sticky_v6(void)
{
	static const uint32_t weights[] = { 1, 1, 1 };
	world_t w;
	world_open(&w, weights, 3, "sticky");
	unsigned unstable = 0, failed = 0, count[3] = { 0 };
	sel_rng_t rng;
	sel_rng_seed(&rng, 1);
	for (unsigned p = 0; p < 500; p++) {
		char a1[64], a2[64];
		snprintf(a1, sizeof(a1), "2001:db8:%x:%x00::1", p, p & 0xff);
		snprintf(a2, sizeof(a2), "2001:db8:%x:%xff:ffff::9", p, p & 0xff);
		sel_client_t c1 = fx_client(a1, 0, NULL), c2 = fx_client(a2, 0, NULL);
		int e1 = first_ep(&w, &c1, &rng), e2 = first_ep(&w, &c2, &rng);
		if (e1 < 0 || e2 < 0) {
			failed++;
			continue;
		}
		unstable += e1 != e2;
		count[e1]++;
	}
	is_int(failed, 0, "sticky v6: all 1000 decisions answered");
	is_int(unstable, 0, "sticky v6: same /56 -> same first endpoint (500 prefixes)");
	/* The /56 is the key, not something constant: the prefixes spread. */
	for (unsigned e = 0; e < 3; e++) {
		double share = count[e] / 5.0;
		ok(fabs(share - 100.0 / 3) <= 7.0,
		   "sticky v6: /56s spread, endpoint %u gets %.1f%% (want 33.3 ± 7)", e, share);
	}
	world_close(&w);
}

static void test_sticky_weight_zero(void)
{
	static const uint32_t weights[] = { 1, 0, 1 };
	world_t w;
	world_open(&w, weights, 3, "sticky");
	unsigned failed = 0, count[3] = { 0 };
	for (uint32_t p = 0; p < 5000; p++) {
		sel_rng_t rng;
		sel_rng_seed(&rng, p);
		sel_client_t cl = client_v4(0x0b0000 + p * 31, 1);
		int e = first_ep(&w, &cl, &rng);
		if (e < 0) {
			failed++;
		} else {
			count[e]++;
		}
	}
	is_int(failed, 0, "sticky 1:0:1: all 5000 decisions answered");
	is_int(count[1], 0, "sticky 1:0:1: endpoint weight 0 never first");
	ok(count[0] > 2000 && count[2] > 2000, "sticky 1:0:1: the others share the /24s (%u, %u)",
	   count[0], count[2]);
	world_close(&w);
}

static void test_sticky_minimal_disruption(void)
{
	uint32_t weights[11];
	for (unsigned i = 0; i < 11; i++) {
		weights[i] = 1;
	}
	world_t w10, w11;
	world_open(&w10, weights, 10, "sticky");
	world_open(&w11, weights, 11, "sticky");
	unsigned moved = 0, moved_elsewhere = 0, failed = failed_decisions;
	for (uint32_t p = 0; p < 10000; p++) {
		sel_rng_t rng;
		sel_rng_seed(&rng, 5);
		sel_client_t cl = client_v4(0xc00000 + p * 13, 7);
		int a = first_ep(&w10, &cl, &rng), b = first_ep(&w11, &cl, &rng);
		if (a != b) {
			moved++;
			moved_elsewhere += b != 10;
		}
	}
	double pct = moved / 100.0;
	ok(pct <= 100.0 / 11 + 2.0,
	   "sticky: adding 1 endpoint to 10 moves %.2f%% of 10,000 prefixes (max %.2f%%)", pct,
	   100.0 / 11 + 2.0);
	ok(pct >= 100.0 / 11 - 2.0, "sticky: the new endpoint does get its share (%.2f%%)", pct);
	is_int(moved_elsewhere, 0, "sticky: prefixes only move to the new endpoint");
	is_int(failed_decisions - failed, 0, "sticky 10 -> 11: all 20000 decisions answered");
	world_close(&w10);
	world_close(&w11);
}

int main(void)
{
	test_weighted_distribution("weighted first=1");
	test_weighted_distribution("shuffle first=1");
	test_sticky_same_prefix();
	test_sticky_weighted();
	test_sticky_v6();
	test_sticky_weight_zero();
	test_sticky_minimal_disruption();
	return done_testing();
}
