/*  SPDX-License-Identifier: GPL-3.0-or-later */
/*  writer: load/reload atomicity, endpoint sets shared by names, measurement
 *  and override patching (one set per spec, whatever the names), the name
 *  filter, the upgrade of a schema-1 database. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "errors.h"
#include "writer.h"
#include "tap.h"
#include "writer_fixture.h"
#include "schema_records.h"
#include "view_build.h"
#include "view_lookup.h"

static char dir[512];
static store_t *st;

static int dump_entry(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
	FILE *f = ctx;
	fprintf(f, "%zu:", klen);
	fwrite(key, 1, klen, f);
	fprintf(f, "%zu:", vlen);
	fwrite(val, 1, vlen, f);
	return HG_EOK;
}

/* Every key and value of every DB, length-prefixed, in one buffer: two
 * snapshots are byte-identical iff the whole database is. */
static char *dump_all(size_t *len)
{
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);
	store_rtxn_t r = { 0 };
	store_rtxn_begin(st, &r);
	for (int db = 0; db < STORE_DBI_COUNT; db++) {
		fprintf(f, "[%d]", db);
		if (store_foreach(&r, db, NULL, 0, dump_entry, f) != HG_EOK) {
			fprintf(f, "(walk failed)");
		}
	}
	store_rtxn_free(&r);
	fclose(f);
	return buf;
}

static int count(enum store_dbi db)
{
	store_rtxn_t r = { 0 };
	size_t n = 0;
	store_rtxn_begin(st, &r);
	int ret = store_count(&r, db, &n);
	store_rtxn_free(&r);
	return ret == HG_EOK ? (int)n : -1;
}

/* Copy of a record/view (the read txn ends before the caller looks at it). */
static void *get_copy(enum store_dbi db, const void *key, size_t klen, size_t *len)
{
	store_rtxn_t r = { 0 };
	const void *val;
	void *out = NULL;
	store_rtxn_begin(st, &r);
	if (store_get(&r, db, key, klen, &val, len) == HG_EOK) {
		out = malloc(*len);
		memcpy(out, val, *len);
	}
	store_rtxn_free(&r);
	return out;
}

static void *get_id(enum store_dbi db, const char *id, size_t *len)
{
	return get_copy(db, id, strlen(id), len);
}

static uint8_t *get_view(const char *name, size_t *len)
{
	uint8_t wire[HG_DNAME_MAX], wlen;
	policy_parse_dname(name, wire, &wlen);
	return get_copy(STORE_VIEWS, wire, wlen, len);
}

static uint64_t meta_u64(const char *key)
{
	size_t len;
	uint64_t v = 0;
	void *p = get_id(STORE_META, key, &len);
	if (p != NULL && len == 8) {
		memcpy(&v, p, 8);
	}
	free(p);
	return v;
}

/* The set of the view of \a name (a malloc()ed copy), or NULL. */
static uint8_t *get_set_of(const char *name, size_t *len)
{
	size_t vlen;
	uint8_t *blob = get_view(name, &vlen), *set = NULL;
	view_t v;
	if (blob != NULL && view_open(blob, vlen, &v) == HG_EOK) {
		uint8_t key[4];
		view_set_key(v.hdr->set_id, key);
		set = get_copy(STORE_SETS, key, sizeof(key), len);
	}
	free(blob);
	return set;
}

/* The cell / admin of endpoint \a ep in the set of name \a name. */
static bool cell_state(const char *name, const char *ep, unsigned prober, hg_view_cell_t *cell,
                       uint8_t *admin)
{
	size_t len;
	uint8_t *blob = get_set_of(name, &len);
	view_set_t s;
	bool found = false;
	if (blob != NULL && view_set_open(blob, len, &s) == HG_EOK) {
		long i = view_find_ep(&s, ep);
		if (i >= 0 && prober < s.hdr->n_probers) {
			*cell = *view_cell(&s, (unsigned)i, prober);
			*admin = s.ep[i].admin;
			found = true;
		}
	}
	free(blob);
	return found;
}

