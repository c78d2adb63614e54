/*  SPDX-License-Identifier: GPL-3.0-or-later */
/* status: what the database holds now, as an operator wants to see it.
 * Endpoint health is the engine's verdict per name (ctl_status_health.c). */
#include <arpa/inet.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "ctl.h"
#include "ctl_status.h"
#include "errors.h"
#include "schema.h"
#include "schema_names.h"
#include "schema_records.h"
#include "sel.h"
#include "store.h"

typedef struct {
	store_rtxn_t *rtxn;
	status_names_t names; /* every name and its set */
	uint64_t now;
	uint32_t stale_ms; /* the policy's default stale-after: prober lines */
	bool json;
	bool first; /* JSON: no comma before the first element */
} status_ctx_t;

static void sep(status_ctx_t *c)
{
	if (c->json && !c->first) {
		printf(",");
	}
	c->first = false;
}

/* "50%", "66.67%" */
static void fmt_quorum(uint32_t ppm, char *buf, size_t size)
{
	snprintf(buf, size, "%.4g%%", ppm / 10000.0);
}

static int print_name(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
	status_ctx_t *c = ctx;
	schema_name_rec_t nr;
	if (schema_name_rec(val, vlen, &nr) != 0) {
		return HG_EOK;
	}
	const hg_rec_name_t *n = nr.rec;
	char owner[HG_DNAME_MAX * 4 + 2], chain[HG_CHAIN_TEXT_MAX + 1], quorum[16], stale[32];
	ctl_fmt_dname(key, klen, owner, sizeof(owner));
	ctl_fixed_str(nr.chain, nr.chain_len, chain, sizeof(chain));
	if (c->json) {
		sep(c);
		printf("{\"name\":");
		ctl_json_str(stdout, owner);
		printf(",\"ttl\":%u,\"degraded_ttl\":%u,\"quorum\":%g,\"stale_after_ms\":%u,"
		       "\"chain\":",
		       n->ttl, n->degraded_ttl, n->quorum_ppm / 1e6, n->stale_after_ms);
		ctl_json_str(stdout, chain);
		printf(",\"pools\":[");
		for (unsigned i = 0; i < n->n_pools; i++) {
			printf(i ? "," : "");
			ctl_json_str(stdout, nr.pools[i]);
		}
		printf("]}");
		return HG_EOK;
	}
	fmt_quorum(n->quorum_ppm, quorum, sizeof(quorum));
	ctl_fmt_age(n->stale_after_ms, stale, sizeof(stale));
	printf("  %-32s ttl %u/%u  quorum %s  stale-after %s  pools", owner, n->ttl,
	       n->degraded_ttl, quorum, stale);
	for (unsigned i = 0; i < n->n_pools; i++) {
		printf("%s%s", i ? "," : " ", nr.pools[i]);
	}
	printf("\n    chain: %s\n", chain);
	return HG_EOK;
}

static uint8_t endpoint_admin(status_ctx_t *c, const char *id)
{
	const void *val;
	size_t len;
	if (store_get(c->rtxn, STORE_OVERRIDES, id, strlen(id), &val, &len) == HG_EOK &&
	    len == sizeof(hg_rec_override_t)) {
		return ((const hg_rec_override_t *)val)->admin;
	}
	return HG_ADMIN_NONE;
}

static void endpoint_addrs(const hg_rec_endpoint_t *e, char *addrs, size_t size)
{
	size_t o = 0;
	addrs[0] = '\0';
	for (unsigned i = 0; i < e->n_v4 && i < HG_ADDR_MAX && o < size; i++) {
		char t[INET6_ADDRSTRLEN];
		inet_ntop(AF_INET, e->v4[i], t, sizeof(t));
		o += (size_t)snprintf(addrs + o, size - o, "%s%s", o ? " " : "", t);
	}
	for (unsigned i = 0; i < e->n_v6 && i < HG_ADDR_MAX && o < size; i++) {
		char t[INET6_ADDRSTRLEN];
		inet_ntop(AF_INET6, e->v6[i], t, sizeof(t));
		o += (size_t)snprintf(addrs + o, size - o, "%s%s", o ? " " : "", t);
	}
	if (e->cname_len > 0 && o < size) {
		char cn[HG_DNAME_MAX * 4 + 2];
		ctl_fmt_dname(e->cname, e->cname_len, cn, sizeof(cn));
		snprintf(addrs + o, size - o, "%sCNAME %s", o ? " " : "", cn);
	}
}

