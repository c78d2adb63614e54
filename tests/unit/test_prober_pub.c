/*  SPDX-License-Identifier: GPL-3.0-or-later */
/* The publisher's pure parts: what counts as a change (one line per case),
 * the hand-over queue (order, drop-oldest, snapshot flag, clear), the
 * unconfirmed list (confirms single, multiple, out of order; untag and
 * republish order). */
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "prober/prober_pub_diff.h"
#include "prober/prober_pub_queue.h"
#include "prober/prober_pub_unacked.h"
#include "tap.h"

#define NONE HG_RTT_NONE

static hg_rec_measure_t measure(uint8_t state, uint8_t fail, uint16_t loss, uint32_t rtt)
{
	hg_rec_measure_t m = { .layout = HG_REC_LAYOUT,
		               .state = state,
		               .fail_class = fail,
		               .loss_bp = loss,
		               .rtt_median_us = rtt,
		               .rtt_last_us = rtt,
		               .rtt_ewma_us = rtt,
		               .ts_ms = 1700000000000ull,
		               .probes_total = 10 };
	return m;
}

static void test_changed(void)
{
	static const struct {
		const char *what;
		uint8_t s0, f0;
		uint16_t l0;
		uint32_t r0; /* published */
		uint8_t s1, f1;
		uint16_t l1;
		uint32_t r1; /* now */
		bool changed;
	} cases[] = {
		{ "same", 1, 0, 0, 20000, 1, 0, 0, 20000, false },
		{ "state up -> down", 1, 0, 0, 20000, 2, 1, 0, 20000, true },
		{ "state unknown -> up", 0, 0, 0, 20000, 1, 0, 0, 20000, true },
		{ "fail class", 1, 1, 0, 20000, 1, 2, 0, 20000, true },
		{ "loss 0 -> 500 bp", 1, 0, 0, 20000, 1, 0, 500, 20000, true },
		{ "loss 500 -> 0 bp", 1, 0, 500, 20000, 1, 0, 0, 20000, true },
		{ "rtt appears", 2, 1, 0, NONE, 2, 1, 0, 20000, true },
		{ "rtt vanishes", 1, 0, 0, 20000, 1, 0, 0, NONE, true },
		{ "rtt none both", 2, 1, 0, NONE, 2, 1, 0, NONE, false },
		/* over 10 ms of RTT: 1 ms is the step */
		{ "20 ms +999 us", 1, 0, 0, 20000, 1, 0, 0, 20999, false },
		{ "20 ms +1000 us", 1, 0, 0, 20000, 1, 0, 0, 21000, true },
		{ "20 ms -1000 us", 1, 0, 0, 20000, 1, 0, 0, 19000, true },
		{ "200 ms +999 us", 1, 0, 0, 200000, 1, 0, 0, 200999, false },
		/* 1 to 10 ms: 10 % */
		{ "5 ms +499 us", 1, 0, 0, 5000, 1, 0, 0, 5499, false },
		{ "5 ms +500 us", 1, 0, 0, 5000, 1, 0, 0, 5500, true },
		{ "5 ms -500 us", 1, 0, 0, 5000, 1, 0, 0, 4500, true },
		/* below 1 ms: 100 us */
		{ "300 us +99 us", 1, 0, 0, 300, 1, 0, 0, 399, false },
		{ "300 us +100 us", 1, 0, 0, 300, 1, 0, 0, 400, true },
		{ "50 us -50 us", 1, 0, 0, 50, 1, 0, 0, 0, false },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		prober_pub_ref_t ref = { 0 };
		hg_rec_measure_t m0 = measure(cases[i].s0, cases[i].f0, cases[i].l0, cases[i].r0);
		hg_rec_measure_t m1 = measure(cases[i].s1, cases[i].f1, cases[i].l1, cases[i].r1);
		prober_pub_ref_set(&ref, &m0);
		is_int(prober_pub_changed(&ref, &m1), cases[i].changed, "%s: %s", cases[i].what,
		       cases[i].changed ? "changed" : "unchanged");
	}
	/* Counters and times alone never make a change; nothing published yet always does. */
	prober_pub_ref_t ref = { 0 };
	hg_rec_measure_t m = measure(1, 0, 0, 20000);
	ok(prober_pub_changed(&ref, &m), "first measurement is a change");
	prober_pub_ref_set(&ref, &m);
	m.ts_ms += 5000;
	m.changed_ms = 42;
	m.probes_total += 100;
	m.probes_failed += 3;
	m.consec_ok = 77;
	m.rtt_last_us = 90000;
	m.rtt_ewma_us = 60000;
	m.ttfb_us = 5000;
	ok(!prober_pub_changed(&ref, &m), "times, counters, last/smoothed RTT, TTFB: no change");
	/* The reference is the last published value, not the previous one: a
	 * slow drift is published once it adds up. */
	for (uint32_t rtt = 20000; rtt <= 20900; rtt += 300) {
		m.rtt_median_us = rtt;
		ok(!prober_pub_changed(&ref, &m), "drift to %u us: not yet", rtt);
	}
	m.rtt_median_us = 21000;
	ok(prober_pub_changed(&ref, &m), "drift to 21000 us: published");
}

