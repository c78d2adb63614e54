/*  haltgslb — feed codec internals: wire constants, varints, zigzag.
 *  SPDX-License-Identifier: GPL-3.0-or-later
 */
/*!
 * \file
 * \brief Shared by the encoder and the decoder only (not installed).
 *
 * Varints are unsigned LEB128: 7 bits per byte, least significant group
 * first, high bit set on every byte but the last. Only the shortest form
 * is valid (the decoder rejects a last byte of 0 after the first), and a
 * u64 takes at most 10 bytes (the 10th may only be 0 or 1).
 */
#pragma once

#include <stdint.h>
#include <string.h>

#include "feed.h"

#define FEED_MAGIC      "HGF"
#define FEED_MAGIC_LEN  3u
#define FEED_VARINT_MAX 10u

/*! Header byte lengths: magic, version, kind, id length + id, epoch,
 *  then three varints (seq, sent_ms, record count). */
#define FEED_HDR_MAX (FEED_MAGIC_LEN + 2u + 1u + HG_ID_MAX + 8u + 3u * FEED_VARINT_MAX)

/*! Longest record: shared/suffix bytes + id, state byte, two time deltas,
 *  four RTTs (<= 5 bytes), loss (<= 2), three u16 (<= 3), two u64. */
#define FEED_REC_MAX \
	(2u + HG_ID_MAX + 1u + 2u * FEED_VARINT_MAX + 4u * 5u + 2u + 3u * 3u + 2u * FEED_VARINT_MAX)

_Static_assert(FEED_HDR_MAX + (uint64_t)FEED_MAX_RECORDS * FEED_REC_MAX <= FEED_MAX_MSG_BYTES,
               "every encodable message fits the decoder's size limit");

/*! Loss is in basis points of the window. */
#define FEED_LOSS_MAX 10000u

/*! The state byte: health in the low nibble, fail class in the high one. */
#define FEED_STATE_MAX HG_HEALTH_DOWN
#define FEED_FAIL_MAX  HG_FAIL_OTHER

static inline bool feed_id_char(uint8_t ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       ch == '-' || ch == '_' || ch == '.';
}

/*! Bytes the varint of \a v takes. */
static inline unsigned feed_varint_len(uint64_t v)
{
	unsigned n = 1;
	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

/*! Write \a v at \a out (when not NULL); returns its length. */
static inline unsigned feed_varint_put(uint8_t *out, uint64_t v)
{
	unsigned n = 0;
	while (v >= 0x80) {
		if (out != NULL) {
			out[n] = (uint8_t)(v | 0x80);
		}
		v >>= 7;
		n++;
	}
	if (out != NULL) {
		out[n] = (uint8_t)v;
	}
	return n + 1;
}

/*! Signed deltas as unsigned: 0, -1, 1, -2, ... map to 0, 1, 2, 3, ... */
static inline uint64_t feed_zigzag(int64_t v)
{
	/* All ones for a negative v, from its sign bit: an unsigned shift (a
	 * signed right shift is implementation-defined). */
	uint64_t sign = (uint64_t)v >> 63;
	return ((uint64_t)v << 1) ^ (0 - sign);
}

static inline int64_t feed_unzigzag(uint64_t z)
{
	return (int64_t)(z >> 1) ^ -(int64_t)(z & 1);
}

/*! RTTs: HG_RTT_NONE (the common "no data") as 0, any other v as v + 1. */
static inline uint64_t feed_rtt_wire(uint32_t v)
{
	return v == HG_RTT_NONE ? 0 : (uint64_t)v + 1;
}
