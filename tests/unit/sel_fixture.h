/*  SPDX-License-Identifier: GPL-3.0-or-later */
/*!
 * \file
 * \brief Test helpers: build policy_t models by hand (no YAML, no LMDB) with
 *        synthetic measurements and overrides, encode views, format answers.
 *
 * Ownership: everything hangs off the fx_t and is freed by fx_free(); blobs
 * returned by fx_build() are malloc()ed and freed by the caller.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "policy.h"
#include "sel.h"
#include "view_build.h"

#define FX_EP_MAX     80
#define FX_PROBER_MAX 40
#define FX_POOL_MAX   20
#define FX_NAME_MAX   8

typedef struct {
	policy_t p;
	hg_rec_measure_t meas[FX_EP_MAX][FX_PROBER_MAX];
	bool has[FX_EP_MAX][FX_PROBER_MAX];
	uint8_t admin[FX_EP_MAX];
	view_inputs_t in;
} fx_t;

/*! \brief New empty model with the policy defaults (ttl 30/10, quorum 0.5, stale 15s). */
fx_t *fx_new(void);
void fx_free(fx_t *fx);

size_t fx_prober(fx_t *fx, const char *id, double lat, double lon);
/*! \brief Add a pool; following fx_ep() calls add endpoints to it. */
size_t fx_pool(fx_t *fx, const char *id, int32_t priority);
/*! \brief Add an endpoint to the last pool. \a addrs: space-separated v4/v6
 *         addresses; lat/lon NAN for no location. */
size_t fx_ep(fx_t *fx, const char *id, const char *addrs, double lat, double lon, uint32_t weight);
/*! \brief Add a CNAME endpoint ("app.cdn.example.org.") to the last pool. */
size_t fx_ep_cname(fx_t *fx, const char *id, const char *cname);
/*!
 * \brief Add a name. \a pools: space-separated pool ids. \a chain:
 *        space-separated filters: up geofence nearest latency=MS loss=BP
 *        priority weighted sticky shuffle rr first=N.
 *        \a fallback: "all", "none" or a pool id.
 */
size_t fx_name(fx_t *fx, const char *owner, const char *pools, const char *chain,
               const char *fallback);
/*!
 * \brief Add a rule to the name's (first) geofence. \a match: space-separated
 *        kind=v1,v2 (country, continent, subdivision, asn, prefix=10.0.0.0/8);
 *        \a targets: space-separated ep:ID / pool:ID.
 */
void fx_rule(fx_t *fx, size_t name, const char *match, const char *targets, bool strict);
/*! The last rule added to the name's geofence gets `fallback: pool:POOL`. */
void fx_rule_fallback(fx_t *fx, size_t name, const char *pool);

/*! \brief Set one cell. rtt_ms < 0: no RTT. */
void fx_measure(fx_t *fx, size_t ep, size_t pr, uint8_t state, uint64_t ts_ms, double rtt_ms,
                uint16_t loss_bp);
/*! \brief Every endpoint seen up and fresh by every prober; RTT = 0.01 ms per
 *         km of great-circle distance prober↔endpoint (1 ms without location). */
void fx_all_up(fx_t *fx, uint64_t now_ms);

long fx_find_ep(const fx_t *fx, const char *id);
long fx_find_prober(const fx_t *fx, const char *id);

/*! \brief The view and the endpoint set (view_build(), view_set_build(),
 *         set id 7) of name \a name with the fixture's inputs, in one
 *         malloc()ed container that fx_open() opens and fx_parts() splits. */
int fx_build(fx_t *fx, size_t name, uint64_t now_ms, uint8_t **blob, size_t *len);

/*! \brief As fx_build() for any policy and inputs. */
int fx_build_policy(const policy_t *p, size_t name, const view_inputs_t *in, uint64_t now_ms,
                    uint8_t **blob, size_t *len);

/*! \brief Open a container of fx_build(): view_open(), view_set_open(), view_bind(). */
int fx_open(uint8_t *blob, size_t len, view_t *v);

/*! \brief The view and set inside a container (writable, for patches). */
int fx_parts(uint8_t *blob, size_t len, uint8_t **view, size_t *vlen, uint8_t **set, size_t *slen);

/*! \brief Great-circle km between two points (for RTT synthesis). */
double fx_km(double lat1, double lon1, double lat2, double lon2);

/*! \brief Client from presentation address (source prefix = /32 or /128
 *         unless \a source_len > 0). */
sel_client_t fx_client(const char *addr, uint8_t source_len, const geo_info_t *geo);

/*! \brief Answer as text: "1.2.3.4 5.6.7.8", "cname:a.b.", or "" (NODATA). */
const char *fx_answer_text(const sel_answer_t *a, uint16_t qtype, char *buf, size_t len);
/*! \brief Flags as text, e.g. "DEGRADED|FALLBACK". */
const char *fx_flags_text(uint32_t flags, char *buf, size_t len);
