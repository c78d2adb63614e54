/*  SPDX-License-Identifier: GPL-3.0-or-later */
/* Unit tests of the prober's measurement state (prober/prober_state.c). */
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "prober/prober_state.h"
#include "tap.h"

/* Result codes in a sequence string: '+' ok, 't' timeout, 'r' refused,
 * 's' http status, 'u' unreachable, 'b' body, 'l' tls. */
static prober_result_t result_of(char c, uint32_t rtt)
{
	prober_result_t r = { .ok = false, .rtt_us = HG_RTT_NONE, .ttfb_us = HG_RTT_NONE };
	switch (c) {
	case '+':
		r.ok = true;
		r.rtt_us = rtt;
		break;
	case 't': r.fail_class = HG_FAIL_TIMEOUT; break;
	case 'r': r.fail_class = HG_FAIL_REFUSED; break;
	case 's': r.fail_class = HG_FAIL_HTTP_STATUS; break;
	case 'u': r.fail_class = HG_FAIL_UNREACHABLE; break;
	case 'b': r.fail_class = HG_FAIL_BODY; break;
	case 'l': r.fail_class = HG_FAIL_TLS; break;
	default: abort();
	}
	return r;
}

/* Hysteresis: states after each probe, 'U' up, 'D' down, '?' unknown. */
static const struct {
	const char *seq;
	unsigned rise, fall;
	const char *states;
	unsigned changes;
	uint8_t last_fail;
} hyst[] = {
	{ "++", 2, 3, "?U", 1, HG_FAIL_NONE },
	{ "+", 2, 3, "?", 0, HG_FAIL_NONE },
	{ "++ttt", 2, 3, "?UUUD", 2, HG_FAIL_TIMEOUT },
	{ "++tt+tt", 2, 3, "?UUUUUU", 1, HG_FAIL_TIMEOUT },
	{ "++rrr+", 2, 3, "?UUUDD", 2, HG_FAIL_REFUSED },
	{ "++sss++", 2, 3, "?UUUDDU", 3, HG_FAIL_HTTP_STATUS },
	{ "ttt", 2, 3, "??D", 1, HG_FAIL_TIMEOUT },
	{ "t", 1, 1, "D", 1, HG_FAIL_TIMEOUT },
	{ "+t+t", 1, 1, "UDUD", 4, HG_FAIL_TIMEOUT },
	{ "+t+t", 0, 0, "UDUD", 4, HG_FAIL_TIMEOUT },
	{ "++++bbbb+++", 1, 4, "UUUUUUUDUUU", 3, HG_FAIL_BODY },
	{ "++++bbbb+++", 3, 4, "??UUUUUDDDU", 3, HG_FAIL_BODY },
	{ "++ul+", 2, 2, "?UUDD", 2, HG_FAIL_TLS },
	{ "++ul++", 2, 2, "?UUDDU", 3, HG_FAIL_TLS },
};

static void test_hysteresis(void)
{
	for (size_t i = 0; i < sizeof(hyst) / sizeof(hyst[0]); i++) {
		prober_state_t st;
		is_int(prober_state_init(&st, 0), HG_EOK, "init %zu", i);
		char got[32] = "";
		unsigned changes = 0;
		for (size_t k = 0; hyst[i].seq[k] != '\0'; k++) {
			prober_result_t r = result_of(hyst[i].seq[k], 1000);
			uint8_t from = 255;
			uint8_t before = st.state;
			bool ch =
			        prober_state_record(&st, &r, (uint16_t)hyst[i].rise,
			                            (uint16_t)hyst[i].fall, 5000, 1000 + k, &from);
			changes += ch;
			if (from != before) {
				ok(0, "from reports the previous state");
			}
			got[k] = st.state == HG_HEALTH_UP     ? 'U'
			         : st.state == HG_HEALTH_DOWN ? 'D'
			                                      : '?';
			got[k + 1] = '\0';
		}
		is_str(got, hyst[i].states, "states of '%s' rise %u fall %u", hyst[i].seq,
		       hyst[i].rise, hyst[i].fall);
		is_int(changes, hyst[i].changes, "changes of '%s'", hyst[i].seq);
		hg_rec_measure_t m;
		prober_state_measure(&st, &m);
		is_int(m.fail_class, hyst[i].last_fail, "last fail class of '%s'", hyst[i].seq);
		is_int(m.probes_total, strlen(hyst[i].seq), "probes_total of '%s'", hyst[i].seq);
		prober_state_free(&st);
	}
}

