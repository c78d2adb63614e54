/*  SPDX-License-Identifier: GPL-3.0-or-later */
/* The feed codec: round trips of every field, the encoder's refusals, one
 * crafted message per rejection reason (written in hex from the documented
 * format, not by the encoder), and truncation at every byte. */
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "feed.h"
#include "tap.h"

/* ---------------------------------------------------------------------- */
/* helpers */

static size_t hex(const char *s, uint8_t *out, size_t cap)
{
	size_t n = 0;
	int hi = -1;
	for (; *s != '\0'; s++) {
		int v;
		if (*s >= '0' && *s <= '9') {
			v = *s - '0';
		} else if (*s >= 'a' && *s <= 'f') {
			v = *s - 'a' + 10;
		} else {
			continue; /* spaces group fields */
		}
		if (hi < 0) {
			hi = v;
		} else if (n < cap) {
			out[n++] = (uint8_t)(hi << 4 | v);
			hi = -1;
		}
	}
	return n;
}

static hg_rec_measure_t typical(void)
{
	hg_rec_measure_t m = {
		.state = HG_HEALTH_UP,
		.fail_class = HG_FAIL_TIMEOUT,
		.ts_ms = 1700000000000ull - 850,
		.changed_ms = 1700000000000ull - 3600000,
		.rtt_last_us = 21340,
		.rtt_ewma_us = 20910,
		.rtt_median_us = 20877,
		.ttfb_us = 4120,
		.loss_bp = 0,
		.window = 20,
		.consec_ok = 720,
		.consec_fail = 0,
		.probes_total = 518400,
		.probes_failed = 12,
	};
	return m;
}

static bool measure_eq(const hg_rec_measure_t *a, const hg_rec_measure_t *b)
{
	return a->state == b->state && a->fail_class == b->fail_class && a->ts_ms == b->ts_ms &&
	       a->changed_ms == b->changed_ms && a->rtt_last_us == b->rtt_last_us &&
	       a->rtt_ewma_us == b->rtt_ewma_us && a->rtt_median_us == b->rtt_median_us &&
	       a->ttfb_us == b->ttfb_us && a->loss_bp == b->loss_bp && a->window == b->window &&
	       a->consec_ok == b->consec_ok && a->consec_fail == b->consec_fail &&
	       a->probes_total == b->probes_total && a->probes_failed == b->probes_failed;
}

static bool all_zero(const void *p, size_t n)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < n; i++) {
		if (b[i] != 0) {
			return false;
		}
	}
	return true;
}

/* Encode one message of the given records (ids[i] with ms[i]). */
static int encode(enum feed_kind kind, const char *prober, uint64_t epoch, uint64_t seq,
                  uint64_t sent, size_t n, const char *const *ids, const hg_rec_measure_t *ms,
                  uint8_t **out, size_t *len)
{
	feed_enc_t enc;
	feed_enc_init(&enc);
	int ret = feed_enc_begin(&enc, kind, prober, epoch, seq, sent);
	for (size_t i = 0; ret == HG_EOK && i < n; i++) {
		ret = feed_enc_add(&enc, ids[i], &ms[i]);
	}
	if (ret == HG_EOK) {
		ret = feed_enc_finish(&enc, out, len);
	}
	feed_enc_free(&enc);
	return ret;
}

/* Decode, re-encode from what was decoded; the bytes must be the same. */
static bool reencodes(const uint8_t *buf, size_t len)
{
	feed_msg_t msg;
	if (feed_decode(buf, len, &msg, NULL) != HG_EOK) {
		return false;
	}
	feed_enc_t enc;
	feed_enc_init(&enc);
	bool same = feed_enc_begin(&enc, msg.kind, msg.prober, msg.epoch, msg.seq, msg.sent_ms) ==
	            HG_EOK;
	feed_iter_t it;
	feed_iter_init(&it, &msg);
	for (const feed_rec_t *r; same && (r = feed_iter_next(&it)) != NULL;) {
		same = feed_enc_add(&enc, r->endpoint, &r->m) == HG_EOK;
	}
	uint8_t *again = NULL;
	size_t again_len = 0;
	same = same && feed_enc_finish(&enc, &again, &again_len) == HG_EOK && again_len == len &&
	       memcmp(again, buf, len) == 0;
	free(again);
	feed_enc_free(&enc);
	return same;
}

/* ---------------------------------------------------------------------- */
/* round trips */

static void test_heartbeat(void)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	is_int(encode(FEED_HEARTBEAT, "fra-1", 0x0123456789abcdefull, 42, 1700000000000ull, 0, NULL,
	              NULL, &buf, &len),
	       HG_EOK, "heartbeat encodes");
	feed_msg_t msg;
	enum feed_reason why = FEED_R_COUNT_;
	is_int(feed_decode(buf, len, &msg, &why), HG_EOK, "heartbeat decodes");
	is_int(why, FEED_OK, "reason FEED_OK on success");
	is_int(msg.version, FEED_VERSION, "version");
	is_int(msg.kind, FEED_HEARTBEAT, "kind heartbeat");
	is_str(msg.prober, "fra-1", "prober id");
	ok(msg.epoch == 0x0123456789abcdefull, "epoch");
	is_int(msg.seq, 42, "seq");
	ok(msg.sent_ms == 1700000000000ull, "sent_ms");
	is_int(msg.n_records, 0, "no records");
	feed_iter_t it;
	feed_iter_init(&it, &msg);
	ok(feed_iter_next(&it) == NULL, "iterator ends at once");
	/* 3 magic + version + kind + 1+5 id + 8 epoch + 1 seq + 6 sent + 1 count */
	is_int(len, 27, "heartbeat of a 5-character prober id is 27 bytes");
	free(buf);
}

