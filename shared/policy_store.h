/*  haltgslb — writing policy, measurements and overrides into the store.
 *  SPDX-License-Identifier: GPL-3.0-or-later
 */
/*!
 * \file
 * \brief Everything that writes the policy DBs and keeps the per-name views
 *        consistent with them, inside the caller's single write transaction.
 *
 * Principle 3 (atomic changes): a policy load is one write transaction; a
 * batch of measurements is one write transaction; the views affected are
 * rewritten in that same transaction, so readers see old or new, never a mix.
 */
#pragma once

#include "policy.h"
#include "store.h"

/*!
 * \brief Replace the whole policy with \a policy in one write transaction.
 *
 * Rewrites probers, pools, endpoints, names, epnames and views; keeps
 * measurements (of endpoints still present), overrides and cursors; bumps
 * meta["policy_generation"] and records source, digest and load time.
 * On any error nothing is changed.
 *
 * \param[out] generation  New policy generation (may be NULL).
 */
int policy_store_load(store_t *store, const policy_t *policy, uint64_t *generation);

/*!
 * \brief Record prober \a prober's measurement of \a endpoint and patch the
 *        views of every name that uses the endpoint (same transaction).
 * \return HG_EOK, HG_ENOENT (unknown endpoint or prober), or the txn error.
 */
int policy_store_measure(store_wtxn_t *wtxn, const char *endpoint, const char *prober,
                         const hg_rec_measure_t *measure);

/*!
 * \brief Set (HG_ADMIN_DRAIN / HG_ADMIN_FORCE_UP) or clear (HG_ADMIN_NONE) an
 *        endpoint's admin override and patch the views that use it.
 * \return HG_EOK, HG_ENOENT (endpoint not in the loaded policy).
 */
int policy_store_override(store_wtxn_t *wtxn, const char *endpoint, uint8_t admin,
                          const char *reason);

/*!
 * \brief Refresh an existing view's cells and admin states from the
 *        measurements and overrides DBs (e.g. after a tool edited them).
 *
 * The chain is not recompiled: that needs the policy model, so only
 * policy_store_load() builds views whole. \return HG_EOK, HG_ENOENT (no view).
 */
int policy_store_rebuild_view(store_wtxn_t *wtxn, const uint8_t *owner, size_t owner_len);
