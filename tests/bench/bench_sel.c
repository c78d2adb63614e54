/*  SPDX-License-Identifier: GPL-3.0-or-later */
/*  Cost of one decision: 10 endpoints × 5 probers, chain
 *  geofence + max-loss + lowest-latency + weighted-shuffle + first.
 *  Usage: bench_sel [DECISIONS [CHAIN [ALLOWED]]]   (default 1,000,000 and
 *  that chain; CHAIN in the test fixture's syntax, e.g. "geofence nearest
 *  first=1"; ALLOWED: the addresses an answer may hold, space-separated).
 *  Not a test, but a figure for a decision that failed or fell back would
 *  be worthless: before timing, 1000 decisions are checked (answered, no
 *  fallback, the same number of addresses, each in ALLOWED), and every
 *  timed one must answer that many; otherwise it fails with exit 1. */
#include <arpa/inet.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "errors.h"
#include "sel_fixture.h"

#define NOW 1700000000000ull

static const struct {
	const char *id, *addr;
	double lat, lon;
} eps[10] = {
	{ "fra", "198.51.100.10 2001:db8:10::10", 50.11, 8.68 },
	{ "ams", "198.51.100.20 2001:db8:10::20", 52.37, 4.90 },
	{ "lon", "198.51.100.30 2001:db8:10::30", 51.51, -0.13 },
	{ "sin", "203.0.113.10 2001:db8:20::10", 1.29, 103.85 },
	{ "jkt", "203.0.113.20", -6.21, 106.85 },
	{ "tyo", "203.0.113.30 2001:db8:20::30", 35.68, 139.69 },
	{ "iad", "192.0.2.10 2001:db8:30::10", 38.95, -77.45 },
	{ "sjc", "192.0.2.20 2001:db8:30::20", 37.34, -121.89 },
	{ "gru", "192.0.2.30 2001:db8:30::30", -23.55, -46.63 },
	{ "syd", "192.0.2.40 2001:db8:30::40", -33.87, 151.21 },
};

/* Is the 4-byte address one of the space-separated IPv4 texts in allowed? */
static bool addr_allowed(const char *allowed, const uint8_t *addr)
{
	char text[INET_ADDRSTRLEN];
	inet_ntop(AF_INET, addr, text, sizeof(text));
	size_t len = strlen(text);
	for (const char *p = allowed; (p = strstr(p, text)) != NULL; p += len) {
		if ((p == allowed || p[-1] == ' ') && (p[len] == ' ' || p[len] == '\0')) {
			return true;
		}
	}
	return false;
}

/* Untimed: CHECKS decisions like the timed ones, each checked in full.
 * Returns the number of addresses every answer has, or 0 after saying why. */
static unsigned check_decisions(const view_t *v, const sel_client_t *cl, const char *allowed)
{
	enum { CHECKS = 1000 };
	sel_rng_t rng;
	sel_rng_seed(&rng, 2);
	unsigned want = 0;
	char buf[256];
	for (unsigned i = 0; i < CHECKS; i++) {
		sel_answer_t a;
		int ret = sel_decide(v, cl, 1, NOW, &rng, &a, NULL);
		if (ret != HG_EOK) {
			fprintf(stderr, "bench_sel: FAILED: decision %u: %s\n", i,
			        hg_strerror(ret));
			return 0;
		}
		if (a.flags & (SEL_FALLBACK | SEL_NODATA) || a.n_addr == 0) {
			fprintf(stderr,
			        "bench_sel: FAILED: decision %u answered [%s] with flags %s: "
			        "the chain is not what is being timed\n",
			        i, fx_answer_text(&a, 1, buf, sizeof(buf)),
			        fx_flags_text(a.flags, buf + 128, 128));
			return 0;
		}
		if (want == 0) {
			want = a.n_addr;
		}
		bool bad = a.n_addr != want;
		for (unsigned k = 0; allowed != NULL && k < a.n_addr; k++) {
			bad |= !addr_allowed(allowed, a.addr[k]);
		}
		if (bad) {
			fprintf(stderr,
			        "bench_sel: FAILED: decision %u answered [%s], want %u addresses "
			        "among [%s]\n",
			        i, fx_answer_text(&a, 1, buf, sizeof(buf)), want,
			        allowed != NULL ? allowed : "any");
			return 0;
		}
	}
	return want;
}

