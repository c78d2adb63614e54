/*  haltgslb — reading a per-name view in place.
 *  SPDX-License-Identifier: GPL-3.0-or-later
 */
/*!
 * \file
 * \brief Zero-copy accessors over a view blob (layout in schema.h).
 *
 * view_open() checks the magic, layout and that every section fits in the
 * value, then only sets pointers: nothing is copied. The pointers are valid
 * only as long as the bytes are (for an LMDB value: until the read
 * transaction ends).
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "schema.h"

typedef struct {
	const hg_view_hdr_t *hdr;
	const hg_view_ep_t *ep;
	const hg_view_prober_t *prober;
	const hg_view_cell_t *cell;        /*!< cell[i * n_probers + j] */
	const hg_view_filter_t *filter;
	const hg_view_rule_t *rule;
	const hg_view_match_t *match;
	const uint8_t (*v4)[4];
	const uint8_t (*v6)[16];
	const uint8_t *strings;
} view_t;

/*!
 * \brief Validate \a len bytes at \a data as a view and point \a out into it.
 * \return HG_EOK, HG_ESCHEMA (unknown magic/layout), HG_ECORRUPT (sizes or
 *         offsets do not fit).
 */
int view_open(const void *data, size_t len, view_t *out);

/*! \brief Total encoded size for the given counts. */
size_t view_size(unsigned n_ep, unsigned n_prob, unsigned n_filt, unsigned n_rules,
                 unsigned n_match, unsigned n_v4, unsigned n_v6, unsigned strings_len);

/*! \brief The cell of endpoint \a ep as measured by prober \a pr. */
static inline const hg_view_cell_t *view_cell(const view_t *v, unsigned ep, unsigned pr)
{
	return &v->cell[ep * v->hdr->n_probers + pr];
}

/* ---- building and patching (write side; no LMDB involved) ---- */

#include "policy.h"

/*! Inputs a view is built from besides the policy, supplied by the caller
 *  (policy_store.c reads them from LMDB; tests supply them directly). */
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
 *        \a endpoint × prober id \a prober. \return HG_EOK or HG_ENOENT.
 */
int view_patch_measure(uint8_t *blob, size_t len, const char *endpoint, const char *prober,
                       const hg_rec_measure_t *m, uint64_t now_ms);

/*! \brief Patch the admin state of endpoint id \a endpoint. \return HG_EOK or HG_ENOENT. */
int view_patch_admin(uint8_t *blob, size_t len, const char *endpoint, uint8_t admin,
                     uint64_t now_ms);

/*! \brief 64-bit hash of an id (FNV-1a 64 then a finalizer); used for HRW. */
uint64_t view_id_hash(const char *id, size_t len);
