/*  SPDX-License-Identifier: GPL-3.0-or-later */
/* Policy compiler: the reference policy compiles to the model its comments
 * describe; small accepted forms and the text parsers, table-driven. */

#include <arpa/inet.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "policy.h"
#include "tap.h"

static char ref_path[4096];

static void set_ref_path(void)
{
	const char *top = getenv("top_srcdir");
	snprintf(ref_path, sizeof(ref_path), "%s/tests/unit/policies/reference.yaml",
	         top ? top : "..");
}

static const policy_endpoint_t *ep(const policy_t *p, const char *id)
{
	long i = policy_find_endpoint(p, id);
	return i < 0 ? NULL : &p->endpoints[i];
}

static const policy_name_t *name_of(const policy_t *p, const char *text)
{
	for (size_t i = 0; i < p->n_names; i++) {
		if (strcmp(p->names[i].text, text) == 0) {
			return &p->names[i];
		}
	}
	return NULL;
}

static const char *ip(const uint8_t *a, int af)
{
	static char buf[64];
	inet_ntop(af, a, buf, sizeof(buf));
	return buf;
}

static void test_reference_shape(const policy_t *p)
{
	is_int(p->version, 1, "version 1");
	is_int(p->n_probers, 3, "3 probers");
	is_int(p->n_pools, 4, "4 pools");
	is_int(p->n_endpoints, 6, "6 endpoints");
	is_int(p->n_names, 5, "5 names");
	is_int(p->ttl, 30, "defaults ttl");
	is_int(p->degraded_ttl, 10, "defaults degraded-ttl");
	is_int(p->quorum_ppm, 500000, "defaults quorum 0.5");
	is_int(p->stale_after_ms, 15000, "defaults stale-after 15s");
	is_int(p->check.type, HG_CHECK_HTTP, "default check http");
	is_int(p->check.port, 80, "default check port");
	is_str(p->check.path, "/healthz", "default check path");
	is_str(p->source, ref_path, "source path copied");

	long pr = policy_find_prober(p, "ap-sin");
	is_int(pr, 1, "prober ap-sin is second");
	ok(pr >= 0 && p->probers[pr].lat == 1.35 && p->probers[pr].lon == 103.82,
	   "ap-sin location");
	is_int(p->warnings.n_errors, 0, "the reference policy has no warnings");
	is_int(policy_find_prober(p, "nowhere"), -1, "unknown prober");

	static const struct {
		const char *id;
		int prio;
		size_t first, n;
	} pools[] = {
		{ "eu", 1, 0, 2 },
		{ "ap", 1, 2, 2 },
		{ "us", 2, 4, 1 },
		{ "cdn-backup", 3, 5, 1 },
	};
	for (size_t i = 0; i < sizeof(pools) / sizeof(pools[0]); i++) {
		long k = policy_find_pool(p, pools[i].id);
		is_int(k, (long)i, "pool %s index", pools[i].id);
		if (k < 0) {
			continue;
		}
		is_int(p->pools[k].priority, pools[i].prio, "pool %s priority", pools[i].id);
		is_int(p->pools[k].first_endpoint, pools[i].first, "pool %s first", pools[i].id);
		is_int(p->pools[k].n_endpoints, pools[i].n, "pool %s size", pools[i].id);
	}
}