static void test_typical(void)
{
	const char *ids[] = { "waf-eu-west-1a" };
	hg_rec_measure_t m = typical();
	m.seq = 999; /* ignored: the message's seq wins */
	m.layout = 77;
	uint8_t *buf = NULL;
	size_t len = 0;
	is_int(encode(FEED_BATCH, "p1", 7, 1234, 1700000000000ull, 1, ids, &m, &buf, &len), HG_EOK,
	       "batch of one typical record encodes");
	feed_msg_t msg;
	is_int(feed_decode(buf, len, &msg, NULL), HG_EOK, "it decodes");
	is_int(msg.kind, FEED_BATCH, "kind batch");
	is_int(msg.n_records, 1, "one record");
	feed_iter_t it;
	feed_iter_init(&it, &msg);
	const feed_rec_t *r = feed_iter_next(&it);
	ok(r != NULL, "a record");
	if (r != NULL) {
		is_str(r->endpoint, "waf-eu-west-1a", "endpoint id");
		ok(measure_eq(&r->m, &m), "every field round-trips");
		is_int(r->m.seq, 1234, "record seq is the message's");
		is_int(r->m.layout, HG_REC_LAYOUT, "record layout stamped");
	}
	ok(feed_iter_next(&it) == NULL, "then the end");
	ok(reencodes(buf, len), "re-encoding gives the same bytes");
	free(buf);
}

/* Every field at its extremes, one record per combination. */
static void test_extremes(void)
{
	hg_rec_measure_t lo = { 0 }, hi, none, mid;
	lo.rtt_last_us = lo.rtt_ewma_us = lo.rtt_median_us = lo.ttfb_us = 0;
	memset(&hi, 0, sizeof(hi));
	hi.state = HG_HEALTH_DOWN;
	hi.fail_class = HG_FAIL_OTHER;
	hi.ts_ms = FEED_TIME_MAX;
	hi.changed_ms = 0;
	hi.rtt_last_us = hi.rtt_ewma_us = hi.rtt_median_us = hi.ttfb_us = HG_RTT_NONE - 1;
	hi.loss_bp = 10000;
	hi.window = hi.consec_ok = hi.consec_fail = UINT16_MAX;
	hi.probes_total = hi.probes_failed = UINT64_MAX;
	none = typical();
	none.rtt_last_us = none.rtt_ewma_us = none.rtt_median_us = none.ttfb_us = HG_RTT_NONE;
	none.state = HG_HEALTH_UNKNOWN;
	mid = typical();
	mid.ts_ms = 0;
	mid.changed_ms = FEED_TIME_MAX;
	char id63[HG_ID_SIZE];
	memset(id63, 'z', HG_ID_MAX);
	id63[HG_ID_MAX] = '\0';
	const char *ids[] = {
		"lo",  "hi", "none",
		"mid", id63, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.",
		"_-",  "-"
	};
	hg_rec_measure_t ms[] = { lo, hi, none, mid, hi, lo, lo, hi };
	const size_t n = sizeof(ids) / sizeof(ids[0]);
	char prober63[HG_ID_SIZE];
	memset(prober63, 'P', HG_ID_MAX);
	prober63[HG_ID_MAX] = '\0';

	/* At both ends of the base time: deltas of +-(2^63 - 1). */
	const uint64_t bases[] = { 0, FEED_TIME_MAX, 1 };
	for (size_t b = 0; b < 3; b++) {
		uint8_t *buf = NULL;
		size_t len = 0;
		is_int(encode(FEED_SNAPSHOT, prober63, UINT64_MAX, UINT64_MAX, bases[b], n, ids, ms,
		              &buf, &len),
		       HG_EOK, "extremes encode (base %llu)", (unsigned long long)bases[b]);
		feed_msg_t msg;
		is_int(feed_decode(buf, len, &msg, NULL), HG_EOK, "extremes decode");
		ok(msg.epoch == UINT64_MAX && msg.seq == UINT64_MAX && msg.sent_ms == bases[b],
		   "epoch, seq, sent_ms at their maximum");
		is_str(msg.prober, prober63, "63-character prober id");
		is_int(msg.n_records, n, "all records");
		feed_iter_t it;
		feed_iter_init(&it, &msg);
		size_t seen = 0;
		char prev[HG_ID_SIZE] = "";
		for (const feed_rec_t *r; (r = feed_iter_next(&it)) != NULL; seen++) {
			ok(strcmp(prev, r->endpoint) < 0, "ascending: %s", r->endpoint);
			memcpy(prev, r->endpoint, sizeof(prev));
			size_t k = 0;
			while (k < n && strcmp(ids[k], r->endpoint) != 0) {
				k++;
			}
			ok(k < n && measure_eq(&r->m, &ms[k]), "record %s round-trips",
			   r->endpoint);
		}
		is_int(seen, n, "iterated every record");
		ok(reencodes(buf, len), "re-encodes byte for byte");
		free(buf);
	}
}

