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

/*! \brief Index of the endpoint with id \a id (NUL-terminated) in \a v, or
 *         -1 when the view has none. Linear: for tools and writers, not
 *         the query path. */
long view_find_ep(const view_t *v, const char *id);

/*! \brief Index of prober \a id in \a v (its cell column), or -1. */
long view_find_prober(const view_t *v, const char *id);
