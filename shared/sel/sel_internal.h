/*  SPDX-License-Identifier: GPL-3.0-or-later */
/*!
 * \file
 * \brief Private state of one decision, shared by the sel_*.c files.
 *
 * Everything lives on sel_decide()'s stack (about 1.5 KB): no allocation.
 * The candidate list holds endpoint indexes in answer order; each filter
 * rewrites it in place.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "sel.h"

typedef struct {
	const view_t *v;
	const sel_client_t *client;
	uint64_t now_ms;
	uint64_t fresh_lo, fresh_hi;    /*!< sel_cell_fresh_in() window, set once per decision */
	uint64_t fresh_span;            /*!< fresh_hi - fresh_lo, when fresh_any */
	bool fresh_any;                 /*!< window not empty (fresh_lo <= fresh_hi) */
	sel_rng_t *rng;
	bool v6;                        /*!< AAAA query */
	bool tracing;

	uint8_t n;                      /*!< candidates */
	uint8_t list[HG_NAME_EP_MAX];

	uint8_t scope;                  /*!< max scope contribution (before the source cap) */
	bool client_used;
	uint32_t flags;                 /*!< enum sel_flags */

	/* Client location and vantage order: computed at most once. */
	bool loc_done, has_loc;
	float cx, cy, cz;
	bool vant_done;
	uint8_t n_vant;
	uint8_t vant[HG_PROBER_MAX];    /*!< fresh probers, nearest to the client first */

	double key[HG_NAME_EP_MAX];     /*!< per-endpoint sort key scratch */

	/* Trace (explain) buffers; only meaningful when tracing. */
	uint8_t reason[HG_NAME_EP_MAX];
	double metric[HG_NAME_EP_MAX];
	char note[128];
} sel_ctx_t;

/* sel_rng.c */
uint64_t sel_rng_next(sel_rng_t *rng);
uint64_t sel_mix64(uint64_t x);
/*! Uniform integer in [0, bound), bound > 0. */
uint64_t sel_rng_below(sel_rng_t *rng, uint64_t bound);