/* Ids sharing prefixes in every way front coding can meet them. */
static void test_front_coding(void)
{
	const char *ids[] = { "ab", "a", "abc", "b", "abd", "a.b", "abcd", "A", "a-", "b0" };
	const size_t n = sizeof(ids) / sizeof(ids[0]);
	hg_rec_measure_t ms[sizeof(ids) / sizeof(ids[0])];
	for (size_t i = 0; i < n; i++) {
		ms[i] = typical();
		ms[i].probes_total = i + 100;
	}
	uint8_t *buf = NULL;
	size_t len = 0;
	is_int(encode(FEED_BATCH, "p", 1, 1, 1700000000000ull, n, ids, ms, &buf, &len), HG_EOK,
	       "ids in any order encode");
	feed_msg_t msg;
	is_int(feed_decode(buf, len, &msg, NULL), HG_EOK, "and decode");
	const char *want[] = { "A", "a", "a-", "a.b", "ab", "abc", "abcd", "abd", "b", "b0" };
	feed_iter_t it;
	feed_iter_init(&it, &msg);
	for (size_t i = 0; i < n; i++) {
		const feed_rec_t *r = feed_iter_next(&it);
		is_str(r ? r->endpoint : NULL, want[i], "record %zu in byte order", i);
		size_t k = 0;
		while (k < n && strcmp(ids[k], want[i]) != 0) {
			k++;
		}
		ok(r != NULL && r->m.probes_total == k + 100, "record %s keeps its own fields",
		   want[i]);
	}
	ok(feed_iter_next(&it) == NULL, "no more");
	/* The iterator can walk the same message again. */
	feed_iter_init(&it, &msg);
	size_t again = 0;
	while (feed_iter_next(&it) != NULL) {
		again++;
	}
	is_int(again, n, "a second walk sees every record");
	ok(reencodes(buf, len), "re-encodes byte for byte");
	free(buf);
}

static void test_snapshot_10k(void)
{
	feed_enc_t enc;
	feed_enc_init(&enc);
	is_int(feed_enc_begin(&enc, FEED_SNAPSHOT, "prober-fra", 5, 9, 1700000000000ull), HG_EOK,
	       "snapshot begins");
	int ret = HG_EOK;
	for (unsigned i = 0; i < 10000 && ret == HG_EOK; i++) {
		char id[32];
		snprintf(id, sizeof(id), "ep-%05u", 9999 - i);
		hg_rec_measure_t m = typical();
		m.rtt_median_us += i;
		ret = feed_enc_add(&enc, id, &m);
	}
	is_int(ret, HG_EOK, "10,000 records added");
	is_int(feed_enc_count(&enc), 10000, "counted");
	uint8_t *buf = NULL;
	size_t len = 0;
	is_int(feed_enc_finish(&enc, &buf, &len), HG_EOK, "snapshot finishes");
	feed_msg_t msg;
	is_int(feed_decode(buf, len, &msg, NULL), HG_EOK, "snapshot decodes");
	feed_iter_t it;
	feed_iter_init(&it, &msg);
	unsigned n = 0, wrong = 0;
	for (const feed_rec_t *r; (r = feed_iter_next(&it)) != NULL; n++) {
		char id[32];
		snprintf(id, sizeof(id), "ep-%05u", n);
		wrong += strcmp(r->endpoint, id) != 0 || r->m.rtt_median_us != 20877 + 9999 - n;
	}
	is_int(n, 10000, "10,000 records back");
	is_int(wrong, 0, "each with its id and fields");
	diag("snapshot of 10,000 records: %zu bytes", len);
	free(buf);
	feed_enc_free(&enc);
}

/* The record limit: the largest message decodes, one more record is refused. */
static void test_max_records(void)
{
	feed_enc_t enc;
	feed_enc_init(&enc);
	feed_enc_begin(&enc, FEED_SNAPSHOT, "p", 1, 1, 0);
	hg_rec_measure_t m = typical();
	int ret = HG_EOK;
	for (unsigned i = 0; i < FEED_MAX_RECORDS && ret == HG_EOK; i++) {
		char id[HG_ID_SIZE];
		snprintf(id, sizeof(id), "%u", i);
		ret = feed_enc_add(&enc, id, &m);
	}
	is_int(ret, HG_EOK, "FEED_MAX_RECORDS records added");
	is_int(feed_enc_add(&enc, "one-more", &m), HG_ERANGE, "one more is HG_ERANGE");
	uint8_t *buf = NULL;
	size_t len = 0;
	is_int(feed_enc_finish(&enc, &buf, &len), HG_EOK, "the largest message finishes");
	feed_msg_t msg;
	enum feed_reason why;
	is_int(feed_decode(buf, len, &msg, &why), HG_EOK, "and decodes (%s)", feed_reason_str(why));
	is_int(msg.n_records, FEED_MAX_RECORDS, "with every record");
	ok(len <= FEED_MAX_MSG_BYTES, "under the size limit");
	free(buf);
	feed_enc_free(&enc);
}