int main(int argc, char **argv)
{
	unsigned long n = argc > 1 ? strtoul(argv[1], NULL, 10) : 1000000;
	const char *chain = argc > 2 ? argv[2] : "geofence loss=200 latency=60 shuffle first=2";
	const char *allowed = argc > 3 ? argv[3] : NULL;
	fx_t *fx = fx_new();
	fx_prober(fx, "eu-fra", 50.11, 8.68);
	fx_prober(fx, "ap-sin", 1.35, 103.82);
	fx_prober(fx, "us-iad", 38.95, -77.45);
	fx_prober(fx, "us-sjc", 37.34, -121.89);
	fx_prober(fx, "sa-gru", -23.55, -46.63);
	fx_pool(fx, "eu", 1);
	for (unsigned i = 0; i < 3; i++) {
		fx_ep(fx, eps[i].id, eps[i].addr, eps[i].lat, eps[i].lon, 100);
	}
	fx_pool(fx, "ap", 1);
	for (unsigned i = 3; i < 6; i++) {
		fx_ep(fx, eps[i].id, eps[i].addr, eps[i].lat, eps[i].lon, 50);
	}
	fx_pool(fx, "am", 1);
	for (unsigned i = 6; i < 10; i++) {
		fx_ep(fx, eps[i].id, eps[i].addr, eps[i].lat, eps[i].lon, 20);
	}
	size_t nm = fx_name(fx, "global.gslb.example.net.", "eu ap am", chain, "all");
	if (strstr(chain, "geofence") != NULL) {
		fx_rule(fx, nm, "country=ID", "ep:jkt", false);
		fx_rule(fx, nm, "continent=EU", "pool:eu", false);
	}
	fx_all_up(fx, NOW);
	uint8_t *blob = NULL;
	size_t len = 0;
	view_t v;
	if (fx_build(fx, nm, NOW, &blob, &len) != HG_EOK || fx_open(blob, len, &v) != HG_EOK) {
		fprintf(stderr, "bench_sel: cannot build the view\n");
		return 1;
	}
	/* A client in the US (no geofence rule matches, so every filter works
	 * on the full list) with ECS. */
	geo_info_t geo = { .found = true,
		           .continent = "NA",
		           .country = "US",
		           .subdivision = "US-VA",
		           .has_location = true,
		           .lat = 38.9,
		           .lon = -77.0,
		           .has_asn = true,
		           .asn = 15169,
		           .prefix_len = 18,
		           .asn_prefix_len = 16 };
	/* As geo_lookup() returns it: with the unit vector of its record. */
	float xyz[3];
	geo_unit_vector(geo.lat, geo.lon, xyz);
	geo.x = xyz[0];
	geo.y = xyz[1];
	geo.z = xyz[2];
	geo.has_xyz = true;
	sel_client_t cl = fx_client("8.8.8.0", 24, &geo);
	unsigned per_answer = check_decisions(&v, &cl, allowed);
	if (per_answer == 0) {
		free(blob);
		fx_free(fx);
		return 1;
	}
	sel_rng_t rng;
	sel_rng_seed(&rng, 1);
	sel_answer_t a;
	unsigned long answered = 0;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (unsigned long i = 0; i < n; i++) {
		/* sel_decide alone: the module opens (validates) a view once per
		 * LMDB snapshot and thread, not per query (view_lookup). */
		if (sel_decide(&v, &cl, 1, NOW, &rng, &a, NULL) == HG_EOK) {
			answered += a.n_addr;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (answered != (unsigned long)per_answer * n) {
		fprintf(stderr,
		        "bench_sel: FAILED: %lu decisions answered %lu addresses, want %u each\n",
		        n, answered, per_answer);
		free(blob);
		fx_free(fx);
		return 1;
	}
	double ns = ((double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec)) /
	            (double)n;
	char buf[256];
	printf("bench_sel: %lu decisions (sel_decide), 10 endpoints x 5 probers, "
	       "chain [%s]: %.1f ns/decision (view %zu bytes, last answer %s, %lu addresses)\n",
	       n, chain, ns, len, fx_answer_text(&a, 1, buf, sizeof(buf)), answered);
	free(blob);
	fx_free(fx);
	return 0;
}
