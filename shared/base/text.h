/*  SPDX-License-Identifier: GPL-3.0-or-later */
/*!
 * \file
 * \brief Small text helpers the tools and the store share: NUL-padded fixed
 *        record fields and JSON string literals.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/*! \brief Copy a NUL-padded fixed field (\a field_size bytes, maybe not
 *         terminated) into the C string \a buf of \a size bytes (truncating). */
void hg_fixed_get(const char *field, size_t field_size, char *buf, size_t size);

/*! \brief Store \a src into a fixed field: zero-filled, truncated to
 *         \a dst_size - 1 bytes so it stays NUL-terminated. */
void hg_fixed_set(char *dst, size_t dst_size, const char *src);

/*! \brief Write \a len bytes of \a s as a JSON string literal, quotes
 *         included. Control characters and bytes >= 0x7f become \\u00XX, so
 *         the output is valid JSON even for non-UTF-8 input. */
void hg_json_str(FILE *out, const char *s, size_t len);

/*!
 * \brief Parse a duration: digits then "ms", "s", "m" or "h" ("30s",
 *        "500ms", "2m"); a bare number is seconds.
 * \param[out] ms  The duration in milliseconds.
 * \return HG_EOK, HG_EINVAL (malformed, or over UINT32_MAX ms).
 */
int hg_duration_parse_ms(const char *text, uint32_t *ms);
