/*  haltgslb — reading a name's view and its endpoint set in place.
 *  SPDX-License-Identifier: GPL-3.0-or-later
 */
/*!
 * \file
 * \brief Zero-copy accessors over view and set blobs (layouts in schema.h).
 *
 * A name's answer reads two values: its view (views DB) and the endpoint
 * set the view names (sets DB). view_open() and view_set_open() check the
 * magic, layout and that every section fits in the value, then only set
 * pointers; view_bind() checks that a view and a set belong together and
 * makes the view_t the selection engine runs on. Nothing is copied: the
 * pointers are valid only as long as the bytes are (for an LMDB value:
 * until the read transaction ends).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "schema.h"

/*! An opened endpoint set. */
typedef struct {
	const hg_set_hdr_t *hdr;
	const hg_view_ep_t *ep;
	const hg_view_prober_t *prober;
	const hg_view_cell_t *cell;      /*!< cell[i * n_probers + j] */
	const hg_set_derived_t *derived; /*!< as stored (see view_state()) */
	const hg_u64_t *fresh;           /*!< [n_probers], as stored */
	const uint8_t (*v4)[4];
	const uint8_t (*v6)[16];
	const uint8_t *strings;
} view_set_t;

/*! A name's view bound to its set: what sel_decide() runs on. */
typedef struct {
	const hg_view_hdr_t *hdr;
	const hg_view_filter_t *filter;
	const hg_view_rule_t *rule;
	const hg_view_match_t *match;
	const uint8_t *owner; /*!< wire, hdr->owner_len bytes */
	view_set_t s;         /*!< its set (after view_bind()) */
} view_t;

/*!
 * \brief Validate \a len bytes at \a data as a view and point \a out into it.
 *        The set part of \a out is left empty (see view_bind()).
 * \return HG_EOK, HG_ESCHEMA (unknown magic/layout), HG_ECORRUPT (sizes or
 *         offsets do not fit).
 */
int view_open(const void *data, size_t len, view_t *out);

/*!
 * \brief Validate \a len bytes at \a data as an endpoint set.
 * \return HG_EOK, HG_ESCHEMA (unknown magic/layout), HG_ECORRUPT.
 */
int view_set_open(const void *data, size_t len, view_set_t *out);

/*!
 * \brief Attach the opened set \a set to the opened view \a view.
 * \return HG_EOK, HG_ECORRUPT (the set is not the view's: another id, another
 *         endpoint count, a fallback pool it does not have).
 */
int view_bind(view_t *view, const view_set_t *set);

/*! \brief Encoded size of a view for the given counts. */
size_t view_size(unsigned n_filt, unsigned n_rules, unsigned n_match, unsigned owner_len);

/*! \brief Encoded size of a set for the given counts. */
size_t view_set_size(unsigned n_ep, unsigned n_prob, unsigned n_v4, unsigned n_v6,
                     unsigned strings_len);

/*! \brief The cell of endpoint \a ep as measured by prober \a pr. */
static inline const hg_view_cell_t *view_cell(const view_set_t *s, unsigned ep, unsigned pr)
{
	return &s->cell[ep * s->hdr->n_probers + pr];
}

/*! \brief Index of the endpoint with id \a id (NUL-terminated) in \a s, or
 *         -1 when the set has none. Linear: for tools and writers, not
 *         the query path. */
long view_find_ep(const view_set_t *s, const char *id);

/*! \brief Index of prober \a id in \a s (its cell column), or -1. */
long view_find_prober(const view_set_t *s, const char *id);

/* ---- derived state (view_derive.c) ---- */

/*! The derived state of a set at one time, in a caller's buffer. */
typedef struct {
	hg_set_derived_t d;
	hg_u64_t fresh[HG_PROBER_MAX];
} view_state_t;

/*!
 * \brief What the cells of \a s mean at \a now_ms: fresh cells per prober,
 *        health verdicts, fresh probers, the time-independent masks, and
 *        the window [valid_from, valid_until) around \a now_ms in which no
 *        cell changes freshness (computed_ms = \a now_ms).
 *
 * The one definition of these facts: writers store its result in the set,
 * the query path recomputes it when the stored window does not hold
 * (view_state()). O(endpoints x probers), no allocation.
 */
void view_derive(const view_set_t *s, uint64_t now_ms, view_state_t *out);

/*!
 * \brief The derived state of \a s at \a now_ms: the stored one when \a now_ms
 *        is inside its window (\a *d and \a *fresh point into the set),
 *        else view_derive() into \a scratch (they point there).
 * \return true when the stored state was used.
 */
bool view_state(const view_set_t *s, uint64_t now_ms, view_state_t *scratch,
                const hg_set_derived_t **d, const hg_u64_t **fresh);
