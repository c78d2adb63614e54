/*  SPDX-License-Identifier: GPL-3.0-or-later */
/*  The health step: `up` (quorum of the fresh probers, admin force-up wins)
 *  and sel_health(), the same verdict for one endpoint, for tools. */
#include <math.h>

#include "errors.h"
#include "sel_internal.h"

void sel_f_up(sel_ctx_t *c)
{
	const view_t *v = c->v;
	unsigned n_pr = v->hdr->n_probers, n_unknown = 0, n_down = 0;
	uint64_t quorum = v->hdr->quorum_ppm;
	/* sel_cell_fresh_in(), with the window in registers. */
	uint64_t lo = c->fresh_lo, span = c->fresh_span;
	unsigned n_scan = c->fresh_any ? n_pr : 0;
	bool keep[HG_NAME_EP_MAX] = { false };
	for (uint8_t i = 0; i < c->n; i++) {
		uint8_t e = c->list[i], admin = v->ep[e].admin;
		unsigned n_voters = 0, n_up = 0;
		if (admin != HG_ADMIN_FORCE_UP) {   /* forced up needs no votes */
			sel_votes(view_cell(v, e, 0), n_scan, lo, span, &n_voters, &n_up, NULL, NULL);
		}
		uint8_t h = sel_verdict(admin, quorum, n_up, n_voters);
		/* Drained endpoints never get here (sel_prefilter() removed them). */
		switch (h) {
		case SEL_HEALTH_DOWN:
			n_down++;
			break;
		case SEL_HEALTH_DRAINED:
			break;
		case SEL_HEALTH_UNKNOWN:
			n_unknown++;
			keep[i] = true;
			break;
		default:
			keep[i] = true;
			break;
		}
		if (c->tracing) {
			c->metric[e] = h == SEL_HEALTH_UP || h == SEL_HEALTH_DOWN
			               ? 100.0 * n_up / n_voters : NAN;
		}
	}
	sel_compact(c, keep, SEL_R_DOWN);
	if (n_unknown > 0) {
		c->flags |= SEL_UNKNOWN_HEALTH | SEL_DEGRADED;
	}
	if (n_down > 0) {
		c->flags |= SEL_DEGRADED;
	}
	sel_note(c, "quorum %.0f%%, %u down, %u unknown", quorum / 10000.0, n_down, n_unknown);
}

int sel_health(const view_t *view, unsigned ep, uint64_t now_ms, sel_health_t *out)
{
	if (view == NULL || view->hdr == NULL || out == NULL || ep >= view->hdr->n_endpoints) {
		return HG_EINVAL;
	}
	uint64_t lo, hi;
	sel_window(now_ms, view->hdr->stale_after_ms, &lo, &hi);
	unsigned n_voters, n_up, n_warming;
	uint32_t voters;
	sel_votes(view_cell(view, ep, 0), lo <= hi ? view->hdr->n_probers : 0, lo, hi - lo,
	          &n_voters, &n_up, &n_warming, &voters);
	out->verdict = sel_verdict(view->ep[ep].admin, view->hdr->quorum_ppm, n_up, n_voters);
	out->n_voters = (uint8_t)n_voters;
	out->n_up = (uint8_t)n_up;
	out->n_warming = (uint8_t)n_warming;
	out->voters = voters;
	out->quorum_ppm = view->hdr->quorum_ppm;
	out->stale_after_ms = view->hdr->stale_after_ms;
	return HG_EOK;
}

bool sel_fresh(uint64_t ts_ms, uint64_t now_ms, uint32_t stale_after_ms)
{
	uint64_t lo, hi;
	sel_window(now_ms, stale_after_ms, &lo, &hi);
	return ts_ms >= lo && ts_ms <= hi;
}
