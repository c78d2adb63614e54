/*  SPDX-License-Identifier: GPL-3.0-or-later */
/* status: what the database holds now, as an operator wants to see it. */
#include <arpa/inet.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "ctl.h"
#include "errors.h"
#include "schema.h"
#include "store.h"

typedef struct {
	store_rtxn_t *rtxn;
	uint64_t now;
	uint32_t quorum_ppm, stale_ms;
	bool json;
	bool first;            /* JSON: no comma before the first element */
} status_ctx_t;

static const char *admin_name(uint8_t admin)
{
	switch (admin) {
	case HG_ADMIN_DRAIN:    return "drained";
	case HG_ADMIN_FORCE_UP: return "forced-up";
	default:                return "none";
	}
}

/* Iterate one DB; fn gets each key/value. */
static int each(status_ctx_t *c, enum store_dbi db,
                void (*fn)(status_ctx_t *, const MDB_val *, const MDB_val *))
{
	MDB_cursor *cur = NULL;
	int rc = mdb_cursor_open(c->rtxn->txn, store_dbi(c->rtxn->store, db), &cur);
	if (rc != MDB_SUCCESS) {
		return hg_err_from_mdb(rc);
	}
	MDB_val k, v;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == MDB_SUCCESS;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		fn(c, &k, &v);
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? HG_EOK : hg_err_from_mdb(rc);
}

static void sep(status_ctx_t *c)
{
	if (c->json && !c->first) {
		printf(",");
	}
	c->first = false;
}

static void print_name(status_ctx_t *c, const MDB_val *k, const MDB_val *v)
{
	if (v->mv_size != sizeof(hg_rec_name_t)) {
		return;
	}
	const hg_rec_name_t *n = v->mv_data;
	char owner[HG_DNAME_MAX * 4 + 2], chain[sizeof(n->chain_text) + 1];
	ctl_fmt_dname(k->mv_data, k->mv_size, owner, sizeof(owner));
	ctl_fixed_str(n->chain_text, sizeof(n->chain_text), chain, sizeof(chain));
	if (c->json) {
		sep(c);
		printf("{\"name\":");
		ctl_json_str(stdout, owner);
		printf(",\"ttl\":%u,\"degraded_ttl\":%u,\"chain\":", n->ttl, n->degraded_ttl);
		ctl_json_str(stdout, chain);
		printf(",\"pools\":[");
		for (unsigned i = 0; i < n->n_pools && i < HG_NAME_POOLS_MAX; i++) {
			char id[HG_ID_SIZE];
			ctl_fixed_str(n->pools[i], HG_ID_SIZE, id, sizeof(id));
			printf(i ? "," : "");
			ctl_json_str(stdout, id);
		}
		printf("]}");
		return;
	}
	printf("  %-32s ttl %u/%u  pools", owner, n->ttl, n->degraded_ttl);
	for (unsigned i = 0; i < n->n_pools && i < HG_NAME_POOLS_MAX; i++) {
		char id[HG_ID_SIZE];
		ctl_fixed_str(n->pools[i], HG_ID_SIZE, id, sizeof(id));
		printf("%s%s", i ? "," : " ", id);
	}
	printf("\n    chain: %s\n", chain);
}

/* Health summary of one endpoint over every prober's measurement, computed
 * like the `up` filter with the policy defaults. */
typedef struct {
	unsigned fresh, up, probers;
	uint32_t best_rtt;
	uint16_t worst_loss;
	uint64_t newest;
} ep_health_t;

static void endpoint_health(status_ctx_t *c, const char *id, ep_health_t *h)
{
	memset(h, 0, sizeof(*h));
	h->best_rtt = HG_RTT_NONE;
	MDB_cursor *cur = NULL;
	if (mdb_cursor_open(c->rtxn->txn, store_dbi(c->rtxn->store, STORE_MEASUREMENTS), &cur) != 0) {
		return;
	}
	size_t idlen = strlen(id);
	uint8_t prefix[HG_ID_SIZE + 1];
	memcpy(prefix, id, idlen);
	prefix[idlen] = '\0';
	MDB_val k = { idlen + 1, prefix }, v;
	for (int rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == MDB_SUCCESS;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size <= idlen + 1 || memcmp(k.mv_data, prefix, idlen + 1) != 0) {
			break;
		}
		if (v.mv_size != sizeof(hg_rec_measure_t)) {
			continue;
		}
		const hg_rec_measure_t *m = v.mv_data;
		h->probers++;
		if (m->ts_ms > h->newest) {
			h->newest = m->ts_ms;
		}
		/* As the `up` filter: stale data and probers still warming up
		 * (state unknown) have no vote. */
		if (m->ts_ms == 0 || c->now > m->ts_ms + c->stale_ms || m->state == HG_HEALTH_UNKNOWN) {
			continue;
		}
		h->fresh++;
		if (m->state == HG_HEALTH_UP) {
			h->up++;
		}
		if (m->rtt_median_us != HG_RTT_NONE && m->rtt_median_us < h->best_rtt) {
			h->best_rtt = m->rtt_median_us;
		}
		if (m->loss_bp > h->worst_loss) {
			h->worst_loss = m->loss_bp;
		}
	}
	mdb_cursor_close(cur);
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

