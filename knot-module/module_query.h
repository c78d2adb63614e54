/*  SPDX-License-Identifier: GPL-3.0-or-later */
/*!
 * \file
 * \brief The per-query work of mod-haltgslb: view lookup, selection, answer.
 *
 * No malloc (RRsets come from the packet arena), no syscalls besides the
 * vDSO clock, no locks besides LMDB's reader slot (and, for signed zones,
 * the signature cache's read lock).
 */
#pragma once

#include <knot/module.h>

/*!
 * \brief PREANSWER hook: answer A/AAAA of a GSLB name from the database.
 *
 * Returns \a state unchanged (pass-through to the zone) for other names and
 * types and whenever the database cannot answer; HIT (or FOLLOW for an
 * in-zone CNAME target) with AA set when it answered.
 */
knotd_in_state_t module_query_preanswer(knotd_in_state_t state, knot_pkt_t *pkt,
                                        knotd_qdata_t *qdata, knotd_mod_t *mod);

/*!
 * \brief AUTHORITY hook: completes a NODATA decided in PREANSWER with the
 *        zone's SOA (the zone itself would have answered with its static
 *        fallback records).
 */
knotd_in_state_t module_query_authority(knotd_in_state_t state, knot_pkt_t *pkt,
                                        knotd_qdata_t *qdata, knotd_mod_t *mod);