static void test_load_a(void)
{
	policy_t *a = tm_policy_a();
	uint64_t gen = 0, before = store_now_ms();
	is_int(writer_load_policy(st, a, &gen), HG_EOK, "load model A");
	is_int(gen, 1, "first generation is 1");
	is_int(meta_u64(HG_META_POLICY_GEN), 1, "meta policy_generation");
	ok(meta_u64(HG_META_POLICY_LOADED) >= before, "meta policy_loaded_ms");

	static const struct {
		enum store_dbi db;
		int n;
	} counts[] = {
		{ STORE_PROBERS, 2 }, { STORE_POOLS, 2 },  { STORE_ENDPOINTS, 3 },
		{ STORE_NAMES, 3 },   { STORE_EPSETS, 6 }, { STORE_VIEWS, 3 },
		{ STORE_SETS, 3 },
	};
	for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
		is_int(count(counts[i].db), counts[i].n, "A: %s has %d entries",
		       store_db_name(counts[i].db), counts[i].n);
	}
	size_t len;
	hg_rec_prober_t *pr = get_id(STORE_PROBERS, "p-iad", &len);
	ok(pr && len == sizeof(*pr) && pr->layout == 1 && pr->index == 1 &&
	           strcmp(pr->id, "p-iad") == 0 && pr->lat == 38.95 && pr->lon == -77.45 &&
	           pr->feed[0] == '\0',
	   "prober record p-iad (feed field unused)");
	free(pr);
	hg_rec_pool_t *pool = get_id(STORE_POOLS, "eu", &len);
	ok(pool && len == sizeof(*pool) && pool->n_endpoints == 2 && pool->priority == 1 &&
	           strcmp(pool->id, "eu") == 0,
	   "pool record eu");
	free(pool);
	hg_rec_endpoint_t *ep = get_id(STORE_ENDPOINTS, "waf-ams", &len);
	static const uint8_t ams4[4] = { 198, 51, 100, 20 };
	ok(ep && len == sizeof(*ep) && ep->layout == 1 && strcmp(ep->pool, "eu") == 0 &&
	           ep->n_v4 == 1 && ep->n_v6 == 1 && memcmp(ep->v4[0], ams4, 4) == 0 &&
	           ep->v6[0][0] == 0x20 && ep->v6[0][15] == 0x20 && ep->weight == 50 &&
	           ep->priority == 1 && ep->has_location && ep->lat == 52.37 &&
	           ep->cname_len == 0 && ep->check.port == 80 &&
	           strcmp(ep->check.path, "/healthz") == 0,
	   "endpoint record waf-ams");
	free(ep);
	uint8_t wire[HG_DNAME_MAX], wlen;
	policy_parse_dname("global.example.net.", wire, &wlen);
	void *nmv = get_copy(STORE_NAMES, wire, wlen, &len);
	schema_name_rec_t nr;
	ok(nmv && schema_name_rec(nmv, len, &nr) == 0 && nr.rec->n_pools == 2 &&
	           strcmp(nr.pools[0], "eu") == 0 && strcmp(nr.pools[1], "us") == 0 &&
	           nr.rec->ttl == 30 && nr.rec->degraded_ttl == 10 &&
	           nr.rec->quorum_ppm == 500000 && nr.rec->fallback == HG_FALLBACK_ALL &&
	           nr.rec->set_id == 0 && nr.chain_len == strlen("up, geofence, first: 2") &&
	           memcmp(nr.chain, "up, geofence, first: 2", nr.chain_len) == 0 &&
	           len == sizeof(hg_rec_name_t) + 6 + nr.chain_len,
	   "name record global (variable size)");
	free(nmv);
	hg_rec_defaults_t *d = get_id(STORE_META, HG_META_POLICY_DEFAULTS, &len);
	ok(d && len == sizeof(*d) && d->ttl == 30 && d->stale_after_ms == 15000 &&
	           d->check.interval_ms == 5000,
	   "meta policy_defaults");
	free(d);
	char *src = get_id(STORE_META, HG_META_POLICY_SOURCE, &len);
	ok(src && len == strlen("/etc/haltgslb/a.yaml") &&
	           memcmp(src, "/etc/haltgslb/a.yaml", len) == 0,
	   "meta policy_source");
	free(src);
	uint8_t *sha = get_id(STORE_META, HG_META_POLICY_SHA256, &len);
	ok(sha && len == 32 && sha[0] == 0xa0 && sha[31] == 0xa0 + 31, "meta policy_sha256");
	free(sha);

	uint8_t *blob = get_view("global.example.net.", &len);
	view_t v;
	ok(blob && view_open(blob, len, &v) == HG_EOK && v.hdr->generation == 1 &&
	           v.hdr->n_endpoints == 3 && v.hdr->n_rules == 1 && v.hdr->set_id == 0,
	   "view of global: 3 endpoints, 1 rule, generation 1, set 0");
	free(blob);
	blob = get_set_of("global.example.net.", &len);
	view_set_t s;
	ok(blob && view_set_open(blob, len, &s) == HG_EOK && s.hdr->n_endpoints == 3 &&
	           s.hdr->n_probers == 2 && s.hdr->n_names == 1 && s.hdr->generation == 1,
	   "set of global: 3 endpoints, 2 probers, 1 name");
	free(blob);
	policy_free(a);
}