static void test_counters_and_times(void)
{
	prober_state_t st;
	prober_state_init(&st, 0);
	const char *seq = "++ttt+";
	for (size_t k = 0; seq[k]; k++) {
		prober_result_t r = result_of(seq[k], 2000);
		prober_state_record(&st, &r, 2, 3, 0, 5000 + 100 * k, NULL);
	}
	hg_rec_measure_t m;
	prober_state_measure(&st, &m);
	is_int(m.layout, HG_REC_LAYOUT, "layout");
	is_int(m.state, HG_HEALTH_DOWN, "down after ttt");
	is_int(m.changed_ms, 5400, "changed at the third failure");
	is_int(m.ts_ms, 5500, "ts of the last probe");
	is_int(m.consec_ok, 1, "consec_ok");
	is_int(m.consec_fail, 0, "consec_fail reset");
	is_int(m.probes_total, 6, "probes_total");
	is_int(m.probes_failed, 3, "probes_failed");
	is_int(m.window, 6, "window holds 6 probes");
	is_int(m.loss_bp, 5000, "3 timeouts of 6 = 50%%");
	is_int(m.seq, 0, "seq local");
	prober_state_free(&st);
}

/* Loss: window of N, only timeouts/unreachable count, old probes slide out. */
static const struct {
	const char *seq;
	unsigned window;
	unsigned loss_bp, n;
} loss[] = {
	{ "", 20, 0, 0 },         { "+++t", 20, 2500, 4 },
	{ "+++r", 20, 0, 4 }, /* refused is an answer, not loss */
	{ "+sbl", 20, 0, 4 },     { "tu", 20, 10000, 2 },
	{ "tttt++++", 4, 0, 4 }, /* the timeouts slid out of the window */
	{ "ttt+++", 4, 2500, 4 }, { "+t+", 3, 3333, 3 },
	{ "++t", 3, 3333, 3 }, /* rounding: 1/3 = 3333 bp */
	{ "+tt", 3, 6667, 3 },
};

static void test_loss(void)
{
	for (size_t i = 0; i < sizeof(loss) / sizeof(loss[0]); i++) {
		prober_state_t st;
		prober_state_init(&st, loss[i].window);
		for (size_t k = 0; loss[i].seq[k]; k++) {
			prober_result_t r = result_of(loss[i].seq[k], 100);
			prober_state_record(&st, &r, 2, 3, 0, k, NULL);
		}
		hg_rec_measure_t m;
		prober_state_measure(&st, &m);
		is_int(m.loss_bp, loss[i].loss_bp, "loss of '%s' window %u", loss[i].seq,
		       loss[i].window);
		is_int(m.window, loss[i].n, "window count of '%s'", loss[i].seq);
		prober_state_free(&st);
	}
}

