/*  SPDX-License-Identifier: GPL-3.0-or-later */
/*  The reference policy end to end without LMDB: policy_parse_file() →
 *  view_build() with synthetic measurements (every prober fresh, every
 *  endpoint up, RTT from distance) → sel_decide() for clients located by
 *  geo_lookup() in the test mmdb (tests/geo/test-geo.txt). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "geo.h"
#include "sel_fixture.h"
#include "tap.h"

#define NOW 1700000000000ull

typedef struct {
	const policy_t *p;
	hg_rec_measure_t m;
} synth_t;

/* Every prober sees every endpoint up, RTT 1 ms + 1 ms per 100 km; a CNAME
 * endpoint (no location) at 80 ms from everywhere. */
static const hg_rec_measure_t *synth_measure(void *ctx, size_t ep, size_t pr)
{
	synth_t *s = ctx;
	const policy_endpoint_t *e = &s->p->endpoints[ep];
	const policy_prober_t *p = &s->p->probers[pr];
	double rtt = e->has_location ? 1.0 + fx_km(e->lat, e->lon, p->lat, p->lon) / 100.0 : 80.0;
	memset(&s->m, 0, sizeof(s->m));
	s->m.layout = HG_REC_LAYOUT;
	s->m.state = HG_HEALTH_UP;
	s->m.ts_ms = NOW - 1000;
	s->m.rtt_median_us = (uint32_t)(rtt * 1000);
	return &s->m;
}

static uint8_t synth_admin(void *ctx, size_t ep)
{
	(void)ctx;
	(void)ep;
	return HG_ADMIN_NONE;
}

/* Sorted, space-separated, so random orders compare as sets. */
static const char *sorted(const char *in, char *out, size_t len)
{
	char buf[512], *tok[16], *save = NULL;
	unsigned n = 0;
	snprintf(buf, sizeof(buf), "%s", in);
	for (char *t = strtok_r(buf, " ", &save); t && n < 16; t = strtok_r(NULL, " ", &save)) {
		tok[n++] = t;
	}
	for (unsigned i = 1; i < n; i++) {
		for (unsigned j = i; j > 0 && strcmp(tok[j - 1], tok[j]) > 0; j--) {
			char *x = tok[j];
			tok[j] = tok[j - 1];
			tok[j - 1] = x;
		}
	}
	size_t pos = 0;
	out[0] = '\0';
	for (unsigned i = 0; i < n && pos < len; i++) {
		pos += (size_t)snprintf(out + pos, len - pos, "%s%s", i ? " " : "", tok[i]);
	}
	return out;
}

/* Random (shuffle, seed 1) and hashed (sticky) picks, pinned. */
#define REF_GLOBAL_UNMAPPED       "198.51.100.10 198.51.100.20"
#define REF_GLOBAL_UNMAPPED_FLAGS "CLIENT"
#define REF_CANARY_ID             "198.51.100.10"
#define REF_CANARY_DE             "198.51.100.10"
#define REF_CANARY_SG             "198.51.100.20"
#define REF_CANARY_US             "198.51.100.20"
#define REF_CANARY_UNMAPPED       "198.51.100.10"

typedef struct {
	const char *name;
	const char *client; /* where test-geo.txt puts it */
	const char *answer; /* sorted set of addresses, or cname: */
	int scope;          /* -1: the mmdb prefix of an unmapped client */
	unsigned ttl;
	const char *flags;
} ref_case_t;

/* ID = 10.0.0.1 (Jakarta /16), DE = 10.1.0.1 (Frankfurt /16),
 * SG = 10.2.0.1 (Singapore /16), US = 10.3.0.1 (Ashburn /16),
 * unmapped = 10.99.0.1. */
static const ref_case_t cases[] = {
	/* name                          client       answer (sorted)                                                 scope ttl flags */
	{ "global.gslb.example.net.", "10.0.0.1", "203.0.113.20", 16, 30, "CLIENT" },
	{ "global.gslb.example.net.", "10.1.0.1", "198.51.100.10 198.51.100.20", 16, 30, "CLIENT" },
	{ "global.gslb.example.net.", "10.2.0.1", "203.0.113.10 203.0.113.20", 16, 30, "CLIENT" },
	{ "global.gslb.example.net.", "10.3.0.1", "192.0.2.10", 16, 30, "CLIENT" },
	{ "global.gslb.example.net.", "10.99.0.1", REF_GLOBAL_UNMAPPED, -1, 30,
	  REF_GLOBAL_UNMAPPED_FLAGS },
	{ "nearest.gslb.example.net.", "10.0.0.1", "203.0.113.20", 16, 30, "CLIENT" },
	{ "nearest.gslb.example.net.", "10.1.0.1", "198.51.100.10", 16, 30, "CLIENT" },
	{ "nearest.gslb.example.net.", "10.2.0.1", "203.0.113.10", 16, 30, "CLIENT" },
	{ "nearest.gslb.example.net.", "10.3.0.1", "192.0.2.10", 16, 30, "CLIENT" },
	{ "nearest.gslb.example.net.", "10.99.0.1", "198.51.100.10", -1, 30, "CLIENT" },
	{ "dr.gslb.example.net.", "10.0.0.1", "198.51.100.10", 0, 30, "" },
	{ "dr.gslb.example.net.", "10.1.0.1", "198.51.100.10", 0, 30, "" },
	{ "dr.gslb.example.net.", "10.2.0.1", "198.51.100.10", 0, 30, "" },
	{ "dr.gslb.example.net.", "10.3.0.1", "198.51.100.10", 0, 30, "" },
	{ "dr.gslb.example.net.", "10.99.0.1", "198.51.100.10", 0, 30, "" },
	{ "canary.gslb.example.net.", "10.0.0.1", REF_CANARY_ID, 24, 60, "CLIENT" },
	{ "canary.gslb.example.net.", "10.1.0.1", REF_CANARY_DE, 24, 60, "CLIENT" },
	{ "canary.gslb.example.net.", "10.2.0.1", REF_CANARY_SG, 24, 60, "CLIENT" },
	{ "canary.gslb.example.net.", "10.3.0.1", REF_CANARY_US, 24, 60, "CLIENT" },
	{ "canary.gslb.example.net.", "10.99.0.1", REF_CANARY_UNMAPPED, 24, 60, "CLIENT" },
	{ "all.gslb.example.net.", "10.0.0.1",
	  "192.0.2.10 198.51.100.10 198.51.100.20 203.0.113.10 203.0.113.20", 0, 30, "" },
	{ "all.gslb.example.net.", "10.1.0.1",
	  "192.0.2.10 198.51.100.10 198.51.100.20 203.0.113.10 203.0.113.20", 0, 30, "" },
	{ "all.gslb.example.net.", "10.2.0.1",
	  "192.0.2.10 198.51.100.10 198.51.100.20 203.0.113.10 203.0.113.20", 0, 30, "" },
	{ "all.gslb.example.net.", "10.3.0.1",
	  "192.0.2.10 198.51.100.10 198.51.100.20 203.0.113.10 203.0.113.20", 0, 30, "" },
	{ "all.gslb.example.net.", "10.99.0.1",
	  "192.0.2.10 198.51.100.10 198.51.100.20 203.0.113.10 203.0.113.20", 0, 30, "" },
};

