/*  SPDX-License-Identifier: GPL-3.0-or-later */
/* hg_feed_dump: decode feed messages (the bodies a prober publishes) with
 * the real decoder and print each as one JSON line, for the broker tests.
 *
 *   hg_feed_dump FILE...      one message per file ("-": standard input)
 *
 * A message the decoder rejects prints {"file": ..., "error": LABEL,
 * "text": ...} and makes the exit status 1. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "feed.h"
#include "text.h"

static void put_rtt(const char *name, uint32_t v)
{
	if (v == HG_RTT_NONE) {
		printf(", \"%s\": null", name);
	} else {
		printf(", \"%s\": %u", name, v);
	}
}

static void put_record(const feed_rec_t *r, bool first)
{
	const hg_rec_measure_t *m = &r->m;
	printf("%s{\"endpoint\": ", first ? "" : ", ");
	hg_json_str(stdout, r->endpoint, strlen(r->endpoint));
	printf(", \"state\": %u, \"fail_class\": %u, \"ts_ms\": %llu, \"changed_ms\": %llu",
	       m->state, m->fail_class, (unsigned long long)m->ts_ms,
	       (unsigned long long)m->changed_ms);
	put_rtt("rtt_last_us", m->rtt_last_us);
	put_rtt("rtt_ewma_us", m->rtt_ewma_us);
	put_rtt("rtt_median_us", m->rtt_median_us);
	put_rtt("ttfb_us", m->ttfb_us);
	printf(", \"loss_bp\": %u, \"window\": %u, \"consec_ok\": %u, \"consec_fail\": %u, "
	       "\"probes_total\": %llu, \"probes_failed\": %llu, \"seq\": %llu}",
	       m->loss_bp, m->window, m->consec_ok, m->consec_fail,
	       (unsigned long long)m->probes_total, (unsigned long long)m->probes_failed,
	       (unsigned long long)m->seq);
}

/* The whole file, malloc'd; NULL on error (said on stderr). */
static uint8_t *slurp(const char *path, size_t *len)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	if (f == NULL) {
		perror(path);
		return NULL;
	}
	size_t cap = 65536, n = 0;
	uint8_t *buf = malloc(cap);
	while (buf != NULL) {
		n += fread(buf + n, 1, cap - n, f);
		if (n < cap) {
			break;
		}
		uint8_t *b = realloc(buf, cap * 2);
		if (b == NULL) {
			free(buf);
			buf = NULL;
			break;
		}
		buf = b;
		cap *= 2;
	}
	if (f != stdin) {
		fclose(f);
	}
	*len = n;
	return buf;
}

static int dump(const char *path)
{
	size_t len = 0;
	uint8_t *buf = slurp(path, &len);
	if (buf == NULL) {
		return 1;
	}
	feed_msg_t msg;
	enum feed_reason why;
	int status = 0;
	printf("{\"file\": ");
	hg_json_str(stdout, path, strlen(path));
	if (feed_decode(buf, len, &msg, &why) != HG_EOK) {
		printf(", \"error\": \"%s\", \"text\": ", feed_reason_name(why));
		hg_json_str(stdout, feed_reason_str(why), strlen(feed_reason_str(why)));
		printf("}\n");
		status = 1;
	} else {
		printf(", \"bytes\": %zu, \"version\": %u, \"kind\": \"%s\", \"prober\": ", len,
		       msg.version, feed_kind_name(msg.kind));
		hg_json_str(stdout, msg.prober, strlen(msg.prober));
		printf(", \"epoch\": %llu, \"seq\": %llu, \"sent_ms\": %llu, \"records\": [",
		       (unsigned long long)msg.epoch, (unsigned long long)msg.seq,
		       (unsigned long long)msg.sent_ms);
		feed_iter_t it;
		feed_iter_init(&it, &msg);
		bool first = true;
		for (const feed_rec_t *r; (r = feed_iter_next(&it)) != NULL; first = false) {
			put_record(r, first);
		}
		printf("]}\n");
	}
	free(buf);
	return status;
}

int main(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		fprintf(argc < 2 ? stderr : stdout,
		        "Usage: hg_feed_dump FILE...\n"
		        "Decode each FILE (one feed message; '-' reads standard input) and print\n"
		        "it as one JSON line; a rejected message prints its reason and the exit\n"
		        "status becomes 1.\n");
		return argc < 2 ? 2 : 0;
	}
	int status = 0;
	for (int i = 1; i < argc; i++) {
		status |= dump(argv[i]);
	}
	return status;
}
