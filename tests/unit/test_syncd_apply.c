/*  SPDX-License-Identifier: GPL-3.0-or-later */
/*  haltgslb-syncd's apply path with crafted deliveries, no broker: every
 *  drop cause leaves the data untouched, dedupe and gaps by (epoch, seq),
 *  arrival-time stamps and re-stamping, snapshots, commit atomicity
 *  (records, cursor, offset and counters together or not at all), and a
 *  restart that resumes from the stored offset. */
#include <inttypes.h>

#include "db_fixture.h"
#include "feed.h"
#include "syncd_apply.h"
#include "syncd_int.h"
#include "tap.h"
#include "writer.h"

static const char policy_yaml[] =
        "version: 1\n"
        "defaults: {stale-after: 8s}\n"
        "probers:\n"
        "  - {id: p-a, location: {lat: 50.1, lon: 8.7}}\n"
        "  - {id: p-b, location: {lat: 1.3, lon: 103.8}}\n"
        "pools:\n"
        "  - id: eu\n"
        "    endpoints:\n"
        "      - {id: ep-1, address: [192.0.2.1]}\n"
        "      - {id: ep-2, address: [192.0.2.2]}\n"
        "      - {id: ep-3, address: [192.0.2.3]}\n"
        "names:\n"
        "  - {name: a.example.net., pools: [eu], chain: [up, first: 1]}\n"
        "  - {name: b.example.net., pools: [eu], stale-after: 4s, chain: [up]}\n";

#define T0   1700000000000ull /* arrival times: syncd's clock */
#define SENT 1600000000000ull /* the prober's clock, far off on purpose */

static store_t *st;
static syncd_apply_t ap;
static uint64_t next_offset = 10;

/* ---------------------------------------------------------------------- */
/* Messages and deliveries */

typedef struct {
	const char *ep;
	uint8_t state;
	uint32_t rtt;
} rec_t;

static uint8_t *enc(enum feed_kind kind, const char *prober, uint64_t epoch, uint64_t seq,
                    const rec_t *recs, size_t n, size_t *len)
{
	feed_enc_t e;
	feed_enc_init(&e);
	feed_enc_begin(&e, kind, prober, epoch, seq, SENT + seq * 1000);
	for (size_t i = 0; i < n; i++) {
		hg_rec_measure_t m = { .state = recs[i].state,
			               .ts_ms = SENT + seq * 1000 - 5,
			               .changed_ms = SENT - 60000,
			               .rtt_last_us = recs[i].rtt,
			               .rtt_ewma_us = recs[i].rtt,
			               .rtt_median_us = recs[i].rtt,
			               .ttfb_us = HG_RTT_NONE,
			               .loss_bp = 50,
			               .window = 20,
			               .consec_ok = 3,
			               .probes_total = 100,
			               .probes_failed = 2 };
		feed_enc_add(&e, recs[i].ep, &m);
	}
	uint8_t *out = NULL;
	if (feed_enc_finish(&e, &out, len) != HG_EOK) {
		out = NULL;
	}
	feed_enc_free(&e);
	return out;
}

static uint8_t *heartbeat(const char *prober, uint64_t epoch, uint64_t seq, size_t *len)
{
	return enc(FEED_HEARTBEAT, prober, epoch, seq, NULL, 0, len);
}

static syncd_delivery_t delivery(const char *user, const char *rk, const void *body, size_t len,
                                 uint64_t offset, uint64_t arrival)
{
	syncd_delivery_t d = {
		.user_id = user,
		.user_id_len = user ? strlen(user) : 0,
		.routing_key = rk,
		.routing_key_len = rk ? strlen(rk) : 0,
		.body = body,
		.len = len,
		.has_offset = true,
		.offset = offset,
		.arrival_ms = arrival,
	};
	return d;
}

/* One delivery in its own batch, committed. */
static syncd_verdict_t deliver(const char *user, const char *rk, const void *body, size_t len,
                               uint64_t arrival)
{
	syncd_verdict_t v = { 0 };
	syncd_delivery_t d = delivery(user, rk, body, len, next_offset++, arrival);
	int ret = syncd_batch_begin(&ap, arrival);
	if (ret == HG_EOK) {
		ret = syncd_batch_add(&ap, &d, &v);
	}
	if (ret == HG_EOK) {
		ret = syncd_batch_commit(&ap);
	} else {
		syncd_batch_abort(&ap);
	}
	if (ret != HG_EOK) {
		diag("delivery failed: %s", hg_strerror(ret));
		v.outcome = 0;
	}
	return v;
}

/* ---------------------------------------------------------------------- */
/* Looking at the store */

