/*  SPDX-License-Identifier: GPL-3.0-or-later */
/*!
 * \file
 * \brief The module's view of the LMDB environment: opened lazily, checked
 *        in the background, published atomically to the query path.
 *
 * The environment is opened with store_open(STORE_RDONLY), which shares one
 * reference-counted handle per process between all zone instances and
 * refuses unsafe files (symlinks, foreign owners) and a truncated or
 * corrupt data.mdb before mapping it. Once opened it stays open until
 * unload (worker threads hold cached read txns on it); only its validity
 * flag changes. A background thread retries the open every interval while
 * it fails and, while it is open, re-checks every interval (without touching
 * the map first) that data.mdb still covers its pages and has valid meta
 * pages, that the directory still holds the same file and that the schema
 * version is still understood, logging once per state change.
 *
 * A file truncated between two checks is caught where it faults: the query
 * path reads the map inside a fault guard (store_guard.h), hands the fault
 * to module_db_fault(), which marks the environment broken for good, and
 * answers from the zone. What remains is documented in docs/security.md.
 */
#pragma once

#include <stdatomic.h>
#include <stdbool.h>

#include <knot/module.h>

#include "store.h"
#include "store_guard.h"
#include "view.h"

/*! Database states; MODULE_DB_OK is the only one the query path uses. */
enum module_db_state {
	MODULE_DB_OK = 0,
	MODULE_DB_MISSING,   /*!< no environment (or its DBs) yet */
	MODULE_DB_SCHEMA,    /*!< unknown schema version */
	MODULE_DB_ACCESS,    /*!< permission denied (lock.mdb must be writable) */
	MODULE_DB_CORRUPT,   /*!< data.mdb truncated or corrupt (or a read of it faulted) */
	MODULE_DB_UNSAFE,    /*!< refused: symlink, foreign owner, mode (store_safe.h) */
	MODULE_DB_ERROR,     /*!< any other failure */
	MODULE_DB_INIT,      /*!< not checked yet (never published) */
};

typedef struct module_db module_db_t;

/*!
 * \brief Create the state for \a path, try a first open synchronously and
 *        start the checker thread.
 *
 * A missing or invalid database is not an error (fail open): the module
 * passes queries through until the checker finds it valid.
 *
 * \param[in] mod          Module (for logging); must outlive the result.
 * \param[in] path         Environment directory (copied).
 * \param[in] interval_ms  Re-check period.
 * \param[out] out         New state, free with module_db_free().
 * \return HG_EOK, HG_ENOMEM, HG_EIO (thread could not start).
 */
int module_db_new(knotd_mod_t *mod, const char *path, unsigned interval_ms,
                  module_db_t **out);

/*! \brief Stop and join the checker and drop the store reference.
 *         Callers free their cached read txns (store_rtxn_free) first. */
void module_db_free(module_db_t *db);

/*!
 * \brief The store when it is valid and not marked broken, else NULL.
 *        Lock-free (acquire loads); the pointer stays valid until
 *        module_db_free(). Read it inside a fault guard.
 */
store_t *module_db_get(module_db_t *db);

/*!
 * \brief A read of \a store's map by the query path faulted (\a g after the
 *        jump): a fault in data.mdb's map or an LMDB assertion marks the
 *        environment broken for good (module_db_get() then returns NULL:
 *        a rebuilt database needs a knotd restart); any other fault (a geo
 *        database replaced in place?) only fails this query. Logs once.
 *        Lock-free, callable from any worker.
 */
void module_db_fault(module_db_t *db, store_t *store, const store_guard_t *g);

/*! \brief Current state (enum module_db_state). */
int module_db_state(module_db_t *db);

/*! \brief Short text for a state, for logs and counters. */
const char *module_db_state_str(int state);

/* ---- per-thread lookup cache over read snapshots (query path) ---- */

/*! What the lookup of a query name found. */
enum module_view_kind {
	MODULE_VIEW_FOUND = 0,   /*!< a view that view_open() accepted */
	MODULE_VIEW_NONE,        /*!< not a GSLB name */
	MODULE_VIEW_NO_VIEW,     /*!< a policy name without its view */
	MODULE_VIEW_BAD,         /*!< a view that view_open() rejects */
	MODULE_VIEW_ERROR,       /*!< LMDB failure (never cached) */
};

/*! Slots of a module_vcache_t (power of two). */
#define MODULE_VCACHE_SLOTS 16

/*! One query name's outcome in one LMDB snapshot. */
typedef struct {
	const store_t *store;          /*!< NULL: empty slot */
	size_t txnid;                  /*!< snapshot (mdb_txn_id) it was read in */
	uint8_t kind;                  /*!< enum module_view_kind */
	uint16_t qname_len;
	view_t view;                   /*!< MODULE_VIEW_FOUND: opened view */
	uint8_t qname[KNOT_DNAME_MAXLEN];
} module_vcache_slot_t;

/*! Per worker thread; zero-filled is empty. Not thread-safe. */
typedef struct {
	module_vcache_slot_t slot[MODULE_VCACHE_SLOTS];
} module_vcache_t;

/*!
 * \brief Find the view of \a qname in the read txn \a rtxn (active).
 *
 * Same outcome as store_get(STORE_VIEWS) + view_open() (+ store_get(
 * STORE_NAMES) when there is no view), but a name already looked up by this
 * thread in the same LMDB snapshot is answered from \a cache.
 *
 * \param[out] view  MODULE_VIEW_FOUND: the view, pointing into the map;
 *                   valid until store_rtxn_end() or the next call.
 * \return enum module_view_kind.
 */
int module_db_find_view(module_vcache_t *cache, store_rtxn_t *rtxn,
                        const knot_dname_t *qname, size_t qname_len, const view_t **view);
