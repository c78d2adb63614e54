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

/*! A view patcher: edits a writable copy of a view blob in place. Returns
 *  HG_EOK (write the copy back), WRITER_PATCH_UNCHANGED (nothing to write)
 *  or a negative error. */
typedef int (*writer_patch_fn)(uint8_t *blob, size_t len, void *ctx);

/*! A patcher's "this view needs no write". */
#define WRITER_PATCH_UNCHANGED 1

/*!
 * \brief Apply \a fn to the view of every owner listed in epnames[\a endpoint]
 *        and write each patched view back (all inside \a wtxn).
 *
 * Each view is copied to the heap first: an LMDB value read in a write txn
 * may move when the same txn writes. Errors become the txn's sticky error.
 */
int writer_patch_views(store_wtxn_t *wtxn, const char *endpoint, writer_patch_fn fn, void *ctx);

/*!
 * \brief Apply \a fn to every view (all owners) and write back each one it
 *        changed. Errors become the txn's sticky error.
 */
int writer_patch_all_views(store_wtxn_t *wtxn, writer_patch_fn fn, void *ctx);
