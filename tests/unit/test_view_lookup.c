/*  SPDX-License-Identifier: GPL-3.0-or-later */
/*  view_lookup: the query name → view + set lookup the module and explain
 *  share, its per-snapshot caches and the name filter, on real LMDB
 *  environments. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "errors.h"
#include "tap.h"
#include "view_lookup.h"
#include "writer.h"
#include "writer_fixture.h"

static char root_dir[512];

typedef struct {
	char dir[600];
	store_t *st;
} env_t;

static int env_open(env_t *e, const char *tag, policy_t *policy)
{
	snprintf(e->dir, sizeof(e->dir), "%s/%s", root_dir, tag);
	int ret = store_open(e->dir, STORE_CREATE, &e->st);
	if (ret == HG_EOK) {
		ret = writer_load_policy(e->st, policy, NULL);
	}
	policy_free(policy);
	return ret;
}

static void env_close(env_t *e)
{
	store_close(e->st);
	char p[700];
	snprintf(p, sizeof(p), "%s/data.mdb", e->dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/lock.mdb", e->dir);
	unlink(p);
	rmdir(e->dir);
}

/* Wire form of a presentation name (test names are all valid). */
static size_t wire(const char *text, uint8_t out[HG_DNAME_MAX])
{
	uint8_t len = 0;
	policy_parse_dname(text, out, &len);
	return len;
}

static int lookup(view_lookup_cache_t *c, store_rtxn_t *r, const char *name, view_t *v)
{
	uint8_t w[HG_DNAME_MAX];
	size_t len = wire(name, w);
	return view_lookup(c, r, w, len, v);
}

/* The id of endpoint \a i of a view, as a C string. */
static const char *ep_id(const view_t *v, unsigned i, char *buf, size_t size)
{
	snprintf(buf, size, "%.*s", (int)v->s.ep[i].id_len,
	         (const char *)v->s.strings + v->s.ep[i].id_off);
	return buf;
}

static int commit_one(store_t *st, void (*fn)(store_wtxn_t *w))
{
	store_wtxn_t w;
	int ret = store_wtxn_begin(st, &w);
	if (ret == HG_EOK) {
		fn(&w);
		ret = store_wtxn_commit(&w);
	}
	return ret;
}

static void drop_eu_view(store_wtxn_t *w)
{
	uint8_t k[HG_DNAME_MAX];
	size_t len = wire("eu.example.net.", k);
	store_del(w, STORE_VIEWS, k, len);
}

static void garble_us_view(store_wtxn_t *w)
{
	uint8_t k[HG_DNAME_MAX];
	size_t len = wire("us.example.net.", k);
	static const uint8_t junk[80] = { 'n', 'o', 't', ' ', 'a', ' ', 'v', 'i', 'e', 'w' };
	store_put(w, STORE_VIEWS, k, len, junk, sizeof(junk));
}

static void garble_global_set(store_wtxn_t *w)
{
	/* Sets are numbered in the order names first use them: global.
	 * (eu + us) 0, eu. 1, us. 2. */
	static const uint8_t key[4] = { 0, 0, 0, 0 },
	                     junk[80] = { 'n', 'o', 't', ' ', 's', 'e', 't' };
	store_put(w, STORE_SETS, key, sizeof(key), junk, sizeof(junk));
}

static void drop_filter(store_wtxn_t *w)
{
	store_del(w, STORE_META, HG_META_NAME_FILTER, strlen(HG_META_NAME_FILTER));
}

static void measure_waf_fra(store_wtxn_t *w)
{
	hg_rec_measure_t m = { .state = HG_HEALTH_UP,
		               .ts_ms = store_now_ms(),
		               .rtt_median_us = 1234 };
	store_wtxn_fail(w, writer_apply_measure(w, "waf-fra", "p-fra", &m));
}