static void test_measure_override(void)
{
	size_t us_len, us2_len;
	uint8_t *us_before = get_set_of("us.example.net.", &us_len);
	store_wtxn_t w;
	store_wtxn_begin(st, &w);
	hg_rec_measure_t m = { .state = HG_HEALTH_DOWN,
		               .ts_ms = 1700000000123ull,
		               .rtt_median_us = 12345,
		               .loss_bp = 250 };
	is_int(writer_apply_measure(&w, "waf-fra", "p-iad", &m), HG_EOK,
	       "measure waf-fra by p-iad");
	is_int(writer_apply_measure(&w, "nope", "p-iad", &m), HG_ENOENT, "unknown endpoint");
	is_int(writer_apply_measure(&w, "waf-fra", "nope", &m), HG_ENOENT, "unknown prober");
	m.state = HG_HEALTH_UP;
	m.rtt_median_us = 999;
	is_int(writer_apply_measure(&w, "waf-iad", "p-fra", &m), HG_EOK,
	       "measure waf-iad by p-fra");
	is_int(writer_apply_override(&w, "waf-ams", HG_ADMIN_DRAIN, "maintenance"), HG_EOK,
	       "drain waf-ams");
	is_int(writer_apply_override(&w, "waf-iad", HG_ADMIN_FORCE_UP, "x"), HG_EOK,
	       "force-up waf-iad");
	is_int(writer_apply_override(&w, "nope", HG_ADMIN_DRAIN, "x"), HG_ENOENT,
	       "override unknown endpoint");
	is_int(writer_apply_override(&w, "waf-ams", 9, "x"), HG_EINVAL, "override bad admin");
	is_int(store_wtxn_commit(&w), HG_EOK, "ENOENT did not poison the batch");

	hg_view_cell_t c;
	uint8_t admin;
	static const struct {
		const char *name, *ep;
		unsigned pr;
		uint8_t state;
		uint32_t rtt;
		uint8_t admin;
	} cases[] = {
		{ "global.example.net.", "waf-fra", 1, HG_HEALTH_DOWN, 12345, HG_ADMIN_NONE },
		{ "eu.example.net.", "waf-fra", 1, HG_HEALTH_DOWN, 12345, HG_ADMIN_NONE },
		{ "eu.example.net.", "waf-fra", 0, HG_HEALTH_UNKNOWN, HG_RTT_NONE, HG_ADMIN_NONE },
		{ "global.example.net.", "waf-ams", 0, HG_HEALTH_UNKNOWN, HG_RTT_NONE,
		  HG_ADMIN_DRAIN },
		{ "eu.example.net.", "waf-ams", 1, HG_HEALTH_UNKNOWN, HG_RTT_NONE, HG_ADMIN_DRAIN },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		bool found = cell_state(cases[i].name, cases[i].ep, cases[i].pr, &c, &admin);
		ok(found && c.state == cases[i].state && c.rtt_us == cases[i].rtt &&
		           admin == cases[i].admin,
		   "view %s %s×%u: state %u rtt %u admin %u", cases[i].name, cases[i].ep,
		   cases[i].pr, cases[i].state, cases[i].rtt, cases[i].admin);
	}
	ok(cell_state("global.example.net.", "waf-fra", 1, &c, &admin) &&
	           c.ts_ms == 1700000000123ull && c.loss_bp == 250,
	   "cell carries ts and loss");
	/* us. uses only waf-iad: patched by waf-iad's write, untouched by waf-fra/ams. */
	uint8_t *us_after = get_set_of("us.example.net.", &us2_len);
	ok(us_before && us_after && us_len == us2_len, "us set size unchanged");
	ok(cell_state("us.example.net.", "waf-iad", 0, &c, &admin) && c.rtt_us == 999 &&
	           admin == HG_ADMIN_FORCE_UP,
	   "us view patched by its own endpoint only");
	free(us_before);
	free(us_after);

	size_t len;
	hg_rec_override_t *o = get_id(STORE_OVERRIDES, "waf-ams", &len);
	ok(o && len == sizeof(*o) && o->admin == HG_ADMIN_DRAIN &&
	           strcmp(o->reason, "maintenance") == 0 && o->set_ms > 0,
	   "override record");
	free(o);
	uint8_t key[STORE_MEASURE_KEY_MAX];
	size_t klen = store_measure_key(key, sizeof(key), "waf-fra", "p-iad");
	hg_rec_measure_t *rec = get_copy(STORE_MEASUREMENTS, key, klen, &len);
	ok(rec && len == sizeof(*rec) && rec->layout == HG_REC_LAYOUT &&
	           rec->rtt_median_us == 12345,
	   "measurement record (layout stamped)");
	free(rec);
}

