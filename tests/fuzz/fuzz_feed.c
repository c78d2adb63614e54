/*  SPDX-License-Identifier: GPL-3.0-or-later */
/* Fuzz target: the feed decoder (shared/feed/). Any bytes: decode; a
 * rejection must carry a real reason and leave no partial output; an
 * accepted message must walk to exactly its record count, in strictly
 * ascending valid ids, and re-encode to the very same bytes (the format has
 * one encoding per message, so this checks encoder and decoder together). */
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "feed.h"
#include "fuzz.h"

static void check_rejected(const feed_msg_t *msg, enum feed_reason why)
{
	if (why <= FEED_OK || why >= FEED_R_COUNT_ ||
	    strcmp(feed_reason_name(why), "unknown") == 0) {
		abort();
	}
	const uint8_t *b = (const uint8_t *)msg;
	for (size_t i = 0; i < sizeof(*msg); i++) {
		if (b[i] != 0) {
			abort(); /* partial output */
		}
	}
}

static void check_accepted(const uint8_t *data, size_t size, const feed_msg_t *msg)
{
	feed_enc_t enc;
	feed_enc_init(&enc);
	if (feed_enc_begin(&enc, msg->kind, msg->prober, msg->epoch, msg->seq, msg->sent_ms) !=
	    HG_EOK) {
		abort();
	}
	feed_iter_t it;
	feed_iter_init(&it, msg);
	char prev[HG_ID_SIZE] = "";
	uint32_t n = 0;
	for (const feed_rec_t *r; (r = feed_iter_next(&it)) != NULL; n++) {
		if (!feed_id_valid(r->endpoint) || strcmp(prev, r->endpoint) >= 0 ||
		    r->m.seq != msg->seq || r->m.layout != HG_REC_LAYOUT ||
		    feed_enc_add(&enc, r->endpoint, &r->m) != HG_EOK) {
			abort();
		}
		memcpy(prev, r->endpoint, sizeof(prev));
	}
	if (n != msg->n_records || (msg->kind == FEED_HEARTBEAT && n != 0)) {
		abort();
	}
	uint8_t *again = NULL;
	size_t len = 0;
	if (feed_enc_finish(&enc, &again, &len) != HG_EOK || len != size ||
	    memcmp(again, data, size) != 0) {
		abort(); /* not the one encoding of this message */
	}
	free(again);
	feed_enc_free(&enc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	feed_msg_t msg;
	enum feed_reason why = FEED_R_COUNT_;
	if (feed_decode(data, size, &msg, &why) == HG_EOK) {
		if (why != FEED_OK) {
			abort();
		}
		check_accepted(data, size, &msg);
	} else {
		check_rejected(&msg, why);
	}
	return 0;
}