static bool cursor(const char *prober, hg_rec_cursor_t *out)
{
	size_t len;
	void *v = dbf_get(st, STORE_CURSORS, prober, strlen(prober), &len);
	bool found = v != NULL && len == sizeof(*out);
	if (found) {
		memcpy(out, v, sizeof(*out));
	}
	free(v);
	return found;
}

static bool position(hg_rec_stream_cursor_t *out)
{
	const char *key = HG_CURSOR_STREAM_PREFIX "haltgslb.measurements";
	size_t len;
	void *v = dbf_get(st, STORE_CURSORS, key, strlen(key), &len);
	bool found = v != NULL && len == sizeof(*out);
	if (found) {
		memcpy(out, v, sizeof(*out));
	}
	free(v);
	return found;
}

/* Everything but the stream position: a dropped message may move only that. */
static int dump_data_entry(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
	if (klen > 0 && ((const char *)key)[0] == '@') {
		return HG_EOK;
	}
	return dbf_dump_entry(ctx, key, klen, val, vlen);
}

static char *dump_data(size_t *len)
{
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);
	store_rtxn_t r = { 0 };
	store_rtxn_begin(st, &r);
	for (int db = 0; db < STORE_DBI_COUNT; db++) {
		fprintf(f, "[%d]", db);
		store_foreach(&r, db, NULL, 0, dump_data_entry, f);
	}
	store_rtxn_free(&r);
	fclose(f);
	return buf;
}

static bool data_same(const char *before, size_t blen)
{
	size_t len;
	char *now = dump_data(&len);
	bool same = len == blen && memcmp(now, before, len) == 0;
	free(now);
	return same;
}

static const syncd_sender_t *sender(const char *id)
{
	for (size_t i = 0; i < ap.n_senders; i++) {
		if (strcmp(ap.senders[i].id, id) == 0) {
			return &ap.senders[i];
		}
	}
	return NULL;
}

static uint64_t rejected(const char *id, unsigned reason)
{
	const syncd_sender_t *s = sender(id);
	return s != NULL ? s->c.rejected[reason] : 0;
}

static uint64_t records_of(const char *id)
{
	const syncd_sender_t *s = sender(id);
	return s != NULL ? s->c.records : 0;
}

/* ---------------------------------------------------------------------- */

static void test_apply(void)
{
	bool loaded = false;
	is_int(syncd_apply_policy_loaded(&ap, &loaded), HG_EOK, "policy check runs");
	ok(loaded, "policy loaded");
	uint64_t off;
	ok(!syncd_apply_position(&ap, &off), "no stream position yet: start by time");

	size_t len;
	rec_t recs[] = { { "ep-1", HG_HEALTH_UP, 5000 }, { "ep-2", HG_HEALTH_DOWN, HG_RTT_NONE } };
	uint8_t *b = enc(FEED_BATCH, "p-a", 100, 1, recs, 2, &len);
	syncd_verdict_t v = deliver("p-a", "p-a", b, len, T0);
	free(b);
	is_int(v.outcome, SYNCD_APPLIED, "batch from p-a applied");
	is_int(v.applied, 2, "2 records applied");
	ok(!v.new_epoch && v.gap == 0, "first contact: no gap, no epoch change");
	is_int(syncd_apply_restamp_ms(&ap), 1000,
	       "re-stamp every 1/4 of the smallest stale-after (4 s)");

	hg_rec_measure_t m;
	ok(dbf_measure(st, "ep-1", "p-a", &m), "ep-1/p-a stored");
	is_int(m.ts_ms, T0, "ts_ms is the arrival time (syncd's clock), not the prober's");
	is_int(m.changed_ms, SENT - 60000, "changed_ms is the prober's, kept");
	ok(m.state == HG_HEALTH_UP && m.rtt_median_us == 5000 && m.loss_bp == 50 && m.seq == 1 &&
	           m.probes_total == 100,
	   "every other field as published");
	hg_view_cell_t c;
	ok(dbf_cell(st, "a.example.net.", "ep-1", "p-a", &c) && c.ts_ms == T0 && c.rtt_us == 5000 &&
	           c.state == HG_HEALTH_UP,
	   "view a: cell patched, stamped at arrival");
	ok(dbf_cell(st, "b.example.net.", "ep-2", "p-a", &c) && c.state == HG_HEALTH_DOWN,
	   "view b: ep-2 down");
	hg_rec_cursor_t cur;
	ok(cursor("p-a", &cur) && cur.layout == 1 && cur.epoch == 100 && cur.seq == 1 &&
	           cur.messages == 1 && cur.records == 2 && cur.last_arrival_ms == T0 &&
	           cur.last_sent_ms == SENT + 1000 && cur.duplicates == 0 && cur.gaps == 0,
	   "cursor p-a: epoch 100 seq 1, 1 message, 2 records, arrival and send time");
	hg_rec_stream_cursor_t pos;
	ok(position(&pos) && pos.layout == 1 && pos.offset == next_offset - 1 &&
	           pos.deliveries == 1 && pos.committed_ms == T0,
	   "stream position committed with the records");
	ok(syncd_apply_position(&ap, &off) && off == next_offset - 1, "resume point known");
	const syncd_sender_t *s = sender("p-a");
	ok(s && s->c.messages[FEED_BATCH] == 1 && s->c.records == 2 && s->last_arrival_ms == T0,
	   "counters: 1 batch, 2 records, last arrival");
}