/* Table-driven: one line per name, its outcome in the same snapshot. */
static void test_kinds(env_t *a)
{
	static const struct {
		const char *name;
		int kind;
	} cases[] = {
		{ "global.example.net.", VIEW_LOOKUP_FOUND },
		{ "eu.example.net.", VIEW_LOOKUP_NO_VIEW }, /* its view dropped below */
		{ "us.example.net.", VIEW_LOOKUP_BAD },     /* its view garbled below */
		{ "www.example.net.", VIEW_LOOKUP_NONE },
		{ "example.net.", VIEW_LOOKUP_NONE },
		{ ".", VIEW_LOOKUP_NONE },
	};
	is_int(commit_one(a->st, drop_eu_view), HG_EOK, "drop the view of eu. (name kept)");
	is_int(commit_one(a->st, garble_us_view), HG_EOK, "garble the view of us.");
	static view_lookup_cache_t c;
	store_rtxn_t r = { 0 };
	is_int(store_rtxn_begin(a->st, &r), HG_EOK, "begin a read snapshot");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		view_t v;
		is_int(lookup(&c, &r, cases[i].name, &v), cases[i].kind, "%s: kind %d",
		       cases[i].name, cases[i].kind);
	}
	view_t v;
	char id[HG_ID_SIZE];
	ok(lookup(&c, &r, "global.example.net.", &v) == VIEW_LOOKUP_FOUND &&
	           v.s.hdr->n_endpoints == 3 &&
	           strcmp(ep_id(&v, 2, id, sizeof(id)), "waf-iad") == 0,
	   "global.: the opened view and its set (3 endpoints, waf-iad third)");
	store_rtxn_free(&r);

	/* A view whose set does not open is as unreadable as a bad view. */
	is_int(commit_one(a->st, garble_global_set), HG_EOK, "garble set 0 (global.'s)");
	is_int(store_rtxn_begin(a->st, &r), HG_EOK, "begin a read snapshot");
	is_int(lookup(&c, &r, "global.example.net.", &v), VIEW_LOOKUP_BAD,
	       "global.: its set is bad");
	store_rtxn_free(&r);
}

/* Names over the same pools with the same quorum and stale-after share one
 * set: one set per distinct spec, opened once per snapshot. */
static void test_shared_set(env_t *b)
{
	static view_lookup_cache_t c;
	store_rtxn_t r = { 0 };
	view_t v1, v2;
	store_rtxn_begin(b->st, &r);
	ok(lookup(&c, &r, "global.example.net.", &v1) == VIEW_LOOKUP_FOUND &&
	           lookup(&c, &r, "lon.example.net.", &v2) == VIEW_LOOKUP_FOUND,
	   "B: both names found");
	ok(v1.hdr->set_id == v2.hdr->set_id && v1.s.hdr == v2.s.hdr && v1.hdr != v2.hdr &&
	           v1.s.hdr->n_names == 2,
	   "B: two views, one set (n_names 2), opened once");
	size_t n = 0;
	is_int(store_count(&r, STORE_SETS, &n), HG_EOK, "count sets");
	is_int(n, 1, "B: one set in the database");
	store_rtxn_free(&r);
}

static void test_cache(env_t *a)
{
	static view_lookup_cache_t c;
	store_rtxn_t r = { 0 };
	view_t v1, v2;
	store_rtxn_begin(a->st, &r);
	is_int(lookup(&c, &r, "global.example.net.", &v1), VIEW_LOOKUP_FOUND, "first lookup");
	ok(c.hits == 0 && c.misses == 1, "first lookup is a miss (%llu/%llu)",
	   (unsigned long long)c.hits, (unsigned long long)c.misses);
	is_int(lookup(&c, &r, "global.example.net.", &v2), VIEW_LOOKUP_FOUND, "second lookup");
	ok(c.hits == 1 && c.misses == 1 && v2.hdr == v1.hdr && v2.s.hdr == v1.s.hdr,
	   "same snapshot: a hit, the same view and set");
	is_int(lookup(&c, &r, "www.example.net.", &v2), VIEW_LOOKUP_NONE, "not a GSLB name");
	is_int(lookup(&c, &r, "www.example.net.", &v2), VIEW_LOOKUP_NONE, "not a GSLB name again");
	ok(c.hits == 1 && c.misses == 1 && c.filtered == 2,
	   "a name not in the policy: answered by the name filter, no lookup");

	/* A renewed txn without a commit in between reads the same snapshot. */
	store_rtxn_end(&r);
	store_rtxn_begin(a->st, &r);
	is_int(lookup(&c, &r, "global.example.net.", &v2), VIEW_LOOKUP_FOUND, "after renew");
	ok(c.hits == 2 && c.misses == 1, "renewed, no commit: still a hit");
	store_rtxn_end(&r);

	is_int(commit_one(a->st, measure_waf_fra), HG_EOK, "commit a measurement of waf-fra");
	store_rtxn_begin(a->st, &r);
	is_int(lookup(&c, &r, "global.example.net.", &v2), VIEW_LOOKUP_FOUND, "after the commit");
	ok(c.hits == 2 && c.misses == 2, "after a commit: a miss");
	const hg_view_cell_t *cell = view_cell(&v2.s, 0, 0);
	ok(cell->state == HG_HEALTH_UP && cell->rtt_us == 1234,
	   "the new snapshot's set is read (waf-fra up, 1234 us via p-fra)");
	store_rtxn_end(&r);

	/* Without a filter every name is looked up, with the same outcome. */
	is_int(commit_one(a->st, drop_filter), HG_EOK, "delete the name filter");
	store_rtxn_begin(a->st, &r);
	is_int(lookup(&c, &r, "www.example.net.", &v2), VIEW_LOOKUP_NONE,
	       "no filter: not a GSLB name");
	is_int(lookup(&c, &r, "global.example.net.", &v2), VIEW_LOOKUP_FOUND, "no filter: found");
	ok(c.filtered == 2 && c.misses == 4, "no filter: both looked up in LMDB");
	store_rtxn_free(&r);
}

