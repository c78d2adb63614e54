/*  SPDX-License-Identifier: GPL-3.0-or-later */
/* Texts of the rejection reasons and kinds, and the id rule. */
#include <string.h>

#include "feed.h"
#include "feed_wire.h"

static const struct {
	const char *name;
	const char *text;
} reasons[FEED_R_COUNT_] = {
	[FEED_OK] = { "ok", "message accepted" },
	[FEED_R_TRUNCATED] = { "truncated", "message ends inside a field" },
	[FEED_R_TOO_BIG] = { "too_big", "message longer than 16 MiB" },
	[FEED_R_MAGIC] = { "magic", "not a haltgslb feed message (no \"HGF\" magic)" },
	[FEED_R_VERSION] = { "version", "unknown feed format version" },
	[FEED_R_KIND] = { "kind", "unknown message kind" },
	[FEED_R_PROBER_ID] = { "prober_id", "prober id is not 1-63 of A-Z a-z 0-9 . _ -" },
	[FEED_R_EPOCH] = { "epoch", "epoch is 0" },
	[FEED_R_SEQ] = { "seq", "sequence number is 0" },
	[FEED_R_VARINT] = { "varint", "overlong or over-64-bit varint" },
	[FEED_R_TOO_MANY] = { "too_many_records", "record count over 65536" },
	[FEED_R_HEARTBEAT_RECORDS] = { "heartbeat_records", "heartbeat carries records" },
	[FEED_R_COUNT] = { "count_mismatch", "message holds fewer records than its header counts" },
	[FEED_R_TRAILING] = { "trailing_bytes", "bytes left after the last record" },
	[FEED_R_ENDPOINT_ID] = { "endpoint_id",
	                         "endpoint id is malformed or not 1-63 of A-Z a-z 0-9 . _ -" },
	[FEED_R_ORDER] = { "order", "endpoint ids not in strictly ascending, front-coded order" },
	[FEED_R_DUPLICATE] = { "duplicate_endpoint", "same endpoint twice in one message" },
	[FEED_R_STATE] = { "state", "health state out of range" },
	[FEED_R_FAIL_CLASS] = { "fail_class", "failure class out of range" },
	[FEED_R_FIELD_RANGE] = { "field_range", "field value out of range or inconsistent" },
	[FEED_R_TIME_RANGE] = { "time_range", "time outside 0 .. 2^63-1 ms" },
};

const char *feed_reason_str(enum feed_reason reason)
{
	if ((unsigned)reason >= FEED_R_COUNT_) {
		return "unknown rejection reason";
	}
	return reasons[reason].text;
}

const char *feed_reason_name(enum feed_reason reason)
{
	if ((unsigned)reason >= FEED_R_COUNT_) {
		return "unknown";
	}
	return reasons[reason].name;
}

const char *feed_kind_name(unsigned kind)
{
	switch (kind) {
	case FEED_BATCH: return "batch";
	case FEED_SNAPSHOT: return "snapshot";
	case FEED_HEARTBEAT: return "heartbeat";
	default: return "unknown";
	}
}

bool feed_id_valid(const char *id)
{
	if (id == NULL) {
		return false;
	}
	size_t n = strnlen(id, HG_ID_MAX + 1);
	if (n == 0 || n > HG_ID_MAX) {
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		if (!feed_id_char((uint8_t)id[i])) {
			return false;
		}
	}
	return true;
}
