/*  SPDX-License-Identifier: GPL-3.0-or-later */
/*!
 * \file
 * \brief Private to libhg_store / libhg_store_write: the one cursor walk
 *        behind every iteration helper.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include <lmdb.h>

#include "store.h"

enum store_iter_mode {
	STORE_ITER_PREFIX,   /*!< keys starting with the given bytes (all if none) */
	STORE_ITER_DUPS,     /*!< the values of one exact DUPSORT key */
};

/*!
 * \brief One walk over a DB of \a txn. The visitor's non-HG_EOK return
 *        stops the walk and is returned; with \a del, a visitor returning
 *        STORE_ITER_DELETE has the current entry deleted instead.
 * \return HG_EOK, the visitor's stop value, or a mapped LMDB error.
 */
int store_iter_walk(MDB_txn *txn, MDB_dbi dbi, enum store_iter_mode mode, const void *key,
                    size_t klen, store_visit_fn fn, void *ctx, bool del);
