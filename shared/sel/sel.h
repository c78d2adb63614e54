/*  haltgslb — the selection engine (filter chain).
 *  SPDX-License-Identifier: GPL-3.0-or-later
 */
/*!
 * \file
 * \brief One GSLB decision: (view, client, qtype, now) → ordered answer.
 *
 * Called by mod-haltgslb on every query and by `haltgslb-ctl explain`.
 * No malloc, no syscalls, bounded stack; deterministic given the rng state.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "geo.h"
#include "schema.h"
#include "view.h"
#include "view_health.h"

/*! The client the answer is for. */
typedef struct {
	int family; /*!< AF_INET / AF_INET6 */
	uint8_t addr[16];
	uint8_t source_len; /*!< ECS source prefix, or 32/128 for a source address */
	bool from_ecs;
	const geo_info_t *geo; /*!< NULL: no geo data for this client */
} sel_client_t;

/*! Per-thread random state (splitmix64) and round-robin counter. */
typedef struct {
	uint64_t state;
	uint64_t rr;
} sel_rng_t;

void sel_rng_seed(sel_rng_t *rng, uint64_t seed);

enum sel_flags {
	SEL_DEGRADED = 1 << 0,       /*!< up removed endpoints, health unknown, or fallback */
	SEL_FALLBACK = 1 << 1,       /*!< chain left nothing; fallback used */
	SEL_UNKNOWN_HEALTH = 1 << 2, /*!< some candidate had no fresh data */
	SEL_NODATA = 1 << 3,         /*!< answer is empty (fallback none / no family) */
	SEL_CNAME = 1 << 4,          /*!< answer is one CNAME */
	SEL_CLIENT_USED = 1 << 5,    /*!< the answer depends on the client */
};

typedef struct {
	uint8_t n_endpoints; /*!< chosen endpoints in answer order */
	uint8_t endpoints[HG_NAME_EP_MAX];
	uint8_t n_addr;                     /*!< addresses of the queried family */
	const uint8_t *addr[HG_ANSWER_MAX]; /*!< point into the view (4 or 16 bytes) */
	const uint8_t *cname;               /*!< SEL_CNAME: wire name in the view */
	uint8_t cname_len;
	uint32_t ttl;
	uint8_t scope;        /*!< ECS scope prefix length */
	uint8_t client_bits;  /*!< leading bits of the client address the answer
	                                    depends on (scope before the cap to the
	                                    source prefix) */
	uint32_t flags;       /*!< enum sel_flags */
	int vantage;          /*!< prober index used as client vantage, -1 none */
	uint64_t valid_from;  /*!< the answer holds for these times as far as */
	uint64_t valid_until; /*!< measurements age: the set's derived window */
} sel_answer_t;

/* ---- optional trace (explain) ---- */

enum sel_reason {
	SEL_R_KEPT = 0,
	SEL_R_DOWN,
	SEL_R_DRAINED,
	SEL_R_NOT_IN_RULE,
	SEL_R_TOO_SLOW,
	SEL_R_LOSSY,
	SEL_R_LOWER_PRIORITY,
	SEL_R_CUT,
	SEL_R_NO_FAMILY,
	SEL_R_VANTAGE_DOWN, /*!< lowest-latency/max-loss: the client's vantage sees it down */
};

/*! What one step of the chain did. Handed to the trace callback; valid only
 *  during the call. */
typedef struct {
	int filter;   /*!< index in the chain; -1: family pre-filter; -2: fallback */
	uint8_t type; /*!< enum hg_filter_type (0 for pre-filter/fallback) */
	uint8_t n_in, n_out;
	const uint8_t *in, *out; /*!< endpoint indexes */
	const uint8_t *reason;   /*!< reason[i] for endpoint i (all n_endpoints entries) */
	const double *metric;    /*!< metric[i]: distance km / latency ms / loss % / ... or NaN */
	const char *note;        /*!< e.g. "rule 1 matched country ID", may be "" */
} sel_trace_step_t;

typedef struct {
	void (*step)(void *ctx, const sel_trace_step_t *step);
	void *ctx;
} sel_trace_t;