static void test_reference_endpoints(const policy_t *p)
{
	/* id, pool, weight, priority, v4, v6, check type, port, path */
	static const struct {
		const char *id, *pool;
		unsigned weight;
		int prio;
		int n4, n6;
		const char *v4;
		int type, port;
		const char *path;
	} eps[] = {
		{ "waf-fra-aws", "eu", 100, 1, 1, 1, "198.51.100.10", HG_CHECK_HTTP, 80,
		  "/healthz" },
		{ "waf-ams-gcp", "eu", 50, 1, 1, 1, "198.51.100.20", HG_CHECK_HTTPS, 443,
		  "/health" },
		{ "waf-sin-aws", "ap", 1, 1, 1, 1, "203.0.113.10", HG_CHECK_HTTP, 80, "/healthz" },
		{ "waf-jkt-azure", "ap", 1, 1, 1, 0, "203.0.113.20", HG_CHECK_TCP, 443,
		  "/healthz" },
		{ "waf-iad-aws", "us", 1, 2, 1, 1, "192.0.2.10", HG_CHECK_ICMP, 80, "/healthz" },
		{ "cdn-b", "cdn-backup", 1, 3, 0, 0, NULL, HG_CHECK_HTTPS, 443, "/ping" },
	};
	for (size_t i = 0; i < sizeof(eps) / sizeof(eps[0]); i++) {
		const policy_endpoint_t *e = ep(p, eps[i].id);
		ok(e != NULL && e == &p->endpoints[i], "endpoint %s in policy order", eps[i].id);
		if (e == NULL) {
			continue;
		}
		is_str(e->pool, eps[i].pool, "%s pool", eps[i].id);
		is_int(e->weight, eps[i].weight, "%s weight", eps[i].id);
		is_int(e->priority, eps[i].prio, "%s priority (pool's)", eps[i].id);
		is_int(e->n_v4, eps[i].n4, "%s v4 count", eps[i].id);
		is_int(e->n_v6, eps[i].n6, "%s v6 count", eps[i].id);
		if (eps[i].v4 != NULL) {
			is_str(ip(e->v4[0], AF_INET), eps[i].v4, "%s v4", eps[i].id);
		}
		is_int(e->check.type, eps[i].type, "%s check type", eps[i].id);
		is_int(e->check.port, eps[i].port, "%s check port", eps[i].id);
		is_str(e->check.path, eps[i].path, "%s check path", eps[i].id);
		is_int(e->check.interval_ms, 5000, "%s interval inherited", eps[i].id);
		is_int(e->check.timeout_ms, 2000, "%s timeout inherited", eps[i].id);
		is_int(e->check.rise, 2, "%s rise inherited", eps[i].id);
		is_int(e->check.fall, 3, "%s fall inherited", eps[i].id);
		is_int(e->check.tls_verify, 1, "%s tls-verify default", eps[i].id);
	}
	const policy_endpoint_t *ams = ep(p, "waf-ams-gcp");
	if (ams != NULL) {
		is_str(ams->check.host, "app.example.com", "ams host");
		is_int(ams->check.n_expect, 2, "ams expect count");
		ok(ams->check.expect[0] == 200 && ams->check.expect[1] == 204,
		   "ams expect [200, 204]");
		is_str(ams->check.body, "OK", "ams body");
		is_str(ip(ams->v6[0], AF_INET6), "2001:db8:10::20", "ams v6");
		ok(ams->has_location && ams->lat == 52.37 && ams->lon == 4.90, "ams location");
	}
	const policy_endpoint_t *fra = ep(p, "waf-fra-aws");
	if (fra != NULL) {
		ok(fra->check.n_expect == 1 && fra->check.expect[0] == 200, "fra expect [200]");
		is_str(fra->check.host, "", "fra no host");
	}
	const policy_endpoint_t *cdn = ep(p, "cdn-b");
	if (cdn != NULL) {
		static const uint8_t wire[] = "\3app\5cdn-b\7example\3org";
		is_int(cdn->cname_len, sizeof(wire), "cdn-b cname length");
		ok(memcmp(cdn->cname, wire, sizeof(wire)) == 0, "cdn-b cname wire");
		ok(!cdn->has_location, "cdn-b has no location");
		is_str(cdn->check.host, "app.cdn-b.example.org", "cdn-b host");
	}
}