static void test_reload_b(void)
{
	policy_t *b = tm_policy_b();
	uint64_t gen = 0;
	is_int(writer_load_policy(st, b, &gen), HG_EOK, "load model B");
	is_int(gen, 2, "generation 2");
	static const struct {
		enum store_dbi db;
		const char *id;
		bool present;
	} ids[] = {
		{ STORE_PROBERS, "p-sin", true },      { STORE_PROBERS, "p-iad", false },
		{ STORE_POOLS, "us", false },          { STORE_ENDPOINTS, "waf-lon", true },
		{ STORE_ENDPOINTS, "waf-iad", false }, { STORE_EPSETS, "waf-iad", false },
		{ STORE_OVERRIDES, "waf-iad", true }, /* overrides are kept, even of gone endpoints */
		{ STORE_OVERRIDES, "waf-ams", true },
	};
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		size_t len;
		void *p = get_id(ids[i].db, ids[i].id, &len);
		ok((p != NULL) == ids[i].present, "B: %s %s %s", store_db_name(ids[i].db),
		   ids[i].id, ids[i].present ? "present" : "absent");
		free(p);
	}
	is_int(count(STORE_VIEWS), 2, "B: two views");
	is_int(count(STORE_SETS), 1, "B: one set (both names over pool eu)");
	is_int(count(STORE_MEASUREMENTS), 0, "measurements of gone endpoint / prober deleted");

	/* measure, then reload B again: the measurement and drain survive. */
	store_wtxn_t w;
	store_wtxn_begin(st, &w);
	hg_rec_measure_t m = { .state = HG_HEALTH_DOWN, .ts_ms = 5, .rtt_median_us = 777 };
	writer_apply_measure(&w, "waf-lon", "p-sin", &m);
	is_int(store_wtxn_commit(&w), HG_EOK, "measure waf-lon");
	is_int(writer_load_policy(st, b, &gen), HG_EOK, "reload B");
	hg_view_cell_t c;
	uint8_t admin;
	ok(cell_state("lon.example.net.", "waf-lon", 1, &c, &admin) && c.rtt_us == 777 &&
	           c.state == HG_HEALTH_DOWN,
	   "measurement survives reload into the new view");
	ok(cell_state("global.example.net.", "waf-ams", 0, &c, &admin) && admin == HG_ADMIN_DRAIN,
	   "drain survives reload");
	policy_free(b);
}

static void test_failed_load(void)
{
	size_t blen, alen;
	char *before = dump_all(&blen);
	policy_t *big = tm_policy_too_big();
	uint64_t gen = 42;
	is_int(writer_load_policy(st, big, &gen), HG_ERANGE, "load of a too-big name fails");
	is_int(gen, 42, "generation output untouched on failure");
	char *after = dump_all(&alen);
	ok(blen == alen && memcmp(before, after, blen) == 0,
	   "every DB byte-identical after failed load");
	is_int(meta_u64(HG_META_POLICY_GEN), 3, "generation still 3");
	free(before);
	free(after);
	policy_free(big);
}

static void test_reference(void)
{
	const char *top = getenv("top_srcdir");
	char path[1024];
	snprintf(path, sizeof(path), "%s/tests/unit/policies/reference.yaml", top ? top : "..");
	policy_t *p = NULL;
	policy_errors_t errs = { 0 };
	int ret = policy_parse_file(path, &p, &errs);
	is_int(ret, HG_EOK, "parse %s", path);
	policy_errors_free(&errs);
	if (ret != HG_EOK) {
		return;
	}
	uint64_t gen = 0;
	is_int(writer_load_policy(st, p, &gen), HG_EOK, "load the reference policy");
	is_int(count(STORE_VIEWS), (int)p->n_names, "one view per name");
	is_int(count(STORE_ENDPOINTS), (int)p->n_endpoints, "every endpoint");
	size_t len;
	hg_rec_endpoint_t *ep = get_id(STORE_ENDPOINTS, "cdn-b", &len);
	ok(ep && ep->cname_len > 0 && ep->n_v4 == 0 && ep->check.type == HG_CHECK_HTTPS,
	   "cdn-b is a CNAME endpoint with an https check");
	free(ep);
	policy_free(p);
}