static void print_endpoint(status_ctx_t *c, const MDB_val *k, const MDB_val *v)
{
	if (v->mv_size != sizeof(hg_rec_endpoint_t)) {
		return;
	}
	const hg_rec_endpoint_t *e = v->mv_data;
	char id[HG_ID_SIZE], pool[HG_ID_SIZE];
	ctl_fixed_str(e->id, HG_ID_SIZE, id, sizeof(id));
	ctl_fixed_str(e->pool, HG_ID_SIZE, pool, sizeof(pool));
	ep_health_t h;
	endpoint_health(c, id, &h);
	uint8_t admin = endpoint_admin(c, id);
	const char *health;
	if (admin == HG_ADMIN_DRAIN) {
		health = "drained";
	} else if (admin == HG_ADMIN_FORCE_UP) {
		health = "up (forced)";
	} else if (h.fresh == 0) {
		health = "unknown";
	} else {
		health = (uint64_t)h.up * 1000000u >= (uint64_t)c->quorum_ppm * h.fresh ? "up" : "down";
	}
	char addrs[512] = "";
	size_t o = 0;
	for (unsigned i = 0; i < e->n_v4 && i < HG_ADDR_MAX; i++) {
		char t[INET6_ADDRSTRLEN];
		inet_ntop(AF_INET, e->v4[i], t, sizeof(t));
		o += (size_t)snprintf(addrs + o, sizeof(addrs) - o, "%s%s", o ? " " : "", t);
	}
	for (unsigned i = 0; i < e->n_v6 && i < HG_ADDR_MAX; i++) {
		char t[INET6_ADDRSTRLEN];
		inet_ntop(AF_INET6, e->v6[i], t, sizeof(t));
		o += (size_t)snprintf(addrs + o, sizeof(addrs) - o, "%s%s", o ? " " : "", t);
	}
	if (e->cname_len > 0) {
		char cn[HG_DNAME_MAX * 4 + 2];
		ctl_fmt_dname(e->cname, e->cname_len, cn, sizeof(cn));
		snprintf(addrs + o, sizeof(addrs) - o, "%sCNAME %s", o ? " " : "", cn);
	}
	if (c->json) {
		sep(c);
		printf("{\"id\":");
		ctl_json_str(stdout, id);
		printf(",\"pool\":");
		ctl_json_str(stdout, pool);
		printf(",\"health\":");
		ctl_json_str(stdout, health);
		printf(",\"admin\":\"%s\",\"fresh_probers\":%u,\"up_probers\":%u", admin_name(admin), h.fresh, h.up);
		if (h.best_rtt != HG_RTT_NONE) {
			printf(",\"best_rtt_ms\":%.3f", h.best_rtt / 1000.0);
		}
		printf(",\"worst_loss_pct\":%.2f,\"addresses\":", h.worst_loss / 100.0);
		ctl_json_str(stdout, addrs);
		printf("}");
		return;
	}
	char rtt[32] = "-";
	if (h.best_rtt != HG_RTT_NONE) {
		snprintf(rtt, sizeof(rtt), "%.1fms", h.best_rtt / 1000.0);
	}
	printf("  %-20s %-10s %-12s %u/%u fresh probers up  rtt %-8s loss %.1f%%  %s\n",
	       id, pool, health, h.up, h.fresh, rtt, h.worst_loss / 100.0, addrs);
}

/* Newest measurement written by each prober: its data freshness. */
static void print_prober(status_ctx_t *c, const MDB_val *k, const MDB_val *v)
{
	if (v->mv_size != sizeof(hg_rec_prober_t)) {
		return;
	}
	const hg_rec_prober_t *p = v->mv_data;
	char id[HG_ID_SIZE];
	ctl_fixed_str(p->id, HG_ID_SIZE, id, sizeof(id));
	uint64_t newest = 0;
	unsigned count = 0;
	MDB_cursor *cur = NULL;
	if (mdb_cursor_open(c->rtxn->txn, store_dbi(c->rtxn->store, STORE_MEASUREMENTS), &cur) == 0) {
		MDB_val mk, mv;
		size_t idlen = strlen(id);
		for (int rc = mdb_cursor_get(cur, &mk, &mv, MDB_FIRST); rc == MDB_SUCCESS;
		     rc = mdb_cursor_get(cur, &mk, &mv, MDB_NEXT)) {
			const char *key = mk.mv_data;
			const char *nul = memchr(key, '\0', mk.mv_size);
			if (nul == NULL || (size_t)(key + mk.mv_size - nul - 1) != idlen ||
			    memcmp(nul + 1, id, idlen) != 0 || mv.mv_size != sizeof(hg_rec_measure_t)) {
				continue;
			}
			const hg_rec_measure_t *m = mv.mv_data;
			count++;
			if (m->ts_ms > newest) {
				newest = m->ts_ms;
			}
		}
		mdb_cursor_close(cur);
	}
	bool fresh = newest != 0 && c->now <= newest + c->stale_ms;
	char when[40], age[32] = "-";
	ctl_fmt_time(newest, when, sizeof(when));
	if (newest != 0) {
		ctl_fmt_age(c->now > newest ? c->now - newest : 0, age, sizeof(age));
	}
	if (c->json) {
		sep(c);
		printf("{\"id\":");
		ctl_json_str(stdout, id);
		printf(",\"lat\":%.4f,\"lon\":%.4f,\"measurements\":%u,\"last_data\":\"%s\",\"fresh\":%s}",
		       p->lat, p->lon, count, when, fresh ? "true" : "false");
		return;
	}
	printf("  %-12s (%.2f, %.2f)  %u measurements, last data %s (%s ago)  %s\n", id, p->lat,
	       p->lon, count, when, age, newest == 0 ? "NO DATA" : fresh ? "fresh" : "STALE");
}