/* Each cause: rejected with its reason, counted against the right sender,
 * and nothing but the stream position changes. */
static void test_drops(void)
{
	size_t len;
	rec_t recs[] = { { "ep-3", HG_HEALTH_UP, 7000 } };
	uint8_t *good = enc(FEED_BATCH, "p-a", 100, 2, recs, 1, &len);
	uint8_t *b_msg = enc(FEED_BATCH, "p-b", 100, 2, recs, 1, &len);
	uint8_t *z_msg = enc(FEED_BATCH, "p-z", 100, 2, recs, 1, &len);
	uint8_t *old = enc(FEED_BATCH, "p-a", 99, 50, recs, 1, &len);
	uint8_t *trailing = malloc(len + 1);
	memcpy(trailing, good, len);
	trailing[len] = 0;
	uint8_t *badmagic = malloc(len);
	memcpy(badmagic, good, len);
	badmagic[0] = 'X';
	uint8_t *badversion = malloc(len);
	memcpy(badversion, good, len);
	badversion[3] = 2;
	size_t big_len = FEED_MAX_MSG_BYTES + 1;
	uint8_t *big = calloc(1, big_len);
	memcpy(big, good, len);

	static const char *const none = NULL;
	const struct {
		const char *what, *user, *rk;
		const uint8_t *body;
		size_t len;
		unsigned reason;
		const char *counted;
	} cases[] = {
		{ "no user_id", none, "p-a", good, len, SYNCD_R_NO_USER_ID, "(none)" },
		{ "truncated", "p-a", "p-a", good, len - 3, FEED_R_TRUNCATED, "p-a" },
		{ "empty", "p-a", "p-a", good, 0, FEED_R_TRUNCATED, "p-a" },
		{ "oversized", "p-a", "p-a", big, big_len, FEED_R_TOO_BIG, "p-a" },
		{ "bad magic", "p-a", "p-a", badmagic, len, FEED_R_MAGIC, "p-a" },
		{ "other version", "p-a", "p-a", badversion, len, FEED_R_VERSION, "p-a" },
		{ "trailing bytes", "p-a", "p-a", trailing, len + 1, FEED_R_TRAILING, "p-a" },
		{ "forged: user p-a, message of p-b", "p-a", "p-b", b_msg, len,
		  SYNCD_R_USER_MISMATCH, "p-a" },
		{ "forged: user p-a, key p-a, message of p-b", "p-a", "p-a", b_msg, len,
		  SYNCD_R_USER_MISMATCH, "p-a" },
		{ "routing key of another prober", "p-a", "p-b", good, len, SYNCD_R_ROUTING_KEY,
		  "p-a" },
		{ "user_id not an id", "p a\n", "p-a", good, len, SYNCD_R_USER_MISMATCH,
		  "(invalid)" },
		{ "prober not in the policy", "p-z", "p-z", z_msg, len, SYNCD_R_UNKNOWN_PROBER,
		  "p-z" },
		{ "older epoch", "p-a", "p-a", old, len, SYNCD_R_STALE_EPOCH, "p-a" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t blen;
		char *before = dump_data(&blen);
		hg_rec_stream_cursor_t pos_before = { 0 };
		position(&pos_before);
		uint64_t was = rejected(cases[i].counted, cases[i].reason);
		syncd_verdict_t v =
		        deliver(cases[i].user, cases[i].rk, cases[i].body, cases[i].len, T0 + 1);
		ok(v.outcome == SYNCD_REJECTED && v.reason == cases[i].reason, "%s: rejected (%s)",
		   cases[i].what, syncd_reason_name(cases[i].reason));
		if (v.reason != cases[i].reason) {
			diag("got reason %s", syncd_reason_name(v.reason));
		}
		is_int(rejected(cases[i].counted, cases[i].reason), was + 1, "%s: counted for %s",
		       cases[i].what, cases[i].counted);
		ok(data_same(before, blen), "%s: records, views and cursors unchanged",
		   cases[i].what);
		hg_rec_stream_cursor_t pos;
		ok(position(&pos) && pos.offset == next_offset - 1, "%s: offset consumed",
		   cases[i].what);
		/* The position record: only the offset, the delivery count and the
		 * commit time move. */
		pos_before.offset = pos.offset;
		pos_before.deliveries++;
		pos_before.committed_ms = pos.committed_ms;
		ok(memcmp(&pos, &pos_before, sizeof(pos)) == 0, "%s: nothing else of the position",
		   cases[i].what);
		free(before);
	}
	is_int(records_of("p-a"), 2, "no record applied by any of them");
	free(good);
	free(b_msg);
	free(z_msg);
	free(old);
	free(trailing);
	free(badmagic);
	free(badversion);
	free(big);
}

static void test_sequence(void)
{
	size_t len;
	rec_t recs[] = { { "ep-3", HG_HEALTH_UP, 7000 }, { "ep-nope", HG_HEALTH_UP, 1 } };
	uint8_t *b = enc(FEED_BATCH, "p-a", 100, 2, recs, 2, &len);
	syncd_verdict_t v = deliver("p-a", "p-a", b, len, T0 + 100);
	ok(v.outcome == SYNCD_APPLIED && v.applied == 1 && v.skipped == 1,
	   "unknown endpoint skipped, the rest applied");
	ok(sender("p-a")->c.skipped == 1, "skipped record counted");
	hg_rec_measure_t m;
	ok(dbf_measure(st, "ep-3", "p-a", &m) && m.rtt_median_us == 7000, "ep-3/p-a applied");

	/* The same message again (a publisher republishing after a failover),
	 * at a later offset: dropped by (epoch, seq). */
	size_t blen;
	char *before = dump_data(&blen);
	v = deliver("p-a", "p-a", b, len, T0 + 200);
	is_int(v.outcome, SYNCD_DUPLICATE, "republished message is a duplicate");
	hg_rec_cursor_t cur;
	ok(cursor("p-a", &cur) && cur.duplicates == 1 && cur.seq == 2 && cur.messages == 2 &&
	           cur.records == 3,
	   "cursor counts the duplicate, nothing else moves");
	free(b);
	b = enc(FEED_BATCH, "p-a", 100, 1, recs, 1, &len);
	v = deliver("p-a", "p-a", b, len, T0 + 300);
	is_int(v.outcome, SYNCD_DUPLICATE, "an older seq of the same epoch is a duplicate");
	free(b);
	ok(dbf_measure(st, "ep-3", "p-a", &m) && m.ts_ms == T0 + 100,
	   "duplicates did not re-stamp");
	is_int(sender("p-a")->c.duplicates, 2, "2 duplicates counted");
	is_int(records_of("p-a"), 3, "records applied: still 3");
	free(before);

	/* seq 5 after 2: 3 and 4 never came. */
	b = heartbeat("p-a", 100, 5, &len);
	v = deliver("p-a", "p-a", b, len, T0 + 400);
	free(b);
	ok(v.outcome == SYNCD_APPLIED && v.gap == 2, "heartbeat seq 5 after 2: gap of 2");
	ok(cursor("p-a", &cur) && cur.gaps == 2 && cur.seq == 5, "cursor gaps 2, seq 5");
	is_int(sender("p-a")->c.gaps, 2, "gaps counted");

	/* The prober restarted: a new epoch, its first message lost. */
	b = heartbeat("p-a", 200, 2, &len);
	v = deliver("p-a", "p-a", b, len, T0 + 500);
	free(b);
	ok(v.outcome == SYNCD_APPLIED && v.new_epoch && v.gap == 1,
	   "new epoch 200 at seq 2: applied, 1 message of it missed");
	ok(cursor("p-a", &cur) && cur.epoch == 200 && cur.seq == 2 && cur.gaps == 3,
	   "cursor follows the new epoch");
	is_int(sender("p-a")->c.epochs, 1, "epoch change counted");
	b = heartbeat("p-a", 100, 6, &len);
	v = deliver("p-a", "p-a", b, len, T0 + 600);
	free(b);
	ok(v.outcome == SYNCD_REJECTED && v.reason == SYNCD_R_STALE_EPOCH,
	   "a late message of the old epoch is stale");
}

static void test_restamp(void)
{
	size_t len;
	/* p-b's first message re-stamps (never since start), then only once the
	 * stamps are 1 s (4 s / 4) old. */
	rec_t recs[] = { { "ep-1", HG_HEALTH_UP, 9000 }, { "ep-2", HG_HEALTH_UP, 9100 } };
	uint8_t *b = enc(FEED_BATCH, "p-b", 7, 1, recs, 2, &len);
	uint64_t t = T0 + 10000;
	syncd_verdict_t v = deliver("p-b", "p-b", b, len, t);
	free(b);
	ok(v.outcome == SYNCD_APPLIED && v.restamped, "p-b applied (first message re-stamps)");

	b = heartbeat("p-b", 7, 2, &len);
	size_t blen;
	char *before = dbf_dump_all(st, &blen);
	v = deliver("p-b", "p-b", b, len, t + 999);
	free(b);
	ok(v.outcome == SYNCD_APPLIED && !v.restamped, "heartbeat 999 ms later: no re-stamp");
	hg_view_cell_t c;
	ok(dbf_cell(st, "a.example.net.", "ep-1", "p-b", &c) && c.ts_ms == t,
	   "cell keeps its stamp");
	hg_rec_measure_t m;
	ok(dbf_measure(st, "ep-2", "p-b", &m) && m.ts_ms == t, "record keeps its stamp");
	free(before);

	b = heartbeat("p-b", 7, 3, &len);
	v = deliver("p-b", "p-b", b, len, t + 1000);
	free(b);
	ok(v.outcome == SYNCD_APPLIED && v.restamped, "heartbeat 1 s later: re-stamp");
	ok(dbf_measure(st, "ep-1", "p-b", &m) && m.ts_ms == t + 1000 && m.rtt_median_us == 9000,
	   "record re-stamped, values kept");
	ok(dbf_cell(st, "a.example.net.", "ep-1", "p-b", &c) && c.ts_ms == t + 1000,
	   "view a cell re-stamped");
	ok(dbf_cell(st, "b.example.net.", "ep-2", "p-b", &c) && c.ts_ms == t + 1000,
	   "view b cell re-stamped");
	ok(dbf_cell(st, "b.example.net.", "ep-3", "p-b", &c) && c.ts_ms == 0,
	   "a cell without data stays without");
	ok(dbf_measure(st, "ep-1", "p-a", &m) && m.ts_ms == T0,
	   "another prober's records untouched");
	is_int(sender("p-b")->c.restamps, 2, "2 re-stamps counted");

	/* A batch re-stamps the prober's other records too when due. */
	rec_t one[] = { { "ep-1", HG_HEALTH_UP, 9500 } };
	b = enc(FEED_BATCH, "p-b", 7, 4, one, 1, &len);
	v = deliver("p-b", "p-b", b, len, t + 2500);
	free(b);
	ok(v.outcome == SYNCD_APPLIED && v.restamped, "batch 1.5 s later re-stamps");
	ok(dbf_measure(st, "ep-2", "p-b", &m) && m.ts_ms == t + 2500, "the record not in it too");
}

static void test_snapshot(void)
{
	size_t len;
	rec_t recs[] = { { "ep-1", HG_HEALTH_DOWN, HG_RTT_NONE }, { "ep-nope", HG_HEALTH_UP, 1 } };
	uint8_t *b = enc(FEED_SNAPSHOT, "p-b", 7, 5, recs, 2, &len);
	uint64_t t = T0 + 20000;
	syncd_verdict_t v = deliver("p-b", "p-b", b, len, t);
	free(b);
	ok(v.outcome == SYNCD_APPLIED && v.applied == 1 && v.skipped == 1 && v.forgotten == 1,
	   "snapshot: 1 applied, 1 unknown endpoint skipped, 1 record it lacks forgotten");
	hg_rec_measure_t m;
	ok(!dbf_measure(st, "ep-2", "p-b", &m), "ep-2/p-b (not in the snapshot) deleted");
	hg_view_cell_t c;
	ok(dbf_cell(st, "b.example.net.", "ep-2", "p-b", &c) && c.ts_ms == 0 &&
	           c.state == HG_HEALTH_UNKNOWN,
	   "its cell cleared");
	ok(dbf_measure(st, "ep-1", "p-b", &m) && m.state == HG_HEALTH_DOWN && m.ts_ms == t,
	   "ep-1/p-b from the snapshot");
	ok(dbf_measure(st, "ep-1", "p-a", &m), "p-a's records untouched");
	is_int(sender("p-b")->c.forgotten, 1, "forgotten record counted");
	is_int(sender("p-b")->c.messages[FEED_SNAPSHOT], 1, "snapshot counted");

	/* An empty snapshot (a prober that has measured nothing yet publishes
	 * one when it connects): its keyspace is empty, every record of it
	 * goes, the other prober's stay. */
	b = enc(FEED_SNAPSHOT, "p-b", 7, 6, NULL, 0, &len);
	v = deliver("p-b", "p-b", b, len, t + 1);
	free(b);
	ok(v.outcome == SYNCD_APPLIED && v.applied == 0 && v.forgotten == 1,
	   "empty snapshot: applied, its 1 remaining record forgotten");
	ok(!dbf_measure(st, "ep-1", "p-b", &m), "ep-1/p-b deleted");
	ok(dbf_cell(st, "a.example.net.", "ep-1", "p-b", &c) && c.ts_ms == 0, "its cell cleared");
	ok(dbf_measure(st, "ep-1", "p-a", &m), "p-a's records untouched");
	is_int(sender("p-b")->c.messages[FEED_SNAPSHOT], 2, "second snapshot counted");
}

/* A batch of several deliveries commits them together; a failed commit
 * leaves the database, the position and the counters as they were. */
static void test_atomic(void)
{
	size_t l1, l2;
	rec_t r1[] = { { "ep-2", HG_HEALTH_UP, 1111 } };
	rec_t r2[] = { { "ep-3", HG_HEALTH_UP, 2222 } };
	uint8_t *m1 = enc(FEED_BATCH, "p-a", 200, 3, r1, 1, &l1);
	uint8_t *m2 = enc(FEED_BATCH, "p-a", 200, 4, r2, 1, &l2);
	uint64_t t = T0 + 30000, off_before;
	syncd_apply_position(&ap, &off_before);
	syncd_sender_t pa_before = *sender("p-a");
	uint64_t commits = ap.commits, errors = ap.commit_errors;

	size_t blen;
	char *before = dbf_dump_all(st, &blen);
	syncd_delivery_t d1 = delivery("p-a", "p-a", m1, l1, next_offset, t);
	syncd_delivery_t d2 = delivery("p-a", "p-a", m2, l2, next_offset + 1, t);
	syncd_verdict_t v1, v2;
	is_int(syncd_batch_begin(&ap, t), HG_EOK, "begin");
	is_int(syncd_batch_begin(&ap, t), HG_EBUSY, "one batch at a time");
	is_int(syncd_batch_add(&ap, &d1, &v1), HG_EOK, "stage delivery 1");
	is_int(syncd_batch_add(&ap, &d2, &v2), HG_EOK, "stage delivery 2");
	ok(v1.outcome == SYNCD_APPLIED && v2.outcome == SYNCD_APPLIED, "both would apply");
	store_wtxn_fail(&ap.wtxn, HG_EMAPFULL); /* the commit will fail, as on a full map */
	syncd_verdict_t v3;
	is_int(syncd_batch_add(&ap, &d2, &v3), HG_EMAPFULL, "a failed txn takes no more");
	is_int(syncd_batch_commit(&ap), HG_EMAPFULL, "commit fails");
	ok(dbf_same(st, before, blen), "failed commit: database byte for byte as before");
	uint64_t off;
	ok(syncd_apply_position(&ap, &off) && off == off_before, "resume point unchanged");
	ok(memcmp(sender("p-a"), &pa_before, sizeof(pa_before)) == 0, "p-a's counters unchanged");
	ok(ap.commits == commits && ap.commit_errors == errors + 1, "commit error counted");

	/* Consumed again from the stored offset: applied, not duplicates. */
	is_int(syncd_batch_begin(&ap, t), HG_EOK, "begin again");
	is_int(syncd_batch_add(&ap, &d1, &v1), HG_EOK, "stage delivery 1 again");
	is_int(syncd_batch_add(&ap, &d2, &v2), HG_EOK, "stage delivery 2 again");
	is_int(syncd_batch_commit(&ap), HG_EOK, "commit");
	ok(v1.outcome == SYNCD_APPLIED && v2.outcome == SYNCD_APPLIED, "both applied");
	next_offset += 2;
	hg_rec_stream_cursor_t pos;
	ok(position(&pos) && pos.offset == next_offset - 1, "offset of the last delivery stored");
	hg_rec_measure_t m;
	ok(dbf_measure(st, "ep-2", "p-a", &m) && m.rtt_median_us == 1111 &&
	           dbf_measure(st, "ep-3", "p-a", &m) && m.rtt_median_us == 2222,
	   "both records stored");
	is_int(sender("p-a")->c.records, pa_before.c.records + 2, "2 records counted once");
	hg_rec_cursor_t cur;
	ok(cursor("p-a", &cur) && cur.seq == 4, "cursor at seq 4");
	free(before);
	free(m1);
	free(m2);
}

/* A new process resumes from the stored offset: what it is given again at
 * or below it changes nothing, republished copies are duplicates, and new
 * messages apply once. */
static void test_restart(void)
{
	hg_rec_cursor_t pa_before;
	cursor("p-a", &pa_before);
	uint64_t off_before;
	syncd_apply_position(&ap, &off_before);
	syncd_apply_free(&ap);
	is_int(syncd_apply_init(&ap, st, "haltgslb.measurements"), HG_EOK, "restart: init again");
	uint64_t off;
	ok(syncd_apply_position(&ap, &off) && off == off_before,
	   "restart resumes after offset %" PRIu64, off_before);

	size_t len;
	rec_t r[] = { { "ep-3", HG_HEALTH_UP, 2222 } };
	uint8_t *again = enc(FEED_BATCH, "p-a", 200, 4, r, 1, &len);
	size_t blen;
	char *before = dbf_dump_all(st, &blen);
	syncd_delivery_t d = delivery("p-a", "p-a", again, len, off_before, T0 + 40000);
	syncd_verdict_t v;
	syncd_batch_begin(&ap, T0 + 40000);
	syncd_batch_add(&ap, &d, &v);
	is_int(syncd_batch_commit(&ap), HG_EOK, "commit");
	is_int(v.outcome, SYNCD_CONSUMED, "a delivery at the stored offset is ignored");
	ok(dbf_same(st, before, blen), "and changes nothing");
	free(before);

	v = deliver("p-a", "p-a", again, len, T0 + 40001);
	is_int(v.outcome, SYNCD_DUPLICATE, "the same message at a new offset: duplicate");
	free(again);
	rec_t r5[] = { { "ep-1", HG_HEALTH_UP, 3333 } };
	uint8_t *b = enc(FEED_BATCH, "p-a", 200, 5, r5, 1, &len);
	v = deliver("p-a", "p-a", b, len, T0 + 40002);
	free(b);
	is_int(v.outcome, SYNCD_APPLIED, "the next message applies");
	const syncd_sender_t *s = sender("p-a");
	ok(s && s->c.messages[FEED_BATCH] == 1 && s->c.records == 1 && s->c.duplicates == 1,
	   "new process counted 1 message, 1 record, 1 duplicate");
	hg_rec_cursor_t cur;
	ok(cursor("p-a", &cur) && cur.messages == pa_before.messages + 1 &&
	           cur.records == pa_before.records + 1 &&
	           cur.duplicates == pa_before.duplicates + 1 && cur.gaps == pa_before.gaps,
	   "stored totals: +1 message, +1 record, +1 duplicate, no gap");

	/* Offsets of another broker cluster are not ours. */
	syncd_apply_set_cluster(&ap, "another-cluster");
	ok(!syncd_apply_position(&ap, &off), "connected to another cluster: start by time");
	syncd_apply_set_cluster(&ap, "");
	ok(syncd_apply_position(&ap, &off), "back on the cluster of the stored offset");

	/* A stream rebuilt under the same name: its offsets start at 0 again
	 * and syncd, having waited in vain past the stored one, starts by time. */
	uint64_t stored = off;
	syncd_apply_drop_position(&ap);
	ok(!syncd_apply_position(&ap, &off), "position dropped: the next consumer starts by time");
	rec_t r6[] = { { "ep-2", HG_HEALTH_UP, 4444 } };
	uint8_t *m6 = enc(FEED_BATCH, "p-a", 200, 6, r6, 1, &len);
	syncd_delivery_t d6 = delivery("p-a", "p-a", m6, len, 0, T0 + 40003);
	syncd_batch_begin(&ap, T0 + 40003);
	syncd_batch_add(&ap, &d6, &v);
	is_int(syncd_batch_commit(&ap), HG_EOK, "commit on the rebuilt stream");
	is_int(v.outcome, SYNCD_APPLIED,
	       "offset 0, below the stored %" PRIu64 ": applied, not taken as consumed", stored);
	ok(syncd_apply_position(&ap, &off) && off == 0,
	   "the position is now offset 0 (got %" PRIu64 ")", off);
	v = deliver("p-a", "p-a", m6, len, T0 + 40004);
	is_int(v.outcome, SYNCD_DUPLICATE, "the same message again: still a duplicate by seq");
	free(m6);
}

static void test_no_policy(void)
{
	char dir2[512];
	store_t *empty = dbf_create("test_syncd_nopolicy", dir2, sizeof(dir2));
	syncd_apply_t ap2;
	is_int(syncd_apply_init(&ap2, empty, "haltgslb.measurements"), HG_EOK,
	       "init on an empty store");
	bool loaded = true;
	syncd_apply_policy_loaded(&ap2, &loaded);
	ok(!loaded, "no policy loaded");
	size_t len;
	uint8_t *b = heartbeat("p-a", 1, 1, &len);
	syncd_delivery_t d = delivery("p-a", "p-a", b, len, 1, T0);
	syncd_verdict_t v;
	syncd_batch_begin(&ap2, T0);
	syncd_batch_add(&ap2, &d, &v);
	syncd_batch_commit(&ap2);
	ok(v.outcome == SYNCD_REJECTED && v.reason == SYNCD_R_UNKNOWN_PROBER,
	   "without a policy every prober is unknown");
	free(b);
	syncd_apply_free(&ap2);
	syncd_apply_t ap3;
	is_int(syncd_apply_init(&ap3, empty, ""), HG_EINVAL, "empty stream name refused");
	ok(dbf_remove(empty, dir2) == 0, "empty env removed");
}

/* Rejections are counted per user_id, but a flood of user_ids (there are
 * only as many as the broker has users, still) shares one entry past
 * SYNCD_SENDERS_MAX. */
static void test_many_senders(void)
{
	size_t len;
	uint8_t *b = heartbeat("p-a", 1, 1, &len);
	uint64_t t = T0 + 50000;
	syncd_batch_begin(&ap, t);
	for (unsigned i = 0; i < SYNCD_SENDERS_MAX + 44; i++) {
		char user[32];
		snprintf(user, sizeof(user), "u-%u", i);
		syncd_delivery_t d = delivery(user, user, b, len, next_offset++, t);
		syncd_verdict_t v;
		syncd_batch_add(&ap, &d, &v);
	}
	is_int(syncd_batch_commit(&ap), HG_EOK, "300 senders in one batch commit");
	free(b);
	ok(ap.n_senders <= SYNCD_SENDERS_MAX, "sender table bounded (%zu)", ap.n_senders);
	const syncd_sender_t *o = sender("(other)");
	uint64_t total = 0;
	for (size_t i = 0; i < ap.n_senders; i++) {
		total += ap.senders[i].c.rejected[SYNCD_R_USER_MISMATCH];
	}
	ok(o != NULL && o->c.rejected[SYNCD_R_USER_MISMATCH] > 0,
	   "the overflow counted as (other)");
	is_int(total, SYNCD_SENDERS_MAX + 44, "and no rejection lost");
}

/* A drop cause is logged the first time, then at most once per
 * SYNCD_LOG_EVERY_MS with the number left out; causes are independent. */
static void test_log_rate(void)
{
	syncd_apply_t a = { 0 };
	uint64_t more = 99;
	ok(syncd_log_due(&a, FEED_R_TRUNCATED, T0, &more) && more == 0,
	   "first drop of a cause: logged");
	ok(!syncd_log_due(&a, FEED_R_TRUNCATED, T0 + 1, &more), "the same cause again: not logged");
	ok(!syncd_log_due(&a, FEED_R_TRUNCATED, T0 + SYNCD_LOG_EVERY_MS - 1, &more),
	   "nor just before a minute");
	ok(syncd_log_due(&a, SYNCD_R_NO_USER_ID, T0 + 2, &more) && more == 0,
	   "another cause: logged at once");
	ok(syncd_log_due(&a, FEED_R_TRUNCATED, T0 + SYNCD_LOG_EVERY_MS, &more) && more == 2,
	   "a minute later: logged, with the 2 left out");
	ok(!syncd_log_due(&a, SYNCD_LOG_SLOTS, T0, &more), "out-of-range slot: never");
}

static void test_names(void)
{
	bool distinct = true, named = true;
	for (unsigned r = 1; r < SYNCD_R_COUNT_; r++) {
		named &= strcmp(syncd_reason_name(r), "unknown") != 0;
		for (unsigned q = 1; q < r; q++) {
			distinct &= strcmp(syncd_reason_name(r), syncd_reason_name(q)) != 0;
		}
	}
	ok(named && distinct, "every reason has its own label");
	is_str(syncd_reason_name(SYNCD_R_NO_USER_ID), "no_user_id", "label of no user_id");
	is_str(syncd_reason_name(FEED_R_TOO_BIG), "too_big", "feed reasons keep their labels");
	is_str(syncd_reason_name(0), "unknown", "0 is no reason");
}

int main(void)
{
	char dir[512];
	st = dbf_create("test_syncd_apply", dir, sizeof(dir));
	policy_t *p = NULL;
	policy_errors_t errs = { 0 };
	if (st == NULL ||
	    policy_parse_buffer("syncd.yaml", policy_yaml, strlen(policy_yaml), &p, &errs) !=
	            HG_EOK ||
	    writer_load_policy(st, p, NULL) != HG_EOK) {
		policy_errors_print(&errs, "syncd.yaml", stdout);
		ok(0, "store with the test policy");
		return done_testing();
	}
	policy_errors_free(&errs);
	policy_free(p);
	is_int(syncd_apply_init(&ap, st, "haltgslb.measurements"), HG_EOK, "init");
	test_apply();
	test_drops();
	test_sequence();
	test_restamp();
	test_snapshot();
	test_atomic();
	test_restart();
	test_many_senders();
	syncd_apply_free(&ap);
	test_no_policy();
	test_names();
	test_log_rate();
	ok(dbf_remove(st, dir) == 0, "test env removed");
	return done_testing();
}