/* ---------------------------------------------------------------------- */
/* the encoder's refusals */

static void test_encoder_errors(void)
{
	feed_enc_t enc;
	feed_enc_init(&enc);
	hg_rec_measure_t m = typical();
	uint8_t *buf = NULL;
	size_t len = 0;
	is_int(feed_enc_add(&enc, "e", &m), HG_EINVAL, "add before begin");
	is_int(feed_enc_finish(&enc, &buf, &len), HG_EINVAL, "finish before begin");
	is_int(feed_enc_begin(&enc, 0, "p", 1, 1, 0), HG_EINVAL, "kind 0");
	is_int(feed_enc_begin(&enc, 4, "p", 1, 1, 0), HG_EINVAL, "kind 4");
	is_int(feed_enc_begin(&enc, FEED_BATCH, "", 1, 1, 0), HG_EINVAL, "empty prober id");
	is_int(feed_enc_begin(&enc, FEED_BATCH, NULL, 1, 1, 0), HG_EINVAL, "NULL prober id");
	is_int(feed_enc_begin(&enc, FEED_BATCH, "a b", 1, 1, 0), HG_EINVAL, "prober id with space");
	char id64[HG_ID_SIZE + 1];
	memset(id64, 'x', HG_ID_SIZE);
	id64[HG_ID_SIZE] = '\0';
	is_int(feed_enc_begin(&enc, FEED_BATCH, id64, 1, 1, 0), HG_EINVAL,
	       "64-character prober id");
	is_int(feed_enc_begin(&enc, FEED_BATCH, "p", 0, 1, 0), HG_EINVAL, "epoch 0");
	is_int(feed_enc_begin(&enc, FEED_BATCH, "p", 1, 0, 0), HG_EINVAL, "seq 0");
	is_int(feed_enc_begin(&enc, FEED_BATCH, "p", 1, 1, FEED_TIME_MAX + 1), HG_ERANGE,
	       "sent_ms over 2^63-1");

	is_int(feed_enc_begin(&enc, FEED_HEARTBEAT, "p", 1, 1, 0), HG_EOK, "heartbeat begins");
	is_int(feed_enc_add(&enc, "e", &m), HG_EINVAL, "a heartbeat takes no record");

	is_int(feed_enc_begin(&enc, FEED_BATCH, "p", 1, 1, 1000), HG_EOK, "batch begins");
	is_int(feed_enc_add(&enc, "good", &m), HG_EOK, "a good record");
	struct {
		const char *what, *id;
		int want;
		void (*spoil)(hg_rec_measure_t *);
	} bad[] = {
		{ "empty endpoint id", "", HG_EINVAL, NULL },
		{ "endpoint id with /", "a/b", HG_EINVAL, NULL },
		{ "64-character endpoint id", id64, HG_EINVAL, NULL },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		is_int(feed_enc_add(&enc, bad[i].id, &m), bad[i].want, "refused: %s", bad[i].what);
	}
	is_int(feed_enc_add(&enc, NULL, &m), HG_EINVAL, "refused: NULL endpoint id");
	hg_rec_measure_t x;
	x = m;
	x.state = 3;
	is_int(feed_enc_add(&enc, "x", &x), HG_EINVAL, "refused: state 3");
	x = m;
	x.fail_class = HG_FAIL_OTHER + 1;
	is_int(feed_enc_add(&enc, "x", &x), HG_EINVAL, "refused: fail class 9");
	x = m;
	x.loss_bp = 10001;
	is_int(feed_enc_add(&enc, "x", &x), HG_ERANGE, "refused: loss 10001 bp");
	x = m;
	x.probes_total = 5;
	x.probes_failed = 6;
	is_int(feed_enc_add(&enc, "x", &x), HG_ERANGE, "refused: more failed than total probes");
	x = m;
	x.ts_ms = FEED_TIME_MAX + 1;
	is_int(feed_enc_add(&enc, "x", &x), HG_ERANGE, "refused: ts over 2^63-1");
	x = m;
	x.changed_ms = UINT64_MAX;
	is_int(feed_enc_add(&enc, "x", &x), HG_ERANGE, "refused: changed over 2^63-1");
	is_int(feed_enc_count(&enc), 1, "refusals left the message as it was");
	is_int(feed_enc_finish(&enc, &buf, &len), HG_EOK, "and it still finishes");
	feed_msg_t msg;
	is_int(feed_decode(buf, len, &msg, NULL), HG_EOK, "to a valid message");
	is_int(msg.n_records, 1, "of the one good record");
	free(buf);
	buf = NULL;

	is_int(feed_enc_begin(&enc, FEED_BATCH, "p", 1, 2, 1000), HG_EOK, "next message begins");
	is_int(feed_enc_count(&enc), 0, "without the previous records");
	feed_enc_add(&enc, "b", &m);
	feed_enc_add(&enc, "a", &m);
	feed_enc_add(&enc, "b", &m);
	is_int(feed_enc_finish(&enc, &buf, &len), HG_EEXIST, "an endpoint twice is HG_EEXIST");
	ok(buf == NULL, "and no message");
	feed_enc_free(&enc);
	feed_enc_free(&enc);
	feed_enc_free(NULL);
	ok(1, "free twice and free(NULL) are harmless");
}

