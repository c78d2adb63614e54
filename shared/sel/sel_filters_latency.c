/*  SPDX-License-Identifier: GPL-3.0-or-later */
/*  Filters that estimate what the client sees from the nearest vantage:
 *  lowest-latency and max-loss. */
#include <math.h>
#include <stdio.h>

#include "sel_internal.h"

/* Fresh probers (at least one fresh cell in this set: derived) by distance
 * to the client, computed once per decision: their closeness and the
 * nearest one (the first in policy order among equals); the full order
 * waits for a decision that needs more than the nearest (sel_vant_order()). */
static void sel_vantages(sel_ctx_t *c)
{
	if (c->vant_done) {
		return;
	}
	c->vant_done = true;
	c->n_vant = 0;
	if (!sel_client_loc(c)) {
		return;
	}
	const view_set_t *s = c->s;
	float best = 0.0f;
	for (uint32_t m = c->d->fresh_probers; m != 0; m &= m - 1) {
		unsigned j = (unsigned)__builtin_ctz(m);
		const hg_view_prober_t *p = &s->prober[j];
		float k = p->x * c->cx + p->y * c->cy + p->z * c->cz;
		c->vkey[j] = k;
		if (c->n_vant == 0 || best < k) {
			best = k;
			c->vant[0] = (uint8_t)j;
		}
		c->n_vant++;
	}
	c->vant_sorted = c->n_vant <= 1;
}

/* Every fresh prober, nearest first: an insertion by closeness, ties in
 * policy order (so vant[0] stays what sel_vantages() chose). */
static void sel_vant_order(sel_ctx_t *c)
{
	unsigned n = 0;
	for (uint32_t m = c->d->fresh_probers; m != 0; m &= m - 1) {
		unsigned j = (unsigned)__builtin_ctz(m);
		float k = c->vkey[j];
		unsigned pos = n;
		while (pos > 0 && c->vkey[c->vant[pos - 1]] < k) {
			c->vant[pos] = c->vant[pos - 1];
			pos--;
		}
		c->vant[pos] = (uint8_t)j;
		n++;
	}
	c->vant_sorted = true;
}

/* Whether prober j's cell of endpoint e speaks for the client: fresh and
 * past warm-up (a warming prober abstains, as in the votes). A down cell
 * always speaks: it says the endpoint is unreachable from there, whatever
 * figures it carries (issue 10: a down or failing cell never ranks). An up
 * cell speaks for latency only with an RTT. */
static inline bool sel_cell_speaks(const sel_ctx_t *c, const hg_view_cell_t *cell, uint8_t e,
                                   unsigned j, bool need_rtt)
{
	if (!sel_fresh_cell(c, e, j)) {
		return false;
	}
	if (cell->state == HG_HEALTH_DOWN) {
		return true;
	}
	return cell->state == HG_HEALTH_UP && (!need_rtt || cell->rtt_us != HG_RTT_NONE);
}

/* The cell of endpoint e from the nearest vantage whose cell speaks for it
 * (sel_cell_speaks()); NULL if none. The caller must treat a down cell as
 * "unreachable from the client's vantage", never read its figures. */
static inline const hg_view_cell_t *sel_vantage_cell(sel_ctx_t *c, uint8_t e, bool need_rtt)
{
	const hg_view_cell_t *row = view_cell(c->s, e, 0);
	unsigned j = c->vant[0];
	if (sel_cell_speaks(c, &row[j], e, j, need_rtt)) {
		return &row[j];
	}
	if (!c->vant_sorted) {
		sel_vant_order(c);
	}
	for (unsigned k = 1; k < c->n_vant; k++) {
		j = c->vant[k];
		if (sel_cell_speaks(c, &row[j], e, j, need_rtt)) {
			return &row[j];
		}
	}
	return NULL;
}

/* Common entry: scope, vantage; false when the filter has nothing to do. */
static bool sel_vantage_ready(sel_ctx_t *c)
{
	if (c->client->geo == NULL || c->n <= 1) {
		return false;
	}
	sel_scope_add(c, c->client->geo->prefix_len);
	sel_vantages(c);
	if (c->n_vant == 0) {
		sel_note(c, c->has_loc ? "no fresh prober: unchanged"
		                       : "client location unknown: unchanged");
		return false;
	}
	return true;
}

static void sel_note_vantage(sel_ctx_t *c, const char *what)
{
	if (c->tracing) {
		const hg_view_prober_t *p = &c->s->prober[c->vant[0]];
		sel_note(c, "vantage %.*s%s", (int)p->id_len,
		         (const char *)c->s->strings + p->id_off, what);
	}
}

