/*  SPDX-License-Identifier: GPL-3.0-or-later */
/*!
 * \file
 * \brief Private to libhg_store / libhg_store_write: the environment
 *        handle, the map's sizing (store_map.c) and the one cursor walk
 *        behind every iteration helper.
 */
#pragma once

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include <lmdb.h>

#include "store.h"

struct store {
	struct store *next;
	char *path; /* realpath: the registry key */
	MDB_env *env;
	MDB_dbi dbi[STORE_DBI_COUNT];
	unsigned refs;
	bool rdonly;
	atomic_bool broken;   /* a read of the map faulted: never trusted again */
	const char *map_addr; /* data.mdb's map, to tell its faults apart */
	size_t map_size;
	MDB_txn *open_txn;     /* store_open_dbis()'s txn, for a fault to abort */
	uint32_t schema_found; /* HG_SCHEMA_VERSION, or 1 awaiting the upgrade */
	bool upgrade;          /* opened with STORE_UPGRADE (a writer) */

	/* The map (store_map.c). */
	size_t map_limit;             /* HG_STORE_MAPSIZE_MAX */
	atomic_bool remap_pending;    /* a remap is under way: read txns must not begin */
	atomic_bool remap_wanted;     /* a reader met MDB_MAP_RESIZED */
	pthread_mutex_t readers_lock; /* the registry below; held by a remap */
	store_rtxn_t **readers;       /* every read txn of this process on the store */
	size_t n_readers, cap_readers;
	atomic_uint_fast64_t grows, remaps;
	bool warned; /* the 80 % warning is out (until 70 %) */
};

/*! \brief Set store_last_error() of this thread; returns \a err. */
int store_fail(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* store_map.c */

/*! \brief The map sizes store_open() uses: initial (HG_STORE_MAPSIZE) and
 *         ceiling (HG_STORE_MAPSIZE_MAX, at least the initial). */
void store_map_config(size_t *initial, size_t *ceiling);

/*! \brief After mdb_env_open(): a writer takes the size the file records
 *         when larger than its own; a reader keeps the ceiling it mapped. */
void store_map_opened(struct store *s);

/*! \brief Add \a rtxn to the store's registry (its first begin). */
int store_readers_add(struct store *s, store_rtxn_t *rtxn);

/*! \brief Remove \a rtxn from its store's registry (store_rtxn_free()). */
void store_readers_remove(struct store *s, store_rtxn_t *rtxn);

/*! \brief Remap to \a size (0: what the file records), once no registered
 *         read txn is BUSY (HELD ones are reset); \a wait false gives up
 *         with HG_EBUSY instead of waiting.
 *         \return HG_EOK, HG_EBUSY, or the mapped LMDB error. */
int store_remap_to(struct store *s, size_t size, bool wait);

/*! \brief After a commit: the warning at 80 % of the ceiling. */
void store_map_committed(struct store *s);

/*! \brief Where LMDB mapped data.mdb (store.c), again after a remap. */
void store_find_map(struct store *s);

enum store_iter_mode {
	STORE_ITER_PREFIX, /*!< keys starting with the given bytes (all if none) */
	STORE_ITER_DUPS,   /*!< the values of one exact DUPSORT key */
};

/*!
 * \brief One walk over a DB of \a txn. The visitor's non-HG_EOK return
 *        stops the walk and is returned; with \a del, a visitor returning
 *        STORE_ITER_DELETE has the current entry deleted instead.
 * \return HG_EOK, the visitor's stop value, or a mapped LMDB error.
 */
int store_iter_walk(MDB_txn *txn, MDB_dbi dbi, enum store_iter_mode mode, const void *key,
                    size_t klen, store_visit_fn fn, void *ctx, bool del);
