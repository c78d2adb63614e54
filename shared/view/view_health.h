/*  SPDX-License-Identifier: GPL-3.0-or-later */
/*!
 * \file
 * \brief The freshness and health rules, inline: view_derive() (writers
 *        and the query path's recomputation), sel_decide()'s `up` and
 *        sel_health() (status) all count and decide with these, so they
 *        cannot disagree.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "schema.h"

/*! An endpoint's health verdict (sel.h exposes it as enum sel_health). */
enum view_health {
	VIEW_HEALTH_UP = 0,    /*!< at least quorum of the voting probers see it up */
	VIEW_HEALTH_DOWN,      /*!< fewer than quorum */
	VIEW_HEALTH_UNKNOWN,   /*!< no prober voted */
	VIEW_HEALTH_DRAINED,   /*!< admin drain */
	VIEW_HEALTH_FORCED_UP, /*!< admin force-up */
};

/*! The inclusive range [*lo, *hi] of fresh timestamps at \a now for
 *  \a stale ms (*lo >= 1: ts 0 is no data); *lo > *hi: nothing is fresh.
 *  Prober clocks run a little ahead sometimes: skew up to the staleness
 *  window is accepted, absurd future stamps are not. */
static inline void view_window(uint64_t now, uint64_t stale, uint64_t *lo, uint64_t *hi)
{
	uint64_t l = now > stale ? now - stale : 0;
	*lo = l > 0 ? l : 1;
	*hi = now > UINT64_MAX - stale ? UINT64_MAX : now + stale;
}

/*! The votes of one endpoint's row of cells. A cell votes when fresh
 *  (ts - lo <= span) and past warm-up: a prober still warming up (state
 *  unknown: fewer than rise/fall results yet) abstains rather than vote
 *  down, so a restarted prober fleet cannot empty every chain. \a n_scan is
 *  n_probers, or 0 when the window is empty. The optional \a n_warming and
 *  \a voters (bit j: prober j voted) may be NULL; inlined, the NULL tests
 *  fold away. */
static inline void view_votes(const hg_view_cell_t *row, unsigned n_scan, uint64_t lo,
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

/*! The verdict (enum view_health): admin overrides win (drain, then
 *  force-up), no vote is unknown, else the quorum. */
static inline uint8_t view_verdict(uint8_t admin, uint64_t quorum_ppm, unsigned n_up,
                                   unsigned n_voters)
{
	if (admin == HG_ADMIN_DRAIN) {
		return VIEW_HEALTH_DRAINED;
	}
	if (admin == HG_ADMIN_FORCE_UP) {
		return VIEW_HEALTH_FORCED_UP;
	}
	if (n_voters == 0) {
		return VIEW_HEALTH_UNKNOWN;
	}
	/* Integer form of n_up / n_voters >= quorum: exactly at quorum is up. */
	return (uint64_t)n_up * 1000000u >= quorum_ppm * n_voters ? VIEW_HEALTH_UP
	                                                          : VIEW_HEALTH_DOWN;
}