/* ---- queue ---- */

static prober_pub_batch_t batch(size_t n, const char *tag)
{
	prober_pub_batch_t b = { .recs = calloc(n, sizeof(feed_rec_t)), .n = n };
	for (size_t i = 0; i < n; i++) {
		snprintf(b.recs[i].endpoint, sizeof(b.recs[i].endpoint), "%s-%zu", tag, i);
	}
	return b;
}

static void test_queue(void)
{
	prober_pubq_t q;
	is_int(prober_pubq_init(&q, 0), HG_EINVAL, "a queue of 0 refused");
	is_int(prober_pubq_init(&q, 3), HG_EOK, "queue of 3");
	prober_pub_batch_t out;
	ok(!prober_pubq_pop(&q, &out), "empty: nothing to pop");
	const char *tags[] = { "a", "b", "c", "d", "e" };
	for (int i = 0; i < 3; i++) {
		prober_pub_batch_t b = batch((size_t)i + 1, tags[i]);
		ok(!prober_pubq_push(&q, &b), "push %s: nothing dropped", tags[i]);
		ok(b.recs == NULL && b.n == 0, "push %s: the queue took the records", tags[i]);
	}
	ok(!prober_pubq_snapshot_needed(&q), "no drop, no snapshot needed");
	prober_pub_batch_t d = batch(4, "d");
	ok(prober_pubq_push(&q, &d), "push d into a full queue: the oldest is dropped");
	ok(prober_pubq_snapshot_needed(&q), "a drop raises the snapshot flag");
	size_t len;
	uint64_t dropped;
	prober_pubq_stats(&q, &len, &dropped);
	ok(len == 3 && dropped == 1, "3 queued, 1 dropped (%zu, %llu)", len,
	   (unsigned long long)dropped);
	const char *want[] = { "b-0", "c-0", "d-0" };
	for (int i = 0; i < 3; i++) {
		ok(prober_pubq_pop(&q, &out), "pop %d", i);
		is_str(out.recs[0].endpoint, want[i], "FIFO order: %s", want[i]);
		is_int(out.n, i + 2, "its records");
		prober_pub_batch_free(&out);
	}
	ok(!prober_pubq_pop(&q, &out), "drained");
	/* wrap around, then clear */
	for (int i = 0; i < 5; i++) {
		prober_pub_batch_t b = batch(1, tags[i]);
		prober_pubq_push(&q, &b);
	}
	bool flag = false;
	is_int(prober_pubq_clear(&q, &flag), 3, "clear drops the 3 queued");
	ok(flag, "clear reports the snapshot flag");
	ok(!prober_pubq_snapshot_needed(&q), "clear lowers it");
	ok(!prober_pubq_pop(&q, &out), "nothing left");
	prober_pub_batch_t e = batch(2, "e");
	prober_pubq_push(&q, &e);
	ok(prober_pubq_pop(&q, &out) && strcmp(out.recs[1].endpoint, "e-1") == 0,
	   "usable after clear");
	prober_pub_batch_free(&out);
	prober_pub_batch_t f = batch(1, "f");
	prober_pubq_push(&q, &f);
	prober_pubq_free(&q); /* frees what is queued (ASan checks) */
	ok(1, "free with a batch queued");
}

