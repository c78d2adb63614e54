/*  haltgslb — encoding and patching views and endpoint sets (write side).
 *  SPDX-License-Identifier: GPL-3.0-or-later
 */
/*!
 * \file
 * \brief Building a name's view and an endpoint set from the policy model,
 *        and patching cells and admin states of a set in a writable copy,
 *        with its derived state (view_derive()) stored after every change.
 *        Write side only: the query path (view.h, sel.h) never links this.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "policy.h"
#include "schema.h"
#include "view.h"

/*! Inputs a set is built from besides the policy, supplied by the caller
 *  (writer_load.c reads them from LMDB; tests supply them directly). */
typedef struct {
	/*! Measurement of policy endpoint \a ep by policy prober \a pr, or NULL. */
	const hg_rec_measure_t *(*measure)(void *ctx, size_t ep, size_t pr);
	/*! Admin override of policy endpoint \a ep (enum hg_admin). */
	uint8_t (*admin)(void *ctx, size_t ep);
	void *ctx;
} view_inputs_t;

/*! What makes an endpoint set: the endpoints of these pools in this order,
 *  every prober of the policy, one quorum and stale-after. Names with the
 *  same spec share the set. */
typedef struct {
	const size_t *pools; /*!< indexes into policy_t.pools */
	size_t n_pools;
	uint32_t quorum_ppm, stale_after_ms;
	uint32_t set_id;  /*!< its key */
	uint32_t n_names; /*!< names using it (informational) */
} view_set_spec_t;

/*!
 * \brief Encode the endpoint set \a spec, cells from \a in (may be NULL: no
 *        measurements, no overrides), derived state at \a now_ms.
 *
 * \param[out] out  malloc()ed blob, caller frees.
 * \return HG_EOK, HG_EINVAL (a bad pool index), HG_ERANGE (a limit in
 *         schema.h exceeded), HG_ENOMEM.
 */
int view_set_build(const policy_t *policy, const view_set_spec_t *spec, const view_inputs_t *in,
                   uint64_t generation, uint64_t now_ms, uint8_t **out, size_t *len);

/*!
 * \brief Encode the view of policy name \a name_index, whose set is \a set_id
 *        (built from the name's pools, quorum and stale-after).
 *
 * Geofence targets are resolved to bitmasks over the set's endpoints.
 * \param[out] out  malloc()ed blob, caller frees.
 * \return HG_EOK, HG_EINVAL, HG_ERANGE, HG_ENOMEM.
 */
int view_build(const policy_t *policy, size_t name_index, uint32_t set_id, uint64_t generation,
               uint64_t now_ms, uint8_t **out, size_t *len);

/*! \brief Convert a measurement record to a cell (\a m NULL: a cell without data). */
void view_cell_from_measure(hg_view_cell_t *cell, const hg_rec_measure_t *m);

/*!
 * \brief Recompute and store the derived state of the set in the writable
 *        blob (view_derive() at \a now_ms) and stamp updated_ms.
 * \return HG_EOK, or view_set_open()'s error.
 */
int view_set_refresh(uint8_t *blob, size_t len, uint64_t now_ms);

/*!
 * \brief Patch, in a writable copy of a set blob, the cell of endpoint id
 *        \a endpoint × prober id \a prober (\a m NULL clears it: no data),
 *        and refresh its derived state.
 * \return HG_EOK or HG_ENOENT (the set has no such endpoint or prober).
 */
int view_set_patch_measure(uint8_t *blob, size_t len, const char *endpoint, const char *prober,
                           const hg_rec_measure_t *m, uint64_t now_ms);

/*! \brief Patch the admin state of endpoint id \a endpoint and refresh.
 *  \return HG_EOK or HG_ENOENT. */
int view_set_patch_admin(uint8_t *blob, size_t len, const char *endpoint, uint8_t admin,
                         uint64_t now_ms);

/*!
 * \brief Re-stamp prober \a prober's cells that have data and an older time
 *        with \a ts_ms (a heartbeat: the prober is alive), and refresh.
 * \return The number of cells changed (>= 0), HG_ENOENT (no such prober).
 */
int view_set_touch_prober(uint8_t *blob, size_t len, const char *prober, uint64_t ts_ms,
                          uint64_t now_ms);

/*! \brief 64-bit hash of an id (FNV-1a 64 then a finalizer); used for HRW. */
uint64_t view_id_hash(const char *id, size_t len);