static long find_name(const policy_t *p, const char *text)
{
	for (size_t i = 0; i < p->n_names; i++) {
		if (strcmp(p->names[i].text, text) == 0) {
			return (long)i;
		}
	}
	return -1;
}

int main(void)
{
	const char *srcdir = getenv("top_srcdir"), *data = getenv("HG_TEST_DATA");
	char path[1024], mmdb[1024], err[256];
	snprintf(path, sizeof(path), "%s/tests/unit/policies/reference.yaml",
	         srcdir ? srcdir : "..");
	snprintf(mmdb, sizeof(mmdb), "%s/test-city.mmdb", data ? data : "tests/data");

	policy_t *pol = NULL;
	policy_errors_t errs = { 0 };
	int ret = policy_parse_file(path, &pol, &errs);
	is_int(ret, HG_EOK, "parse %s", path);
	if (ret != HG_EOK) {
		policy_errors_print(&errs, path, stdout);
		policy_errors_free(&errs);
		return done_testing();
	}
	geo_db_t *geo = NULL;
	ret = geo_open(mmdb, NULL, &geo, err, sizeof(err));
	is_int(ret, HG_EOK, "open %s %s", mmdb, ret ? err : "");
	if (ret != HG_EOK) {
		policy_free(pol);
		return done_testing();
	}
	synth_t synth = { .p = pol };
	view_inputs_t in = { synth_measure, synth_admin, &synth };

	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const ref_case_t *tc = &cases[i];
		long n = find_name(pol, tc->name);
		uint8_t *blob = NULL;
		size_t len = 0;
		view_t v;
		if (n < 0 || fx_build_policy(pol, (size_t)n, &in, NOW, &blob, &len) != HG_EOK ||
		    fx_open(blob, len, &v) != HG_EOK) {
			ok(0, "%s: view", tc->name);
			free(blob);
			continue;
		}
		geo_info_t gi;
		sel_client_t cl = fx_client(tc->client, 0, NULL);
		geo_lookup(geo, cl.family, cl.addr, &gi);
		cl.geo = &gi;
		sel_rng_t rng;
		sel_rng_seed(&rng, 1);
		sel_answer_t a;
		ret = sel_decide(&v, &cl, 1, NOW, &rng, &a, NULL);
		char ans[512], sans[512], fl[128];
		fx_answer_text(&a, 1, ans, sizeof(ans));
		sorted(ans, sans, sizeof(sans));
		fx_flags_text(a.flags, fl, sizeof(fl));
		unsigned want_scope = tc->scope < 0 ? gi.prefix_len : (unsigned)tc->scope;
		bool pass = ret == HG_EOK && strcmp(sans, tc->answer) == 0 &&
		            a.scope == want_scope && a.ttl == tc->ttl && strcmp(fl, tc->flags) == 0;
		ok(pass, "%-26s %-10s (%s) answer [%s] scope %u ttl %u flags %s", tc->name,
		   tc->client, gi.found ? gi.country : "unmapped", ans, a.scope, a.ttl, fl);
		if (!pass) {
			diag("expected [%s] scope %u ttl %u flags %s", tc->answer, want_scope,
			     tc->ttl, tc->flags);
		}
		free(blob);
	}
	/* The unmapped client really is unmapped, with a usable scope. */
	geo_info_t gi;
	sel_client_t cl = fx_client("10.99.0.1", 0, NULL);
	geo_lookup(geo, cl.family, cl.addr, &gi);
	ok(!gi.found && gi.prefix_len > 0 && gi.prefix_len <= 16,
	   "10.99.0.1 unmapped, empty region /%u", gi.prefix_len);

	geo_close(geo);
	policy_free(pol);
	return done_testing();
}