static void test_reference_names(const policy_t *p)
{
	const policy_name_t *g = name_of(p, "global.gslb.example.net.");
	ok(g != NULL, "global name");
	if (g != NULL) {
		static const uint8_t wire[] = "\6global\4gslb\7example\3net";
		is_int(g->owner_len, sizeof(wire), "global owner length");
		ok(memcmp(g->owner, wire, sizeof(wire)) == 0, "global owner wire");
		is_int(g->n_pools, 4, "global pools");
		is_int(g->ttl, 30, "global ttl from defaults");
		is_int(g->degraded_ttl, 10, "global degraded ttl from defaults");
		is_int(g->n_filters, 6, "global chain has 6 filters");
		static const uint8_t types[] = { HG_F_UP,
			                         HG_F_GEOFENCE,
			                         HG_F_MAX_LOSS,
			                         HG_F_LOWEST_LATENCY,
			                         HG_F_WEIGHTED_SHUFFLE,
			                         HG_F_FIRST };
		for (size_t i = 0; i < 6 && i < g->n_filters; i++) {
			is_int(g->chain[i].type, types[i], "global filter %zu type", i);
		}
		is_int(g->chain[2].arg, 200, "max-loss 2%% = 200 bp");
		is_int(g->chain[3].arg, 20000, "tolerance 20ms in us");
		is_int(g->chain[5].arg, 2, "first 2");
		is_int(g->chain[1].pos.line, 78, "geofence position line");
		is_int(g->chain[1].pos.col, 9, "geofence position col");
		const policy_filter_t *gf = &g->chain[1];
		is_int(gf->n_rules, 2, "geofence 2 rules");
		if (gf->n_rules == 2) {
			const policy_rule_t *r0 = &gf->rules[0], *r1 = &gf->rules[1];
			is_int(r0->n_matches, 1, "rule 0 one match");
			ok(r0->matches[0].kind == HG_M_COUNTRY &&
			           memcmp(r0->matches[0].data, "ID\0", 3) == 0,
			   "rule 0 country ID");
			ok(r0->n_endpoints == 1 && strcmp(r0->endpoints[0], "waf-jkt-azure") == 0,
			   "rule 0 endpoint waf-jkt-azure");
			is_int(r0->n_pools, 0, "rule 0 no pools");
			ok(!r0->strict, "rule 0 not strict");
			ok(r1->n_matches == 1 && r1->matches[0].kind == HG_M_CONTINENT &&
			           memcmp(r1->matches[0].data, "EU", 2) == 0,
			   "rule 1 continent EU");
			ok(r1->n_pools == 1 && strcmp(r1->pools[0], "eu") == 0, "rule 1 pool eu");
		}
		is_int(g->fallback, HG_FALLBACK_ALL, "global fallback all");
		is_str(g->chain_text,
		       "up, geofence(2 rules), max-loss 2%, lowest-latency 20ms, weighted-shuffle, "
		       "first 2",
		       "global chain text");
	}
	/* name, ttl, pools, chain text */
	static const struct {
		const char *name;
		unsigned ttl;
		size_t n_pools;
		const char *chain;
	} rows[] = {
		{ "nearest.gslb.example.net.", 30, 3, "up, nearest, first 1" },
		{ "dr.gslb.example.net.", 30, 2, "up, priority, first 1" },
		{ "canary.gslb.example.net.", 60, 1, "up, weighted sticky, first 1" },
		{ "all.gslb.example.net.", 30, 3, "up, round-robin, first 8" },
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const policy_name_t *n = name_of(p, rows[i].name);
		ok(n != NULL, "name %s", rows[i].name);
		if (n == NULL) {
			continue;
		}
		is_int(n->ttl, rows[i].ttl, "%s ttl", rows[i].name);
		is_int(n->n_pools, rows[i].n_pools, "%s pools", rows[i].name);
		is_str(n->chain_text, rows[i].chain, "%s chain", rows[i].name);
		is_int(n->fallback, HG_FALLBACK_ALL, "%s fallback default all", rows[i].name);
	}
	const policy_name_t *c = name_of(p, "canary.gslb.example.net.");
	ok(c != NULL && c->n_filters == 3 && c->chain[1].type == HG_F_WEIGHTED &&
	           c->chain[1].sticky,
	   "canary weighted sticky");
	ok(c != NULL && c->degraded_ttl == 10 && c->quorum_ppm == 500000, "canary other defaults");
	const policy_name_t *dr = name_of(p, "dr.gslb.example.net.");
	ok(dr != NULL && dr->pools[0] == 0 && dr->pools[1] == 2, "dr pools eu, us by index");
}

static void test_reference(void)
{
	policy_t *p = NULL;
	policy_errors_t errs;
	int ret = policy_parse_file(ref_path, &p, &errs);
	is_int(ret, HG_EOK, "reference policy compiles");
	if (ret != HG_EOK) {
		policy_errors_print(&errs, ref_path, stdout);
		policy_errors_free(&errs);
		return;
	}
	is_int(errs.n_errors, 0, "no errors");

	/* The digest must be of the file's bytes. */
	FILE *f = fopen(ref_path, "rb");
	char buf[16384];
	size_t n = f ? fread(buf, 1, sizeof(buf), f) : 0;
	if (f) {
		fclose(f);
	}
	uint8_t md[32];
	EVP_Digest(buf, n, md, NULL, EVP_sha256(), NULL);
	ok(n > 0 && memcmp(md, p->sha256, 32) == 0, "sha256 of the file bytes");

	test_reference_shape(p);
	test_reference_endpoints(p);
	test_reference_names(p);
	policy_free(p);
}

