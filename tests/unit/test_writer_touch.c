/*  SPDX-License-Identifier: GPL-3.0-or-later */
/*  writer_touch_prober (re-stamp a live prober) and writer_forget_measure
 *  (a record a snapshot no longer carries). */
#include "db_fixture.h"
#include "tap.h"
#include "view_build.h"
#include "writer.h"
#include "writer_fixture.h"

static store_t *st;

static int put(const char *ep, const char *prober, uint8_t state, uint64_t ts, uint32_t rtt)
{
	store_wtxn_t w;
	store_wtxn_begin(st, &w);
	hg_rec_measure_t m = { .state = state,
		               .ts_ms = ts,
		               .changed_ms = ts - 10,
		               .rtt_median_us = rtt,
		               .rtt_last_us = rtt,
		               .loss_bp = 100,
		               .probes_total = 9,
		               .probes_failed = 1,
		               .seq = 7 };
	writer_apply_measure(&w, ep, prober, &m);
	return store_wtxn_commit(&w);
}

static int touch(const char *prober, uint64_t now, int *ret)
{
	store_wtxn_t w;
	store_wtxn_begin(st, &w);
	*ret = writer_touch_prober(&w, prober, now);
	return store_wtxn_commit(&w);
}

static uint64_t cell_ts(const char *name, const char *ep, const char *prober)
{
	hg_view_cell_t c;
	return dbf_cell(st, name, ep, prober, &c) ? c.ts_ms : UINT64_MAX;
}

static void test_touch(void)
{
	is_int(put("waf-fra", "p-fra", HG_HEALTH_UP, 1000, 5000), HG_EOK,
	       "measure waf-fra by p-fra");
	is_int(put("waf-ams", "p-fra", HG_HEALTH_DOWN, 2000, HG_RTT_NONE), HG_EOK,
	       "measure waf-ams by p-fra");
	is_int(put("waf-iad", "p-iad", HG_HEALTH_UP, 1000, 9000), HG_EOK,
	       "measure waf-iad by p-iad");
	hg_rec_measure_t before, after;
	dbf_measure(st, "waf-fra", "p-fra", &before);

	int ret;
	is_int(touch("p-fra", 5000, &ret), HG_EOK, "touch p-fra at 5000 commits");
	is_int(ret, HG_EOK, "touch returns HG_EOK");
	ok(dbf_measure(st, "waf-fra", "p-fra", &after) && after.ts_ms == 5000,
	   "waf-fra/p-fra record re-stamped");
	after.ts_ms = before.ts_ms;
	ok(memcmp(&after, &before, sizeof(after)) == 0, "nothing else of the record changed");
	ok(dbf_measure(st, "waf-ams", "p-fra", &after) && after.ts_ms == 5000 &&
	           after.state == HG_HEALTH_DOWN,
	   "waf-ams/p-fra record re-stamped, still down");
	ok(dbf_measure(st, "waf-iad", "p-iad", &after) && after.ts_ms == 1000,
	   "other prober's record untouched");
	ok(!dbf_measure(st, "waf-iad", "p-fra", &after), "no record created where p-fra had none");
	is_int(cell_ts("global.example.net.", "waf-fra", "p-fra"), 5000,
	       "global: waf-fra cell stamped");
	is_int(cell_ts("eu.example.net.", "waf-fra", "p-fra"), 5000, "eu: waf-fra cell stamped");
	is_int(cell_ts("eu.example.net.", "waf-ams", "p-fra"), 5000, "eu: waf-ams cell stamped");
	is_int(cell_ts("global.example.net.", "waf-iad", "p-fra"), 0,
	       "global: cell without data stays empty");
	is_int(cell_ts("us.example.net.", "waf-iad", "p-iad"), 1000, "us: p-iad cell untouched");
	hg_view_cell_t c;
	ok(dbf_cell(st, "eu.example.net.", "waf-fra", "p-fra", &c) && c.rtt_us == 5000 &&
	           c.state == HG_HEALTH_UP && c.loss_bp == 100,
	   "cell keeps rtt, state and loss");

	/* An older or equal time changes nothing at all: not a byte. */
	size_t blen;
	char *snap = dbf_dump_all(st, &blen);
	is_int(touch("p-fra", 5000, &ret), HG_EOK, "touch at the same time commits");
	is_int(touch("p-fra", 3000, &ret), HG_EOK, "touch at an older time commits");
	ok(dbf_same(st, snap, blen),
	   "touch never moves a stamp back nor rewrites an unchanged view");
	free(snap);

	/* An unknown prober is refused without poisoning the txn. */
	store_wtxn_t w;
	store_wtxn_begin(st, &w);
	is_int(writer_touch_prober(&w, "p-nope", 9000), HG_ENOENT, "unknown prober: HG_ENOENT");
	is_int(writer_touch_prober(&w, "p-iad", 9000), HG_EOK, "same txn goes on");
	is_int(store_wtxn_commit(&w), HG_EOK, "and commits");
	is_int(cell_ts("us.example.net.", "waf-iad", "p-iad"), 9000, "p-iad stamped at 9000");
	char longid[100];
	memset(longid, 'a', sizeof(longid) - 1);
	longid[sizeof(longid) - 1] = '\0';
	store_wtxn_begin(st, &w);
	is_int(writer_touch_prober(&w, longid, 9000), HG_EINVAL, "over-long id: HG_EINVAL");
	store_wtxn_abort(&w);

	/* A poisoned txn returns its sticky error and writes nothing. */
	snap = dbf_dump_all(st, &blen);
	store_wtxn_begin(st, &w);
	store_wtxn_fail(&w, HG_EMAPFULL);
	is_int(writer_touch_prober(&w, "p-fra", 99999), HG_EMAPFULL, "sticky error returned");
	is_int(store_wtxn_commit(&w), HG_EMAPFULL, "commit refuses");
	ok(dbf_same(st, snap, blen), "nothing written");
	free(snap);
}