/* The vantage note, with how many candidates their vantage saw down. An
 * answer shaped by a partial failure is degraded (degraded-ttl: clients
 * come back soon after the vantage sees the endpoint again), as when `up`
 * drops an endpoint. */
static void sel_note_vdown(sel_ctx_t *c, unsigned n_vdown)
{
	if (n_vdown > 0) {
		c->flags |= SEL_DEGRADED;
	}
	if (c->tracing && n_vdown > 0) {
		char what[48];
		snprintf(what, sizeof(what), ", %u down from the vantage", n_vdown);
		sel_note_vantage(c, what);
	} else {
		sel_note_vantage(c, "");
	}
}

void sel_f_lowest_latency(sel_ctx_t *c, const hg_view_filter_t *f)
{
	if (!sel_vantage_ready(c)) {
		return;
	}
	uint32_t lat[HG_NAME_EP_MAX];
	bool vdown[HG_NAME_EP_MAX];
	unsigned n_vdown = 0;
	uint64_t best = UINT64_MAX;
	for (uint8_t i = 0; i < c->n; i++) {
		uint8_t e = c->list[i];
		const hg_view_cell_t *cell = sel_vantage_cell(c, e, true);
		vdown[i] = cell != NULL && cell->state == HG_HEALTH_DOWN;
		n_vdown += vdown[i];
		lat[i] = cell != NULL && !vdown[i] ? cell->rtt_us : HG_RTT_NONE;
		if (lat[i] != HG_RTT_NONE && lat[i] < best) {
			best = lat[i];
		}
		if (c->tracing) {
			c->metric[e] = lat[i] != HG_RTT_NONE ? lat[i] / 1000.0 : NAN;
		}
	}
	if (best == UINT64_MAX) {
		if (n_vdown > 0) {
			c->flags |= SEL_DEGRADED;
		}
		sel_note_vantage(c, n_vdown > 0
		                            ? ", no latency data (down from the vantage): unchanged"
		                            : ", no latency data: unchanged");
		return;
	}
	uint64_t limit = best + f->arg;
	/* sel_compact() inline, with the sort key (lower latency first: negated
	 * for the descending sort) set only where it is read. */
	uint8_t n = 0;
	for (uint8_t i = 0; i < c->n; i++) {
		uint8_t e = c->list[i];
		if (lat[i] != HG_RTT_NONE && lat[i] <= limit) {
			c->list[n++] = e;
			c->key[e] = -(double)lat[i];
		} else {
			c->reason[e] = vdown[i] ? SEL_R_VANTAGE_DOWN : SEL_R_TOO_SLOW;
			c->mask &= ~(1ull << e);
		}
	}
	c->n = n;
	sel_sort_desc(c);
	sel_note_vdown(c, n_vdown);
}

void sel_f_max_loss(sel_ctx_t *c, const hg_view_filter_t *f)
{
	if (!sel_vantage_ready(c)) {
		return;
	}
	bool keep[HG_NAME_EP_MAX] = { false }, vdown[HG_NAME_EP_MAX] = { false };
	unsigned n_keep = 0, n_vdown = 0;
	for (uint8_t i = 0; i < c->n; i++) {
		uint8_t e = c->list[i];
		const hg_view_cell_t *cell = sel_vantage_cell(c, e, false);
		/* Down from the vantage: every probe lost, whatever loss the cell
		 * still carries. */
		vdown[i] = cell != NULL && cell->state == HG_HEALTH_DOWN;
		keep[i] = cell == NULL || (!vdown[i] && cell->loss_bp <= f->arg);
		n_keep += keep[i];
		n_vdown += vdown[i];
		if (c->tracing) {
			c->metric[e] = vdown[i] ? 100.0 : cell ? cell->loss_bp / 100.0 : NAN;
		}
	}
	if (n_keep == 0) {
		if (n_vdown > 0) {
			c->flags |= SEL_DEGRADED;
		}
		sel_note_vantage(c, ", all lossy: unchanged");
		return;
	}
	/* sel_compact() inline: the reason says which of the two it was. */
	uint8_t n = 0;
	for (uint8_t i = 0; i < c->n; i++) {
		uint8_t e = c->list[i];
		if (keep[i]) {
			c->list[n++] = e;
		} else {
			c->reason[e] = vdown[i] ? SEL_R_VANTAGE_DOWN : SEL_R_LOSSY;
			c->mask &= ~(1ull << e);
		}
	}
	c->n = n;
	sel_note_vdown(c, n_vdown);
}