/* Accepted forms beyond the reference, each compiled from a small buffer. */
#define MINI_POOLS                                                           \
	"version: 1\npools:\n  - id: p\n    endpoints:\n"                    \
	"      - {id: e1, address: 192.0.2.1, location: {lat: 1, lon: 2}}\n" \
	"      - {id: e2, address: \"2001:db8::1\"}\n"                       \
	"  - id: q\n    endpoints: [{id: e3, cname: X.Example.}]\n"

static policy_t *compile(const char *yaml)
{
	policy_t *p = NULL;
	policy_errors_t errs;
	int ret = policy_parse_buffer("mini.yaml", yaml, strlen(yaml), &p, &errs);
	if (ret != HG_EOK) {
		diag("unexpected failure %d", ret);
		policy_errors_print(&errs, "mini.yaml", stdout);
		policy_errors_free(&errs);
	}
	return p;
}

static void test_forms(void)
{
	policy_t *p = compile(
	        MINI_POOLS
	        "names:\n"
	        "  - name: A.Example.\n    pools: p\n    quorum: 50%\n    stale-after: 500ms\n"
	        "    degraded-ttl: 0\n    fallback: pool:p\n"
	        "    chain: [lowest-latency, weighted, {max-loss: 0.025}, {first: 64}]\n"
	        "  - name: b.example.\n    pools: [p, q]\n    quorum: 1\n    fallback: none\n"
	        "    chain:\n      - geofence:\n"
	        "          - {match: {asn: [AS64500, 13335], prefix: 2001:db8::/32}, pools: q, "
	        "strict: yes}\n"
	        "          - {match: {subdivision: us-ca, country: de, prefix: 10.0.0.0/8}, "
	        "endpoints: e2}\n"
	        "          - {match: {country: fr}, pools: q, strict: true, fallback: pool:p}\n"
	        "          - {match: {country: be}, pools: q, strict: true, fallback: none}\n"
	        "  - name: c.example.\n    pools: [p]\n    chain: []\n");
	ok(p != NULL, "small policy compiles");
	if (p == NULL) {
		return;
	}
	/* no defaults section: built-in values */
	ok(p->ttl == 30 && p->degraded_ttl == 10 && p->quorum_ppm == 500000 &&
	           p->stale_after_ms == 15000,
	   "built-in defaults");
	ok(p->check.type == HG_CHECK_HTTP && p->check.port == 80 &&
	           strcmp(p->check.path, "/") == 0 && p->check.n_expect == 1 &&
	           p->check.expect[0] == 200 && p->check.interval_ms == 5000 &&
	           p->check.timeout_ms == 2000 && p->check.rise == 2 && p->check.fall == 3 &&
	           p->check.tls_verify == 1 && p->check.http2 == 0,
	   "built-in default check");
	is_int(p->endpoints[0].n_v4, 1, "single address string");
	is_int(p->endpoints[1].n_v6, 1, "single IPv6 address string");
	is_int(p->endpoints[0].weight, 1, "weight default 1");
	is_int(p->endpoints[0].priority, 0, "priority default 0");
	is_int(p->endpoints[2].cname_len, 11, "cname lower-cased wire");
	ok(memcmp(p->endpoints[2].cname, "\1x\7example", 11) == 0, "cname is lower-case");

	const policy_name_t *a = &p->names[0];
	is_str(a->text, "a.example.", "name lower-cased");
	is_int(a->quorum_ppm, 500000, "quorum 50%%");
	is_int(a->stale_after_ms, 500, "stale-after 500ms");
	is_int(a->degraded_ttl, 0, "degraded-ttl 0 allowed");
	is_int(a->fallback, HG_FALLBACK_POOL, "fallback pool");
	is_int(a->fallback_pool, 0, "fallback pool index");
	is_int(a->chain[0].arg, 20000, "lowest-latency default tolerance");
	ok(a->chain[1].type == HG_F_WEIGHTED && !a->chain[1].sticky, "weighted scalar: not sticky");
	is_int(a->chain[2].arg, 250, "max-loss 0.025 = 250 bp");
	is_int(a->chain[3].arg, 64, "first 64");
	is_str(a->chain_text, "lowest-latency 20ms, weighted, max-loss 2.5%, first 64",
	       "chain text");

	const policy_name_t *b = &p->names[1];
	is_int(b->quorum_ppm, 1000000, "quorum 1");
	is_int(b->fallback, HG_FALLBACK_NONE, "fallback none");
	is_int(b->n_filters, 1, "one geofence");
	if (b->n_filters == 1 && b->chain[0].n_rules == 4) {
		const policy_rule_t *r2 = &b->chain[0].rules[2], *r3 = &b->chain[0].rules[3];
		ok(r2->strict && r2->has_fallback_pool && r2->fallback_pool == 0,
		   "rule 2: strict, fallback pool:p");
		ok(r3->strict && !r3->has_fallback_pool, "rule 3: strict, fallback none");
		ok(!b->chain[0].rules[0].has_fallback_pool, "rule 0: no fallback key: none");
		const policy_rule_t *r0 = &b->chain[0].rules[0], *r1 = &b->chain[0].rules[1];
		uint32_t asn0, asn1;
		is_int(r0->n_matches, 3, "rule 0: 2 asn + 1 prefix");
		memcpy(&asn0, r0->matches[0].data, 4);
		memcpy(&asn1, r0->matches[1].data, 4);
		ok(r0->matches[0].kind == HG_M_ASN && asn0 == 64500 && asn1 == 13335, "asn values");
		ok(r0->matches[2].kind == HG_M_PREFIX && r0->matches[2].family == 6 &&
		           r0->matches[2].prefix_len == 32 && r0->matches[2].data[0] == 0x20 &&
		           r0->matches[2].data[1] == 0x01 && r0->matches[2].data[3] == 0xb8,
		   "v6 prefix");
		ok(r0->strict && r0->n_pools == 1 && strcmp(r0->pools[0], "q") == 0,
		   "rule 0 strict, pool q");
		is_int(r1->n_matches, 3, "rule 1: three kinds");
		ok(r1->matches[0].kind == HG_M_COUNTRY && memcmp(r1->matches[0].data, "DE", 3) == 0,
		   "country upper-cased");
		ok(r1->matches[1].kind == HG_M_SUBDIVISION &&
		           memcmp(r1->matches[1].data, "US-CA\0", 6) == 0,
		   "subdivision upper-cased");
		ok(r1->matches[2].family == 4 && r1->matches[2].prefix_len == 8 &&
		           r1->matches[2].data[0] == 10,
		   "v4 prefix");
		ok(!r1->strict && r1->n_endpoints == 1 && strcmp(r1->endpoints[0], "e2") == 0,
		   "rule 1 endpoint e2");
	} else {
		ok(0, "geofence rules present");
	}
	is_str(b->chain_text, "geofence(4 rules)", "geofence chain text");
	is_int(p->names[2].n_filters, 0, "empty chain allowed");
	policy_free(p);
}