/*!
 * \brief Run the name's chain for a client.
 *
 * \param[in]  view   A view bound to its set (view_lookup(), view_bind()).
 * \param[in]  qtype  1 (A) or 28 (AAAA).
 * \param[in]  now_ms Unix ms (freshness of measurements).
 * \param[in]  trace  NULL, or a callback for every step (explain).
 * \return HG_EOK (answer filled; may be NODATA), HG_EINVAL.
 */
int sel_decide(const view_t *view, const sel_client_t *client, uint16_t qtype, uint64_t now_ms,
               sel_rng_t *rng, sel_answer_t *out, const sel_trace_t *trace);

/*! \brief Name of a filter type ("lowest-latency", the schema's table;
 *         "prefilter" for 0, "unknown" past the table) and of a reason, for
 *         explain. Static strings. */
const char *sel_filter_name(uint8_t type);
const char *sel_reason_name(uint8_t reason);

/* ---- the health step ---- */

/*! An endpoint's health verdict: what the `up` filter decides for it
 *  (view_health.h's rule, which view_derive() stores per set). */
enum sel_health {
	SEL_HEALTH_UP = VIEW_HEALTH_UP,     /*!< at least quorum of the voting probers see it up */
	SEL_HEALTH_DOWN = VIEW_HEALTH_DOWN, /*!< fewer than quorum: `up` removes it */
	SEL_HEALTH_UNKNOWN = VIEW_HEALTH_UNKNOWN, /*!< no prober voted: kept (fail open), counted */
	SEL_HEALTH_DRAINED = VIEW_HEALTH_DRAINED, /*!< admin drain: removed before the chain */
	SEL_HEALTH_FORCED_UP =
	        VIEW_HEALTH_FORCED_UP, /*!< admin force-up: kept whatever the probers say */
};

/*! The verdict and the votes behind it. Voters are the probers whose cell
 *  is fresh (data no older than the view's stale-after, clock skew up to
 *  that window accepted) and past warm-up (state up or down); a fresh
 *  prober still warming up (state unknown) abstains. */
typedef struct {
	uint8_t verdict;   /*!< enum sel_health */
	uint8_t n_voters;  /*!< probers that voted */
	uint8_t n_up;      /*!< voters that see it up */
	uint8_t n_warming; /*!< fresh probers that abstained (warm-up) */
	uint32_t voters;   /*!< bit j: prober j of the set voted (view_set_open(): <= 32 probers) */
	uint32_t quorum_ppm;     /*!< the set's quorum (parts per million) */
	uint32_t stale_after_ms; /*!< the set's stale-after */
} sel_health_t;

_Static_assert(HG_PROBER_MAX <= 32, "sel_health_t.voters has one bit per prober");

/*!
 * \brief The health verdict of endpoint \a ep of \a set at \a now_ms: the
 *        very rule sel_decide()'s `up` filter and pre-filter apply (admin
 *        drain, then force-up, then the quorum of the voting probers, none
 *        voting = unknown), with that set's quorum and stale-after.
 *
 * For tools (status) that must agree with the module: same rule, same
 * inputs (the verdict is the one view_derive() stores). The votes are
 * counted whatever the admin state. No allocation.
 * \return HG_EOK, HG_EINVAL (NULL argument, \a ep out of range).
 */
int sel_health(const view_set_t *set, unsigned ep, uint64_t now_ms, sel_health_t *out);

/*!
 * \brief Whether data stamped \a ts_ms counts as fresh at \a now_ms with
 *        \a stale_after_ms: the freshness rule of every filter (ts 0 is no
 *        data; up to stale-after of clock skew ahead of \a now_ms is
 *        accepted, further is not).
 */
bool sel_fresh(uint64_t ts_ms, uint64_t now_ms, uint32_t stale_after_ms);

/*! \brief "up", "down", "unknown" (the schema's health names), "drained",
 *         "forced-up" (its admin names); "invalid" for other values. Static. */
const char *sel_health_name(uint8_t verdict);