/* 60 names over the same pools, with the same settings: one set. A
 * measurement rewrites that set and not one view. */
static void test_shared(void)
{
	policy_t *b = tm_policy_b_many(60);
	uint64_t gen = 0;
	is_int(writer_load_policy(st, b, &gen), HG_EOK, "load B with 60 more names");
	is_int(count(STORE_VIEWS), 62, "62 views");
	is_int(count(STORE_SETS), 1, "one set for all of them");
	is_int(count(STORE_EPSETS), 3, "epsets: one set per endpoint");
	size_t vlen0, vlen1;
	uint8_t *v0 = get_view("n7.example.net.", &vlen0);
	store_wtxn_t w;
	store_wtxn_begin(st, &w);
	hg_rec_measure_t m = { .state = HG_HEALTH_UP,
		               .ts_ms = store_now_ms(),
		               .rtt_median_us = 4242 };
	is_int(writer_apply_measure(&w, "waf-ams", "p-fra", &m), HG_EOK, "measure waf-ams");
	is_int(store_wtxn_commit(&w), HG_EOK, "commit");
	uint8_t *v1 = get_view("n7.example.net.", &vlen1);
	ok(v0 && v1 && vlen0 == vlen1 && memcmp(v0, v1, vlen0) == 0, "the views are not rewritten");
	hg_view_cell_t c;
	uint8_t admin;
	ok(cell_state("n59.example.net.", "waf-ams", 0, &c, &admin) && c.rtt_us == 4242 &&
	           cell_state("global.example.net.", "waf-ams", 0, &c, &admin) && c.rtt_us == 4242,
	   "every name reads the new cell through the set");
	size_t len;
	uint8_t *set = get_set_of("n59.example.net.", &len);
	view_set_t s;
	ok(set && view_set_open(set, len, &s) == HG_EOK && s.hdr->n_names == 62 &&
	           !(s.derived->unknown & 2u) && s.derived->computed_ms >= m.ts_ms,
	   "the set's derived state is refreshed by the write (waf-ams voted)");
	free(set);
	free(v0);
	free(v1);
	policy_free(b);
}

/* The name filter holds every owner; a name outside the policy probes empty. */
static void test_filter(void)
{
	policy_t *b = tm_policy_b_many(60);
	size_t len;
	uint8_t *f = get_id(STORE_META, HG_META_NAME_FILTER, &len);
	hg_name_filter_t h;
	ok(f && len >= sizeof(h), "meta name_filter present");
	if (f == NULL || len < sizeof(h)) {
		free(f);
		policy_free(b);
		return;
	}
	memcpy(&h, f, sizeof(h));
	ok(h.layout == HG_NAME_FILTER_LAYOUT && h.n_names == b->n_names &&
	           h.n_slots >= 2 * h.n_names && (h.n_slots & (h.n_slots - 1)) == 0 &&
	           len == sizeof(h) + (size_t)h.n_slots * 4,
	   "filter: %u names in %u slots", h.n_names, h.n_slots);
	unsigned found = 0, absent = 0;
	for (size_t i = 0; i < b->n_names; i++) {
		found += view_filter_maybe(f + sizeof(h), h.n_slots - 1,
		                           hg_name_hash(b->names[i].owner, b->names[i].owner_len));
	}
	for (unsigned i = 0; i < 1000; i++) {
		char name[64];
		uint8_t wire[HG_DNAME_MAX], wlen;
		snprintf(name, sizeof(name), "other%u.example.net.", i);
		policy_parse_dname(name, wire, &wlen);
		absent +=
		        !view_filter_maybe(f + sizeof(h), h.n_slots - 1, hg_name_hash(wire, wlen));
	}
	is_int(found, b->n_names, "filter: every owner may be present");
	ok(absent >= 990, "filter: %u of 1000 other names certainly absent", absent);
	free(f);
	policy_free(b);
}

/* A schema-1 database: refused, except by the load that upgrades it in
 * place (measurements and overrides kept, epnames gone, version 2). */