/* RTT: last, median over the window of successes, EWMA 1/8. */
static void test_rtt(void)
{
	static const struct {
		uint32_t rtts[8];
		size_t n;
		unsigned window;
		uint32_t last, median, ewma;
	} cases[] = {
		{ { 40000 }, 1, 20, 40000, 40000, 40000 },
		{ { 40000, 48000 }, 2, 20, 48000, 44000, 41000 },
		{ { 10, 30, 20 }, 3, 20, 20, 20, 13 },
		{ { 100, 1000000, 100, 100 }, 4, 20, 100, 100, 95794 },
		{ { 500, 400, 300, 200, 100 }, 5, 3, 100, 200, 391 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		prober_state_t st;
		prober_state_init(&st, cases[i].window);
		for (size_t k = 0; k < cases[i].n; k++) {
			prober_result_t r = { .ok = true,
				              .rtt_us = cases[i].rtts[k],
				              .ttfb_us = 7 };
			prober_state_record(&st, &r, 1, 1, 0, k, NULL);
		}
		/* a failure in between must not disturb the RTT figures */
		prober_result_t f = { .ok = false,
			              .fail_class = HG_FAIL_TIMEOUT,
			              .rtt_us = HG_RTT_NONE,
			              .ttfb_us = HG_RTT_NONE };
		prober_state_record(&st, &f, 5, 5, 0, 99, NULL);
		hg_rec_measure_t m;
		prober_state_measure(&st, &m);
		is_int(m.rtt_last_us, cases[i].last, "rtt last case %zu", i);
		is_int(m.rtt_median_us, cases[i].median, "rtt median case %zu", i);
		is_int(m.rtt_ewma_us, cases[i].ewma, "rtt ewma case %zu", i);
		is_int(m.ttfb_us, 7, "ttfb case %zu", i);
		prober_state_free(&st);
	}
	prober_state_t st;
	prober_state_init(&st, 0);
	hg_rec_measure_t m;
	prober_state_measure(&st, &m);
	is_int(m.rtt_median_us, HG_RTT_NONE, "no RTT before a success");
	is_int(m.state, HG_HEALTH_UNKNOWN, "unknown before any probe");
	prober_state_free(&st);
}

/* Issue 10 point 1: RTT figures describe the successful probes of the
 * current up period only. Up at 1 ms, down (fall 3), a success that a
 * failure interrupts, then the rise run at 7 and 8 ms: the figures are those
 * two, nothing of the old 1 ms period, and none while down. */
static void test_rtt_up_period(void)
{
	prober_state_t st;
	prober_state_init(&st, 20);
	const struct {
		char c;
		uint32_t rtt;
	} seq[] = {
		{ '+', 1000 }, { '+', 1000 }, { '+', 1000 }, { 't', 0 },    { 't', 0 },
		{ 't', 0 },    { '+', 9000 }, { 'u', 0 },    { '+', 7000 }, { '+', 8000 },
	};
	hg_rec_measure_t m;
	for (size_t k = 0; k < sizeof(seq) / sizeof(seq[0]); k++) {
		prober_result_t r = result_of(seq[k].c, seq[k].rtt);
		r.ttfb_us = r.ok ? 300 : HG_RTT_NONE;
		prober_state_record(&st, &r, 2, 3, 0, 1000 + k, NULL);
		prober_state_measure(&st, &m);
		if (k == 2) {
			ok(m.state == HG_HEALTH_UP && m.rtt_median_us == 1000, "up period 1: 1 ms");
		}
		if (k == 3) {
			ok(m.state == HG_HEALTH_UP && m.rtt_median_us == 1000,
			   "failing but still up: figures kept");
		}
		if (k >= 5 && k <= 8) {
			ok(m.state == HG_HEALTH_DOWN && m.rtt_median_us == HG_RTT_NONE &&
			           m.rtt_last_us == HG_RTT_NONE && m.rtt_ewma_us == HG_RTT_NONE &&
			           m.ttfb_us == HG_RTT_NONE,
			   "probe %zu: down, no RTT in the record", k);
		}
	}
	is_int(m.state, HG_HEALTH_UP, "up again after rise 2");
	is_int(m.rtt_median_us, 7500, "median of this up period only (7, 8 ms)");
	is_int(m.rtt_last_us, 8000, "last RTT");
	is_int(m.rtt_ewma_us, 7125, "EWMA restarted at 7 ms");
	is_int(m.ttfb_us, 300, "TTFB of this period");
	prober_state_free(&st);

	/* A down record written by an older version, with figures: dropped. */
	prober_state_init(&st, 20);
	hg_rec_measure_t old = { .layout = 1,
		                 .state = HG_HEALTH_DOWN,
		                 .rtt_last_us = 5000,
		                 .rtt_ewma_us = 5000,
		                 .rtt_median_us = 5000,
		                 .ttfb_us = 5 };
	prober_state_seed(&st, &old);
	prober_result_t r = result_of('+', 6000);
	prober_state_record(&st, &r, 1, 1, 0, 2000, NULL);
	prober_state_measure(&st, &m);
	ok(m.state == HG_HEALTH_UP && m.rtt_median_us == 6000 && m.rtt_ewma_us == 6000,
	   "seeded down record: no old figures (median %u, ewma %u)", m.rtt_median_us,
	   m.rtt_ewma_us);
	prober_state_free(&st);
}

/* Issue 10 point 4: the loss-window threshold. Sequences over a window of
 * 6 probes, rise 2, fall 3, down-loss 50 % unless told; '+' ok, 't'
 * timeout, 's' http status (a failure that is not loss: it counts too). */
static const struct {
	const char *seq;
	unsigned window, down_loss_bp;
	const char *states;
} loss_hyst[] = {
	/* 2 of every 3 fail: never 3 in a row; down once the window is full */
	{ "++tt+tt+tt", 6, 5000, "?UUUUDDDDD" },
	{ "++tt+tt+tt", 6, 0, "?UUUUUUUUU" },    /* off: rise/fall only, as before */
	{ "++tt+tt+tt", 6, 7000, "?UUUUUUUUU" }, /* 4/6 = 67 % < 70 % */
	/* up again only after rise consecutive successes, then down again at
	 * the next failure while the window still holds half failures */
	{ "++tt+tt++t", 6, 5000, "?UUUUDDDUD" },
	/* exactly at the threshold is down (3 of 6); any failure class counts */
	{ "+++ss+", 6, 5000, "?UUUUU" }, /* window not full yet */
	{ "++++ss+s", 6, 5000, "?UUUUUUD" },
	/* a short window trips before fall (2 of 4 failed) */
	{ "++ttt", 4, 5000, "?UUDD" },
};

static void test_loss_window(void)
{
	for (size_t i = 0; i < sizeof(loss_hyst) / sizeof(loss_hyst[0]); i++) {
		prober_state_t st;
		prober_state_init(&st, loss_hyst[i].window);
		char got[32] = "";
		for (size_t k = 0; loss_hyst[i].seq[k] != '\0'; k++) {
			prober_result_t r = result_of(loss_hyst[i].seq[k], 1000);
			prober_state_record(&st, &r, 2, 3, (uint16_t)loss_hyst[i].down_loss_bp,
			                    1000 + k, NULL);
			got[k] = st.state == HG_HEALTH_UP     ? 'U'
			         : st.state == HG_HEALTH_DOWN ? 'D'
			                                      : '?';
			got[k + 1] = '\0';
		}
		is_str(got, loss_hyst[i].states, "loss window: '%s' window %u down-loss %u bp",
		       loss_hyst[i].seq, loss_hyst[i].window, loss_hyst[i].down_loss_bp);
		prober_state_free(&st);
	}
	/* The default window (20) and default down-loss (50 %): 2 failures of
	 * every 3 take it down at the first failure once the window is full
	 * (the 20th probe succeeds, the 21st fails); rise 2 never comes. The
	 * threshold is looked at on failures only, so the rise successes that
	 * bring it up are never undone by the failures still in the window. */
	prober_state_t st;
	prober_state_init(&st, 0);
	unsigned down_at = 0;
	for (unsigned k = 0; k < 60; k++) {
		prober_result_t r = result_of(k < 2 ? '+' : (k % 3 == 1 ? '+' : 't'), 1000);
		prober_state_record(&st, &r, 2, 3, 5000, 1000 + k, NULL);
		if (down_at == 0 && st.state == HG_HEALTH_DOWN) {
			down_at = k + 1;
		}
	}
	is_int(down_at, 21, "default window: down at the first failure with the window full");
	is_int(st.state, HG_HEALTH_DOWN, "and stays down: never 2 successes in a row");
	prober_state_free(&st);
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return (x > y) - (x < y);
}

/* The median against a sort, on random data with many duplicates. */
static void test_median_random(void)
{
	srand(7);
	int bad = 0;
	for (int round = 0; round < 2000; round++) {
		size_t n = 1 + (size_t)(rand() % 64);
		uint32_t a[64], b[64];
		for (size_t k = 0; k < n; k++) {
			a[k] = b[k] = (uint32_t)(rand() % (round % 2 ? 5 : 100000));
		}
		qsort(b, n, sizeof(b[0]), cmp_u32);
		uint32_t want =
		        n % 2 ? b[n / 2] : (uint32_t)(((uint64_t)b[n / 2 - 1] + b[n / 2]) / 2);
		if (prober_median_u32(a, n) != want) {
			bad++;
		}
	}
	is_int(bad, 0, "median matches sort on 2000 random arrays");
	is_int(prober_median_u32(NULL, 0), HG_RTT_NONE, "median of nothing");
}

static void test_seed_and_limits(void)
{
	prober_state_t st;
	is_int(prober_state_init(&st, PROBER_WINDOW_MAX + 1), HG_ERANGE, "window too large");
	prober_state_init(&st, 0);
	hg_rec_measure_t old = { .layout = 1,
		                 .state = HG_HEALTH_DOWN,
		                 .fail_class = HG_FAIL_REFUSED,
		                 .changed_ms = 77,
		                 .consec_fail = 9,
		                 .probes_total = 100,
		                 .probes_failed = 10,
		                 .rtt_median_us = HG_RTT_NONE };
	prober_state_seed(&st, &old);
	prober_result_t r = { .ok = true, .rtt_us = 5, .ttfb_us = HG_RTT_NONE };
	is_int(prober_state_record(&st, &r, 2, 3, 0, 1000, NULL), 0, "one success: still down");
	is_int(prober_state_record(&st, &r, 2, 3, 0, 1001, NULL), 1, "rise reached: up");
	hg_rec_measure_t m;
	prober_state_measure(&st, &m);
	is_int(m.probes_total, 102, "totals continue from the seed");
	is_int(m.probes_failed, 10, "failures continue from the seed");
	is_int(m.changed_ms, 1001, "changed now");
	is_int(m.fail_class, HG_FAIL_REFUSED, "last failure class kept");
	prober_state_free(&st);
	is_str(prober_fail_name(HG_FAIL_TLS), "tls", "fail name");
	is_str(prober_fail_name(200), "other", "fail name out of range");
	is_str(prober_health_name(HG_HEALTH_DOWN), "down", "health name");
}

int main(void)
{
	test_hysteresis();
	test_counters_and_times();
	test_loss();
	test_rtt();
	test_rtt_up_period();
	test_loss_window();
	test_median_random();
	test_seed_and_limits();
	return done_testing();
}
