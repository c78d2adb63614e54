/*  SPDX-License-Identifier: GPL-3.0-or-later */
/*  Hand-built policy models for the selection tests. Aborts on misuse: a
 *  broken fixture must fail the test loudly, not pass it. */
#include <arpa/inet.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "sel_fixture.h"

#define FX_DIE(...)                                       \
	do {                                              \
		fprintf(stderr, "fixture: " __VA_ARGS__); \
		fputc('\n', stderr);                      \
		abort();                                  \
	} while (0)

static const hg_rec_measure_t *fx_in_measure(void *ctx, size_t ep, size_t pr)
{
	fx_t *fx = ctx;
	return (ep < FX_EP_MAX && pr < FX_PROBER_MAX && fx->has[ep][pr]) ? &fx->meas[ep][pr] : NULL;
}

static uint8_t fx_in_admin(void *ctx, size_t ep)
{
	fx_t *fx = ctx;
	return ep < FX_EP_MAX ? fx->admin[ep] : HG_ADMIN_NONE;
}

fx_t *fx_new(void)
{
	fx_t *fx = calloc(1, sizeof(*fx));
	if (fx == NULL) {
		FX_DIE("out of memory");
	}
	policy_t *p = &fx->p;
	p->version = 1;
	p->ttl = 30;
	p->degraded_ttl = 10;
	p->quorum_ppm = 500000;
	p->stale_after_ms = 15000;
	p->probers = calloc(FX_PROBER_MAX, sizeof(*p->probers));
	p->pools = calloc(FX_POOL_MAX, sizeof(*p->pools));
	p->endpoints = calloc(FX_EP_MAX, sizeof(*p->endpoints));
	p->names = calloc(FX_NAME_MAX, sizeof(*p->names));
	if (!p->probers || !p->pools || !p->endpoints || !p->names) {
		FX_DIE("out of memory");
	}
	fx->in.measure = fx_in_measure;
	fx->in.admin = fx_in_admin;
	fx->in.ctx = fx;
	return fx;
}

void fx_free(fx_t *fx)
{
	if (fx == NULL) {
		return;
	}
	policy_t *p = &fx->p;
	for (size_t n = 0; n < p->n_names; n++) {
		for (size_t f = 0; f < p->names[n].n_filters; f++) {
			policy_filter_t *flt = &p->names[n].chain[f];
			for (size_t r = 0; r < flt->n_rules; r++) {
				free(flt->rules[r].matches);
				free(flt->rules[r].endpoints);
				free(flt->rules[r].pools);
			}
			free(flt->rules);
		}
		free(p->names[n].chain);
		free(p->names[n].chain_text);
	}
	free(p->probers);
	free(p->pools);
	free(p->endpoints);
	free(p->names);
	free(fx);
}

size_t fx_prober(fx_t *fx, const char *id, double lat, double lon)
{
	policy_t *p = &fx->p;
	if (p->n_probers == FX_PROBER_MAX) {
		FX_DIE("too many probers");
	}
	policy_prober_t *pr = &p->probers[p->n_probers];
	snprintf(pr->id, sizeof(pr->id), "%s", id);
	pr->lat = lat;
	pr->lon = lon;
	return p->n_probers++;
}

size_t fx_pool(fx_t *fx, const char *id, int32_t priority)
{
	policy_t *p = &fx->p;
	if (p->n_pools == FX_POOL_MAX) {
		FX_DIE("too many pools");
	}
	policy_pool_t *pool = &p->pools[p->n_pools];
	snprintf(pool->id, sizeof(pool->id), "%s", id);
	pool->priority = priority;
	pool->first_endpoint = p->n_endpoints;
	return p->n_pools++;
}

static policy_endpoint_t *fx_ep_add(fx_t *fx, const char *id)
{
	policy_t *p = &fx->p;
	if (p->n_pools == 0 || p->n_endpoints == FX_EP_MAX) {
		FX_DIE("endpoint %s: no pool or too many endpoints", id);
	}
	policy_pool_t *pool = &p->pools[p->n_pools - 1];
	policy_endpoint_t *ep = &p->endpoints[p->n_endpoints++];
	pool->n_endpoints++;
	snprintf(ep->id, sizeof(ep->id), "%s", id);
	snprintf(ep->pool, sizeof(ep->pool), "%s", pool->id);
	ep->pool_index = p->n_pools - 1;
	ep->weight = 1;
	ep->priority = pool->priority;
	return ep;
}

