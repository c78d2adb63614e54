/*  SPDX-License-Identifier: GPL-3.0-or-later */
/*!
 * \file
 * \brief haltgslb-ctl status: an endpoint's health in every name that uses
 *        it, each computed by the engine's own health step (sel_health())
 *        on the endpoint set of that name's view, so status, explain and the
 *        module agree.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "schema.h"
#include "sel.h"
#include "store.h"

/*! The verdict of one name on one endpoint. */
typedef struct {
	uint8_t owner[HG_DNAME_MAX]; /*!< the name, wire format */
	uint8_t owner_len;
	int err;                /*!< HG_EOK, or why the set gave no verdict */
	sel_health_t h;         /*!< valid when err == HG_EOK */
	uint32_t best_rtt_us;   /*!< lowest median RTT among the voters, HG_RTT_NONE */
	uint16_t worst_loss_bp; /*!< highest loss among the voters */
} status_verdict_t;

/*! The names of the policy with their sets, in key order (status_names_load()). */
typedef struct {
	struct status_name {
		uint8_t owner[HG_DNAME_MAX];
		uint8_t owner_len;
		uint32_t set_id;
	} * v;
	size_t n, cap;
} status_names_t;

/*! \brief Read every valid names record of \a rtxn. \return HG_EOK, HG_ENOMEM
 *         or a store error; free with status_names_free() on any return. */
int status_names_load(store_rtxn_t *rtxn, status_names_t *out);
void status_names_free(status_names_t *names);

/*! An endpoint's verdicts, one per name that lists it (names key order). */
typedef struct {
	status_verdict_t *v; /*!< owned; free with status_ep_free() */
	size_t n, cap;
	bool agree;           /*!< every name has the same verdict */
	bool same_votes;      /*!< every name counts the same votes (n_up, n_voters) */
	uint32_t best_rtt_us; /*!< over every name's voters */
	uint16_t worst_loss_bp;
} status_ep_t;

/*!
 * \brief Collect the verdicts on endpoint \a id at \a now_ms: one per name of
 *        \a names whose set holds it (epsets), from that set.
 *
 * A set that is missing, unreadable or without the endpoint gives entries
 * with err set (HG_ENOENT, HG_ESCHEMA, HG_ECORRUPT), not a failure.
 * \param[out] out  Zeroed first; free it with status_ep_free() on any return.
 * \return HG_EOK, HG_ENOMEM, or a store error.
 */
int status_ep_collect(store_rtxn_t *rtxn, const status_names_t *names, const char *id,
                      uint64_t now_ms, status_ep_t *out);

/*! \brief Free what status_ep_collect() allocated. */
void status_ep_free(status_ep_t *ep);

/*! \brief The word of one name's verdict: sel_health_name(), or "no-view"
 *         when the set gave none. */
const char *status_verdict_word(const status_verdict_t *v);