/* The endpoint's one-word health: the verdict all its names agree on,
 * "mixed" when they differ, "unused" when no name lists it. */
static const char *endpoint_word(const status_ep_t *ep)
{
	if (ep->n == 0) {
		return "unused";
	}
	return ep->agree ? status_verdict_word(&ep->v[0]) : "mixed";
}

static void print_endpoint_json(const char *id, const char *pool, uint8_t admin,
                                const status_ep_t *ep, const char *addrs)
{
	const char *admin_word = schema_name(&schema_admins, admin);
	printf("{\"id\":");
	ctl_json_str(stdout, id);
	printf(",\"pool\":");
	ctl_json_str(stdout, pool);
	printf(",\"health\":");
	ctl_json_str(stdout, endpoint_word(ep));
	printf(",\"admin\":");
	ctl_json_str(stdout, admin_word != NULL ? admin_word : "invalid");
	if (ep->n > 0 && ep->same_votes && ep->v[0].err == HG_EOK) {
		printf(",\"fresh_probers\":%u,\"up_probers\":%u", ep->v[0].h.n_voters,
		       ep->v[0].h.n_up);
	}
	if (ep->best_rtt_us != HG_RTT_NONE) {
		printf(",\"best_rtt_ms\":%.3f", ep->best_rtt_us / 1000.0);
	}
	printf(",\"worst_loss_pct\":%.2f,\"addresses\":", ep->worst_loss_bp / 100.0);
	ctl_json_str(stdout, addrs);
	printf(",\"names\":[");
	for (size_t i = 0; i < ep->n; i++) {
		const status_verdict_t *v = &ep->v[i];
		char owner[HG_DNAME_MAX * 4 + 2];
		ctl_fmt_dname(v->owner, v->owner_len, owner, sizeof(owner));
		printf("%s{\"name\":", i ? "," : "");
		ctl_json_str(stdout, owner);
		printf(",\"health\":");
		ctl_json_str(stdout, status_verdict_word(v));
		if (v->err == HG_EOK) {
			printf(",\"fresh_probers\":%u,\"up_probers\":%u,\"warming_probers\":%u,"
			       "\"quorum\":%g,\"stale_after_ms\":%u",
			       v->h.n_voters, v->h.n_up, v->h.n_warming, v->h.quorum_ppm / 1e6,
			       v->h.stale_after_ms);
		} else {
			printf(",\"error\":");
			ctl_json_str(stdout, hg_strerror(v->err));
		}
		printf("}");
	}
	printf("]}");
}

/* When names differ (verdict or votes), each gets a line with the settings
 * that explain why. */
static void print_name_verdicts(const status_ep_t *ep)
{
	for (size_t i = 0; i < ep->n; i++) {
		const status_verdict_t *v = &ep->v[i];
		char owner[HG_DNAME_MAX * 4 + 2], quorum[16], stale[32];
		ctl_fmt_dname(v->owner, v->owner_len, owner, sizeof(owner));
		if (v->err != HG_EOK) {
			printf("    %-32s %-10s view: %s\n", owner, status_verdict_word(v),
			       hg_strerror(v->err));
			continue;
		}
		fmt_quorum(v->h.quorum_ppm, quorum, sizeof(quorum));
		ctl_fmt_age(v->h.stale_after_ms, stale, sizeof(stale));
		printf("    %-32s %-10s %u/%u fresh probers up  (quorum %s, stale-after %s)\n",
		       owner, status_verdict_word(v), v->h.n_up, v->h.n_voters, quorum, stale);
	}
}