/* ---------------------------------------------------------------------- */
/* crafted messages: one line per case (fields grouped by spaces) */

#define MAGIC  "484746 01"                      /* "HGF", version 1 */
#define P1     "02 7031"                        /* prober id "p1" */
#define EP1    "0100000000000000"               /* epoch 1 */
#define HB     MAGIC " 03 " P1 " " EP1 " 01 00" /* + count */
#define BATCH  MAGIC " 01 " P1 " " EP1 " 01 00" /* seq 1, sent 0; + count */
/* A record's 12 varints after the state byte, all 0. */
#define ZEROS  "00 00 00000000 00 00 00 00 00 00"
#define E1     "00 02 6531"    /* first record: "e1" */
#define REC_E1 E1 " 01 " ZEROS /* "e1", up */

static const struct {
	const char *what, *hex;
	enum feed_reason want;
} crafted[] = {
	/* valid, for reference */
	{ "heartbeat", HB " 00", FEED_OK },
	{ "batch of one record", BATCH " 01 " REC_E1, FEED_OK },
	{ "empty batch", BATCH " 00", FEED_OK },
	{ "empty snapshot", MAGIC " 02 " P1 " " EP1 " 01 00 00", FEED_OK },
	{ "seq 2^64-1", MAGIC " 03 " P1 " " EP1 " ffffffffffffffffff01 00 00", FEED_OK },
	{ "sent 2^63-1", MAGIC " 03 " P1 " " EP1 " 01 ffffffffffffffff7f 00", FEED_OK },
	{ "rtt 2^32-2 (wire 2^32-1)",
	  BATCH " 01 " E1 " 01 00 00 ffffffff0f 000000 00 00 00 00 00 00", FEED_OK },
	{ "loss 10000 bp", BATCH " 01 " E1 " 01 00 00 00000000 904e 00 00 00 00 00", FEED_OK },
	{ "ts 1 ms before sent 1",
	  MAGIC " 01 " P1 " " EP1 " 01 01 01 " E1 " 01 01 00 00000000 00 00 00 00 00 00", FEED_OK },
	{ "two records sharing a prefix", BATCH " 02 " REC_E1 " 01 01 32 02 " ZEROS, FEED_OK },
	{ "id extending the previous", BATCH " 02 " REC_E1 " 02 01 30 02 " ZEROS, FEED_OK },

	/* truncated */
	{ "empty", "", FEED_R_TRUNCATED },
	{ "one magic byte", "48", FEED_R_TRUNCATED },
	{ "no kind", MAGIC, FEED_R_TRUNCATED },
	{ "prober id cut", MAGIC " 03 02 70", FEED_R_TRUNCATED },
	{ "epoch cut", MAGIC " 03 " P1 " 01000000", FEED_R_TRUNCATED },
	{ "seq varint cut", MAGIC " 03 " P1 " " EP1 " 81", FEED_R_TRUNCATED },
	{ "no count", MAGIC " 03 " P1 " " EP1 " 01 00", FEED_R_TRUNCATED },
	{ "endpoint suffix cut", BATCH " 01 00 02 65", FEED_R_TRUNCATED },
	{ "record fields cut", BATCH " 01 " E1 " 01 00 00 00", FEED_R_TRUNCATED },
	{ "last varint cut", BATCH " 01 " E1 " 01 00 00 00000000 00 00 00 00 00 80",
	  FEED_R_TRUNCATED },

	/* header */
	{ "bad magic", "494746 01 03 " P1 " " EP1 " 01 00 00", FEED_R_MAGIC },
	{ "bad third magic byte", "484747 01 03 " P1 " " EP1 " 01 00 00", FEED_R_MAGIC },
	{ "version 0", "484746 00 03 " P1 " " EP1 " 01 00 00", FEED_R_VERSION },
	{ "version 2", "484746 02 03 " P1 " " EP1 " 01 00 00", FEED_R_VERSION },
	{ "kind 0", MAGIC " 00 " P1 " " EP1 " 01 00 00", FEED_R_KIND },
	{ "kind 4", MAGIC " 04 " P1 " " EP1 " 01 00 00", FEED_R_KIND },
	{ "prober id length 0", MAGIC " 03 00 " EP1 " 01 00 00", FEED_R_PROBER_ID },
	{ "prober id length 64", MAGIC " 03 40", FEED_R_PROBER_ID },
	{ "prober id with a space", MAGIC " 03 02 7020 " EP1 " 01 00 00", FEED_R_PROBER_ID },
	{ "prober id with NUL", MAGIC " 03 02 7000 " EP1 " 01 00 00", FEED_R_PROBER_ID },
	{ "prober id with '/'", MAGIC " 03 02 2f70 " EP1 " 01 00 00", FEED_R_PROBER_ID },
	{ "prober id with UTF-8", MAGIC " 03 02 c3a9 " EP1 " 01 00 00", FEED_R_PROBER_ID },
	{ "epoch 0", MAGIC " 03 " P1 " 0000000000000000 01 00 00", FEED_R_EPOCH },
	{ "seq 0", MAGIC " 03 " P1 " " EP1 " 00 00 00", FEED_R_SEQ },
	{ "seq overlong (2 bytes for 1)", MAGIC " 03 " P1 " " EP1 " 8100 00 00", FEED_R_VARINT },
	{ "seq overlong (10 bytes for 1)", MAGIC " 03 " P1 " " EP1 " 81808080808080808000 00 00",
	  FEED_R_VARINT },
	{ "seq over 64 bits (10th byte 2)", MAGIC " 03 " P1 " " EP1 " ffffffffffffffffff02 00 00",
	  FEED_R_VARINT },
	{ "seq of 11 bytes", MAGIC " 03 " P1 " " EP1 " ffffffffffffffffff8100 00 00",
	  FEED_R_VARINT },
	{ "sent 2^63", MAGIC " 03 " P1 " " EP1 " 01 80808080808080808001 00", FEED_R_TIME_RANGE },
	{ "count overlong", BATCH " 8000", FEED_R_VARINT },
	{ "count 65537", BATCH " 818004", FEED_R_TOO_MANY },
	{ "count 2^64-1", BATCH " ffffffffffffffffff01", FEED_R_TOO_MANY },
	{ "heartbeat with a record", HB " 01 " REC_E1, FEED_R_HEARTBEAT_RECORDS },
	{ "heartbeat counting records it lacks", HB " 01", FEED_R_HEARTBEAT_RECORDS },

	/* count against the bytes */
	{ "count 1, no record", BATCH " 01", FEED_R_COUNT },
	{ "count 2, one record", BATCH " 02 " REC_E1, FEED_R_COUNT },
	{ "count 65536, no record", BATCH " 808004", FEED_R_COUNT },
	{ "count 0, one record", BATCH " 00 " REC_E1, FEED_R_TRAILING },
	{ "count 1, two records", BATCH " 01 " REC_E1 " 01 01 32 02 " ZEROS, FEED_R_TRAILING },
	{ "heartbeat and a byte", HB " 00 00", FEED_R_TRAILING },

	/* endpoint ids */
	{ "first record shares a prefix", BATCH " 01 01 01 65 01 " ZEROS, FEED_R_ENDPOINT_ID },
	{ "id of length 0", BATCH " 01 00 00 01 " ZEROS, FEED_R_ENDPOINT_ID },
	{ "id of length 64", BATCH " 01 00 40", FEED_R_ENDPOINT_ID },
	{ "prefix + suffix 64", BATCH " 02 " REC_E1 " 02 3e", FEED_R_ENDPOINT_ID },
	{ "shared prefix longer than the previous id", BATCH " 02 " REC_E1 " 03 01 31 01 " ZEROS,
	  FEED_R_ENDPOINT_ID },
	{ "id with a space", BATCH " 01 00 02 6520 01 " ZEROS, FEED_R_ENDPOINT_ID },
	{ "id with NUL", BATCH " 01 00 02 6500 01 " ZEROS, FEED_R_ENDPOINT_ID },
	{ "id with 0xff", BATCH " 01 00 02 65ff 01 " ZEROS, FEED_R_ENDPOINT_ID },
	{ "ids descending", BATCH " 02 00 02 6532 01 " ZEROS " 01 01 31 01 " ZEROS, FEED_R_ORDER },
	{ "prefix not the longest shared", BATCH " 02 " REC_E1 " 01 02 3132 01 " ZEROS,
	  FEED_R_ORDER },
	{ "same id, prefix not the longest", BATCH " 02 " REC_E1 " 01 01 31 01 " ZEROS,
	  FEED_R_ORDER },
	{ "id a strict prefix of the previous", BATCH " 02 " REC_E1 " 01 00 01 " ZEROS,
	  FEED_R_ORDER },
	{ "same endpoint twice", BATCH " 02 " REC_E1 " 02 00 01 " ZEROS, FEED_R_DUPLICATE },

	/* fields */
	{ "state 3", BATCH " 01 " E1 " 03 " ZEROS, FEED_R_STATE },
	{ "state 15", BATCH " 01 " E1 " 0f " ZEROS, FEED_R_STATE },
	{ "fail class 9", BATCH " 01 " E1 " 91 " ZEROS, FEED_R_FAIL_CLASS },
	{ "fail class 15", BATCH " 01 " E1 " f0 " ZEROS, FEED_R_FAIL_CLASS },
	{ "ts before 0", BATCH " 01 " E1 " 01 01 00 00000000 00 00 00 00 00 00",
	  FEED_R_TIME_RANGE },
	{ "ts past 2^63-1",
	  MAGIC " 01 " P1 " " EP1 " 01 ffffffffffffffff7f 01 " E1
	        " 01 02 00 00000000 00 00 00 00 00 00",
	  FEED_R_TIME_RANGE },
	{ "ts delta -2^63 from 0", BATCH " 01 " E1 " 01 ffffffffffffffffff01", FEED_R_TIME_RANGE },
	{ "changed before 0", BATCH " 01 " E1 " 01 00 01 00000000 00 00 00 00 00 00",
	  FEED_R_TIME_RANGE },
	{ "ts delta overlong", BATCH " 01 " E1 " 01 8000", FEED_R_VARINT },
	{ "rtt over 32 bits", BATCH " 01 " E1 " 01 00 00 8080808010 000000 00 00 00 00 00 00",
	  FEED_R_FIELD_RANGE },
	{ "ttfb over 32 bits", BATCH " 01 " E1 " 01 00 00 000000 8080808010 00 00 00 00 00 00",
	  FEED_R_FIELD_RANGE },
	{ "loss 10001 bp", BATCH " 01 " E1 " 01 00 00 00000000 914e 00 00 00 00 00",
	  FEED_R_FIELD_RANGE },
	{ "window 65536", BATCH " 01 " E1 " 01 00 00 00000000 00 808004 00 00 00 00",
	  FEED_R_FIELD_RANGE },
	{ "consec_ok 65536", BATCH " 01 " E1 " 01 00 00 00000000 00 00 808004 00 00 00",
	  FEED_R_FIELD_RANGE },
	{ "consec_fail 65536", BATCH " 01 " E1 " 01 00 00 00000000 00 00 00 808004 00 00",
	  FEED_R_FIELD_RANGE },
	{ "more failed than total probes", BATCH " 01 " E1 " 01 00 00 00000000 00 00 00 00 05 06",
	  FEED_R_FIELD_RANGE },
	{ "total overlong", BATCH " 01 " E1 " 01 00 00 00000000 00 00 00 00 8000 00",
	  FEED_R_VARINT },
	{ "second record's state bad", BATCH " 02 " REC_E1 " 01 01 32 05 " ZEROS, FEED_R_STATE },
};