/* Check merging: defaults → pool → endpoint, field by field. */
static void test_check_merge(void)
{
	policy_t *p =
	        compile("version: 1\n"
	                "defaults:\n  check: {type: http, port: 8080, interval: 10s, http2: true}\n"
	                "pools:\n"
	                "  - id: p\n    check: {type: https, expect: 204, tls-verify: false, ca: "
	                "/etc/ca.pem, down-loss: 30%}\n"
	                "    endpoints:\n"
	                "      - {id: e1, address: 192.0.2.1}\n"
	                "      - {id: e2, address: 192.0.2.2, priority: -5, weight: 0,\n"
	                "         check: {timeout: 500ms, rise: 1, fall: 10, path: /x, host: "
	                "h.example, down-loss: 0}}\n"
	                "  - id: q\n    endpoints:\n"
	                "      - {id: e3, cname: c.example., check: {type: https, probe-address: "
	                "\"2001:DB8::0:1\"}}\n"
	                "names: []\n");
	ok(p != NULL, "merge policy compiles");
	if (p == NULL) {
		return;
	}
	const hg_rec_check_t *c1 = &p->endpoints[0].check, *c2 = &p->endpoints[1].check;
	const hg_rec_check_t *c3 = &p->endpoints[2].check;
	is_int(p->n_names, 0, "empty names list");
	/* explicit port of defaults is inherited even though the pool switches to https */
	ok(c1->type == HG_CHECK_HTTPS && c1->port == 8080,
	   "e1 https keeps inherited explicit port");
	ok(c1->interval_ms == 10000 && c1->http2 == 1, "e1 interval/http2 from defaults");
	ok(c1->n_expect == 1 && c1->expect[0] == 204, "e1 expect from pool (scalar form)");
	ok(c1->tls_verify == 0 && strcmp(c1->ca, "/etc/ca.pem") == 0, "e1 tls from pool");
	ok(c1->timeout_ms == 2000 && c1->rise == 2 && c1->fall == 3, "e1 built-in timing");
	ok(c2->timeout_ms == 500 && c2->rise == 1 && c2->fall == 10, "e2 own timing");
	ok(strcmp(c2->path, "/x") == 0 && strcmp(c2->host, "h.example") == 0, "e2 path/host");
	ok(c2->type == HG_CHECK_HTTPS && c2->tls_verify == 0, "e2 pool fields kept");
	ok(p->endpoints[1].priority == -5 && p->endpoints[1].weight == 0, "e2 priority/weight");
	ok(c3->type == HG_CHECK_HTTPS && c3->port == 8080, "e3 https, defaults port");
	is_str(c3->probe_address, "2001:db8::1", "probe-address canonical");
	is_int(c1->down_loss_bp, 3000, "e1 down-loss 30%% from the pool");
	is_int(c2->down_loss_bp, 0, "e2 down-loss 0: off");
	is_int(c3->down_loss_bp, 5000, "e3 down-loss built-in 50%%");
	policy_free(p);

	p = compile("version: 1\npools:\n  - id: p\n    endpoints:\n"
	            "      - {id: e1, address: 192.0.2.1, check: {type: https}}\n"
	            "      - {id: e2, address: 192.0.2.2, check: {type: tcp}}\n"
	            "names: []\n");
	ok(p != NULL && p->endpoints[0].check.port == 443, "https with no port anywhere: 443");
	ok(p != NULL && p->endpoints[1].check.port == 80, "tcp with no port anywhere: 80");
	policy_free(p);
}

