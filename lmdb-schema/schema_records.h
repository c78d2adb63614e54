/*  SPDX-License-Identifier: GPL-3.0-or-later */
/*!
 * \file
 * \brief Decoding the variable-sized records of schema.h (today: names) in
 *        place. Read side: no allocation.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "schema.h"

/*! A names value, decoded: pointers into the value. */
typedef struct {
	const hg_rec_name_t *rec;
	const char *pools[HG_NAME_POOLS_MAX]; /*!< NUL-terminated pool ids, rec->n_pools */
	const char *chain;                    /*!< chain text, chain_len bytes, no NUL */
	size_t chain_len;
} schema_name_rec_t;

/*!
 * \brief Decode a names value (SCHEMA.md, `hg_rec_name_t`).
 * \return 0, or -1 when its layout, size or texts do not fit (treat as absent).
 */
int schema_name_rec(const void *val, size_t len, schema_name_rec_t *out);