static void test_crafted(void)
{
	bool covered[FEED_R_COUNT_] = { false };
	for (size_t i = 0; i < sizeof(crafted) / sizeof(crafted[0]); i++) {
		uint8_t buf[512];
		size_t len = hex(crafted[i].hex, buf, sizeof(buf));
		feed_msg_t msg;
		enum feed_reason why = FEED_R_COUNT_;
		int ret = feed_decode(buf, len, &msg, &why);
		if (crafted[i].want == FEED_OK) {
			ok(ret == HG_EOK && why == FEED_OK && reencodes(buf, len),
			   "valid and canonical: %s (%s)", crafted[i].what, feed_reason_name(why));
		} else {
			ok(ret == HG_EINVAL && why == crafted[i].want &&
			           all_zero(&msg, sizeof(msg)),
			   "%s: %s (got %s)", crafted[i].what, feed_reason_name(crafted[i].want),
			   feed_reason_name(why));
		}
		covered[why] = true;
	}
	/* The one reason a short crafted line cannot reach. */
	uint8_t *big = calloc(FEED_MAX_MSG_BYTES + 1, 1);
	size_t hl = hex(BATCH " 00", big, 64);
	feed_msg_t msg;
	enum feed_reason why = FEED_OK;
	is_int(feed_decode(big, FEED_MAX_MSG_BYTES + 1, &msg, &why), HG_EINVAL,
	       "one byte over 16 MiB is rejected");
	is_int(why, FEED_R_TOO_BIG, "as too_big");
	covered[why] = true;
	is_int(feed_decode(big, hl, &msg, &why), HG_EOK, "its valid beginning decodes");
	free(big);
	is_int(feed_decode(NULL, 5, &msg, &why), HG_EINVAL, "NULL with a length is rejected");
	is_int(why, FEED_R_TRUNCATED, "as truncated");
	is_int(feed_decode(NULL, 0, &msg, NULL), HG_EINVAL,
	       "NULL, 0 is rejected (reason optional)");
	for (int r = FEED_OK; r < FEED_R_COUNT_; r++) {
		ok(covered[r], "reason %s has a test", feed_reason_name(r));
	}
}

