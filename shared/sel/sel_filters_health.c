/*  SPDX-License-Identifier: GPL-3.0-or-later */
/*  `up`: quorum of the fresh probers, admin force-up wins. */
#include <math.h>

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
		uint8_t e = c->list[i];
		keep[i] = true;
		if (v->ep[e].admin == HG_ADMIN_FORCE_UP) {
			if (c->tracing) {
				c->metric[e] = NAN;
			}
			continue;
		}
		unsigned n_fresh = 0, n_up = 0;
		const hg_view_cell_t *row = view_cell(v, e, 0);
		for (unsigned j = 0; j < n_scan; j++) {
			/* A prober still in warm-up (state unknown: fewer than rise/fall
			 * results yet) has no opinion: it abstains rather than vote down,
			 * so a restarted prober fleet cannot empty every chain. */
			if (row[j].ts_ms - lo > span) {
				continue;
			}
			uint8_t st = row[j].state;
			n_fresh += st != HG_HEALTH_UNKNOWN;
			n_up += st == HG_HEALTH_UP;
		}
		if (n_fresh == 0) {
			n_unknown++;
			if (c->tracing) {
				c->metric[e] = NAN;
			}
			continue;
		}
		/* Integer form of n_up / n_fresh >= quorum: exactly at quorum is up. */
		keep[i] = (uint64_t)n_up * 1000000u >= quorum * n_fresh;
		n_down += !keep[i];
		if (c->tracing) {
			c->metric[e] = 100.0 * n_up / n_fresh;
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