static int print_status(status_ctx_t *c)
{
	const void *val;
	size_t len;
	uint64_t gen = 0, loaded = 0;
	char source[512] = "";
	if (store_get(c->rtxn, STORE_META, HG_META_POLICY_GEN, strlen(HG_META_POLICY_GEN), &val, &len) == 0 &&
	    len == sizeof(gen)) {
		memcpy(&gen, val, sizeof(gen));
	}
	if (store_get(c->rtxn, STORE_META, HG_META_POLICY_LOADED, strlen(HG_META_POLICY_LOADED), &val, &len) == 0 &&
	    len == sizeof(loaded)) {
		memcpy(&loaded, val, sizeof(loaded));
	}
	if (store_get(c->rtxn, STORE_META, HG_META_POLICY_SOURCE, strlen(HG_META_POLICY_SOURCE), &val, &len) == 0) {
		ctl_fixed_str(val, len, source, sizeof(source));
	}
	if (store_get(c->rtxn, STORE_META, HG_META_POLICY_DEFAULTS, strlen(HG_META_POLICY_DEFAULTS), &val, &len) == 0 &&
	    len == sizeof(hg_rec_defaults_t)) {
		c->quorum_ppm = ((const hg_rec_defaults_t *)val)->quorum_ppm;
		c->stale_ms = ((const hg_rec_defaults_t *)val)->stale_after_ms;
	}
	char when[40];
	ctl_fmt_time(loaded, when, sizeof(when));
	if (c->json) {
		printf("{\"database\":");
		ctl_json_str(stdout, store_path(c->rtxn->store));
		printf(",\"schema_version\":%u,\"policy\":{\"generation\":%llu,\"loaded\":\"%s\",\"source\":",
		       HG_SCHEMA_VERSION, (unsigned long long)gen, when);
		ctl_json_str(stdout, source);
		printf("},\"names\":[");
	} else {
		printf("database %s (schema %u)\n", store_path(c->rtxn->store), HG_SCHEMA_VERSION);
		if (gen == 0) {
			printf("policy: none loaded\n");
		} else {
			printf("policy: generation %llu loaded %s from %s\n", (unsigned long long)gen, when, source);
		}
		printf("names:\n");
	}
	c->first = true;
	int ret = each(c, STORE_NAMES, print_name);
	printf(c->json ? "],\"endpoints\":[" : "endpoints:\n");
	c->first = true;
	if (ret == HG_EOK) {
		ret = each(c, STORE_ENDPOINTS, print_endpoint);
	}
	printf(c->json ? "],\"probers\":[" : "probers:\n");
	c->first = true;
	if (ret == HG_EOK) {
		ret = each(c, STORE_PROBERS, print_prober);
	}
	if (c->json) {
		printf("]}\n");
	}
	return ret;
}

int ctl_cmd_status(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "db",   required_argument, NULL, 'd' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 }
	};
	const char *db = NULL;
	status_ctx_t c = { .quorum_ppm = 500000, .stale_ms = 15000 };
	int opt;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "hd:j", opts, NULL)) != -1) {
		switch (opt) {
		case 'h':
			printf("Usage: haltgslb-ctl status --db DIR [--json]\n\n"
			       "Show the loaded policy (generation, load time, source), every GSLB name\n"
			       "with its chain, every endpoint with its health as the probers' quorum\n"
			       "sees it (admin overrides included), best RTT and worst loss, and every\n"
			       "prober with the age of its newest data.\n");
			return CTL_OK;
		case 'd': db = optarg; break;
		case 'j': c.json = true; break;
		default:
			return ctl_usage_error("status", "unknown option or missing value '%s'", argv[optind - 1]);
		}
	}
	if (db == NULL || optind != argc) {
		return ctl_usage_error("status", "--db DIR is required and takes no other arguments");
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
