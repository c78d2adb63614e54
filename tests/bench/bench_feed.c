/*  SPDX-License-Identifier: GPL-3.0-or-later */
/* Feed message sizes and codec speed. Not a test: prints figures (quoted in
 * docs/replication.md, "Feed format"). `make bench-feed`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "errors.h"
#include "feed.h"

#define NOW_MS 1700000000000ull

/* Deterministic pseudo-random numbers (xorshift), so figures repeat. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(uint32_t n)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state % n);
}

/* An endpoint up for hours, probed every 5 s, 20-probe window. */
static hg_rec_measure_t up_record(void)
{
	uint32_t rtt = 2000 + rnd(200000);
	hg_rec_measure_t m = {
		.state = HG_HEALTH_UP,
		.fail_class = HG_FAIL_TIMEOUT,
		.ts_ms = NOW_MS - rnd(5000),
		.changed_ms = NOW_MS - 3600000ull * (1 + rnd(72)),
		.rtt_last_us = rtt + rnd(3000),
		.rtt_ewma_us = rtt + rnd(1000),
		.rtt_median_us = rtt,
		.ttfb_us = 1000 + rnd(20000),
		.loss_bp = 0,
		.window = 20,
		.consec_ok = (uint16_t)(720 + rnd(50000)),
		.consec_fail = 0,
		.probes_total = 500000 + rnd(100000),
		.probes_failed = rnd(200),
	};
	return m;
}

/* An endpoint that just went down on timeouts. */
static hg_rec_measure_t down_record(void)
{
	hg_rec_measure_t m = up_record();
	m.state = HG_HEALTH_DOWN;
	m.fail_class = HG_FAIL_TIMEOUT;
	m.changed_ms = m.ts_ms;
	m.rtt_last_us = HG_RTT_NONE;
	m.loss_bp = 1500;
	m.consec_ok = 0;
	m.consec_fail = 3;
	return m;
}

static const char *cities[] = {
	"fra", "ams", "lhr", "cdg", "mad", "mxp", "waw", "arn", "hel", "dub", "iad", "ord", "dfw",
	"sjc", "lax", "sea", "yyz", "gru", "scl", "sin", "hkg", "nrt", "syd", "bom", "jnb",
};
static const char *clouds[] = { "aws", "gcp", "azure", "oci" };

static void endpoint_id(unsigned i, char *id, size_t size)
{
	snprintf(id, size, "waf-%s-%s-%02u", cities[i / 400 % 25], clouds[i / 100 % 4], i % 100);
}

static size_t build(enum feed_kind kind, unsigned n, bool down, uint8_t **out)
{
	feed_enc_t enc;
	feed_enc_init(&enc);
	size_t len = 0;
	if (feed_enc_begin(&enc, kind, "prober-eu-fra", NOW_MS - 86400000ull, 123456, NOW_MS)) {
		abort();
	}
	/* A batch holds scattered endpoints (distinct: 37 is prime to 10,000),
	 * a snapshot all of them. */
	unsigned start = rnd(10000);
	for (unsigned i = 0; i < n; i++) {
		char id[HG_ID_SIZE];
		endpoint_id(kind == FEED_SNAPSHOT ? i : (start + 37 * i) % 10000, id, sizeof(id));
		hg_rec_measure_t m = down ? down_record() : up_record();
		if (feed_enc_add(&enc, id, &m) != HG_EOK) {
			abort();
		}
	}
	if (feed_enc_finish(&enc, out, &len) != HG_EOK) {
		abort();
	}
	feed_enc_free(&enc);
	return len;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(void)
{
	uint8_t *hb = NULL;
	size_t hb_len = build(FEED_HEARTBEAT, 0, false, &hb);
	printf("feed format version %u; prober id \"prober-eu-fra\" (13 characters), endpoint ids "
	       "like \"waf-fra-aws-07\" (14)\n\n",
	       FEED_VERSION);
	printf("%-34s %9s %14s\n", "message", "bytes", "bytes/record");
	printf("%-34s %9zu %14s\n", "heartbeat", hb_len, "-");
	struct {
		const char *what;
		enum feed_kind kind;
		unsigned n;
		bool down;
	} cases[] = {
		{ "batch, 1 record (up)", FEED_BATCH, 1, false },
		{ "batch, 1 record (down, no RTT)", FEED_BATCH, 1, true },
		{ "batch, 10 records (up)", FEED_BATCH, 10, false },
		{ "batch, 256 records (up)", FEED_BATCH, 256, false },
		{ "snapshot, 10,000 endpoints (up)", FEED_SNAPSHOT, 10000, false },
	};
	uint8_t *snap = NULL;
	size_t snap_len = 0;
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		uint8_t *msg = NULL;
		size_t len = build(cases[c].kind, cases[c].n, cases[c].down, &msg);
		printf("%-34s %9zu %14.1f\n", cases[c].what, len,
		       (double)(len - hb_len) / cases[c].n);
		if (cases[c].kind == FEED_SNAPSHOT) {
			snap = msg;
			snap_len = len;
		} else {
			free(msg);
		}
	}
	printf("\nfor comparison, the LMDB key + hg_rec_measure_t of one record: %zu bytes\n",
	       strlen("waf-fra-aws-07") + 1 + strlen("prober-eu-fra") + sizeof(hg_rec_measure_t));

	/* Speed: decode + walk the 10,000-record snapshot, and encode it. */
	const int rounds = 200;
	double t0 = now_s();
	uint64_t sum = 0;
	for (int r = 0; r < rounds; r++) {
		feed_msg_t msg;
		if (feed_decode(snap, snap_len, &msg, NULL) != HG_EOK) {
			abort();
		}
		feed_iter_t it;
		feed_iter_init(&it, &msg);
		for (const feed_rec_t *rec; (rec = feed_iter_next(&it)) != NULL;) {
			sum += rec->m.rtt_median_us;
		}
	}
	double dec = now_s() - t0;
	t0 = now_s();
	for (int r = 0; r < rounds / 4; r++) {
		uint8_t *msg = NULL;
		build(FEED_SNAPSHOT, 10000, false, &msg);
		free(msg);
	}
	double enc = now_s() - t0;
	printf("decode + iterate: %.1f M records/s; encode (incl. building records): %.1f M "
	       "records/s (checksum %llu)\n",
	       rounds * 10000.0 / dec / 1e6, rounds / 4 * 10000.0 / enc / 1e6,
	       (unsigned long long)(sum % 1000));
	free(snap);
	free(hb);
	return 0;
}