static void test_truncation(void)
{
	const char *ids[] = { "waf-eu-1", "waf-eu-2", "waf-us-1", "x" };
	hg_rec_measure_t ms[4];
	for (size_t i = 0; i < 4; i++) {
		ms[i] = typical();
	}
	ms[3].rtt_last_us = HG_RTT_NONE;
	uint8_t *buf = NULL;
	size_t len = 0;
	is_int(encode(FEED_BATCH, "prober-1", 3, 77, 1700000000000ull, 4, ids, ms, &buf, &len),
	       HG_EOK, "a 4-record batch");
	size_t wrong = 0, counts = 0, partial = 0;
	for (size_t cut = 0; cut < len; cut++) {
		/* A copy of exactly cut bytes, so ASan sees any read past it. */
		uint8_t *part = malloc(cut ? cut : 1);
		memcpy(part, buf, cut);
		feed_msg_t msg;
		enum feed_reason why = FEED_OK;
		int ret = feed_decode(part, cut, &msg, &why);
		wrong += ret != HG_EINVAL || (why != FEED_R_TRUNCATED && why != FEED_R_COUNT);
		counts += why == FEED_R_COUNT;
		partial += !all_zero(&msg, sizeof(msg));
		free(part);
	}
	is_int(wrong, 0, "every cut of %zu bytes rejected as truncated or count_mismatch", len);
	is_int(counts, 4, "count_mismatch exactly at the 4 record boundaries");
	is_int(partial, 0, "no partial output on any cut");
	ok(feed_decode(buf, len, &(feed_msg_t){ 0 }, NULL) == HG_EOK, "the whole message decodes");
	free(buf);

	is_int(encode(FEED_HEARTBEAT, "p", 1, 1, 0, 0, NULL, NULL, &buf, &len), HG_EOK,
	       "a heartbeat");
	wrong = 0;
	for (size_t cut = 0; cut < len; cut++) {
		enum feed_reason why = FEED_OK;
		wrong += feed_decode(buf, cut, &(feed_msg_t){ 0 }, &why) != HG_EINVAL ||
		         why != FEED_R_TRUNCATED;
	}
	is_int(wrong, 0, "every cut of the heartbeat is truncated");
	free(buf);
}

