/*  SPDX-License-Identifier: GPL-3.0-or-later */
/*!
 * \file
 * \brief RRsets from a selection-engine answer, built in the packet arena.
 */
#pragma once

#include <stdbool.h>

#include <knot/module.h>

#include "sel.h"

/*!
 * \brief Build the answer RRset for \a owner: the A/AAAA addresses of \a ans
 *        (type \a qtype) or, with SEL_CNAME, the CNAME.
 *
 * The rdata comes from \a pkt's arena (pkt->mm) and lives as long as the
 * packet; \a ans may point into an LMDB page, nothing points back into it.
 * The owner is \a owner itself, not a copy: pass the query's QNAME, which
 * lives as long as the query, and put the RRset without KNOT_PF_FREE.
 *
 * \param[in] canonical  false: keep the engine's order (the order is the
 *                       answer, e.g. weighted-shuffle); true: canonical
 *                       rdata order, as signing requires.
 * \param[out] rr        Filled in (a caller's struct: knot_pkt_put() copies it).
 * \return KNOT_EOK, KNOT_ENOMEM, KNOT_EINVAL (empty answer).
 */
int module_answer_rrset(knot_pkt_t *pkt, const knot_dname_t *owner, const sel_answer_t *ans,
                        uint16_t qtype, bool canonical, knot_rrset_t *rr);
