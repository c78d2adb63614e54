/*  SPDX-License-Identifier: GPL-3.0-or-later */
/* Writes the feed target's seed corpus (tests/fuzz/corpus/feed/) with the
 * encoder: valid messages of each kind and at the edges of every field,
 * plus a few rejected ones so the fuzzer starts at each reject path.
 * Rerun after a format change:
 *   make tests/fuzz/mkseeds_feed && tests/fuzz/mkseeds_feed $(top_srcdir)/tests/fuzz/corpus/feed */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "feed.h"

#define NOW 1700000000000ull

static const char *dir;

static void put(const char *name, const uint8_t *b, size_t n)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	if (f == NULL || fwrite(b, 1, n, f) != n || fclose(f) != 0) {
		perror(path);
		exit(1);
	}
}

static hg_rec_measure_t up(uint32_t rtt)
{
	hg_rec_measure_t m = {
		.state = HG_HEALTH_UP,
		.fail_class = HG_FAIL_TIMEOUT,
		.ts_ms = NOW - 850,
		.changed_ms = NOW - 3600000,
		.rtt_last_us = rtt + 400,
		.rtt_ewma_us = rtt + 100,
		.rtt_median_us = rtt,
		.ttfb_us = 4120,
		.window = 20,
		.consec_ok = 720,
		.probes_total = 518400,
		.probes_failed = 12,
	};
	return m;
}

static hg_rec_measure_t down(void)
{
	hg_rec_measure_t m = up(0);
	m.state = HG_HEALTH_DOWN;
	m.fail_class = HG_FAIL_REFUSED;
	m.rtt_last_us = m.rtt_ewma_us = m.rtt_median_us = m.ttfb_us = HG_RTT_NONE;
	m.loss_bp = 10000;
	m.consec_ok = 0;
	m.consec_fail = 3;
	m.changed_ms = m.ts_ms;
	return m;
}

/* Encode; returns the length (message in *out, caller frees). */
static size_t msg(enum feed_kind kind, const char *prober, uint64_t epoch, uint64_t seq,
                  uint64_t sent, size_t n, const char *const *ids, const hg_rec_measure_t *ms,
                  uint8_t **out)
{
	feed_enc_t enc;
	feed_enc_init(&enc);
	size_t len = 0;
	if (feed_enc_begin(&enc, kind, prober, epoch, seq, sent) != HG_EOK) {
		exit(1);
	}
	for (size_t i = 0; i < n; i++) {
		if (feed_enc_add(&enc, ids[i], &ms[i]) != HG_EOK) {
			exit(1);
		}
	}
	if (feed_enc_finish(&enc, out, &len) != HG_EOK) {
		exit(1);
	}
	feed_enc_free(&enc);
	return len;
}

static void save(const char *name, enum feed_kind kind, const char *prober, uint64_t epoch,
                 uint64_t seq, uint64_t sent, size_t n, const char *const *ids,
                 const hg_rec_measure_t *ms)
{
	uint8_t *b = NULL;
	size_t len = msg(kind, prober, epoch, seq, sent, n, ids, ms, &b);
	put(name, b, len);
	free(b);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 2;
	}
	dir = argv[1];
	const char *one[] = { "waf-fra-aws" };
	hg_rec_measure_t m1 = up(21340), md = down();
	save("heartbeat", FEED_HEARTBEAT, "eu-fra", NOW - 86400000, 1, NOW, 0, NULL, NULL);
	save("batch-up", FEED_BATCH, "eu-fra", NOW - 86400000, 2, NOW, 1, one, &m1);
	save("batch-down", FEED_BATCH, "eu-fra", NOW - 86400000, 3, NOW, 1, one, &md);
	save("batch-empty", FEED_BATCH, "eu-fra", 1, 1, 0, 0, NULL, NULL);
	save("snapshot-empty", FEED_SNAPSHOT, "eu-fra", 1, 1, 0, 0, NULL, NULL);

	const char *ids[] = { "a",           "a-b",           "a.b",         "ab",
		              "abc",         "abd",           "b",           "waf-ams-gcp",
		              "waf-fra-aws", "waf-jkt-azure", "waf-sin-aws", "Z_" };
	hg_rec_measure_t ms[12];
	for (size_t i = 0; i < 12; i++) {
		ms[i] = i % 3 == 2 ? down() : up(1000 + 7919 * (uint32_t)i);
		ms[i].state = (uint8_t)(i % 3);
		ms[i].fail_class = (uint8_t)(i % 9);
	}
	save("snapshot-12", FEED_SNAPSHOT, "ap-sin", 0x0123456789abcdefull, 77, NOW, 12, ids, ms);

	/* Every field at an edge. */
	hg_rec_measure_t hi = { 0 }, lo = { 0 };
	hi.state = HG_HEALTH_DOWN;
	hi.fail_class = HG_FAIL_OTHER;
	hi.ts_ms = FEED_TIME_MAX;
	hi.rtt_last_us = hi.rtt_ewma_us = hi.rtt_median_us = hi.ttfb_us = HG_RTT_NONE - 1;
	hi.loss_bp = 10000;
	hi.window = hi.consec_ok = hi.consec_fail = UINT16_MAX;
	hi.probes_total = hi.probes_failed = UINT64_MAX;
	char id63[HG_ID_SIZE];
	memset(id63, 'z', HG_ID_MAX);
	id63[HG_ID_MAX] = '\0';
	const char *edge_ids[] = { "hi", "lo", id63 };
	hg_rec_measure_t edge[] = { hi, lo, hi };
	save("edges-base-0", FEED_BATCH, id63, UINT64_MAX, UINT64_MAX, 0, 3, edge_ids, edge);
	save("edges-base-max", FEED_BATCH, "p", 1, 1, FEED_TIME_MAX, 3, edge_ids, edge);

	/* Rejected ones, one per family of checks. */
	uint8_t *b = NULL;
	size_t len = msg(FEED_BATCH, "eu-fra", 5, 9, NOW, 12, ids, ms, &b);
	put("bad-truncated", b, len - 3);
	b[len - 1] = 0x80;
	put("bad-varint-cut", b, len);
	uint8_t *longer = malloc(len + 1);
	memcpy(longer, b, len);
	longer[len] = 0;
	put("bad-trailing", longer, len + 1);
	free(longer);
	free(b);
	len = msg(FEED_BATCH, "eu-fra", 5, 9, NOW, 1, one, &m1, &b);
	b[3] = 2; /* version */
	put("bad-version", b, len);
	b[3] = 1;
	b[4] = 3; /* a heartbeat with a record */
	put("bad-heartbeat-records", b, len);
	free(b);
	return 0;
}
