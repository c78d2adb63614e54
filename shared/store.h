/*  haltgslb — LMDB store.
 *  SPDX-License-Identifier: GPL-3.0-or-later
 */
/*!
 * \file
 * \brief One LMDB environment per process, shared and reference-counted.
 *
 * LMDB forbids opening the same environment twice in one process, so
 * store_open() on a directory that is already open returns the same handle
 * with its reference count raised; store_close() drops it.
 *
 * Write transactions carry a sticky error (as Knot's knot_lmdb.c): after the
 * first failure further puts are no-ops and store_wtxn_commit() aborts and
 * returns that error.
 *
 * Read transactions are cheap and reusable: MDB_NOTLS, reset at the end of
 * use and renewed at the next begin, so one per thread can be cached.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <lmdb.h>

#include "schema.h"

/*! Reader slots in the lock file: knotd takes one per worker thread per
 *  module instance, plus one per checker thread; tools take one each. */
#define STORE_MAXREADERS 1024

/*! Default map size: generous, sparse on disk. */
#define STORE_MAPSIZE_DEFAULT (1024ull * 1024 * 1024)

enum store_open_flags {
	STORE_RDONLY = 1 << 0,   /*!< Open read-only (the module); DBs must exist. */
	STORE_CREATE = 1 << 1,   /*!< Create the directory, DBs and meta if missing. */
};

enum store_dbi {
	STORE_META = 0, STORE_PROBERS, STORE_POOLS, STORE_ENDPOINTS, STORE_NAMES,
	STORE_EPNAMES, STORE_MEASUREMENTS, STORE_VIEWS, STORE_OVERRIDES, STORE_CURSORS,
	STORE_DBI_COUNT
};

typedef struct store store_t;

/*!
 * \brief Open (or share) the environment in \a dir.
 *
 * Runs mdb_reader_check() to clear stale reader slots. With STORE_CREATE
 * writes meta["schema_version"] if absent. Always checks the schema version
 * and refuses an unknown one with HG_ESCHEMA.
 *
 * \return HG_EOK, HG_ENOENT (no environment / DBs and no STORE_CREATE),
 *         HG_ESCHEMA, HG_EACCES, HG_EIO...
 */
int store_open(const char *dir, unsigned flags, store_t **out);

/*! \brief Drop one reference; the environment closes with the last. */
void store_close(store_t *store);

/*! \brief The directory of the environment. */
const char *store_path(const store_t *store);

/*! \brief The DBI of a named database. */
MDB_dbi store_dbi(const store_t *store, enum store_dbi which);

/*! \brief The raw environment (for tools such as dump). */
MDB_env *store_env(const store_t *store);

/* ---- write transactions (sticky error) ---- */

typedef struct {
	store_t *store;
	MDB_txn *txn;
	int err;                 /*!< first error, HG_EOK while all went well */
} store_wtxn_t;

int  store_wtxn_begin(store_t *store, store_wtxn_t *wtxn);
void store_put(store_wtxn_t *wtxn, enum store_dbi db, const void *key, size_t klen,
               const void *val, size_t vlen);
/*! \brief Delete a key (missing key is not an error). */
void store_del(store_wtxn_t *wtxn, enum store_dbi db, const void *key, size_t klen);
/*! \brief Empty a database. */
void store_drop_all(store_wtxn_t *wtxn, enum store_dbi db);
/*! \brief Read within a write txn; HG_ENOENT if absent. Value valid until txn end. */
int  store_wget(store_wtxn_t *wtxn, enum store_dbi db, const void *key, size_t klen,
                const void **val, size_t *vlen);
/*! \brief Commit; returns the sticky error (and aborts) if one happened. */
int  store_wtxn_commit(store_wtxn_t *wtxn);
void store_wtxn_abort(store_wtxn_t *wtxn);

/* ---- read transactions (reusable) ---- */

typedef struct {
	store_t *store;
	MDB_txn *txn;            /*!< NULL until first begin; reset between uses */
	bool active;
} store_rtxn_t;

/*! \brief Start (renew) a read txn. \a rtxn must be zero-initialized before first use. */
int  store_rtxn_begin(store_t *store, store_rtxn_t *rtxn);
/*! \brief End the read snapshot (mdb_txn_reset); the txn is kept for renewal. */
void store_rtxn_end(store_rtxn_t *rtxn);
/*! \brief Free the cached txn (abort). */
void store_rtxn_free(store_rtxn_t *rtxn);
/*! \brief Get a value; valid only until store_rtxn_end(). HG_ENOENT if absent. */
int  store_get(store_rtxn_t *rtxn, enum store_dbi db, const void *key, size_t klen,
               const void **val, size_t *vlen);

/* ---- helpers ---- */

/*! \brief Unix time in milliseconds (CLOCK_REALTIME). */
uint64_t store_now_ms(void);

/*! \brief Build a measurements key "endpoint\0prober"; returns its length. */
size_t store_measure_key(uint8_t *buf, size_t size, const char *endpoint, const char *prober);

/* ---- additions (store engineer) ---- */

/*! Buffer size that always holds a measurements key (two ids and the NUL
 *  between them; no trailing NUL). store_measure_key() returns 0 when the
 *  key does not fit \a size. */
#define STORE_MEASURE_KEY_MAX (2 * HG_ID_MAX + 1)

/*!
 * \brief One-line reason for the last store_open() failure in this thread
 *        (e.g. "…: database schema version 2, this build reads version 1").
 *
 * Static thread-local buffer, "" when the last open succeeded; valid until
 * the next store_open() in the same thread.
 */
const char *store_last_error(void);

/*! \brief LMDB name of a DB ("meta", "probers"...), NULL if out of range. Static. */
const char *store_db_name(enum store_dbi which);

/*! \brief True if the shared handle was opened with STORE_RDONLY. */
bool store_is_rdonly(const store_t *store);

/*! \brief Make \a err the sticky error of \a wtxn unless one is already set
 *         (for callers that use wtxn->txn with raw LMDB cursors). */
void store_wtxn_fail(store_wtxn_t *wtxn, int err);

/*
 * Map size: STORE_MAPSIZE_DEFAULT unless the environment variable
 * HG_STORE_MAPSIZE holds a size in bytes (>= 65536) when the environment is
 * first opened in the process (LMDB never maps less than the data already
 * in the file). Raising it takes effect at the next open; every process that
 * opens the environment should use the same value.
 */
