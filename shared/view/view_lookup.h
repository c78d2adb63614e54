/*  haltgslb — finding the view (and set) of a query name.
 *  SPDX-License-Identifier: GPL-3.0-or-later
 */
/*!
 * \file
 * \brief The one lookup from a query name to its bound view: what the
 *        module runs per query and what `haltgslb-ctl explain` runs, so the
 *        two always tell the same names apart (GSLB name, not one, policy
 *        name without its view, unreadable view or set).
 *
 * Per snapshot, a name the module does not serve costs one hash and a
 * probe of the name filter (meta["name_filter"]); a GSLB name already
 * looked up by this thread in the same snapshot costs a cache probe and a
 * comparison with the view's owner; each set is validated once per
 * snapshot and thread. Read side: no allocation, no syscalls, no libknot
 * (names are wire format, at most HG_DNAME_MAX bytes).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "schema.h"
#include "store.h"
#include "view.h"

/*! What the lookup of a query name found. */
enum view_lookup_kind {
	VIEW_LOOKUP_FOUND =
	        0,        /*!< a view and its set that view_open/view_set_open/view_bind accept */
	VIEW_LOOKUP_NONE, /*!< not a GSLB name (in neither views nor names) */
	VIEW_LOOKUP_NO_VIEW, /*!< a policy name without its view */
	VIEW_LOOKUP_BAD,     /*!< a view or set that does not open or does not match */
	VIEW_LOOKUP_ERROR,   /*!< LMDB failure or bad arguments (never cached) */
};

/*! Name entries of a view_lookup_cache_t (a power of two), in sets of
 *  VIEW_LOOKUP_WAYS: enough that a few thousand names a thread serves in
 *  turn do not evict each other (2 ways thrashed on cyclic traffic). */
#define VIEW_LOOKUP_SLOTS 8192
#define VIEW_LOOKUP_WAYS  4
/*! Set entries, direct-mapped by set id (a power of two). */
#define VIEW_LOOKUP_SETS  64

/*! One name found in one snapshot. */
typedef struct {
	uint64_t hash;        /*!< hg_name_hash() of the name */
	size_t txnid;         /*!< snapshot (mdb_txn_id) it was read in */
	const store_t *store; /*!< NULL: empty */
	const uint8_t *blob;  /*!< the view's value (validated) */
} view_lookup_slot_t;

/*! One set opened in one snapshot. */
typedef struct {
	const store_t *store; /*!< NULL: empty */
	size_t txnid;
	uint32_t set_id;
	view_set_t set;
} view_lookup_set_t;

/*! Per thread; zero-filled is empty (calloc it: it is large and mostly
 *  untouched). Not thread-safe. */
typedef struct {
	const store_t *filter_store; /*!< snapshot the filter below was read in */
	size_t filter_txnid;
	const uint8_t *filter; /*!< u32 slots (2-byte aligned), NULL: no usable filter */
	uint32_t filter_mask;  /*!< n_slots - 1 */
	uint64_t hits;         /*!< names answered from a slot */
	uint64_t misses;       /*!< names read from LMDB (errors included) */
	uint64_t filtered;     /*!< names the filter answered "not a GSLB name" */
	view_lookup_set_t set[VIEW_LOOKUP_SETS];
	view_lookup_slot_t slot[VIEW_LOOKUP_SLOTS];
} view_lookup_cache_t;

/*!
 * \brief Find the view of \a name (wire format, lower-case, as the views
 *        and names DBs key it) and its set in the read txn \a rtxn.
 *
 * Same outcome as store_get(STORE_VIEWS) + view_open() + store_get(
 * STORE_SETS) + view_set_open() + view_bind(), and store_get(STORE_NAMES)
 * when there is no view; answered from \a cache when this cache already
 * found the name in the same snapshot of the same store, and "not a GSLB
 * name" from the snapshot's name filter when the filter does not hold it.
 *
 * \param[in]  rtxn  An active read txn (store_rtxn_begin()).
 * \param[out] view  VIEW_LOOKUP_FOUND: the bound view, pointing into the
 *                   map: valid until store_rtxn_end().
 * \return enum view_lookup_kind (VIEW_LOOKUP_ERROR: txn not active, empty or
 *         over-long name, or an LMDB failure).
 */
int view_lookup(view_lookup_cache_t *cache, store_rtxn_t *rtxn, const uint8_t *name,
                size_t name_len, view_t *view);

/*!
 * \brief The set \a set_id of the snapshot of \a rtxn, opened (through
 *        \a cache's set entries when \a cache is not NULL).
 * \return HG_EOK, HG_ENOENT, HG_ESCHEMA / HG_ECORRUPT (does not open), or an
 *         LMDB error.
 */
int view_lookup_set(view_lookup_cache_t *cache, store_rtxn_t *rtxn, uint32_t set_id,
                    view_set_t *set);

/*! \brief The sets DB key of \a set_id (4 bytes, big-endian: key order = id order). */
static inline void view_set_key(uint32_t set_id, uint8_t key[4])
{
	key[0] = (uint8_t)(set_id >> 24);
	key[1] = (uint8_t)(set_id >> 16);
	key[2] = (uint8_t)(set_id >> 8);
	key[3] = (uint8_t)set_id;
}

/*! \brief Whether the filter slots \a slots (mask \a mask) may hold a name
 *         hashing to \a h (false: it certainly does not). */
static inline bool view_filter_maybe(const uint8_t *slots, uint32_t mask, uint64_t h)
{
	uint32_t fp = (uint32_t)(h >> 32) | 1u;
	for (uint32_t i = (uint32_t)h & mask, n = 0; n <= mask; i = (i + 1) & mask, n++) {
		uint32_t v;
		__builtin_memcpy(&v, slots + 4 * (size_t)i, sizeof(v)); /* LMDB: 2-byte aligned */
		if (v == fp) {
			return true;
		}
		if (v == 0) {
			return false;
		}
	}
	return true; /* a full table (never written): no answer, look it up */
}