/* sel_scope.c */
void sel_scope_add(sel_ctx_t *c, unsigned len);
/*! Prefix match of the client address against a match value (family 4/6). */
bool sel_prefix_match(const sel_client_t *cl, const hg_view_match_t *m, unsigned *scope);
/*! Keep only list entries whose keep[] flag is set, marking the others with \a reason. */
void sel_compact(sel_ctx_t *c, const bool *keep, uint8_t reason);
/*! Stable sort of the candidates by key[] descending. */
void sel_sort_desc(sel_ctx_t *c);
/*! printf into the trace note (no-op unless tracing). */
void sel_note(sel_ctx_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*! A cell counts when it has data no older than stale-after. Prober clocks
 *  run a little ahead sometimes: skew up to the staleness window is
 *  accepted, absurd future stamps are not. That is ts != 0 and
 *  |ts - now| <= stale, precomputed by sel_fresh_window() as the inclusive
 *  range [fresh_lo, fresh_hi] (fresh_lo >= 1), tested as one unsigned
 *  compare (ts - lo <= hi - lo). Only for c->fresh_any: an empty window has
 *  no fresh cell, callers test that once instead of per cell. Inline: the
 *  hottest check. */
static inline bool sel_cell_fresh_in(const sel_ctx_t *c, const hg_view_cell_t *cell)
{
	return cell->ts_ms - c->fresh_lo <= c->fresh_span;
}

/*! The inclusive range [*lo, *hi] of fresh timestamps at \a now for
 *  \a stale ms (*lo >= 1: ts 0 is no data); *lo > *hi: nothing is fresh. */
static inline void sel_window(uint64_t now, uint64_t stale, uint64_t *lo, uint64_t *hi)
{
	uint64_t l = now > stale ? now - stale : 0;
	*lo = l > 0 ? l : 1;
	*hi = now > UINT64_MAX - stale ? UINT64_MAX : now + stale;
}

/*! Set the window sel_cell_fresh_in() tests at \a now_ms for the view's
 *  \a stale_after_ms (writes c->fresh_*, reads nothing else of \a c). */
static inline void sel_fresh_window(sel_ctx_t *c, uint64_t now_ms, uint64_t stale_after_ms)
{
	uint64_t lo, hi;
	sel_window(now_ms, stale_after_ms, &lo, &hi);
	c->fresh_lo = lo;
	c->fresh_hi = hi;
	c->fresh_any = lo <= hi;
	c->fresh_span = hi - lo;
}

/* sel_filters_health.c: the health step. sel_f_up() and sel_health() both
 * count with sel_votes() and decide with sel_verdict(), so `up`, explain
 * and status cannot disagree. */

/*! The votes of one endpoint's row of cells. A cell votes when fresh
 *  (sel_cell_fresh_in(): ts - lo <= span) and past warm-up: a prober still
 *  warming up (state unknown: fewer than rise/fall results yet) abstains
 *  rather than vote down, so a restarted prober fleet cannot empty every
 *  chain. \a n_scan is n_probers, or 0 when the window is empty. The
 *  optional \a n_warming and \a voters (bit j: prober j voted) may be NULL;
 *  inlined, the NULL tests fold away. */
static inline void sel_votes(const hg_view_cell_t *row, unsigned n_scan, uint64_t lo,
                             uint64_t span, unsigned *n_voters, unsigned *n_up,
                             unsigned *n_warming, uint32_t *voters)
{
	unsigned nv = 0, nu = 0, nw = 0;
	uint32_t mask = 0;
	for (unsigned j = 0; j < n_scan; j++) {
		if (row[j].ts_ms - lo > span) {
			continue;
		}
		uint8_t st = row[j].state;
		nv += st != HG_HEALTH_UNKNOWN;
		nu += st == HG_HEALTH_UP;
		if (n_warming != NULL) {
			nw += st == HG_HEALTH_UNKNOWN;
		}
		if (voters != NULL && st != HG_HEALTH_UNKNOWN) {
			mask |= 1u << j;
		}
	}
	*n_voters = nv;
	*n_up = nu;
	if (n_warming != NULL) {
		*n_warming = nw;
	}
	if (voters != NULL) {
		*voters = mask;
	}
}

/*! The verdict (enum sel_health): admin overrides win (drain, then
 *  force-up), no vote is unknown, else the quorum. */
static inline uint8_t sel_verdict(uint8_t admin, uint64_t quorum_ppm, unsigned n_up,
                                  unsigned n_voters)
{
	if (admin == HG_ADMIN_DRAIN) {
		return SEL_HEALTH_DRAINED;
	}
	if (admin == HG_ADMIN_FORCE_UP) {
		return SEL_HEALTH_FORCED_UP;
	}
	if (n_voters == 0) {
		return SEL_HEALTH_UNKNOWN;
	}
	/* Integer form of n_up / n_voters >= quorum: exactly at quorum is up. */
	return (uint64_t)n_up * 1000000u >= quorum_ppm * n_voters ? SEL_HEALTH_UP
	                                                          : SEL_HEALTH_DOWN;
}

void sel_f_up(sel_ctx_t *c);

/* sel_filters_geo.c */
bool sel_client_loc(sel_ctx_t *c);
void sel_f_geofence(sel_ctx_t *c, const hg_view_filter_t *f);
void sel_f_nearest(sel_ctx_t *c);

/* sel_filters_latency.c */
void sel_f_lowest_latency(sel_ctx_t *c, const hg_view_filter_t *f);
void sel_f_max_loss(sel_ctx_t *c, const hg_view_filter_t *f);

/* sel_filters_order.c */
void sel_f_priority(sel_ctx_t *c);
void sel_f_weighted(sel_ctx_t *c);
void sel_f_sticky(sel_ctx_t *c);
void sel_f_round_robin(sel_ctx_t *c);
void sel_f_first(sel_ctx_t *c, const hg_view_filter_t *f);
