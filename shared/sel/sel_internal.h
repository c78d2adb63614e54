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
	const view_set_t *s; /*!< &v->s */
	const sel_client_t *client;
	uint64_t now_ms;
	/* The set's derived state at now_ms: the stored one while its window
	 * holds, else computed into `state` (view_state()). */
	const hg_set_derived_t *d;
	const hg_u64_t *fresh;         /*!< fresh[j]: endpoints whose cell of prober j is fresh */
	uint64_t fresh_lo, fresh_span; /*!< freshness window, for trace-only vote counts */
	bool fresh_any;
	sel_rng_t *rng;
	bool v6; /*!< AAAA query */
	bool tracing;

	uint8_t n; /*!< candidates */
	uint8_t list[HG_NAME_EP_MAX];
	/*! The candidates as a bitmask. While `asc` holds, list[] is exactly
	 *  mask's bits in ascending order (the prefilter's order, kept by the
	 *  filters that only remove: up, geofence, max-loss), so those filters
	 *  work on masks instead of walking the list (sel_keep_mask()). Any
	 *  filter that reorders clears `asc` (sel_run_filter()). */
	uint64_t mask;
	bool asc;

	/*! The strict geofence rule that matched the client (NULL: none): if
	 *  the chain leaves nothing, its own fallback answers, never the
	 *  name's (sel_fallback()). fence_rule: its number in the filter, for
	 *  explain. */
	const hg_view_rule_t *fence;
	uint8_t fence_rule;

	uint8_t scope; /*!< max scope contribution (before the source cap) */
	bool client_used;
	uint32_t flags; /*!< enum sel_flags */

	/* Client location and vantage order: computed at most once. */
	bool loc_done, has_loc;
	float cx, cy, cz;
	bool vant_done;
	/*! vant[] is fully ordered; until then only vant[0] (the nearest,
	 *  the first in policy order among equals) is: most decisions need no
	 *  other vantage, so the order of the rest is built on first need. */
	bool vant_sorted;
	uint8_t n_vant;
	uint8_t vant[HG_PROBER_MAX]; /*!< fresh probers, nearest to the client first */
	float vkey[HG_PROBER_MAX];   /*!< closeness of prober j to the client (larger: nearer) */

	double key[HG_NAME_EP_MAX]; /*!< per-endpoint sort key scratch */
	/*! When the next filter is `first: N` (and no trace shows the order of
	 *  what it cuts): only the first N of a sort matter, so sel_sort_desc()
	 *  selects them instead of sorting everything. 0: sort all. */
	uint8_t sort_limit;

	/* Trace (explain) buffers; only meaningful when tracing. */
	uint8_t reason[HG_NAME_EP_MAX];
	double metric[HG_NAME_EP_MAX];
	char note[128];
	view_state_t state; /*!< derived state computed per query (window expired) */
} sel_ctx_t;

/* sel_rng.c */
uint64_t sel_rng_next(sel_rng_t *rng);
/*! splitmix64's finalizer; inline: sticky calls it once per endpoint. */
static inline uint64_t sel_mix64(uint64_t x)
{
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}
/*! Uniform integer in [0, bound), bound > 0. */
uint64_t sel_rng_below(sel_rng_t *rng, uint64_t bound);

/* sel_scope.c */
void sel_scope_add(sel_ctx_t *c, unsigned len);
/*! Prefix match of the client address against a match value (family 4/6). */
bool sel_prefix_match(const sel_client_t *cl, const hg_view_match_t *m, unsigned *scope);
/*! Keep only list entries whose keep[] flag is set, marking the others with \a reason. */
void sel_compact(sel_ctx_t *c, const bool *keep, uint8_t reason);
/*! With c->asc: keep only the candidates in \a keep (a bitmask of
 *  endpoints), marking the others with \a reason; the list stays in
 *  ascending order. */
void sel_keep_mask(sel_ctx_t *c, uint64_t keep, uint8_t reason);
/*! Stable sort of the candidates by key[] descending (only the first
 *  c->sort_limit positions, when set: they are what a full sort gives). */
void sel_sort_desc(sel_ctx_t *c);
/*! printf into the trace note (no-op unless tracing). */
void sel_note(sel_ctx_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*! Whether the cell of endpoint \a e by prober \a j is fresh at now_ms
 *  (view_health.h's window, as derived for this decision). */
static inline bool sel_fresh_cell(const sel_ctx_t *c, unsigned e, unsigned j)
{
	return (c->fresh[j].v >> e) & 1;
}

/*! The candidates as an endpoint bitmask. */
static inline uint64_t sel_list_mask(const sel_ctx_t *c)
{
	uint64_t m = 0;
	for (uint8_t i = 0; i < c->n; i++) {
		m |= 1ull << c->list[i];
	}
	return m;
}

/* sel_filters_health.c: the health step, from the set's derived verdicts
 * (view_derive(): the rule of view_health.h). */
void sel_f_up(sel_ctx_t *c);

/* sel_filters_geo.c */
bool sel_client_loc(sel_ctx_t *c);
void sel_f_geofence(sel_ctx_t *c, const hg_view_filter_t *f);
/*! The chain emptied before geofence \a f ran: whether its rule for this
 *  client is strict (sets c->fence), so the fallback holds the fence too
 *  (the client's scope grows as if the filter had run). */
void sel_fence_probe(sel_ctx_t *c, const hg_view_filter_t *f);
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