size_t fx_ep(fx_t *fx, const char *id, const char *addrs, double lat, double lon, uint32_t weight)
{
	policy_endpoint_t *ep = fx_ep_add(fx, id);
	char buf[512], *save = NULL;
	snprintf(buf, sizeof(buf), "%s", addrs);
	for (char *t = strtok_r(buf, " ", &save); t; t = strtok_r(NULL, " ", &save)) {
		if (strchr(t, ':')) {
			if (ep->n_v6 == HG_ADDR_MAX ||
			    inet_pton(AF_INET6, t, ep->v6[ep->n_v6++]) != 1) {
				FX_DIE("bad v6 %s", t);
			}
		} else if (ep->n_v4 == HG_ADDR_MAX ||
		           inet_pton(AF_INET, t, ep->v4[ep->n_v4++]) != 1) {
			FX_DIE("bad v4 %s", t);
		}
	}
	ep->has_location = !isnan(lat);
	ep->lat = ep->has_location ? lat : 0;
	ep->lon = ep->has_location ? lon : 0;
	ep->weight = weight;
	return fx->p.n_endpoints - 1;
}

/* Presentation → wire by hand: the policy parser may not be linked yet. */
static uint8_t fx_wire(const char *text, uint8_t wire[HG_DNAME_MAX])
{
	size_t len = 0, n = strlen(text), start = 0;
	for (size_t i = 0; i <= n; i++) {
		if (i == n || text[i] == '.') {
			size_t l = i - start;
			if (l == 0) {
				break;
			}
			if (l > 63 || len + l + 2 > HG_DNAME_MAX) {
				FX_DIE("bad name %s", text);
			}
			wire[len++] = (uint8_t)l;
			memcpy(&wire[len], text + start, l);
			len += l;
			start = i + 1;
		}
	}
	wire[len++] = 0;
	return (uint8_t)len;
}

size_t fx_ep_cname(fx_t *fx, const char *id, const char *cname)
{
	policy_endpoint_t *ep = fx_ep_add(fx, id);
	ep->cname_len = fx_wire(cname, ep->cname);
	return fx->p.n_endpoints - 1;
}

static size_t fx_pool_index(const fx_t *fx, const char *id)
{
	for (size_t i = 0; i < fx->p.n_pools; i++) {
		if (strcmp(fx->p.pools[i].id, id) == 0) {
			return i;
		}
	}
	FX_DIE("unknown pool %s", id);
}

static void fx_filter(policy_name_t *nm, const char *tok)
{
	if (nm->n_filters == HG_CHAIN_MAX) {
		FX_DIE("chain too long");
	}
	policy_filter_t *f = &nm->chain[nm->n_filters++];
	const char *eq = strchr(tok, '=');
	uint32_t arg = eq ? (uint32_t)strtoul(eq + 1, NULL, 10) : 0;
	if (strcmp(tok, "up") == 0) {
		f->type = HG_F_UP;
	} else if (strcmp(tok, "geofence") == 0) {
		f->type = HG_F_GEOFENCE;
	} else if (strcmp(tok, "nearest") == 0) {
		f->type = HG_F_NEAREST;
	} else if (strncmp(tok, "latency=", 8) == 0) {
		f->type = HG_F_LOWEST_LATENCY;
		f->arg = arg * 1000;
	} else if (strncmp(tok, "loss=", 5) == 0) {
		f->type = HG_F_MAX_LOSS;
		f->arg = arg;
	} else if (strcmp(tok, "priority") == 0) {
		f->type = HG_F_PRIORITY;
	} else if (strcmp(tok, "weighted") == 0) {
		f->type = HG_F_WEIGHTED;
	} else if (strcmp(tok, "sticky") == 0) {
		f->type = HG_F_WEIGHTED;
		f->sticky = true;
	} else if (strcmp(tok, "shuffle") == 0) {
		f->type = HG_F_WEIGHTED_SHUFFLE;
	} else if (strcmp(tok, "rr") == 0) {
		f->type = HG_F_ROUND_ROBIN;
	} else if (strncmp(tok, "first=", 6) == 0) {
		f->type = HG_F_FIRST;
		f->arg = arg;
	} else {
		FX_DIE("unknown filter %s", tok);
	}
}

