/*  SPDX-License-Identifier: GPL-3.0-or-later */
/*!
 * \file
 * \brief Helpers shared by writer_load.c and writer_apply.c. Private to
 *        libhg_writer.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "store.h"

/*!
 * \brief The measurement of \a endpoint by \a prober in \a wtxn, or NULL
 *        when there is none or its layout is unknown (treated as no data:
 *        fail open). Valid until the next write in \a wtxn.
 */
const hg_rec_measure_t *writer_get_measure(store_wtxn_t *wtxn, const char *endpoint,
                                           const char *prober);

/*! \brief The admin state of \a endpoint (enum hg_admin) in \a wtxn;
 *         HG_ADMIN_NONE when no valid override is stored. */
uint8_t writer_get_admin(store_wtxn_t *wtxn, const char *endpoint);

/*! A set patcher: edits a writable copy of a set blob in place. Returns
 *  HG_EOK (write it back), WRITER_PATCH_UNCHANGED (nothing changed: do not
 *  write) or an error. */
typedef int (*writer_patch_fn)(uint8_t *blob, size_t len, void *ctx);

/*! A patcher's "nothing to write back" (positive: not an error). */
#define WRITER_PATCH_UNCHANGED 1

/*!
 * \brief Apply \a fn to every set listed in epsets[\a endpoint] and write
 *        each patched set back (all inside \a wtxn).
 *
 * Each set is copied to the heap first: an LMDB value read in a write txn
 * may move when the same txn writes. Errors become the txn's sticky error.
 * Costs one set per distinct endpoint set holding the endpoint, whatever
 * the number of names.
 */
int writer_patch_sets(store_wtxn_t *wtxn, const char *endpoint, writer_patch_fn fn, void *ctx);

/*! \brief As writer_patch_sets() for every set of the database. */
int writer_patch_all_sets(store_wtxn_t *wtxn, writer_patch_fn fn, void *ctx);