static void test_duration(void)
{
	static const struct {
		const char *in;
		int ret;
		uint32_t ms;
	} t[] = {
		{ "500ms", HG_EOK, 500 },     { "5s", HG_EOK, 5000 },
		{ "2m", HG_EOK, 120000 },     { "1h", HG_EOK, 3600000 },
		{ "15", HG_EOK, 15000 },      { "0", HG_EOK, 0 },
		{ "0ms", HG_EOK, 0 },         { "4294967295ms", HG_EOK, 4294967295u },
		{ "4294968s", HG_EINVAL, 0 }, { "4294967296ms", HG_EINVAL, 0 },
		{ "", HG_EINVAL, 0 },         { "s", HG_EINVAL, 0 },
		{ "5x", HG_EINVAL, 0 },       { "-5s", HG_EINVAL, 0 },
		{ "1.5s", HG_EINVAL, 0 },     { " 5s", HG_EINVAL, 0 },
		{ "5 s", HG_EINVAL, 0 },      { "5sec", HG_EINVAL, 0 },
		{ "5S", HG_EINVAL, 0 },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		uint32_t ms = 0;
		int ret = policy_parse_duration_ms(t[i].in, &ms);
		ok(ret == t[i].ret && (ret != HG_EOK || ms == t[i].ms),
		   "duration '%s' -> %d/%u (got %d/%u)", t[i].in, t[i].ret, t[i].ms, ret, ms);
	}
}

