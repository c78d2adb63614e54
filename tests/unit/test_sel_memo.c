/*  SPDX-License-Identifier: GPL-3.0-or-later */
/*  The decision memo: whenever it answers, the answer is what sel_decide()
 *  gives that client at that time, with the geo data the mmdb has for that
 *  client (real lookups in the test databases). Random worlds, chains of
 *  every deterministic kind, clients drawn near each other (same network,
 *  same /24, neighbours) and far, times in and out of the window. */
#include <arpa/inet.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "errors.h"
#include "sel_fixture.h"
#include "sel_memo.h"
#include "tap.h"

#define NOW 1700000000000ull

static uint64_t rnd_state = 99;

static uint64_t rnd(void)
{
	uint64_t z = (rnd_state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint64_t below(uint64_t n)
{
	return n ? rnd() % n : 0;
}

/* Networks of tests/geo/test-geo.txt (and unmapped space around them). */
static const char *const nets[] = {
	"127.1.0.0",    "127.2.0.0",    "127.3.0.0",     "127.4.0.0",        "192.0.2.128",
	"198.51.100.0", "203.0.113.0",  "203.0.113.128", "10.0.0.0",         "10.1.0.0",
	"10.10.0.0",    "10.10.16.0",   "172.17.0.0",    "192.168.1.0",      "100.64.0.0",
	"10.99.0.0",    "2001:db8:1::", "2001:db8:5::",  "2001:db8:5:100::", "fd00:1::",
	"fd00:99::",
};

/* A client near `base`: the same address, other host bits, a neighbour. */
static void rnd_client(const char *base, int *family, uint8_t addr[16])
{
	geo_parse_addr(base, family, addr);
	unsigned bytes = *family == AF_INET ? 4 : 16;
	switch (below(4)) {
	case 0: break;
	case 1: addr[bytes - 1] = (uint8_t)rnd(); break;
	case 2:
		addr[bytes - 2] = (uint8_t)rnd();
		addr[bytes - 1] = (uint8_t)rnd();
		break;
	default: addr[*family == AF_INET ? 2 : 6] ^= (uint8_t)(1u << below(8)); break;
	}
}

static const char *const chains[] = {
	"up geofence nearest first=1",
	"up geofence latency=20 first=2",
	"up sticky first=1",
	"up nearest first=2",
	"loss=100 latency=10",
	"up priority first=1",
	"up",
	"geofence loss=200 latency=60 first=2",
};

static fx_t *make_world(void)
{
	fx_t *fx = fx_new();
	fx_prober(fx, "eu-fra", 50.11, 8.68);
	fx_prober(fx, "ap-sin", 1.35, 103.82);
	fx_prober(fx, "us-iad", 38.95, -77.45);
	fx_pool(fx, "eu", 1);
	fx_ep(fx, "fra", "198.51.100.10 2001:db8:10::10", 50.11, 8.68, 100);
	fx_ep(fx, "ams", "198.51.100.20 2001:db8:10::20", 52.37, 4.90, 50);
	fx_pool(fx, "ap", 1);
	fx_ep(fx, "sin", "203.0.113.10 2001:db8:20::10", 1.29, 103.85, 30);
	fx_ep(fx, "jkt", "203.0.113.20", -6.21, 106.85, 20);
	fx_pool(fx, "us", 2);
	fx_ep(fx, "iad", "192.0.2.10 2001:db8:30::10", 38.95, -77.45, 10);
	for (unsigned n = 0; n < sizeof(chains) / sizeof(chains[0]); n++) {
		char owner[32];
		snprintf(owner, sizeof(owner), "n%u.example.", n);
		size_t nm = fx_name(fx, owner, "eu ap us", chains[n], "all");
		if (strstr(chains[n], "geofence") != NULL) {
			fx_rule(fx, nm, "country=ID", "ep:jkt", false);
			fx_rule(fx, nm, "prefix=10.10.0.0/19", "ep:iad", false);
			fx_rule(fx, nm, "asn=64503", "pool:us", false);
			fx_rule(fx, nm, "continent=EU", "pool:eu", below(2));
		}
	}
	for (unsigned e = 0; e < fx->p.n_endpoints; e++) {
		for (unsigned j = 0; j < fx->p.n_probers; j++) {
			if (below(6) == 0) {
				continue;
			}
			fx_measure(fx, e, j, below(5) ? HG_HEALTH_UP : HG_HEALTH_DOWN,
			           NOW - below(20000), below(6) ? (double)(1 + below(150)) : -1.0,
			           (uint16_t)below(300));
		}
	}
	return fx;
}

static bool same_answer(const sel_answer_t *a, const sel_answer_t *b, uint16_t qtype)
{
	char ta[1024], tb[1024];
	fx_answer_text(a, qtype, ta, sizeof(ta));
	fx_answer_text(b, qtype, tb, sizeof(tb));
	return strcmp(ta, tb) == 0 && a->ttl == b->ttl && a->flags == b->flags &&
	       a->scope == b->scope && a->vantage == b->vantage &&
	       a->n_endpoints == b->n_endpoints &&
	       memcmp(a->endpoints, b->endpoints, a->n_endpoints) == 0;
}

int main(void)
{
	const char *dir = getenv("HG_TEST_DATA");
	char city[1024], asn[1024], err[256];
	snprintf(city, sizeof(city), "%s/test-city.mmdb", dir ? dir : "tests/data");
	snprintf(asn, sizeof(asn), "%s/test-asn.mmdb", dir ? dir : "tests/data");
	geo_db_t *geo = NULL;
	if (geo_open(city, asn, &geo, err, sizeof(err)) != HG_EOK) {
		ok(0, "open %s: %s", city, err);
		return done_testing();
	}
	static sel_memo_t memo;
	unsigned decisions = 0, hits = 0, wrong = 0, far_hits = 0;
	for (unsigned w = 0; w < 60; w++) {
		fx_t *fx = make_world();
		uint8_t *blobs[sizeof(chains) / sizeof(chains[0])];
		view_t views[sizeof(chains) / sizeof(chains[0])];
		size_t n_views = sizeof(chains) / sizeof(chains[0]);
		for (size_t n = 0; n < n_views; n++) {
			size_t len;
			if (fx_build(fx, n, NOW, &blobs[n], &len) != HG_EOK ||
			    fx_open(blobs[n], len, &views[n]) != HG_EOK) {
				ok(0, "world %u name %zu builds", w, n);
				return done_testing();
			}
		}
		size_t n = 0, base = 0;
		uint16_t qtype = 1;
		for (unsigned q = 0; q < 400; q++) {
			/* Half the queries repeat the last name, network and type with
			 * other host bits: the memo's case. */
			if (q == 0 || below(2)) {
				n = below(n_views);
				base = below(sizeof(nets) / sizeof(nets[0]));
				qtype = below(4) == 0 ? 28 : 1;
			}
			const view_t *v = &views[n];
			int family;
			uint8_t addr[16];
			rnd_client(nets[base], &family, addr);
			uint8_t source = (uint8_t)(below(3) == 0 ? 0 : family == AF_INET ? 24 : 56);
			char text[64];
			inet_ntop(family, addr, text, sizeof(text));
			geo_info_t gi;
			sel_client_t cl = fx_client(text, source, NULL);
			if (geo_lookup(geo, family, addr, &gi) == HG_EOK) {
				cl.geo = &gi;
			}
			uint64_t t = NOW + below(3) * 10000 - 5000;
			sel_rng_t rng;
			sel_rng_seed(&rng, q);
			sel_answer_t fresh, cached;
			if (sel_decide(v, &cl, qtype, t, &rng, &fresh, NULL) != HG_EOK) {
				wrong++;
				continue;
			}
			decisions++;
			/* The txn id is the world: a new world is a new snapshot. */
			if (sel_memo_find(&memo, fx, w, v, &cl, qtype, t, &cached)) {
				hits++;
				if (!same_answer(&cached, &fresh, qtype)) {
					if (wrong++ < 5) {
						diag("world %u name %zu (%s) client %s/%u: memo "
						     "and decision differ",
						     w, n, chains[n], text, cl.source_len);
					}
				}
				far_hits += cached.client_bits < (family == AF_INET ? 16 : 32);
			}
			if (sel_memo_allowed(v)) {
				sel_memo_store(&memo, fx, w, v, &cl, qtype, &fresh);
			}
		}
		for (size_t k = 0; k < n_views; k++) {
			free(blobs[k]);
		}
		fx_free(fx);
	}
	is_int(wrong, 0, "%u decisions, %u memo hits: every hit is sel_decide()'s answer",
	       decisions, hits);
	ok(hits > decisions / 10, "the memo answered often enough to mean something (%u)", hits);
	ok(far_hits > 0, "hits on answers that depend on few bits (%u)", far_hits);
	geo_close(geo);
	return done_testing();
}
