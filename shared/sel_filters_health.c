/*  SPDX-License-Identifier: GPL-3.0-or-later */
/*  `up`: quorum of the fresh probers, admin force-up wins. */
#include <math.h>

#include "sel_internal.h"

void sel_f_up(sel_ctx_t *c)
{
	const view_t *v = c->v;
	unsigned n_pr = v->hdr->n_probers, n_unknown = 0, n_down = 0;
	uint64_t quorum = v->hdr->quorum_ppm;
	bool keep[HG_NAME_EP_MAX] = { false };
	for (uint8_t i = 0; i < c->n; i++) {
		uint8_t e = c->list[i];
		keep[i] = true;
		if (v->ep[e].admin == HG_ADMIN_FORCE_UP) {
			c->metric[e] = NAN;
			continue;
		}
		unsigned n_fresh = 0, n_up = 0;
		const hg_view_cell_t *row = view_cell(v, e, 0);
		for (unsigned j = 0; j < n_pr; j++) {
			/* A prober still in warm-up (state unknown: fewer than rise/fall
			 * results yet) has no opinion: it abstains rather than vote down,
			 * so a restarted prober fleet cannot empty every chain. */
			if (row[j].state != HG_HEALTH_UNKNOWN && sel_cell_fresh(c, &row[j])) {
				n_fresh++;
				n_up += row[j].state == HG_HEALTH_UP;
			}
		}
		if (n_fresh == 0) {
			n_unknown++;
			c->metric[e] = NAN;
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
