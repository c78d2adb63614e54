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

/*! Database states; MODULE_DB_OK is the only one the query path uses. */
enum module_db_state {
	MODULE_DB_OK = 0,
	MODULE_DB_MISSING, /*!< no environment (or its DBs) yet */
	MODULE_DB_SCHEMA,  /*!< unknown schema version */
	MODULE_DB_ACCESS,  /*!< permission denied (lock.mdb must be writable) */
	MODULE_DB_CORRUPT, /*!< data.mdb truncated or corrupt (or a read of it faulted) */
	MODULE_DB_UNSAFE,  /*!< refused: symlink, foreign owner, mode (store_safe.h) */
	MODULE_DB_ERROR,   /*!< any other failure */
	MODULE_DB_INIT,    /*!< not checked yet (never published) */
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
int module_db_new(knotd_mod_t *mod, const char *path, unsigned interval_ms, module_db_t **out);

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

/*! \brief Short text for a state, for logs and counters. */
const char *module_db_state_str(int state);
