/*  SPDX-License-Identifier: GPL-3.0-or-later */
#include "prober_pub_diff.h"

/* The smallest RTT move worth publishing from \a last: relative in the
 * middle, with an absolute floor (sub-millisecond jitter on a LAN is
 * noise) and an absolute ceiling (1 ms matters at any distance, as a
 * lowest-latency tolerance is written in ms). */
static uint32_t rtt_threshold(uint32_t last)
{
	uint32_t t = last / PROBER_PUB_RTT_REL_DIV;
	if (t > PROBER_PUB_RTT_ABS_US) {
		t = PROBER_PUB_RTT_ABS_US;
	}
	return t < PROBER_PUB_RTT_FLOOR_US ? PROBER_PUB_RTT_FLOOR_US : t;
}

bool prober_pub_changed(const prober_pub_ref_t *ref, const hg_rec_measure_t *m)
{
	if (!ref->valid || ref->state != m->state || ref->fail_class != m->fail_class ||
	    ref->loss_bp != m->loss_bp) {
		return true;
	}
	uint32_t a = ref->rtt_median_us, b = m->rtt_median_us;
	if (a == b) {
		return false;
	}
	if (a == HG_RTT_NONE || b == HG_RTT_NONE) {
		return true; /* a latency appeared or vanished */
	}
	uint32_t d = a > b ? a - b : b - a;
	return d >= rtt_threshold(a);
}

void prober_pub_ref_set(prober_pub_ref_t *ref, const hg_rec_measure_t *m)
{
	ref->valid = true;
	ref->state = m->state;
	ref->fail_class = m->fail_class;
	ref->loss_bp = m->loss_bp;
	ref->rtt_median_us = m->rtt_median_us;
}
