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

/*! The client the answer is for. */
typedef struct {
	int family;                    /*!< AF_INET / AF_INET6 */
	uint8_t addr[16];
	uint8_t source_len;            /*!< ECS source prefix, or 32/128 for a source address */
	bool from_ecs;
	const geo_info_t *geo;         /*!< NULL: no geo data for this client */
} sel_client_t;

/*! Per-thread random state (splitmix64) and round-robin counter. */
typedef struct {
	uint64_t state;
	uint64_t rr;
} sel_rng_t;

void sel_rng_seed(sel_rng_t *rng, uint64_t seed);

enum sel_flags {
	SEL_DEGRADED       = 1 << 0,   /*!< up removed endpoints, health unknown, or fallback */
	SEL_FALLBACK       = 1 << 1,   /*!< chain left nothing; fallback used */
	SEL_UNKNOWN_HEALTH = 1 << 2,   /*!< some candidate had no fresh data */
	SEL_NODATA         = 1 << 3,   /*!< answer is empty (fallback none / no family) */
	SEL_CNAME          = 1 << 4,   /*!< answer is one CNAME */
	SEL_CLIENT_USED    = 1 << 5,   /*!< the answer depends on the client */
};

typedef struct {
	uint8_t n_endpoints;           /*!< chosen endpoints in answer order */
	uint8_t endpoints[HG_NAME_EP_MAX];
	uint8_t n_addr;                /*!< addresses of the queried family */
	const uint8_t *addr[HG_ANSWER_MAX]; /*!< point into the view (4 or 16 bytes) */
	const uint8_t *cname;          /*!< SEL_CNAME: wire name in the view */
	uint8_t cname_len;
	uint32_t ttl;
	uint8_t scope;                 /*!< ECS scope prefix length */
	uint32_t flags;                /*!< enum sel_flags */
	int vantage;                   /*!< prober index used as client vantage, -1 none */
} sel_answer_t;

/* ---- optional trace (explain) ---- */

enum sel_reason {
	SEL_R_KEPT = 0, SEL_R_DOWN, SEL_R_DRAINED, SEL_R_NOT_IN_RULE, SEL_R_TOO_SLOW,
	SEL_R_LOSSY, SEL_R_LOWER_PRIORITY, SEL_R_CUT, SEL_R_NO_FAMILY,
};

/*! What one step of the chain did. Handed to the trace callback; valid only
 *  during the call. */
typedef struct {
	int filter;                    /*!< index in the chain; -1: family pre-filter; -2: fallback */
	uint8_t type;                  /*!< enum hg_filter_type (0 for pre-filter/fallback) */
	uint8_t n_in, n_out;
	const uint8_t *in, *out;       /*!< endpoint indexes */
	const uint8_t *reason;         /*!< reason[i] for endpoint i (all n_endpoints entries) */
	const double *metric;          /*!< metric[i]: distance km / latency ms / loss % / ... or NaN */
	const char *note;              /*!< e.g. "rule 1 matched country ID", may be "" */
} sel_trace_step_t;

typedef struct {
	void (*step)(void *ctx, const sel_trace_step_t *step);
	void *ctx;
} sel_trace_t;

/*!
 * \brief Run the name's chain for a client.
 *
 * \param[in]  view   Opened view.
 * \param[in]  qtype  1 (A) or 28 (AAAA).
 * \param[in]  now_ms Unix ms (freshness of measurements).
 * \param[in]  trace  NULL, or a callback for every step (explain).
 * \return HG_EOK (answer filled; may be NODATA), HG_EINVAL.
 */
int sel_decide(const view_t *view, const sel_client_t *client, uint16_t qtype,
               uint64_t now_ms, sel_rng_t *rng, sel_answer_t *out, const sel_trace_t *trace);

/*! \brief Name of a filter type ("lowest-latency"), a reason, for explain. */
const char *sel_filter_name(uint8_t type);
const char *sel_reason_name(uint8_t reason);