static size_t snapshot_id(store_t *st)
{
	store_rtxn_t r = { 0 };
	size_t id = store_rtxn_begin(st, &r) == HG_EOK ? mdb_txn_id(r.txn) : 0;
	store_rtxn_free(&r);
	return id;
}

static void put_cursor(store_wtxn_t *w)
{
	hg_rec_cursor_t cur = { .layout = HG_REC_LAYOUT };
	store_put(w, STORE_CURSORS, "filler", 6, &cur, sizeof(cur));
}

/* Snapshot ids are per environment: another store is another key, even at
 * the same snapshot id (B is brought to A's id first). */
static void test_two_stores(env_t *a, env_t *b)
{
	static view_lookup_cache_t c;
	store_rtxn_t ra = { 0 }, rb = { 0 };
	view_t v;
	char id[HG_ID_SIZE];
	while (snapshot_id(b->st) < snapshot_id(a->st) && commit_one(b->st, put_cursor) == HG_EOK) {
	}
	store_rtxn_begin(a->st, &ra);
	store_rtxn_begin(b->st, &rb);
	is_int(mdb_txn_id(rb.txn), mdb_txn_id(ra.txn), "stores A and B at the same snapshot id");
	ok(lookup(&c, &ra, "global.example.net.", &v) == VIEW_LOOKUP_FOUND &&
	           strcmp(ep_id(&v, 2, id, sizeof(id)), "waf-iad") == 0,
	   "store A: global. ends with waf-iad");
	ok(lookup(&c, &rb, "global.example.net.", &v) == VIEW_LOOKUP_FOUND &&
	           strcmp(ep_id(&v, 2, id, sizeof(id)), "waf-lon") == 0,
	   "store B: global. ends with waf-lon");
	is_int(c.hits, 0, "no hit across stores");
	is_int(lookup(&c, &ra, "lon.example.net.", &v), VIEW_LOOKUP_NONE, "store A has no lon.");
	is_int(lookup(&c, &rb, "lon.example.net.", &v), VIEW_LOOKUP_FOUND, "store B has lon.");
	store_rtxn_free(&ra);
	store_rtxn_free(&rb);
}

static void test_errors(env_t *a)
{
	static view_lookup_cache_t c;
	store_rtxn_t r = { 0 };
	view_t v;
	uint8_t w[HG_DNAME_MAX + 1];
	size_t len = wire("global.example.net.", w);
	is_int(view_lookup(&c, &r, w, len, &v), VIEW_LOOKUP_ERROR, "txn never begun: error");
	store_rtxn_begin(a->st, &r);
	store_rtxn_end(&r);
	is_int(view_lookup(&c, &r, w, len, &v), VIEW_LOOKUP_ERROR, "txn ended: error");
	store_rtxn_begin(a->st, &r);
	is_int(view_lookup(&c, &r, w, 0, &v), VIEW_LOOKUP_ERROR, "empty name: error");
	memset(w, 1, sizeof(w));
	is_int(view_lookup(&c, &r, w, HG_DNAME_MAX + 1, &v), VIEW_LOOKUP_ERROR,
	       "name over %d bytes: error", HG_DNAME_MAX);
	is_int(c.hits + c.misses, 0, "errors are not cached or counted");
	store_rtxn_free(&r);
}

int main(void)
{
	const char *root = getenv("HG_TEST_DATA");
	root = root && *root ? root : "/tmp";
	mkdir(root, 0750);
	snprintf(root_dir, sizeof(root_dir), "%s/test_view_lookup.XXXXXX", root);
	env_t a = { 0 }, b = { 0 };
	if (mkdtemp(root_dir) == NULL || env_open(&a, "a", tm_policy_a()) != HG_EOK ||
	    env_open(&b, "b", tm_policy_b()) != HG_EOK) {
		ok(0, "create stores in %s", root_dir);
		return done_testing();
	}
	test_cache(&a);
	test_two_stores(&a, &b);
	test_shared_set(&b);
	test_errors(&a);
	test_kinds(&a);
	env_close(&a);
	env_close(&b);
	ok(rmdir(root_dir) == 0, "test envs removed");
	return done_testing();
}