static void test_upgrade(void)
{
	char d1[600];
	snprintf(d1, sizeof(d1), "%s/v1", dir);
	store_t *s1 = NULL;
	is_int(store_open(d1, STORE_CREATE, &s1), HG_EOK, "create a database");
	policy_t *a = tm_policy_a();
	is_int(writer_load_policy(s1, a, NULL), HG_EOK, "load A");
	store_wtxn_t w;
	store_wtxn_begin(s1, &w);
	hg_rec_measure_t m = { .state = HG_HEALTH_UP,
		               .ts_ms = store_now_ms(),
		               .rtt_median_us = 31 };
	writer_apply_measure(&w, "waf-iad", "p-fra", &m);
	writer_apply_override(&w, "waf-ams", HG_ADMIN_DRAIN, "kept");
	/* Make it look like schema 1: its version and its epnames DB. */
	uint32_t one = 1;
	store_put(&w, STORE_META, HG_META_SCHEMA_VERSION, strlen(HG_META_SCHEMA_VERSION), &one, 4);
	MDB_dbi old;
	ok(mdb_dbi_open(w.txn, "epnames", MDB_CREATE | MDB_DUPSORT, &old) == MDB_SUCCESS,
	   "create a schema-1 epnames DB");
	MDB_val k = { 7, (void *)"waf-iad" }, v = { 3, (void *)"\1x\0" };
	mdb_put(w.txn, old, &k, &v, 0);
	is_int(store_wtxn_commit(&w), HG_EOK, "commit the schema-1 look");
	store_close(s1);
	s1 = NULL;
	is_int(store_open(d1, STORE_RDONLY, &s1), HG_ESCHEMA, "a reader refuses schema 1");
	is_int(store_open(d1, STORE_CREATE, &s1), HG_ESCHEMA, "a writer refuses schema 1");
	is_int(store_open(d1, STORE_CREATE | STORE_UPGRADE, &s1), HG_EOK,
	       "the upgrading load opens it");
	is_int(store_schema_found(s1), 1, "found schema 1");
	is_int(writer_load_policy(s1, a, NULL), HG_EOK, "load A: the upgrade");
	is_int(store_schema_found(s1), HG_SCHEMA_VERSION, "now schema 2");
	store_rtxn_t r = { 0 };
	store_rtxn_begin(s1, &r);
	const void *val;
	size_t len;
	uint32_t ver = 0;
	if (store_get(&r, STORE_META, HG_META_SCHEMA_VERSION, strlen(HG_META_SCHEMA_VERSION), &val,
	              &len) == HG_EOK &&
	    len == 4) {
		memcpy(&ver, val, 4);
	}
	is_int(ver, HG_SCHEMA_VERSION, "schema_version 2 stored");
	ok(mdb_dbi_open(r.txn, "epnames", 0, &old) == MDB_NOTFOUND, "epnames deleted");
	uint8_t key[STORE_MEASURE_KEY_MAX];
	size_t klen = store_measure_key(key, sizeof(key), "waf-iad", "p-fra");
	ok(store_get(&r, STORE_MEASUREMENTS, key, klen, &val, &len) == HG_EOK &&
	           store_get(&r, STORE_OVERRIDES, "waf-ams", 7, &val, &len) == HG_EOK,
	   "measurement and override kept");
	store_rtxn_free(&r);
	store_close(s1);
	s1 = NULL;
	is_int(store_open(d1, STORE_RDONLY, &s1), HG_EOK, "a reader opens the upgraded database");
	store_close(s1);
	policy_free(a);
	char p[700];
	snprintf(p, sizeof(p), "%s/data.mdb", d1);
	unlink(p);
	snprintf(p, sizeof(p), "%s/lock.mdb", d1);
	unlink(p);
	rmdir(d1);
}

int main(void)
{
	const char *root = getenv("HG_TEST_DATA");
	root = root && *root ? root : "/tmp";
	mkdir(root, 0750);
	snprintf(dir, sizeof(dir), "%s/test_writer.XXXXXX", root);
	if (mkdtemp(dir) == NULL || store_open(dir, STORE_CREATE, &st) != HG_EOK) {
		ok(0, "create store in %s", dir);
		return done_testing();
	}
	test_load_a();
	test_measure_override();
	test_reload_b();
	test_failed_load();
	test_shared();
	test_filter();
	test_reference();
	test_upgrade();
	store_close(st);
	char p[600];
	snprintf(p, sizeof(p), "%s/data.mdb", dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/lock.mdb", dir);
	unlink(p);
	ok(rmdir(dir) == 0, "test env removed");
	return done_testing();
}