/* ---- unconfirmed messages ---- */

static void add(prober_pub_unacked_t *u, uint64_t seq, uint64_t tag)
{
	prober_pub_msg_t m = {
		.body = malloc(10), .len = 10, .seq = seq, .kind = 1, .n_records = 2, .tag = tag
	};
	prober_unacked_add(u, &m);
}

static void test_unacked(void)
{
	prober_pub_unacked_t u;
	prober_unacked_init(&u);
	for (uint64_t i = 1; i <= 5; i++) {
		add(&u, 100 + i, i); /* seq 101.., tags 1..5 */
	}
	is_int(prober_unacked_len(&u), 5, "5 unconfirmed");
	is_int(u.bytes, 50, "their bytes");
	uint64_t recs = 0;
	is_int(prober_unacked_confirm(&u, 2, true, &recs), 2, "ack 2 multiple: 2 leave");
	is_int(recs, 4, "with their records");
	is_int(prober_unacked_at(&u, 0)->seq, 103, "seq 103 is now the oldest");
	is_int(prober_unacked_confirm(&u, 4, false, NULL), 0, "ack 4 alone: waits for 3");
	is_int(prober_unacked_len(&u), 3, "3, 4, 5 held");
	is_int(prober_unacked_confirm(&u, 3, false, NULL), 2, "ack 3: 3 and the acked 4 leave");
	is_int(prober_unacked_at(&u, 0)->seq, 105, "seq 105 left");
	is_int(prober_unacked_confirm(&u, 99, false, NULL), 0, "unknown tag: nothing");
	/* Reconnect: everything untagged, republished in order with new tags. */
	add(&u, 106, 6);
	add(&u, 107, 0);                            /* kept, its publish failed */
	prober_unacked_confirm(&u, 6, false, NULL); /* 106 confirmed out of order */
	prober_unacked_untag(&u);
	uint64_t tag = 1, seqs[8];
	size_t n = 0;
	for (size_t i = 0; i < prober_unacked_len(&u); i++) {
		prober_pub_msg_t *m = prober_unacked_at(&u, i);
		if (!m->confirmed) {
			m->tag = tag++;
			seqs[n++] = m->seq;
		}
	}
	ok(n == 2 && seqs[0] == 105 && seqs[1] == 107,
	   "republished in order, the confirmed 106 skipped (%zu: %llu %llu)", n,
	   (unsigned long long)seqs[0], (unsigned long long)(n > 1 ? seqs[1] : 0));
	is_int(prober_unacked_confirm(&u, 1, false, NULL), 2, "new tag 1 acked: 105 and 106 leave");
	is_int(prober_unacked_confirm(&u, 2, true, NULL), 1, "new tag 2: 107 leaves");
	is_int(prober_unacked_len(&u), 0, "all confirmed");
	is_int(u.bytes, 0, "no bytes held");
	/* Growth with sliding: many adds and confirms keep the order. */
	bool order = true;
	for (uint64_t i = 1; i <= 1000; i++) {
		add(&u, i, i);
		if (i % 3 == 0) {
			prober_unacked_confirm(&u, i - 1, true, NULL);
		}
	}
	for (size_t i = 1; i < prober_unacked_len(&u); i++) {
		order &= prober_unacked_at(&u, i)->seq > prober_unacked_at(&u, i - 1)->seq;
	}
	ok(order && prober_unacked_len(&u) == 2, "order kept over 1000 messages (%zu left)",
	   prober_unacked_len(&u));
	prober_unacked_free(&u);
	is_int(prober_unacked_len(&u), 0, "freed");
}

int main(void)
{
	test_changed();
	test_queue();
	test_unacked();
	return done_testing();
}
