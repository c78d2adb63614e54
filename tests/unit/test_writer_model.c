/*  SPDX-License-Identifier: GPL-3.0-or-later */
/*  Policy models built in C, as the compiler would produce them. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "writer_fixture.h"

#define TM_CAP 128

#define TM_NAMES_MAX 80 /* names a model may hold */

static policy_t *tm_new(const char *source, uint8_t digest_seed)
{
	policy_t *p = calloc(1, sizeof(*p));
	p->source = strdup(source);
	for (int i = 0; i < 32; i++) {
		p->sha256[i] = (uint8_t)(digest_seed + i);
	}
	p->version = 1;
	p->ttl = 30;
	p->degraded_ttl = 10;
	p->quorum_ppm = 500000;
	p->stale_after_ms = 15000;
	p->check = (hg_rec_check_t){ .type = HG_CHECK_HTTP,
		                     .tls_verify = 1,
		                     .n_expect = 1,
		                     .port = 80,
		                     .rise = 2,
		                     .fall = 3,
		                     .expect = { 200 },
		                     .interval_ms = 5000,
		                     .timeout_ms = 2000,
		                     .path = "/healthz" };
	p->probers = calloc(HG_PROBER_MAX, sizeof(*p->probers));
	p->pools = calloc(TM_CAP, sizeof(*p->pools));
	p->endpoints = calloc(TM_CAP, sizeof(*p->endpoints));
	p->names = calloc(TM_NAMES_MAX, sizeof(*p->names));
	return p;
}

static void tm_prober(policy_t *p, const char *id, double lat, double lon)
{
	policy_prober_t *pr = &p->probers[p->n_probers++];
	snprintf(pr->id, sizeof(pr->id), "%s", id);
	pr->lat = lat;
	pr->lon = lon;
}

static void tm_pool(policy_t *p, const char *id, int32_t priority)
{
	policy_pool_t *pool = &p->pools[p->n_pools++];
	snprintf(pool->id, sizeof(pool->id), "%s", id);
	pool->priority = priority;
	pool->first_endpoint = p->n_endpoints;
}

/* Endpoints are appended to the last pool (the model groups them by pool). */
static void tm_ep(policy_t *p, const char *id, const char *v4, const char *v6, double lat,
                  double lon, uint32_t weight)
{
	size_t pi = p->n_pools - 1;
	policy_endpoint_t *ep = &p->endpoints[p->n_endpoints++];
	snprintf(ep->id, sizeof(ep->id), "%s", id);
	snprintf(ep->pool, sizeof(ep->pool), "%s", p->pools[pi].id);
	ep->pool_index = pi;
	if (v4 != NULL && inet_pton(AF_INET, v4, ep->v4[0]) == 1) {
		ep->n_v4 = 1;
	}
	if (v6 != NULL && inet_pton(AF_INET6, v6, ep->v6[0]) == 1) {
		ep->n_v6 = 1;
	}
	ep->has_location = true;
	ep->lat = lat;
	ep->lon = lon;
	ep->weight = weight;
	ep->priority = p->pools[pi].priority;
	ep->check = p->check;
	p->pools[pi].n_endpoints++;
}

static policy_name_t *tm_name(policy_t *p, const char *text, const char *const *pools,
                              const uint8_t *chain, const char *chain_text)
{
	policy_name_t *n = &p->names[p->n_names++];
	snprintf(n->text, sizeof(n->text), "%s", text);
	policy_parse_dname(text, n->owner, &n->owner_len);
	n->ttl = p->ttl;
	n->degraded_ttl = p->degraded_ttl;
	n->quorum_ppm = p->quorum_ppm;
	n->stale_after_ms = p->stale_after_ms;
	for (; *pools != NULL; pools++) {
		n->pools[n->n_pools++] = (size_t)policy_find_pool(p, *pools);
	}
	n->chain = calloc(HG_CHAIN_MAX, sizeof(*n->chain));
	for (; *chain != 0; chain++) {
		policy_filter_t *f = &n->chain[n->n_filters++];
		f->type = *chain;
		f->arg = *chain == HG_F_FIRST ? 2 : 0;
	}
	n->fallback = HG_FALLBACK_ALL;
	n->chain_text = strdup(chain_text);
	return n;
}

