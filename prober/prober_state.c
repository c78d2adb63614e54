/*  SPDX-License-Identifier: GPL-3.0-or-later */
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "prober_state.h"
#include "schema_names.h"

/* EWMA weight 1/8, as TCP's smoothed RTT (RFC 6298): reacts within a few
 * probes but one outlier moves it by an eighth only. */
#define EWMA_SHIFT 3

int prober_state_init(prober_state_t *st, unsigned window)
{
	if (window == 0) {
		window = PROBER_WINDOW_DEFAULT;
	}
	if (window > PROBER_WINDOW_MAX) {
		return HG_ERANGE;
	}
	memset(st, 0, sizeof(*st));
	st->window = (uint16_t)window;
	st->loss_ring = calloc(window, 1);
	st->rtt_ring = calloc(window, sizeof(uint32_t));
	st->scratch = calloc(window, sizeof(uint32_t));
	if (st->loss_ring == NULL || st->rtt_ring == NULL || st->scratch == NULL) {
		prober_state_free(st);
		return HG_ENOMEM;
	}
	st->rtt_last = st->rtt_ewma = st->rtt_median = st->ttfb = HG_RTT_NONE;
	st->state = HG_HEALTH_UNKNOWN;
	return HG_EOK;
}

void prober_state_free(prober_state_t *st)
{
	free(st->loss_ring);
	free(st->rtt_ring);
	free(st->scratch);
	st->loss_ring = NULL;
	st->rtt_ring = NULL;
	st->scratch = NULL;
}

/* Forget every RTT figure: they describe the successful probes of the
 * current up period only (SCHEMA.md, measure record), so an endpoint that
 * goes down starts its next up period with none (issue 10: a down endpoint
 * must not keep the median of the time it answered). */
static void rtt_reset(prober_state_t *st)
{
	st->n_rtt = 0;
	st->rtt_pos = 0;
	st->rtt_last = st->rtt_ewma = st->rtt_median = st->ttfb = HG_RTT_NONE;
}

void prober_state_seed(prober_state_t *st, const hg_rec_measure_t *m)
{
	if (m->state <= HG_HEALTH_DOWN) {
		st->state = m->state;
	}
	st->fail_class = m->fail_class;
	st->ts_ms = m->ts_ms;
	st->changed_ms = m->changed_ms;
	st->rtt_last = m->rtt_last_us;
	st->rtt_ewma = m->rtt_ewma_us;
	st->rtt_median = m->rtt_median_us;
	st->ttfb = m->ttfb_us;
	if (st->state == HG_HEALTH_DOWN) {
		rtt_reset(st); /* records of older versions kept them */
	}
	st->consec_ok = m->consec_ok;
	st->consec_fail = m->consec_fail;
	st->probes_total = m->probes_total;
	st->probes_failed = m->probes_failed;
}

bool prober_fail_is_loss(uint8_t fail_class)
{
	return fail_class == HG_FAIL_TIMEOUT || fail_class == HG_FAIL_UNREACHABLE;
}

static void swap_u32(uint32_t *a, uint32_t *b)
{
	uint32_t t = *a;
	*a = *b;
	*b = t;
}

/* Wirth's selection: the k-th smallest of v[0..n), O(n) on average. Signed
 * indexes because j steps below l when the pivot lands at the left edge. */
static uint32_t select_k(uint32_t *v, size_t n, size_t k)
{
	long l = 0, m = (long)n - 1, kk = (long)k;
	while (l < m) {
		uint32_t x = v[kk];
		long i = l, j = m;
		do {
			while (v[i] < x) {
				i++;
			}
			while (x < v[j]) {
				j--;
			}
			if (i <= j) {
				swap_u32(&v[i], &v[j]);
				i++;
				j--;
			}
		} while (i <= j);
		if (j < kk) {
			l = i;
		}
		if (kk < i) {
			m = j;
		}
	}
	return v[kk];
}

uint32_t prober_median_u32(uint32_t *v, size_t n)
{
	if (n == 0) {
		return HG_RTT_NONE;
	}
	uint32_t hi = select_k(v, n, n / 2);
	if (n % 2 == 1) {
		return hi;
	}
	uint32_t lo = select_k(v, n, n / 2 - 1);
	return (uint32_t)(((uint64_t)lo + hi) / 2);
}

/* The window of the last N probes: bit 0 lost (no answer), bit 1 failed
 * (any failure, lost or not). */
enum { RING_LOST = 1, RING_FAILED = 2 };

static void record_window(prober_state_t *st, bool lost, bool failed)
{
	if (st->n_loss == st->window) {
		uint8_t old = st->loss_ring[st->loss_pos];
		st->lost -= (old & RING_LOST) != 0;
		st->failed -= (old & RING_FAILED) != 0;
	} else {
		st->n_loss++;
	}
	st->loss_ring[st->loss_pos] =
	        (uint8_t)((lost ? RING_LOST : 0) | (failed ? RING_FAILED : 0));
	st->lost += lost ? 1 : 0;
	st->failed += failed ? 1 : 0;
	st->loss_pos = (uint16_t)((st->loss_pos + 1) % st->window);
}