static int print_endpoint(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
	status_ctx_t *c = ctx;
	if (vlen != sizeof(hg_rec_endpoint_t)) {
		return HG_EOK;
	}
	const hg_rec_endpoint_t *e = val;
	char id[HG_ID_SIZE], pool[HG_ID_SIZE], addrs[2048]; /* 16 addresses and a CNAME */
	ctl_fixed_str(e->id, HG_ID_SIZE, id, sizeof(id));
	ctl_fixed_str(e->pool, HG_ID_SIZE, pool, sizeof(pool));
	endpoint_addrs(e, addrs, sizeof(addrs));
	status_ep_t ep;
	int ret = status_ep_collect(c->rtxn, &c->names, id, c->now, &ep);
	if (ret != HG_EOK) {
		status_ep_free(&ep);
		return ret;
	}
	if (c->json) {
		sep(c);
		print_endpoint_json(id, pool, endpoint_admin(c, id), &ep, addrs);
		status_ep_free(&ep);
		return HG_EOK;
	}
	char votes[48] = "", rtt[32] = "-";
	if (ep.n == 0) {
		snprintf(votes, sizeof(votes), "in no name");
	} else if (!ep.same_votes) {
		snprintf(votes, sizeof(votes), "differs by name:");
	} else if (ep.v[0].err == HG_EOK) {
		snprintf(votes, sizeof(votes), "%u/%u fresh probers up", ep.v[0].h.n_up,
		         ep.v[0].h.n_voters);
	}
	if (ep.best_rtt_us != HG_RTT_NONE) {
		snprintf(rtt, sizeof(rtt), "%.1fms", ep.best_rtt_us / 1000.0);
	}
	printf("  %-20s %-10s %-12s %-21s  rtt %-8s loss %.1f%%  %s\n", id, pool,
	       endpoint_word(&ep), votes, rtt, ep.worst_loss_bp / 100.0, addrs);
	if (!ep.agree || !ep.same_votes) {
		print_name_verdicts(&ep);
	}
	status_ep_free(&ep);
	return HG_EOK;
}

typedef struct {
	const char *id;
	uint64_t newest;
	unsigned count;
} prober_data_t;

static int visit_measure(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
	prober_data_t *d = ctx;
	char endpoint[HG_ID_SIZE], prober[HG_ID_SIZE];
	if (store_measure_key_split(key, klen, endpoint, prober) != HG_EOK ||
	    strcmp(prober, d->id) != 0 || vlen != sizeof(hg_rec_measure_t)) {
		return HG_EOK;
	}
	const hg_rec_measure_t *m = val;
	d->count++;
	if (m->ts_ms > d->newest) {
		d->newest = m->ts_ms;
	}
	return HG_EOK;
}

/* Newest measurement written by each prober: its data freshness. */
static int print_prober(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
	status_ctx_t *c = ctx;
	if (vlen != sizeof(hg_rec_prober_t)) {
		return HG_EOK;
	}
	const hg_rec_prober_t *p = val;
	char id[HG_ID_SIZE];
	ctl_fixed_str(p->id, HG_ID_SIZE, id, sizeof(id));
	/* Measurements are keyed endpoint first: a prober's are spread over the
	 * whole DB, so this is a full walk per prober (status is not hot). */
	prober_data_t d = { .id = id };
	int ret = store_foreach(c->rtxn, STORE_MEASUREMENTS, NULL, 0, visit_measure, &d);
	if (ret != HG_EOK) {
		return ret;
	}
	bool fresh = sel_fresh(d.newest, c->now, c->stale_ms);
	char when[40], age[32] = "-";
	ctl_fmt_time(d.newest, when, sizeof(when));
	if (d.newest != 0) {
		ctl_fmt_age(c->now > d.newest ? c->now - d.newest : 0, age, sizeof(age));
	}
	if (c->json) {
		sep(c);
		printf("{\"id\":");
		ctl_json_str(stdout, id);
		printf(",\"lat\":%.4f,\"lon\":%.4f,\"measurements\":%u,\"last_data\":\"%s\","
		       "\"fresh\":%s}",
		       p->lat, p->lon, d.count, when, fresh ? "true" : "false");
		return HG_EOK;
	}
	printf("  %-12s (%.2f, %.2f)  %u measurements, last data %s (%s ago)  %s\n", id, p->lat,
	       p->lon, d.count, when, age,
	       d.newest == 0 ? "NO DATA"
	       : fresh       ? "fresh"
	                     : "STALE");
	return HG_EOK;
}

