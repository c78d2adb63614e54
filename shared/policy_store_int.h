/*  SPDX-License-Identifier: GPL-3.0-or-later */
/*!
 * \file
 * \brief Helpers shared by policy_store.c (load) and policy_store_write.c
 *        (measurements, overrides, view refresh). Private to libhg_store.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "store.h"

/*! A view patcher: edits a writable copy of a view blob in place. */
typedef int (*ps_patch_fn)(uint8_t *blob, size_t len, void *ctx);

/*!
 * \brief Apply \a fn to the view of every owner listed in epnames[\a endpoint]
 *        and write each patched view back (all inside \a wtxn).
 *
 * Each view is copied to the heap first: an LMDB value read in a write txn
 * may move when the same txn writes. Errors become the txn's sticky error.
 */
int ps_patch_owner_views(store_wtxn_t *wtxn, const char *endpoint, ps_patch_fn fn, void *ctx);
