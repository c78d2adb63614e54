/*  haltgslb — per-thread memo of decisions.
 *  SPDX-License-Identifier: GPL-3.0-or-later
 */
/*!
 * \file
 * \brief sel_decide()'s answers kept for the queries that must get the
 *        same one, so the module skips the geo lookup and the chain.
 *
 * A decision of a chain without per-query draws (no weighted, weighted-
 * shuffle or round-robin: HG_VIEW_RANDOM clear) is a function of the view
 * and set bytes, the qtype, the client address and the set's derived
 * state. The answer tells which leading bits of the address it depended
 * on (client_bits: every filter that looked at the client added the
 * prefix its input came from: the mmdb network, a rule's prefix, the
 * sticky /24 or /56) and for which times the derived state holds
 * (valid_from .. valid_until). So another client sharing those bits, in
 * the same snapshot, inside that window, gets the same answer; only the
 * ECS scope is capped again to its own source prefix. A snapshot id keys
 * the entry, as in view_lookup.h: the answer's pointers point into that
 * snapshot's set.
 *
 * Read side: no allocation, no syscalls. One per worker thread, zero-filled
 * is empty.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "sel.h"

/*! Entries of a sel_memo_t: one per (view, qtype), direct-mapped. */
#define SEL_MEMO_SLOTS 256

typedef struct {
	const void *view;  /*!< the view's header: the name in its snapshot; NULL empty */
	const void *store; /*!< with txnid: the snapshot */
	size_t txnid;
	uint16_t qtype;
	uint8_t family;      /*!< AF_INET / AF_INET6 */
	uint8_t net[16];     /*!< client address masked to answer.client_bits */
	sel_answer_t answer; /*!< addr[] filled up to n_addr */
} sel_memo_slot_t;

typedef struct {
	sel_memo_slot_t slot[SEL_MEMO_SLOTS];
	uint64_t hits, misses;
} sel_memo_t;

/*! \brief Whether decisions of \a view may be memoized (no per-query draw). */
static inline bool sel_memo_allowed(const view_t *view)
{
	return !(view->hdr->flags & HG_VIEW_RANDOM);
}

/*!
 * \brief The memoized answer for \a client (family, address, source_len;
 *        its geo is not read) to a \a qtype query of \a view in snapshot
 *        (\a store, \a txnid) at \a now_ms, into \a out, with its scope
 *        capped to the client's source prefix.
 * \return true on a hit.
 */
bool sel_memo_find(sel_memo_t *memo, const void *store, size_t txnid, const view_t *view,
                   const sel_client_t *client, uint16_t qtype, uint64_t now_ms, sel_answer_t *out);

/*!
 * \brief Keep \a answer, which sel_decide() gave \a client for \a view in
 *        snapshot (\a store, \a txnid): the caller asserts the chain has no
 *        per-query draw (sel_memo_allowed()) and that the client's geo data
 *        was the mmdb's answer for its address (not missing by an error).
 */
void sel_memo_store(sel_memo_t *memo, const void *store, size_t txnid, const view_t *view,
                    const sel_client_t *client, uint16_t qtype, const sel_answer_t *answer);
