/*  haltgslb — the text of every enumeration of schema.h.
 *  SPDX-License-Identifier: GPL-3.0-or-later
 */
/*!
 * \file
 * \brief One name ↔ value table per enum of schema.h, the only spelling
 *        anything prints or parses: the policy compiler, dump, ctl status
 *        and explain, the prober's logs and metric labels.
 *
 * Spellings: filters, check types and match kinds are the policy format's
 * own words; the others are the operator-facing words, lower-case and
 * hyphenated like the policy format ("http-status", "forced-up").
 * SCHEMA.md lists every table.
 *
 * Read side: no allocation, no I/O; the module may link it
 * (libhg_schema, part of HG_READ_LIBS).
 */
#pragma once

#include <stddef.h>

/*! The names of one enum. Every enum of schema.h that is printed is dense,
 *  so a table is the value of its first name and the names in value order. */
typedef struct {
	const char *what;         /*!< the enum in words, for messages ("check type") */
	unsigned first;           /*!< value of names[0] */
	const char *const *names; /*!< names[i] is value first + i; NULL-terminated */
} schema_names_t;

extern const schema_names_t schema_check_types;  /*!< enum hg_check_type */
extern const schema_names_t schema_healths;      /*!< enum hg_health */
extern const schema_names_t schema_admins;       /*!< enum hg_admin */
extern const schema_names_t schema_fail_classes; /*!< enum hg_fail_class */
extern const schema_names_t schema_fallbacks;    /*!< enum hg_fallback */
extern const schema_names_t schema_filters;      /*!< enum hg_filter_type */
extern const schema_names_t schema_match_kinds;  /*!< enum hg_match_kind */

/*! Every table above, NULL-terminated (for tests and listings). */
extern const schema_names_t *const schema_all_names[];

/*!
 * \brief The name of \a value in table \a t.
 * \return A static string, or NULL when \a value has no name (a value this
 *         build does not know: print the number instead).
 */
const char *schema_name(const schema_names_t *t, unsigned value);

/*!
 * \brief The value named \a name (exact, case-sensitive: the policy format
 *        is).
 * \param[out] value  Set only on success.
 * \return HG_EOK, HG_ENOENT (no such name), HG_EINVAL (\a name NULL).
 */
int schema_value(const schema_names_t *t, const char *name, unsigned *value);

/*!
 * \brief Write the names of \a t as an English list into \a buf
 *        ("http, https, tcp or icmp"), for "expected ..." messages.
 * \return The length written; the text is cut (still NUL-terminated) when
 *         \a size is too small. \a size 0 writes nothing.
 */
size_t schema_names_join(const schema_names_t *t, char *buf, size_t size);