static void test_percent(void)
{
	static const struct {
		const char *in;
		int ret;
		uint32_t bp;
	} t[] = {
		{ "2%", HG_EOK, 200 },    { "0.02", HG_EOK, 200 },   { "2.5%", HG_EOK, 250 },
		{ "0.025", HG_EOK, 250 }, { "0", HG_EOK, 0 },        { "0%", HG_EOK, 0 },
		{ "1", HG_EOK, 10000 },   { "100%", HG_EOK, 10000 }, { ".5", HG_EOK, 5000 },
		{ "0.01%", HG_EOK, 1 },   { "0.0001", HG_EOK, 1 },   { "0.33", HG_EOK, 3300 },
		{ "101%", HG_EINVAL, 0 }, { "1.01", HG_EINVAL, 0 },  { "2", HG_EINVAL, 0 },
		{ "-1%", HG_EINVAL, 0 },  { "%", HG_EINVAL, 0 },     { "", HG_EINVAL, 0 },
		{ "2 %", HG_EINVAL, 0 },  { "2%%", HG_EINVAL, 0 },   { "abc", HG_EINVAL, 0 },
		{ "1e-2", HG_EINVAL, 0 }, { ".", HG_EINVAL, 0 },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		uint32_t bp = 0;
		int ret = policy_parse_percent_bp(t[i].in, &bp);
		ok(ret == t[i].ret && (ret != HG_EOK || bp == t[i].bp),
		   "percent '%s' -> %d/%u (got %d/%u)", t[i].in, t[i].ret, t[i].bp, ret, bp);
	}
}

static void test_dname(void)
{
	static const char l63[] = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
	char long_ok[300], long_bad[300], label64[80];
	/* 4 labels of 63 + 1 of 1 = 4*64 + 2 + 1 = 259 > 255; 3*64 + 62 + 1 = 255 */
	snprintf(long_ok, sizeof(long_ok), "%s.%s.%s.%.61s.", l63, l63, l63, l63);
	snprintf(long_bad, sizeof(long_bad), "%s.%s.%s.%.62s.", l63, l63, l63, l63);
	snprintf(label64, sizeof(label64), "%sa.example.", l63);
	static const struct {
		const char *in;
		int ret;
		size_t len;
		const char *wire;
	} t[] = {
		{ "example.com.", HG_EOK, 13, "\7example\3com" },
		{ "WWW.Example.COM.", HG_EOK, 17, "\3www\7example\3com" },
		{ ".", HG_EOK, 1, "" },
		{ "a-b_c.x.", HG_EOK, 9, "\5a-b_c\1x" },
		{ "example.com", HG_EINVAL, 0, NULL },
		{ "", HG_EINVAL, 0, NULL },
		{ "a..b.", HG_EINVAL, 0, NULL },
		{ ".a.", HG_EINVAL, 0, NULL },
		{ "a b.", HG_EINVAL, 0, NULL },
		{ "a\\.b.", HG_EINVAL, 0, NULL },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		uint8_t wire[HG_DNAME_MAX];
		uint8_t len = 0;
		int ret = policy_parse_dname(t[i].in, wire, &len);
		ok(ret == t[i].ret && (ret != HG_EOK ||
		                       (len == t[i].len && memcmp(wire, t[i].wire, len) == 0)),
		   "dname '%s' -> %d/%zu", t[i].in, t[i].ret, t[i].len);
	}
	uint8_t wire[HG_DNAME_MAX], len = 0;
	ok(policy_parse_dname(long_ok, wire, &len) == HG_EOK && len == 255, "255-byte name ok");
	is_int(policy_parse_dname(long_bad, wire, &len), HG_EINVAL, "256-byte name rejected");
	is_int(policy_parse_dname(label64, wire, &len), HG_EINVAL, "64-byte label rejected");
}

static void test_unreadable(void)
{
	policy_t *p = (policy_t *)1;
	policy_errors_t errs;
	int ret = policy_parse_file("/nonexistent/policy.yaml", &p, &errs);
	is_int(ret, HG_ENOENT, "missing file -> HG_ENOENT");
	ok(p == NULL, "no model for a missing file");
	ok(errs.n_errors == 1 && strstr(errs.errors[0].msg, "/nonexistent/policy.yaml") &&
	           strstr(errs.errors[0].msg, "No such file or directory"),
	   "error names file and reason");
	char out[512] = "";
	FILE *f = fmemopen(out, sizeof(out), "w");
	policy_errors_print(&errs, "/nonexistent/policy.yaml", f);
	fclose(f);
	ok(strncmp(out, "/nonexistent/policy.yaml: cannot read", 37) == 0,
	   "printed without position");
	policy_errors_free(&errs);

	ret = policy_parse_file("/", &p, &errs);
	is_int(ret, HG_EIO, "directory -> HG_EIO");
	ok(errs.n_errors == 1 && strstr(errs.errors[0].msg, "Is a directory"), "EISDIR reported");
	policy_errors_free(&errs);
}