size_t fx_name(fx_t *fx, const char *owner, const char *pools, const char *chain,
               const char *fallback)
{
	policy_t *p = &fx->p;
	if (p->n_names == FX_NAME_MAX) {
		FX_DIE("too many names");
	}
	policy_name_t *nm = &p->names[p->n_names];
	snprintf(nm->text, sizeof(nm->text), "%s", owner);
	nm->owner_len = fx_wire(owner, nm->owner);
	nm->ttl = p->ttl;
	nm->degraded_ttl = p->degraded_ttl;
	nm->quorum_ppm = p->quorum_ppm;
	nm->stale_after_ms = p->stale_after_ms;
	char buf[512], *save = NULL;
	snprintf(buf, sizeof(buf), "%s", pools);
	for (char *t = strtok_r(buf, " ", &save); t; t = strtok_r(NULL, " ", &save)) {
		if (nm->n_pools == HG_NAME_POOLS_MAX) {
			FX_DIE("too many pools in name");
		}
		nm->pools[nm->n_pools++] = fx_pool_index(fx, t);
	}
	snprintf(buf, sizeof(buf), "%s", chain);
	nm->chain = calloc(HG_CHAIN_MAX, sizeof(*nm->chain));
	if (nm->chain == NULL) {
		FX_DIE("out of memory");
	}
	for (char *t = strtok_r(buf, " ", &save); t; t = strtok_r(NULL, " ", &save)) {
		fx_filter(nm, t);
	}
	if (strcmp(fallback, "all") == 0) {
		nm->fallback = HG_FALLBACK_ALL;
	} else if (strcmp(fallback, "none") == 0) {
		nm->fallback = HG_FALLBACK_NONE;
	} else {
		nm->fallback = HG_FALLBACK_POOL;
		nm->fallback_pool = fx_pool_index(fx, fallback);
	}
	nm->chain_text = strdup(chain);
	if (nm->chain_text == NULL) {
		FX_DIE("out of memory");
	}
	return p->n_names++;
}

static void fx_add_match(policy_rule_t *r, uint8_t kind, const char *val)
{
	r->matches = realloc(r->matches, (r->n_matches + 1) * sizeof(*r->matches));
	if (r->matches == NULL) {
		FX_DIE("out of memory");
	}
	policy_match_t *m = &r->matches[r->n_matches++];
	memset(m, 0, sizeof(*m));
	m->kind = kind;
	if (kind == HG_M_ASN) {
		uint32_t asn = (uint32_t)strtoul(val, NULL, 10);
		memcpy(m->data, &asn, sizeof(asn));
	} else if (kind == HG_M_PREFIX) {
		char a[64];
		snprintf(a, sizeof(a), "%s", val);
		char *slash = strchr(a, '/');
		if (slash == NULL) {
			FX_DIE("prefix without length: %s", val);
		}
		*slash = '\0';
		m->prefix_len = (uint8_t)atoi(slash + 1);
		m->family = strchr(a, ':') ? 6 : 4;
		if (inet_pton(m->family == 6 ? AF_INET6 : AF_INET, a, m->data) != 1) {
			FX_DIE("bad prefix %s", val);
		}
	} else {
		snprintf((char *)m->data, sizeof(m->data), "%s", val);
	}
}

void fx_rule(fx_t *fx, size_t name, const char *match, const char *targets, bool strict)
{
	policy_name_t *nm = &fx->p.names[name];
	policy_filter_t *f = NULL;
	for (size_t i = 0; i < nm->n_filters && f == NULL; i++) {
		if (nm->chain[i].type == HG_F_GEOFENCE) {
			f = &nm->chain[i];
		}
	}
	if (f == NULL) {
		FX_DIE("name has no geofence");
	}
	f->rules = realloc(f->rules, (f->n_rules + 1) * sizeof(*f->rules));
	if (f->rules == NULL) {
		FX_DIE("out of memory");
	}
	policy_rule_t *r = &f->rules[f->n_rules++];
	memset(r, 0, sizeof(*r));
	r->strict = strict;
	char buf[4096], *save = NULL;
	snprintf(buf, sizeof(buf), "%s", match);
	for (char *t = strtok_r(buf, " ", &save); t; t = strtok_r(NULL, " ", &save)) {
		char *eq = strchr(t, '=');
		if (eq == NULL) {
			FX_DIE("bad match %s", t);
		}
		*eq = '\0';
		uint8_t kind = strcmp(t, "country") == 0       ? HG_M_COUNTRY
		               : strcmp(t, "continent") == 0   ? HG_M_CONTINENT
		               : strcmp(t, "subdivision") == 0 ? HG_M_SUBDIVISION
		               : strcmp(t, "asn") == 0         ? HG_M_ASN
		               : strcmp(t, "prefix") == 0      ? HG_M_PREFIX
		                                               : 0;
		if (kind == 0) {
			FX_DIE("bad match kind %s", t);
		}
		char *save2 = NULL;
		for (char *v = strtok_r(eq + 1, ",", &save2); v; v = strtok_r(NULL, ",", &save2)) {
			fx_add_match(r, kind, v);
		}
	}
	snprintf(buf, sizeof(buf), "%s", targets);
	for (char *t = strtok_r(buf, " ", &save); t; t = strtok_r(NULL, " ", &save)) {
		bool is_pool = strncmp(t, "pool:", 5) == 0;
		if (!is_pool && strncmp(t, "ep:", 3) != 0) {
			FX_DIE("bad target %s", t);
		}
		char(**list)[HG_ID_SIZE] = is_pool ? &r->pools : &r->endpoints;
		size_t *n = is_pool ? &r->n_pools : &r->n_endpoints;
		void *grown = realloc(*list, (*n + 1) * sizeof(**list));
		if (grown == NULL) {
			FX_DIE("out of memory");
		}
		*list = grown;
		snprintf((*list)[(*n)++], HG_ID_SIZE, "%s", t + (is_pool ? 5 : 3));
	}
}

