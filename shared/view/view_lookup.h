/*  haltgslb — finding the view of a query name.
 *  SPDX-License-Identifier: GPL-3.0-or-later
 */
/*!
 * \file
 * \brief The one lookup from a query name to its view: what the module runs
 *        per query and what `haltgslb-ctl explain` runs, so the two always
 *        tell the same names apart (GSLB name, not one, policy name without
 *        its view, unreadable view).
 *
 * A per-thread cache answers a name already looked up in the same LMDB
 * snapshot without touching LMDB again. Read side: no allocation, no
 * syscalls, no libknot (names are wire format, at most HG_DNAME_MAX bytes).
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "schema.h"
#include "store.h"
#include "view.h"

/*! What the lookup of a query name found. */
enum view_lookup_kind {
	VIEW_LOOKUP_FOUND = 0,   /*!< a view that view_open() accepted */
	VIEW_LOOKUP_NONE,        /*!< not a GSLB name (in neither views nor names) */
	VIEW_LOOKUP_NO_VIEW,     /*!< a policy name without its view */
	VIEW_LOOKUP_BAD,         /*!< a view that view_open() rejects */
	VIEW_LOOKUP_ERROR,       /*!< LMDB failure or bad arguments (never cached) */
};

/*! Slots of a view_lookup_cache_t (power of two). */
#define VIEW_LOOKUP_SLOTS 16

/*! One name's outcome in one LMDB snapshot. */
typedef struct {
	const store_t *store;          /*!< NULL: empty slot */
	size_t txnid;                  /*!< snapshot (mdb_txn_id) it was read in */
	uint8_t kind;                  /*!< enum view_lookup_kind */
	uint16_t name_len;
	view_t view;                   /*!< VIEW_LOOKUP_FOUND: the opened view */
	uint8_t name[HG_DNAME_MAX];
} view_lookup_slot_t;

/*! Per thread; zero-filled is empty. Not thread-safe. */
typedef struct {
	view_lookup_slot_t slot[VIEW_LOOKUP_SLOTS];
	uint64_t hits;                 /*!< answers from a slot */
	uint64_t misses;               /*!< answers read from LMDB (errors included) */
} view_lookup_cache_t;

/*!
 * \brief Find the view of \a name (wire format, lower-case, as the views
 *        and names DBs key it) in the read txn \a rtxn.
 *
 * Same outcome as store_get(STORE_VIEWS) + view_open(), and store_get(
 * STORE_NAMES) when there is no view; a name this cache already looked up
 * in the same snapshot of the same store is answered from the cache.
 *
 * \param[in]  rtxn  An active read txn (store_rtxn_begin()).
 * \param[out] view  VIEW_LOOKUP_FOUND: the view, pointing into the map (and
 *                   into \a cache): valid until store_rtxn_end() or the
 *                   next call with the same cache.
 * \return enum view_lookup_kind (VIEW_LOOKUP_ERROR: txn not active, empty or
 *         over-long name, or an LMDB failure).
 */
int view_lookup(view_lookup_cache_t *cache, store_rtxn_t *rtxn, const uint8_t *name,
                size_t name_len, const view_t **view);
