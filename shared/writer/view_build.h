/*  haltgslb — encoding and patching view blobs (write side).
 *  SPDX-License-Identifier: GPL-3.0-or-later
 */
/*!
 * \file
 * \brief Building a per-name view from the policy model and patching cells
 *        and admin states in a writable copy. Write side only: the query
 *        path (view.h, sel.h) never links this.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "policy.h"
#include "schema.h"
#include "view.h"


/*! Inputs a view is built from besides the policy, supplied by the caller
 *  (writer_load.c reads them from LMDB; tests supply them directly). */
typedef struct {
	/*! Measurement of policy endpoint \a ep by policy prober \a pr, or NULL. */
	const hg_rec_measure_t *(*measure)(void *ctx, size_t ep, size_t pr);
	/*! Admin override of policy endpoint \a ep (enum hg_admin). */
	uint8_t (*admin)(void *ctx, size_t ep);
	void *ctx;
} view_inputs_t;

/*!
 * \brief Encode the view of policy name \a name_index.
 *
 * Endpoints are those of the name's pools in policy order; probers are all
 * the policy's probers in policy order; geofence targets are resolved to
 * endpoint bitmasks. \a in may be NULL (no measurements, no overrides).
 *
 * \param[out] out  malloc()ed blob, caller frees.
 * \return HG_EOK, HG_ERANGE (a limit in schema.h exceeded), HG_ENOMEM.
 */
int view_build(const policy_t *policy, size_t name_index, const view_inputs_t *in,
               uint64_t generation, uint64_t now_ms, uint8_t **out, size_t *len);

/*! \brief Convert a measurement record to a view cell. */
void view_cell_from_measure(hg_view_cell_t *cell, const hg_rec_measure_t *m);

/*!
 * \brief Patch, in a writable copy of a view blob, the cell of endpoint id
 *        \a endpoint × prober id \a prober; \a m NULL clears the cell (no
 *        data). \return HG_EOK or HG_ENOENT.
 */
int view_patch_measure(uint8_t *blob, size_t len, const char *endpoint, const char *prober,
                       const hg_rec_measure_t *m, uint64_t now_ms);

/*!
 * \brief Re-stamp, in a writable copy of a view blob, every cell of prober
 *        id \a prober that has data (ts_ms not 0) older than \a now_ms with
 *        \a now_ms.
 * \return The number of cells changed (0 or more), HG_ENOENT (the view has
 *         no such prober) or the error of view_open().
 */
int view_touch_prober(uint8_t *blob, size_t len, const char *prober, uint64_t now_ms);

/*! \brief Patch the admin state of endpoint id \a endpoint. \return HG_EOK or HG_ENOENT. */
int view_patch_admin(uint8_t *blob, size_t len, const char *endpoint, uint8_t admin,
                     uint64_t now_ms);

/*! \brief 64-bit hash of an id (FNV-1a 64 then a finalizer); used for HRW. */
uint64_t view_id_hash(const char *id, size_t len);