/* Format v1's per-prober 'feed' URL is obsolete (the fleet replicates
 * through the broker): accepted, ignored, reported as a warning. */
static void test_obsolete_feed(void)
{
	policy_t *p = compile("version: 1\nprobers:\n  - id: eu-fra\n"
	                      "    location: {lat: 50.11, lon: 8.68}\n"
	                      "    feed: https://prober-eu-fra.example.net:8443\n"
	                      "pools:\n  - id: p\n    endpoints: [{id: e1, address: 192.0.2.1}]\n"
	                      "names: []\n");
	ok(p != NULL, "a policy with 'feed' still compiles");
	if (p == NULL) {
		return;
	}
	is_int(p->warnings.n_errors, 1, "one warning");
	if (p->warnings.n_errors == 1) {
		const policy_error_t *w = &p->warnings.errors[0];
		ok(w->pos.line == 5 && w->pos.col == 11,
		   "warning at the feed value (5:11, got %u:%u)", w->pos.line, w->pos.col);
		ok(strncmp(w->msg, "warning: 'feed' of prober is obsolete and ignored", 49) == 0,
		   "warning text: %s", w->msg);
	}
	char out[512] = "";
	FILE *f = fmemopen(out, sizeof(out), "w");
	policy_errors_print(&p->warnings, "mini.yaml", f);
	fclose(f);
	ok(strncmp(out, "mini.yaml:5:11: warning: ", 25) == 0,
	   "printed as FILE:LINE:COL: warning:");
	policy_free(p);
}

/* Lookups by id on a parsed model go through its sorted index: every id is
 * found at its own index, in any order, and an unknown one is not. */
static void test_lookups(void)
{
	enum { N = 300 };
	size_t cap = 1 << 17, off;
	char *y = malloc(cap);
	off = (size_t)snprintf(y, cap, "version: 1\nprobers:\n");
	for (int i = 0; i < 32; i++) {
		off += (size_t)snprintf(y + off, cap - off,
		                        "  - {id: pr%02d, location: {lat: 0, lon: 0}}\n", 31 - i);
	}
	off += (size_t)snprintf(y + off, cap - off, "pools:\n");
	for (int i = 0; i < N; i++) {
		/* ids out of order, so sorted order differs from policy order */
		off += (size_t)snprintf(y + off, cap - off,
		                        "  - {id: pool%d, endpoints: [{id: ep%d, "
		                        "address: 192.0.2.1}, {id: ep%d-b, address: 192.0.2.2}]}\n",
		                        (i * 7919) % N, (i * 7919) % N, (i * 7919) % N);
	}
	snprintf(y + off, cap - off,
	         "names:\n  - {name: a.example., pools: [pool%d], chain: [up]}\n", N - 1);
	policy_t *p = NULL;
	is_int(policy_parse_buffer("many.yaml", y, strlen(y), &p, NULL), HG_EOK, "300 pools parse");
	bool all = p != NULL;
	for (size_t i = 0; all && i < p->n_pools; i++) {
		all = policy_find_pool(p, p->pools[i].id) == (long)i;
	}
	for (size_t i = 0; all && i < p->n_endpoints; i++) {
		all = policy_find_endpoint(p, p->endpoints[i].id) == (long)i;
	}
	for (size_t i = 0; all && i < p->n_probers; i++) {
		all = policy_find_prober(p, p->probers[i].id) == (long)i;
	}
	ok(all, "every pool, endpoint and prober found at its index");
	ok(p != NULL && policy_find_pool(p, "pool300") == -1 && policy_find_pool(p, "") == -1 &&
	           policy_find_endpoint(p, "ep-none") == -1 &&
	           policy_find_prober(p, "pr32") == -1 && policy_find_pool(p, "pool0") >= 0,
	   "unknown ids not found");
	ok(p != NULL && p->n_names == 1 && p->names[0].n_pools == 1 &&
	           strcmp(p->pools[p->names[0].pools[0]].id, "pool299") == 0,
	   "name's pool resolved");
	policy_free(p);
	free(y);
}

int main(void)
{
	set_ref_path();
	test_reference();
	test_forms();
	test_check_merge();
	test_duration();
	test_percent();
	test_dname();
	test_unreadable();
	test_obsolete_feed();
	test_lookups();
	return done_testing();
}