static void test_forget(void)
{
	store_wtxn_t w;
	store_wtxn_begin(st, &w);
	is_int(writer_forget_measure(&w, "waf-fra", "p-fra"), HG_EOK, "forget waf-fra/p-fra");
	is_int(writer_forget_measure(&w, "waf-fra", "p-fra"), HG_EOK, "forget again: no error");
	is_int(writer_forget_measure(&w, "nope", "p-fra"), HG_ENOENT,
	       "unknown endpoint: HG_ENOENT");
	is_int(writer_forget_measure(&w, "waf-fra", "nope"), HG_ENOENT,
	       "unknown prober: HG_ENOENT");
	is_int(store_wtxn_commit(&w), HG_EOK, "commit");
	hg_rec_measure_t m;
	ok(!dbf_measure(st, "waf-fra", "p-fra", &m), "record deleted");
	hg_view_cell_t c;
	ok(dbf_cell(st, "global.example.net.", "waf-fra", "p-fra", &c) && c.ts_ms == 0 &&
	           c.rtt_us == HG_RTT_NONE && c.state == HG_HEALTH_UNKNOWN,
	   "global: cell cleared");
	ok(dbf_cell(st, "eu.example.net.", "waf-fra", "p-fra", &c) && c.ts_ms == 0,
	   "eu: cell cleared");
	ok(dbf_measure(st, "waf-ams", "p-fra", &m), "the prober's other record kept");
	is_int(cell_ts("eu.example.net.", "waf-ams", "p-fra"), 5000, "and its cell");
}

int main(void)
{
	char dir[512];
	st = dbf_create("test_writer_touch", dir, sizeof(dir));
	if (st == NULL) {
		ok(0, "create store");
		return done_testing();
	}
	policy_t *a = tm_policy_a();
	is_int(writer_load_policy(st, a, NULL), HG_EOK, "load model A");
	policy_free(a);
	test_touch();
	test_forget();
	ok(dbf_remove(st, dir) == 0, "test env removed");
	return done_testing();
}