static int print_status(status_ctx_t *c)
{
	const void *val;
	size_t len;
	uint64_t gen = 0, loaded = 0;
	char source[512] = "";
	if (store_get(c->rtxn, STORE_META, HG_META_POLICY_GEN, strlen(HG_META_POLICY_GEN), &val,
	              &len) == 0 &&
	    len == sizeof(gen)) {
		memcpy(&gen, val, sizeof(gen));
	}
	if (store_get(c->rtxn, STORE_META, HG_META_POLICY_LOADED, strlen(HG_META_POLICY_LOADED),
	              &val, &len) == 0 &&
	    len == sizeof(loaded)) {
		memcpy(&loaded, val, sizeof(loaded));
	}
	if (store_get(c->rtxn, STORE_META, HG_META_POLICY_SOURCE, strlen(HG_META_POLICY_SOURCE),
	              &val, &len) == 0) {
		ctl_fixed_str(val, len, source, sizeof(source));
	}
	if (store_get(c->rtxn, STORE_META, HG_META_POLICY_DEFAULTS, strlen(HG_META_POLICY_DEFAULTS),
	              &val, &len) == 0 &&
	    len == sizeof(hg_rec_defaults_t)) {
		c->stale_ms = ((const hg_rec_defaults_t *)val)->stale_after_ms;
	}
	char when[40];
	ctl_fmt_time(loaded, when, sizeof(when));
	if (c->json) {
		printf("{\"database\":");
		ctl_json_str(stdout, store_path(c->rtxn->store));
		printf(",\"schema_version\":%u,\"policy\":{\"generation\":%llu,\"loaded\":\"%s\","
		       "\"source\":",
		       HG_SCHEMA_VERSION, (unsigned long long)gen, when);
		ctl_json_str(stdout, source);
		printf("},\"names\":[");
	} else {
		printf("database %s (schema %u)\n", store_path(c->rtxn->store), HG_SCHEMA_VERSION);
		if (gen == 0) {
			printf("policy: none loaded\n");
		} else {
			printf("policy: generation %llu loaded %s from %s\n",
			       (unsigned long long)gen, when, source);
		}
		printf("names:\n");
	}
	c->first = true;
	int ret = status_names_load(c->rtxn, &c->names);
	if (ret == HG_EOK) {
		ret = store_foreach(c->rtxn, STORE_NAMES, NULL, 0, print_name, c);
	}
	printf(c->json ? "],\"endpoints\":[" : "endpoints:\n");
	c->first = true;
	if (ret == HG_EOK) {
		ret = store_foreach(c->rtxn, STORE_ENDPOINTS, NULL, 0, print_endpoint, c);
	}
	printf(c->json ? "],\"probers\":[" : "probers:\n");
	c->first = true;
	if (ret == HG_EOK) {
		ret = store_foreach(c->rtxn, STORE_PROBERS, NULL, 0, print_prober, c);
	}
	if (c->json) {
		printf("]}\n");
	}
	status_names_free(&c->names);
	return ret;
}

int ctl_cmd_status(int argc, char **argv)
{
	static const struct option opts[] = { { "help", no_argument, NULL, 'h' },
		                              { "db", required_argument, NULL, 'd' },
		                              { "json", no_argument, NULL, 'j' },
		                              { NULL, 0, NULL, 0 } };
	const char *db = NULL;
	status_ctx_t c = { .stale_ms = 15000 };
	int opt;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "hd:j", opts, NULL)) != -1) {
		switch (opt) {
		case 'h':
			printf("Usage: haltgslb-ctl status --db DIR [--json]\n\n"
			       "Show the loaded policy (generation, load time, source), every GSLB "
			       "name\n"
			       "with its settings and chain, every endpoint with its health, best "
			       "RTT\n"
			       "and worst loss, and every prober with the age of its newest "
			       "data.\n\n"
			       "Health is the module's own verdict (the `up` filter's rule), "
			       "computed\n"
			       "on each name's endpoint set with its quorum and stale-after: up, "
			       "down,\n"
			       "unknown (no prober voted), drained, forced-up. When the names "
			       "using an\n"
			       "endpoint disagree it shows 'mixed' and one line per name; 'unused' "
			       "is\n"
			       "an endpoint no name lists.\n");
			return CTL_OK;
		case 'd': db = optarg; break;
		case 'j': c.json = true; break;
		default:
			return ctl_usage_error("status", "unknown option or missing value '%s'",
			                       argv[optind - 1]);
		}
	}
	if (db == NULL || optind != argc) {
		return ctl_usage_error("status",
		                       "--db DIR is required and takes no other arguments");
	}
	store_t *store = NULL;
	if (ctl_open_store(db, STORE_RDONLY, &store) != HG_EOK) {
		return CTL_FAIL;
	}
	store_rtxn_t rtxn = { 0 };
	int ret = store_rtxn_begin(store, &rtxn);
	if (ret == HG_EOK) {
		c.rtxn = &rtxn;
		c.now = store_now_ms();
		ret = print_status(&c);
		store_rtxn_end(&rtxn);
	}
	store_rtxn_free(&rtxn);
	store_close(store);
	if (ret != HG_EOK) {
		ctl_error("%s: reading status failed: %s", db, hg_strerror(ret));
		return CTL_FAIL;
	}
	return CTL_OK;
}
