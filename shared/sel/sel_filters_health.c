/*  SPDX-License-Identifier: GPL-3.0-or-later */
/*  The health step: `up` (quorum of the fresh probers, admin force-up wins)
 *  from the verdicts view_derive() computed for the set, and sel_health(),
 *  the same verdict for one endpoint with its votes, for tools. */
#include <math.h>

#include "errors.h"
#include "sel_internal.h"

/* explain's metric for `up`: the share of the voters that see it up. The
 * votes are counted from the cells only when tracing (the decision itself
 * reads the derived verdicts). */
static void sel_up_metric(sel_ctx_t *c, uint8_t e)
{
	const view_set_t *s = c->s;
	if (s->ep[e].admin == HG_ADMIN_FORCE_UP) {
		c->metric[e] = NAN;
		return;
	}
	unsigned n_voters, n_up;
	view_votes(view_cell(s, e, 0), c->fresh_any ? s->hdr->n_probers : 0, c->fresh_lo,
	           c->fresh_span, &n_voters, &n_up, NULL, NULL);
	c->metric[e] = n_voters > 0 ? 100.0 * n_up / n_voters : NAN;
}

void sel_f_up(sel_ctx_t *c)
{
	uint64_t down = c->d->down, unknown = c->d->unknown;
	unsigned n_unknown = 0, n_down = 0;
	/* Drained endpoints never get here (sel_prefilter() removed them);
	 * forced-up ones are in neither mask. */
	if (c->tracing) {
		for (uint8_t i = 0; i < c->n; i++) {
			sel_up_metric(c, c->list[i]);
		}
	}
	if (c->asc) {
		/* Masks: independent of the number of endpoints but for the
		 * list rebuilt when something is down. */
		n_down = (unsigned)__builtin_popcountll(c->mask & down);
		n_unknown = (unsigned)__builtin_popcountll(c->mask & ~down & unknown);
		sel_keep_mask(c, ~down, SEL_R_DOWN);
	} else {
		uint8_t n = 0;
		for (uint8_t i = 0; i < c->n; i++) {
			uint8_t e = c->list[i];
			uint64_t bit = 1ull << e;
			if (down & bit) {
				n_down++;
				c->reason[e] = SEL_R_DOWN;
				c->mask &= ~bit;
				continue;
			}
			n_unknown += (unknown & bit) != 0;
			c->list[n++] = e;
		}
		c->n = n;
	}
	if (n_unknown > 0) {
		c->flags |= SEL_UNKNOWN_HEALTH | SEL_DEGRADED;
	}
	if (n_down > 0) {
		c->flags |= SEL_DEGRADED;
	}
	sel_note(c, "quorum %.0f%%, %u down, %u unknown", c->s->hdr->quorum_ppm / 10000.0, n_down,
	         n_unknown);
}

int sel_health(const view_set_t *set, unsigned ep, uint64_t now_ms, sel_health_t *out)
{
	if (set == NULL || set->hdr == NULL || out == NULL || ep >= set->hdr->n_endpoints) {
		return HG_EINVAL;
	}
	uint64_t lo, hi;
	view_window(now_ms, set->hdr->stale_after_ms, &lo, &hi);
	unsigned n_voters, n_up, n_warming;
	uint32_t voters;
	view_votes(view_cell(set, ep, 0), lo <= hi ? set->hdr->n_probers : 0, lo, hi - lo,
	           &n_voters, &n_up, &n_warming, &voters);
	out->verdict = view_verdict(set->ep[ep].admin, set->hdr->quorum_ppm, n_up, n_voters);
	out->n_voters = (uint8_t)n_voters;
	out->n_up = (uint8_t)n_up;
	out->n_warming = (uint8_t)n_warming;
	out->voters = voters;
	out->quorum_ppm = set->hdr->quorum_ppm;
	out->stale_after_ms = set->hdr->stale_after_ms;
	return HG_EOK;
}

bool sel_fresh(uint64_t ts_ms, uint64_t now_ms, uint32_t stale_after_ms)
{
	uint64_t lo, hi;
	view_window(now_ms, stale_after_ms, &lo, &hi);
	return ts_ms >= lo && ts_ms <= hi;
}
