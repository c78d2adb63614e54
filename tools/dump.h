/*  SPDX-License-Identifier: GPL-3.0-or-later */
/*!
 * \file
 * \brief haltgslb-dump: one output model, two renderings.
 *
 * Decoders emit named fields through dump_out_t; the same calls render as
 * indented text or as one JSON document, so each record is decoded once.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "schema_names.h"
#include "store.h"

#define DUMP_DEPTH_MAX 16

typedef struct {
	FILE *f;
	bool json;
	int depth;
	bool has_items[DUMP_DEPTH_MAX]; /*!< JSON: a comma is needed before the next item */
	bool in_array[DUMP_DEPTH_MAX];
} dump_out_t;

/* Containers; \a key is NULL inside arrays and for the top-level object. */
void dump_obj_begin(dump_out_t *o, const char *key);
void dump_obj_end(dump_out_t *o);
void dump_arr_begin(dump_out_t *o, const char *key);
void dump_arr_end(dump_out_t *o);

/* Scalars. */
void dump_str(dump_out_t *o, const char *key, const char *s);
/*! \brief A string of \a len bytes (need not be NUL-terminated); escaped for JSON. */
void dump_strn(dump_out_t *o, const char *key, const char *s, size_t len);
void dump_uint(dump_out_t *o, const char *key, uint64_t v);
void dump_int(dump_out_t *o, const char *key, int64_t v);
void dump_double(dump_out_t *o, const char *key, double v);
void dump_bool(dump_out_t *o, const char *key, bool v);
void dump_null(dump_out_t *o, const char *key);
/*! \brief Unix ms as ISO 8601 UTC with ms; 0 → null ("never" in text). */
void dump_time_ms(dump_out_t *o, const char *key, uint64_t ms);
/*! \brief Duration: JSON "KEY_ms": number, text "KEY: 5s" / "500ms". */
void dump_duration_ms(dump_out_t *o, const char *key, uint64_t ms);
/*! \brief A NUL-padded fixed-size field as a string. */
void dump_fixed(dump_out_t *o, const char *key, const char *field, size_t size);
/*! \brief A wire-format domain name in presentation form ("a.example.", "\\046"). */
void dump_dname(dump_out_t *o, const char *key, const uint8_t *wire, size_t len);
/*! \brief Wire name → presentation into \a buf (size >= 1022); returns the length, 0 if too small. */
size_t dump_dname_text(const uint8_t *wire, size_t len, char *buf, size_t size);
/*! \brief An address of family 4 or 6 as text. */
void dump_addr(dump_out_t *o, const char *key, int family, const uint8_t *addr);
/*! \brief Finish the document (final newline). */
void dump_finish(dump_out_t *o);

/*! \brief The name of \a raw in \a names (schema_names.h) as a string, or
 *         the number when this build has no name for it. */
void dump_enum(dump_out_t *o, const char *key, const schema_names_t *names, unsigned raw);

/*! \brief Decode and emit every entry of \a db (an object keyed by id/name). */
int dump_db(dump_out_t *o, store_rtxn_t *rtxn, enum store_dbi db);

/*! \brief Decode a view blob (fully: header, endpoints, probers, cells, chain). */
void dump_view(dump_out_t *o, const char *key, const void *data, size_t len);
/*! \brief One endpoint set (sets DB value), decoded. */
void dump_set(dump_out_t *o, const char *key, const void *data, size_t len);
