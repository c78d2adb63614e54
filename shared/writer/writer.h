/*  haltgslb — the write side: policy loads, measurements, overrides.
 *  SPDX-License-Identifier: GPL-3.0-or-later
 */
/*!
 * \file
 * \brief Everything that changes the LMDB environment and keeps the
 *        per-name views consistent with it. haltgslb-ctl, haltgslb-prober
 *        and haltgslb-syncd all write through these calls; the module never
 *        links them.
 *
 * Principle 3 (atomic changes): a policy load is one write transaction; a
 * batch of measurements or overrides is applied inside the caller's one
 * write transaction (store_wtxn_begin() .. store_wtxn_commit()), and the
 * views affected are patched in that same transaction, so readers see old
 * or new, never a mix.
 *
 * Errors: HG_E* codes. The apply calls refuse unknown ids *without*
 * poisoning the transaction (one stray record in a replicated batch must
 * not lose the rest of the batch); any other failure becomes the txn's
 * sticky error.
 */
#pragma once

#include <stdint.h>

#include "policy.h"
#include "store.h"

/*!
 * \brief Replace the whole policy with \a policy in one write transaction.
 *
 * Rewrites probers, pools, endpoints, names, epsets, views, sets and the
 * name filter (one set per distinct pools + quorum + stale-after of the
 * names); keeps the measurements of endpoints and probers still present,
 * every override and every cursor; bumps meta["policy_generation"] and
 * records source, digest and load time. On a schema-1 database opened with
 * STORE_UPGRADE it also upgrades it (store_wtxn_upgrade()). On any error
 * nothing is changed.
 *
 * \param[in]  policy      A validated model (policy_parse_file()); not kept.
 * \param[out] generation  New policy generation (may be NULL).
 * \return HG_EOK, HG_EINVAL, HG_ERANGE (a schema limit), HG_EMAPFULL, ...
 */
int writer_load_policy(store_t *store, const policy_t *policy, uint64_t *generation);

/*!
 * \brief Record prober \a prober's measurement of \a endpoint and patch its
 *        cell in every set that holds the endpoint (one per distinct set,
 *        whatever the number of names), with the set's derived state.
 *
 * \a measure is copied; its layout field is stamped by the writer.
 * \return HG_EOK, HG_ENOENT (endpoint or prober not in the loaded policy;
 *         not sticky), HG_EINVAL (over-long id), or the txn's sticky error.
 */
int writer_apply_measure(store_wtxn_t *wtxn, const char *endpoint, const char *prober,
                         const hg_rec_measure_t *measure);

/*!
 * \brief Forget prober \a prober's measurement of \a endpoint: delete the
 *        record and clear its cell in every endpoint set that holds the
 *        endpoint (no data: the prober abstains there, for every name).
 *
 * A full snapshot from a prober is its whole keyspace: haltgslb-syncd
 * forgets the records a snapshot no longer carries. Forgetting a record
 * that does not exist is not an error (the cells are cleared all the same).
 * \return HG_EOK, HG_ENOENT (endpoint or prober not in the loaded policy;
 *         not sticky), HG_EINVAL (over-long id), or the txn's sticky error.
 */
int writer_forget_measure(store_wtxn_t *wtxn, const char *endpoint, const char *prober);

/*!
 * \brief Prober \a prober is alive at \a now_ms: every measurement of it
 *        counts as fresh at \a now_ms.
 *
 * For a replicating node, where freshness is judged by when a prober's
 * messages *arrive* (the DNS node's clock): a heartbeat carries no record
 * but must keep the prober's data from going stale. Every stored
 * measurement of \a prober with a time older than \a now_ms gets
 * \a now_ms as its time (ts_ms), and so does its cell in every set; records
 * and cells without data (ts 0) stay without. Nothing else changes.
 *
 * Its cost is the prober's records plus one patch per set (not per name):
 * callers re-stamp when the stamp is a fraction of stale-after old, not on
 * every heartbeat.
 * \return HG_EOK, HG_ENOENT (prober not in the loaded policy; not sticky),
 *         HG_EINVAL (over-long id), or the txn's sticky error.
 */
int writer_touch_prober(store_wtxn_t *wtxn, const char *prober, uint64_t now_ms);

/*!
 * \brief Set (HG_ADMIN_DRAIN / HG_ADMIN_FORCE_UP) or clear (HG_ADMIN_NONE)
 *        the admin override of \a endpoint and patch the sets that hold it.
 *
 * Overrides survive policy loads. \a reason (may be NULL) is truncated to
 * the record's field.
 * \return HG_EOK, HG_ENOENT (endpoint not in the loaded policy; not
 *         sticky), HG_EINVAL (unknown admin state), or the sticky error.
 */
int writer_apply_override(store_wtxn_t *wtxn, const char *endpoint, uint8_t admin,
                          const char *reason);