/* geofence rule: continent EU → pool eu, as in the reference policy. */
static void tm_geofence(policy_filter_t *f)
{
	f->rules = calloc(1, sizeof(*f->rules));
	f->n_rules = 1;
	policy_rule_t *r = &f->rules[0];
	r->matches = calloc(1, sizeof(*r->matches));
	r->n_matches = 1;
	r->matches[0].kind = HG_M_CONTINENT;
	memcpy(r->matches[0].data, "EU", 2);
	r->pools = calloc(1, sizeof(*r->pools));
	r->n_pools = 1;
	snprintf(r->pools[0], sizeof(r->pools[0]), "eu");
}

static void tm_base_a(policy_t *p)
{
	tm_prober(p, "p-fra", 50.11, 8.68);
	tm_prober(p, "p-iad", 38.95, -77.45);
	tm_pool(p, "eu", 1);
	tm_ep(p, "waf-fra", "198.51.100.10", "2001:db8:10::10", 50.11, 8.68, 100);
	tm_ep(p, "waf-ams", "198.51.100.20", "2001:db8:10::20", 52.37, 4.90, 50);
	tm_pool(p, "us", 2);
	tm_ep(p, "waf-iad", "192.0.2.10", NULL, 38.95, -77.45, 1);
	static const uint8_t geo_chain[] = { HG_F_UP, HG_F_GEOFENCE, HG_F_FIRST, 0 };
	static const uint8_t near_chain[] = { HG_F_UP, HG_F_NEAREST, HG_F_FIRST, 0 };
	static const uint8_t prio_chain[] = { HG_F_UP, HG_F_PRIORITY, 0 };
	policy_name_t *g =
	        tm_name(p, "global.example.net.", (const char *const[]){ "eu", "us", NULL },
	                geo_chain, "up, geofence, first: 2");
	tm_geofence(&g->chain[1]);
	tm_name(p, "eu.example.net.", (const char *const[]){ "eu", NULL }, near_chain,
	        "up, nearest, first: 2");
	tm_name(p, "us.example.net.", (const char *const[]){ "us", NULL }, prio_chain,
	        "up, priority");
}

policy_t *tm_policy_a(void)
{
	policy_t *p = tm_new("/etc/haltgslb/a.yaml", 0xa0);
	tm_base_a(p);
	return p;
}

policy_t *tm_policy_b(void)
{
	policy_t *p = tm_new("/etc/haltgslb/b.yaml", 0xb0);
	p->ttl = 60;
	tm_prober(p, "p-fra", 50.11, 8.68);
	tm_prober(p, "p-sin", 1.35, 103.82);
	tm_pool(p, "eu", 1);
	tm_ep(p, "waf-fra", "198.51.100.10", "2001:db8:10::10", 50.11, 8.68, 100);
	tm_ep(p, "waf-ams", "198.51.100.21", NULL, 52.37, 4.90, 70);
	tm_ep(p, "waf-lon", "198.51.100.30", NULL, 51.51, -0.13, 10);
	static const uint8_t chain[] = { HG_F_UP, HG_F_WEIGHTED_SHUFFLE, HG_F_FIRST, 0 };
	tm_name(p, "global.example.net.", (const char *const[]){ "eu", NULL }, chain,
	        "up, weighted-shuffle, first: 2");
	tm_name(p, "lon.example.net.", (const char *const[]){ "eu", NULL }, chain,
	        "up, weighted-shuffle, first: 2");
	return p;
}

policy_t *tm_policy_b_many(unsigned extra)
{
	policy_t *p = tm_policy_b();
	static const uint8_t chain[] = { HG_F_UP, HG_F_FIRST, 0 };
	for (unsigned i = 0; i < extra && p->n_names < TM_NAMES_MAX; i++) {
		char name[64];
		snprintf(name, sizeof(name), "n%u.example.net.", i);
		tm_name(p, name, (const char *const[]){ "eu", NULL }, chain, "up, first: 2");
	}
	return p;
}

policy_t *tm_policy_too_big(void)
{
	policy_t *p = tm_new("/etc/haltgslb/big.yaml", 0xc0);
	tm_base_a(p);
	tm_pool(p, "huge", 5);
	for (int i = 0; i <= HG_NAME_EP_MAX; i++) {
		char id[16];
		snprintf(id, sizeof(id), "big-%02d", i);
		tm_ep(p, id, "203.0.113.1", NULL, 0, 0, 1);
	}
	static const uint8_t chain[] = { HG_F_UP, 0 };
	tm_name(p, "huge.example.net.", (const char *const[]){ "huge", NULL }, chain, "up");
	return p;
}