/* The loss-window threshold: a full window whose failed share reaches
 * down_loss_bp (integer form of failed / window >= bp / 10000). */
static bool window_down(const prober_state_t *st, uint16_t down_loss_bp)
{
	return down_loss_bp > 0 && st->n_loss == st->window &&
	       (uint32_t)st->failed * 10000u >= (uint32_t)down_loss_bp * st->n_loss;
}

static void record_rtt(prober_state_t *st, uint32_t rtt)
{
	st->rtt_ring[st->rtt_pos] = rtt;
	st->rtt_pos = (uint16_t)((st->rtt_pos + 1) % st->window);
	if (st->n_rtt < st->window) {
		st->n_rtt++;
	}
	st->rtt_last = rtt;
	if (st->rtt_ewma == HG_RTT_NONE) {
		st->rtt_ewma = rtt;
	} else {
		int64_t diff = (int64_t)rtt - (int64_t)st->rtt_ewma;
		st->rtt_ewma = (uint32_t)((int64_t)st->rtt_ewma + diff / (1 << EWMA_SHIFT));
	}
	memcpy(st->scratch, st->rtt_ring, st->n_rtt * sizeof(uint32_t));
	st->rtt_median = prober_median_u32(st->scratch, st->n_rtt);
}

static uint16_t sat_inc(uint16_t v)
{
	return v == UINT16_MAX ? v : (uint16_t)(v + 1);
}

bool prober_state_record(prober_state_t *st, const prober_result_t *r, uint16_t rise, uint16_t fall,
                         uint16_t down_loss_bp, uint64_t now_ms, uint8_t *from)
{
	uint8_t old = st->state;
	rise = rise == 0 ? 1 : rise;
	fall = fall == 0 ? 1 : fall;

	st->probes_total++;
	st->ts_ms = now_ms;
	if (r->ok) {
		st->consec_ok = sat_inc(st->consec_ok);
		st->consec_fail = 0;
		record_window(st, false, false);
		if (r->rtt_us != HG_RTT_NONE) {
			record_rtt(st, r->rtt_us);
		}
		if (r->ttfb_us != HG_RTT_NONE) {
			st->ttfb = r->ttfb_us;
		}
		if (st->state != HG_HEALTH_UP && st->consec_ok >= rise) {
			st->state = HG_HEALTH_UP;
		}
	} else {
		st->probes_failed++;
		st->fail_class = r->fail_class == HG_FAIL_NONE ? HG_FAIL_OTHER : r->fail_class;
		st->consec_fail = sat_inc(st->consec_fail);
		st->consec_ok = 0;
		record_window(st, prober_fail_is_loss(st->fail_class), true);
		if (st->state != HG_HEALTH_DOWN &&
		    (st->consec_fail >= fall || window_down(st, down_loss_bp))) {
			st->state = HG_HEALTH_DOWN;
		}
		/* Down: the figures so far are of a period that ended; while
		 * down, a failure also ends the run of successes that could
		 * bring it up (the next up period starts with that run). */
		if (st->state == HG_HEALTH_DOWN) {
			rtt_reset(st);
		}
	}
	if (from != NULL) {
		*from = old;
	}
	if (st->state != old) {
		st->changed_ms = now_ms;
		return true;
	}
	return false;
}

void prober_state_measure(const prober_state_t *st, hg_rec_measure_t *out)
{
	memset(out, 0, sizeof(*out));
	out->layout = HG_REC_LAYOUT;
	out->state = st->state;
	out->fail_class = st->fail_class;
	out->ts_ms = st->ts_ms;
	out->changed_ms = st->changed_ms;
	/* A down record carries no RTT, even while a run of successes is on
	 * its way to `rise`: those become figures when the endpoint is up. */
	bool down = st->state == HG_HEALTH_DOWN;
	out->rtt_last_us = down ? HG_RTT_NONE : st->rtt_last;
	out->rtt_ewma_us = down ? HG_RTT_NONE : st->rtt_ewma;
	out->rtt_median_us = down ? HG_RTT_NONE : st->rtt_median;
	out->ttfb_us = down ? HG_RTT_NONE : st->ttfb;
	out->loss_bp =
	        st->n_loss == 0
	                ? 0
	                : (uint16_t)(((uint32_t)st->lost * 10000u + st->n_loss / 2) / st->n_loss);
	out->window = st->n_loss;
	out->consec_ok = st->consec_ok;
	out->consec_fail = st->consec_fail;
	out->probes_total = st->probes_total;
	out->probes_failed = st->probes_failed;
	out->seq = 0;
}

const char *prober_fail_name(uint8_t fail_class)
{
	const char *s = schema_name(&schema_fail_classes, fail_class);
	return s != NULL ? s : schema_name(&schema_fail_classes, HG_FAIL_OTHER);
}

const char *prober_health_name(uint8_t state)
{
	const char *s = schema_name(&schema_healths, state);
	return s != NULL ? s : schema_name(&schema_healths, HG_HEALTH_UNKNOWN);
}