void fx_measure(fx_t *fx, size_t ep, size_t pr, uint8_t state, uint64_t ts_ms, double rtt_ms,
                uint16_t loss_bp)
{
	if (ep >= FX_EP_MAX || pr >= FX_PROBER_MAX) {
		FX_DIE("measure out of range");
	}
	hg_rec_measure_t *m = &fx->meas[ep][pr];
	memset(m, 0, sizeof(*m));
	m->layout = HG_REC_LAYOUT;
	m->state = state;
	m->ts_ms = ts_ms;
	m->rtt_median_us = rtt_ms < 0 ? HG_RTT_NONE : (uint32_t)(rtt_ms * 1000.0);
	m->rtt_last_us = m->rtt_ewma_us = m->rtt_median_us;
	m->loss_bp = loss_bp;
	fx->has[ep][pr] = true;
}

double fx_km(double lat1, double lon1, double lat2, double lon2)
{
	double r = M_PI / 180.0;
	double d = sin(lat1 * r) * sin(lat2 * r) +
	           cos(lat1 * r) * cos(lat2 * r) * cos((lon1 - lon2) * r);
	d = d > 1 ? 1 : d < -1 ? -1 : d;
	return acos(d) * 6371.0;
}

void fx_all_up(fx_t *fx, uint64_t now_ms)
{
	for (size_t e = 0; e < fx->p.n_endpoints; e++) {
		const policy_endpoint_t *ep = &fx->p.endpoints[e];
		for (size_t j = 0; j < fx->p.n_probers; j++) {
			const policy_prober_t *pr = &fx->p.probers[j];
			double rtt =
			        ep->has_location
			                ? 1.0 + fx_km(ep->lat, ep->lon, pr->lat, pr->lon) / 100.0
			                : 1.0;
			fx_measure(fx, e, j, HG_HEALTH_UP, now_ms, rtt, 0);
		}
	}
}

long fx_find_ep(const fx_t *fx, const char *id)
{
	for (size_t i = 0; i < fx->p.n_endpoints; i++) {
		if (strcmp(fx->p.endpoints[i].id, id) == 0) {
			return (long)i;
		}
	}
	FX_DIE("unknown endpoint %s", id);
}

long fx_find_prober(const fx_t *fx, const char *id)
{
	for (size_t i = 0; i < fx->p.n_probers; i++) {
		if (strcmp(fx->p.probers[i].id, id) == 0) {
			return (long)i;
		}
	}
	FX_DIE("unknown prober %s", id);
}

/* The container: u32 view length, u32 set length, the view, the set. */
int fx_build_policy(const policy_t *p, size_t name, const view_inputs_t *in, uint64_t now_ms,
                    uint8_t **blob, size_t *len)
{
	if (name >= p->n_names) {
		return HG_EINVAL;
	}
	const policy_name_t *nm = &p->names[name];
	view_set_spec_t spec = { .pools = nm->pools,
		                 .n_pools = nm->n_pools,
		                 .quorum_ppm = nm->quorum_ppm,
		                 .stale_after_ms = nm->stale_after_ms,
		                 .set_id = 7,
		                 .n_names = 1 };
	uint8_t *view = NULL, *set = NULL;
	size_t vlen = 0, slen = 0;
	int ret = view_build(p, name, spec.set_id, 1, now_ms, &view, &vlen);
	if (ret == HG_EOK) {
		ret = view_set_build(p, &spec, in, 1, now_ms, &set, &slen);
	}
	uint8_t *out = ret == HG_EOK ? malloc(8 + vlen + slen) : NULL;
	if (ret == HG_EOK && out == NULL) {
		ret = HG_ENOMEM;
	}
	if (ret == HG_EOK) {
		uint32_t l[2] = { (uint32_t)vlen, (uint32_t)slen };
		memcpy(out, l, sizeof(l));
		memcpy(out + 8, view, vlen);
		memcpy(out + 8 + vlen, set, slen);
		*blob = out;
		*len = 8 + vlen + slen;
	}
	free(view);
	free(set);
	return ret;
}

