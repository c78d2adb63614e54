/*  SPDX-License-Identifier: GPL-3.0-or-later */
/*  Test helper: feed messages made by the real encoder (shared/feed), for
 *  publishers written in Python. One message per input line:
 *
 *      KIND PROBER EPOCH SEQ SENT_MS [ENDPOINT=STATE/RTT_US/LOSS_BP ...]
 *
 *  KIND is batch|snapshot|heartbeat, STATE up|down|unknown, RTT_US a number
 *  or "none". Each message is written to stdout as a 4-byte little-endian
 *  length and the bytes; stdout is flushed after each one, so a caller can
 *  keep one helper running and ask for messages one by one. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "feed.h"

static int kind_of(const char *s)
{
	return strcmp(s, "batch") == 0       ? FEED_BATCH
	       : strcmp(s, "snapshot") == 0  ? FEED_SNAPSHOT
	       : strcmp(s, "heartbeat") == 0 ? FEED_HEARTBEAT
	                                     : -1;
}

static int state_of(const char *s)
{
	return strcmp(s, "up") == 0        ? HG_HEALTH_UP
	       : strcmp(s, "down") == 0    ? HG_HEALTH_DOWN
	       : strcmp(s, "unknown") == 0 ? HG_HEALTH_UNKNOWN
	                                   : -1;
}

static int add_record(feed_enc_t *e, char *spec, uint64_t sent)
{
	char *eq = strchr(spec, '=');
	if (eq == NULL) {
		return HG_EINVAL;
	}
	*eq = '\0';
	char *state = eq + 1, *rtt = strchr(state, '/'), *loss = rtt ? strchr(rtt + 1, '/') : NULL;
	if (rtt == NULL || loss == NULL) {
		return HG_EINVAL;
	}
	*rtt++ = '\0';
	*loss++ = '\0';
	int st = state_of(state);
	if (st < 0) {
		return HG_EINVAL;
	}
	uint32_t rtt_us = strcmp(rtt, "none") == 0 ? HG_RTT_NONE : (uint32_t)strtoul(rtt, NULL, 10);
	hg_rec_measure_t m = {
		.state = (uint8_t)st,
		.fail_class = st == HG_HEALTH_DOWN ? HG_FAIL_TIMEOUT : HG_FAIL_NONE,
		.ts_ms = sent,
		.changed_ms = sent,
		.rtt_last_us = rtt_us,
		.rtt_ewma_us = rtt_us,
		.rtt_median_us = rtt_us,
		.ttfb_us = HG_RTT_NONE,
		.loss_bp = (uint16_t)strtoul(loss, NULL, 10),
		.window = 20,
		.probes_total = 20,
	};
	return feed_enc_add(e, spec, &m);
}

int main(void)
{
	char line[1 << 20];
	feed_enc_t e;
	feed_enc_init(&e);
	int ret = 0;
	for (unsigned n = 1; fgets(line, sizeof(line), stdin) != NULL; n++) {
		char *save = NULL, *tok[5];
		for (int i = 0; i < 5; i++) {
			tok[i] = strtok_r(i == 0 ? line : NULL, " \t\n", &save);
		}
		if (tok[4] == NULL) {
			fprintf(stderr,
			        "hg_feedmsg: line %u: KIND PROBER EPOCH SEQ SENT_MS [RECORD...]\n",
			        n);
			ret = 2;
			break;
		}
		int kind = kind_of(tok[0]);
		uint64_t sent = strtoull(tok[4], NULL, 10);
		int r = kind < 0 ? HG_EINVAL
		                 : feed_enc_begin(&e, (enum feed_kind)kind, tok[1],
		                                  strtoull(tok[2], NULL, 10),
		                                  strtoull(tok[3], NULL, 10), sent);
		for (char *spec; r == HG_EOK && (spec = strtok_r(NULL, " \t\n", &save)) != NULL;) {
			r = add_record(&e, spec, sent);
		}
		uint8_t *msg = NULL;
		size_t len = 0;
		if (r == HG_EOK) {
			r = feed_enc_finish(&e, &msg, &len);
		}
		if (r != HG_EOK) {
			fprintf(stderr, "hg_feedmsg: line %u: %s\n", n, hg_strerror(r));
			ret = 2;
			break;
		}
		uint8_t hdr[4] = { (uint8_t)len, (uint8_t)(len >> 8), (uint8_t)(len >> 16),
			           (uint8_t)(len >> 24) };
		fwrite(hdr, 1, 4, stdout);
		fwrite(msg, 1, len, stdout);
		fflush(stdout);
		free(msg);
	}
	feed_enc_free(&e);
	return ret;
}
