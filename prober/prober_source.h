/*  SPDX-License-Identifier: GPL-3.0-or-later */
/*!
 * \file
 * \brief The prober's one source of truth: the policy that haltgslb-ctl load
 *        validated and wrote into the LMDB environment.
 *
 * The prober never reads the YAML file: what it probes (endpoints with their
 * effective checks) and who it is (one of the policy's probers) come from
 * the DB it writes its measurements into, so the two can never disagree.
 * Every call reads inside the caller's read snapshot; several calls in one
 * snapshot see one policy generation.
 *
 * Pure store code (no prober_t, no I/O besides LMDB), unit tested in
 * tests/unit/test_prober_source.c.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "store.h"

/*!
 * \brief The generation of the loaded policy (meta["policy_generation"]).
 * \return HG_EOK, HG_ENOENT (no policy was ever loaded), HG_ECORRUPT (a
 *         value of the wrong size), or the store's error.
 */
int prober_source_generation(store_rtxn_t *rtxn, uint64_t *generation);

/*!
 * \brief Check that \a id is one of the probers of the loaded policy.
 *
 * \param[out] known  On HG_ENOENT, the policy's prober ids, ", "-separated
 *                    and NUL-terminated (truncated to \a size), so the
 *                    caller can say which ids would do; "" when it has none.
 * \return HG_EOK, HG_ENOENT (not a prober of the policy), HG_ECORRUPT (its
 *         record has an unknown layout or size), or the store's error.
 */
int prober_source_find_prober(store_rtxn_t *rtxn, const char *id, char *known, size_t size);

/*!
 * Called for each endpoint of the loaded policy, in id order. \a ep points
 * into the snapshot: valid until the read txn ends. Return HG_EOK to go
 * on; anything else stops the walk and is returned by it.
 */
typedef int (*prober_source_visit_fn)(void *ctx, const hg_rec_endpoint_t *ep);

/*!
 * \brief Visit every endpoint record of the loaded policy.
 *
 * A record of an unknown layout or size is treated as absent (schema rule:
 * readers refuse what they do not understand) and counted in \a skipped
 * (may be NULL); the caller says so.
 * \return HG_EOK after the last endpoint, the visitor's stop value, or the
 *         store's error.
 */
int prober_source_foreach_endpoint(store_rtxn_t *rtxn, prober_source_visit_fn fn, void *ctx,
                                   size_t *skipped);