int fx_build(fx_t *fx, size_t name, uint64_t now_ms, uint8_t **blob, size_t *len)
{
	return fx_build_policy(&fx->p, name, &fx->in, now_ms, blob, len);
}

int fx_parts(uint8_t *blob, size_t len, uint8_t **view, size_t *vlen, uint8_t **set, size_t *slen)
{
	uint32_t l[2];
	if (len < 8) {
		return HG_EINVAL;
	}
	memcpy(l, blob, sizeof(l));
	if ((size_t)l[0] + l[1] + 8 != len) {
		return HG_EINVAL;
	}
	*view = blob + 8;
	*vlen = l[0];
	*set = blob + 8 + l[0];
	*slen = l[1];
	return HG_EOK;
}

int fx_open(uint8_t *blob, size_t len, view_t *v)
{
	uint8_t *view, *set;
	size_t vlen, slen;
	view_set_t s;
	int ret = fx_parts(blob, len, &view, &vlen, &set, &slen);
	if (ret == HG_EOK) {
		ret = view_open(view, vlen, v);
	}
	if (ret == HG_EOK) {
		ret = view_set_open(set, slen, &s);
	}
	return ret == HG_EOK ? view_bind(v, &s) : ret;
}

sel_client_t fx_client(const char *addr, uint8_t source_len, const geo_info_t *geo)
{
	sel_client_t c;
	memset(&c, 0, sizeof(c));
	c.family = strchr(addr, ':') ? AF_INET6 : AF_INET;
	if (inet_pton(c.family, addr, c.addr) != 1) {
		FX_DIE("bad client %s", addr);
	}
	c.source_len = source_len ? source_len : (c.family == AF_INET ? 32 : 128);
	c.from_ecs = source_len != 0;
	c.geo = geo;
	return c;
}

const char *fx_answer_text(const sel_answer_t *a, uint16_t qtype, char *buf, size_t len)
{
	size_t pos = 0;
	buf[0] = '\0';
	if (a->flags & SEL_CNAME) {
		pos += (size_t)snprintf(buf, len, "cname:");
		for (size_t i = 0; i < a->cname_len && a->cname[i] != 0 && pos < len;) {
			uint8_t l = a->cname[i];
			pos += (size_t)snprintf(buf + pos, len - pos, "%.*s.", (int)l,
			                        (const char *)a->cname + i + 1);
			i += 1u + l;
		}
		return buf;
	}
	for (unsigned i = 0; i < a->n_addr && pos < len; i++) {
		char t[INET6_ADDRSTRLEN];
		inet_ntop(qtype == 28 ? AF_INET6 : AF_INET, a->addr[i], t, sizeof(t));
		pos += (size_t)snprintf(buf + pos, len - pos, "%s%s", i ? " " : "", t);
	}
	return buf;
}

const char *fx_flags_text(uint32_t flags, char *buf, size_t len)
{
	static const char *names[] = { "DEGRADED", "FALLBACK", "UNKNOWN",
		                       "NODATA",   "CNAME",    "CLIENT" };
	size_t pos = 0;
	buf[0] = '\0';
	for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]) && pos < len; i++) {
		if (flags & (1u << i)) {
			pos += (size_t)snprintf(buf + pos, len - pos, "%s%s", pos ? "|" : "",
			                        names[i]);
		}
	}
	return buf;
}

void fx_rule_fallback(fx_t *fx, size_t name, const char *pool)
{
	policy_name_t *nm = &fx->p.names[name];
	for (size_t i = nm->n_filters; i-- > 0;) {
		policy_filter_t *f = &nm->chain[i];
		if (f->type == HG_F_GEOFENCE && f->n_rules > 0) {
			f->rules[f->n_rules - 1].has_fallback_pool = true;
			f->rules[f->n_rules - 1].fallback_pool = fx_pool_index(fx, pool);
			return;
		}
	}
	FX_DIE("name has no geofence rule");
}