/* The examples of docs/replication.md, byte for byte. */
static void test_doc_examples(void)
{
	uint8_t buf[128];
	size_t len = hex("484746 01 03 06 65752d667261 0068e5cf8b010000 2a e0a499ffbc31 00", buf,
	                 sizeof(buf));
	feed_msg_t msg;
	is_int(feed_decode(buf, len, &msg, NULL), HG_EOK, "documented heartbeat decodes");
	ok(msg.kind == FEED_HEARTBEAT && strcmp(msg.prober, "eu-fra") == 0 &&
	           msg.epoch == 1700000000000ull && msg.seq == 42 &&
	           msg.sent_ms == 1700000060000ull && msg.n_records == 0,
	   "to the documented values");
	ok(reencodes(buf, len), "and is what the encoder writes");

	len = hex("484746 01 01 06 65752d667261 0068e5cf8b010000 2b e0a499ffbc31 02"
	          " 000b 7761662d6672612d617773 11 a30d ffb9b703 dda601 afa301 8ea301 9920"
	          " 00 14 d005 00 80d21f 0c"
	          " 0803 676370 22 a30d 00 00 afa301 8ea301 9920 dc0b 14 00 03 80d21f 0c",
	          buf, sizeof(buf));
	is_int(len, 95, "documented batch is 95 bytes");
	is_int(feed_decode(buf, len, &msg, NULL), HG_EOK, "documented batch decodes");
	feed_iter_t it;
	feed_iter_init(&it, &msg);
	const feed_rec_t *r = feed_iter_next(&it);
	ok(r != NULL && strcmp(r->endpoint, "waf-fra-aws") == 0 && r->m.state == HG_HEALTH_UP &&
	           r->m.fail_class == HG_FAIL_TIMEOUT && r->m.ts_ms == 1700000059150ull &&
	           r->m.changed_ms == 1700000059150ull - 3600000 && r->m.rtt_last_us == 21340 &&
	           r->m.rtt_ewma_us == 20910 && r->m.rtt_median_us == 20877 &&
	           r->m.ttfb_us == 4120 && r->m.loss_bp == 0 && r->m.window == 20 &&
	           r->m.consec_ok == 720 && r->m.consec_fail == 0 && r->m.probes_total == 518400 &&
	           r->m.probes_failed == 12 && r->m.seq == 43,
	   "first record as documented");
	r = feed_iter_next(&it);
	ok(r != NULL && strcmp(r->endpoint, "waf-fra-gcp") == 0 && r->m.state == HG_HEALTH_DOWN &&
	           r->m.fail_class == HG_FAIL_REFUSED && r->m.changed_ms == r->m.ts_ms &&
	           r->m.rtt_last_us == HG_RTT_NONE && r->m.loss_bp == 1500 && r->m.consec_ok == 0 &&
	           r->m.consec_fail == 3,
	   "second record as documented");
	ok(reencodes(buf, len), "and is what the encoder writes");
}

static void test_names(void)
{
	size_t bad = 0;
	for (int r = FEED_OK; r < FEED_R_COUNT_; r++) {
		const char *n = feed_reason_name(r), *t = feed_reason_str(r);
		bad += n == NULL || t == NULL || *n == '\0' || *t == '\0' ||
		       strcmp(n, "unknown") == 0;
		for (int q = FEED_OK; q < r; q++) {
			bad += strcmp(n, feed_reason_name(q)) == 0;
		}
	}
	is_int(bad, 0, "every reason has its own name and a text");
	is_str(feed_reason_name(FEED_R_COUNT_), "unknown", "name outside the enum");
	is_str(feed_reason_str(-1), "unknown rejection reason", "text outside the enum");
	is_str(feed_reason_name(FEED_R_TRUNCATED), "truncated", "label of truncated");
	is_str(feed_kind_name(FEED_SNAPSHOT), "snapshot", "kind name");
	is_str(feed_kind_name(9), "unknown", "unknown kind name");
	ok(feed_id_valid("a.B_c-9") && !feed_id_valid("") && !feed_id_valid(NULL) &&
	           !feed_id_valid("a:b"),
	   "the id rule");
}

int main(void)
{
	test_heartbeat();
	test_typical();
	test_extremes();
	test_front_coding();
	test_snapshot_10k();
	test_max_records();
	test_encoder_errors();
	test_crafted();
	test_truncation();
	test_doc_examples();
	test_names();
	return done_testing();
}
