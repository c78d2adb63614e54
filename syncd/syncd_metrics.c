/*  SPDX-License-Identifier: GPL-3.0-or-later */
/* Prometheus text format for node_exporter's textfile collector, written to
 * a temporary file in the same directory and renamed, so the collector
 * never reads half a file. Per-prober freshness comes from the cursors in
 * LMDB (they survive restarts); the counters are this process's. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "errors.h"
#include "syncd.h"

/* Label values: escape backslash, quote and newline as the format asks. */
static void put_label(FILE *f, const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '\\' || *s == '"') {
			fputc('\\', f);
			fputc(*s, f);
		} else if (*s == '\n') {
			fputs("\\n", f);
		} else {
			fputc(*s, f);
		}
	}
}

static void head(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void sample(FILE *f, const char *name, const char *prober, const char *extra,
                   const char *extra_val, double v)
{
	fputs(name, f);
	if (prober != NULL) {
		fputs("{prober=\"", f);
		put_label(f, prober);
		fputc('"', f);
		if (extra != NULL && extra_val != NULL) {
			fprintf(f, ",%s=\"", extra);
			put_label(f, extra_val);
			fputc('"', f);
		}
		fputc('}', f);
	}
	fprintf(f, " %.17g\n", v);
}

typedef struct {
	FILE *f;
	uint64_t now;
	uint32_t stale;
	int which;
} probers_ctx_t;

enum { P_TS, P_AGE, P_FRESH, P_DELAY, P_MSGS, P_RECS, P_DUPS, P_GAPS, P_COUNT };

static const struct {
	const char *name, *type, *help;
} pdefs[P_COUNT] = {
	[P_TS] = { "haltgslb_syncd_last_message_timestamp_seconds", "gauge",
	           "When the prober's last message arrived here (syncd's clock); 0 never." },
	[P_AGE] = { "haltgslb_syncd_last_message_age_seconds", "gauge",
	            "Seconds since the prober's last message arrived (syncd's clock); +Inf "
	            "never." },
	[P_FRESH] = { "haltgslb_syncd_prober_fresh", "gauge",
	              "1 while the prober's last message is younger than the policy's smallest "
	              "stale-after, else 0." },
	[P_DELAY] = { "haltgslb_syncd_prober_delay_seconds", "gauge",
	              "Arrival minus the prober's send time of its last message: transit, "
	              "catch-up lag and clock skew (prober's clock: informational)." },
	[P_MSGS] = { "haltgslb_syncd_cursor_messages_total", "counter",
	             "Messages applied to this database, ever (stored in its cursor)." },
	[P_RECS] = { "haltgslb_syncd_cursor_records_total", "counter",
	             "Records applied to this database, ever (stored in its cursor)." },
	[P_DUPS] = { "haltgslb_syncd_cursor_duplicates_total", "counter",
	             "Duplicate messages dropped by this database, ever (stored in its cursor)." },
	[P_GAPS] = { "haltgslb_syncd_cursor_gaps_total", "counter",
	             "Messages never received by this database, ever (stored in its cursor)." },
};

/* One prober of the loaded policy, from its cursor. */
static void prober_series(FILE *f, store_rtxn_t *r, const char *id, probers_ctx_t *c)
{
	const void *val;
	size_t len;
	hg_rec_cursor_t cur = { 0 };
	bool have = store_get(r, STORE_CURSORS, id, strlen(id), &val, &len) == HG_EOK &&
	            len == sizeof(cur) && ((const hg_rec_cursor_t *)val)->layout == HG_REC_LAYOUT;
	if (have) {
		memcpy(&cur, val, sizeof(cur));
	}
	double age = have && c->now >= cur.last_arrival_ms ? (c->now - cur.last_arrival_ms) / 1e3
	             : have                                ? 0
	                                                   : 1.0 / 0.0;
	switch (c->which) {
	case P_TS: sample(f, pdefs[P_TS].name, id, NULL, NULL, cur.last_arrival_ms / 1e3); break;
	case P_AGE: sample(f, pdefs[P_AGE].name, id, NULL, NULL, age); break;
	case P_FRESH:
		sample(f, pdefs[P_FRESH].name, id, NULL, NULL,
		       have && c->stale > 0 && age * 1e3 <= c->stale ? 1 : 0);
		break;
	case P_DELAY:
		if (have) {
			sample(f, pdefs[P_DELAY].name, id, NULL, NULL,
			       ((double)cur.last_arrival_ms - (double)cur.last_sent_ms) / 1e3);
		}
		break;
	case P_MSGS: sample(f, pdefs[P_MSGS].name, id, NULL, NULL, (double)cur.messages); break;
	case P_RECS: sample(f, pdefs[P_RECS].name, id, NULL, NULL, (double)cur.records); break;
	case P_DUPS: sample(f, pdefs[P_DUPS].name, id, NULL, NULL, (double)cur.duplicates); break;
	case P_GAPS: sample(f, pdefs[P_GAPS].name, id, NULL, NULL, (double)cur.gaps); break;
	}
}

typedef struct {
	char (*ids)[HG_ID_SIZE];
	size_t n, cap;
} ids_t;

static int collect(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
	(void)val;
	(void)vlen;
	ids_t *l = ctx;
	if (klen == 0 || klen > HG_ID_MAX) {
		return HG_EOK;
	}
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 32;
		char(*g)[HG_ID_SIZE] = realloc(l->ids, cap * sizeof(*g));
		if (g == NULL) {
			return HG_ENOMEM;
		}
		l->ids = g;
		l->cap = cap;
	}
	memcpy(l->ids[l->n], key, klen);
	l->ids[l->n++][klen] = '\0';
	return HG_EOK;
}

static void policy_probers(FILE *f, const syncd_t *s)
{
	store_rtxn_t r = { 0 };
	ids_t ids = { 0 };
	if (store_rtxn_begin(s->store, &r) != HG_EOK) {
		return;
	}
	store_foreach(&r, STORE_PROBERS, NULL, 0, collect, &ids);
	probers_ctx_t c = { .f = f, .now = store_now_ms(), .stale = s->ap.stale_min_ms };
	for (int w = 0; w < P_COUNT; w++) {
		head(f, pdefs[w].name, pdefs[w].type, pdefs[w].help);
		c.which = w;
		for (size_t i = 0; i < ids.n; i++) {
			prober_series(f, &r, ids.ids[i], &c);
		}
	}
	store_rtxn_free(&r);
	free(ids.ids);
}

enum { S_MSGS, S_RECS, S_SKIP, S_FORGOT, S_DUPS, S_GAPS, S_EPOCHS, S_RESTAMPS, S_REJ, S_COUNT };

static const struct {
	const char *name, *help;
} sdefs[S_COUNT] = {
	[S_MSGS] = { "haltgslb_syncd_messages_applied_total", "Messages applied, by kind." },
	[S_RECS] = { "haltgslb_syncd_records_applied_total", "Records written to LMDB." },
	[S_SKIP] = { "haltgslb_syncd_records_skipped_total",
	             "Records of endpoints the loaded policy does not know (skipped)." },
	[S_FORGOT] = { "haltgslb_syncd_records_forgotten_total",
	               "Records deleted because the prober's snapshot no longer carried them." },
	[S_DUPS] = { "haltgslb_syncd_duplicates_total",
	             "Messages dropped because their (epoch, seq) was applied already." },
	[S_GAPS] = { "haltgslb_syncd_gaps_total",
	             "Messages never received (sequence numbers skipped)." },
	[S_EPOCHS] = { "haltgslb_syncd_epoch_changes_total", "New epochs seen (prober restarts)." },
	[S_RESTAMPS] = { "haltgslb_syncd_restamps_total",
	                 "Times the prober's records were re-stamped as fresh (its messages "
	                 "arrive)." },
	[S_REJ] = { "haltgslb_syncd_messages_rejected_total",
	            "Messages dropped whole, by reason; prober is the AMQP user_id ((none): "
	            "absent)." },
};

static void sender_series(FILE *f, const syncd_t *s)
{
	for (int w = 0; w < S_COUNT; w++) {
		head(f, sdefs[w].name, "counter", sdefs[w].help);
		for (size_t i = 0; i < s->ap.n_senders; i++) {
			const syncd_sender_t *p = &s->ap.senders[i];
			const syncd_counts_t *c = &p->c;
			const uint64_t v[S_COUNT] = { 0,
				                      c->records,
				                      c->skipped,
				                      c->forgotten,
				                      c->duplicates,
				                      c->gaps,
				                      c->epochs,
				                      c->restamps,
				                      0 };
			if (w == S_MSGS) {
				for (unsigned k = FEED_BATCH; k <= FEED_HEARTBEAT; k++) {
					if (c->messages[k] > 0 || p->last_arrival_ms > 0) {
						sample(f, sdefs[w].name, p->id, "kind",
						       feed_kind_name(k), (double)c->messages[k]);
					}
				}
			} else if (w == S_REJ) {
				for (unsigned r = 1; r < SYNCD_R_COUNT_; r++) {
					if (c->rejected[r] >
					    0) { /* absent = 0: keeps the file small */
						sample(f, sdefs[w].name, p->id, "reason",
						       syncd_reason_name(r),
						       (double)c->rejected[r]);
					}
				}
			} else if (p->last_arrival_ms > 0 || v[w] > 0) {
				sample(f, sdefs[w].name, p->id, NULL, NULL, (double)v[w]);
			}
		}
	}
}

static void daemon_series(FILE *f, const syncd_t *s)
{
	uint64_t off = 0;
	bool has = syncd_apply_position(&s->ap, &off);
	fprintf(f,
	        "# HELP haltgslb_syncd_info The running haltgslb-syncd.\n"
	        "# TYPE haltgslb_syncd_info gauge\nhaltgslb_syncd_info{version=\"%s\",stream=\"",
	        PACKAGE_VERSION);
	put_label(f, SYNCD_STREAM(&s->cfg));
	fputs("\"} 1\n", f);
	head(f, "haltgslb_syncd_start_time_seconds", "gauge", "When this process started.");
	sample(f, "haltgslb_syncd_start_time_seconds", NULL, NULL, NULL, s->started_ms / 1e3);
	head(f, "haltgslb_syncd_connected", "gauge",
	     "1 while consuming the stream from a broker, else 0.");
	sample(f, "haltgslb_syncd_connected", NULL, NULL, NULL, s->consuming);
	if (s->consuming) {
		fputs("# HELP haltgslb_syncd_broker_info The broker consumed from.\n"
		      "# TYPE haltgslb_syncd_broker_info gauge\nhaltgslb_syncd_broker_info{uri=\"",
		      f);
		put_label(f, hg_amqp_uri(s->amqp));
		fputs("\",cluster=\"", f);
		put_label(f, s->ap.cluster);
		fputs("\"} 1\n", f);
	}
	head(f, "haltgslb_syncd_reconnects_total", "counter",
	     "Consumers started again after the first one (any cause).");
	sample(f, "haltgslb_syncd_reconnects_total", NULL, NULL, NULL, (double)s->reconnects);
	head(f, "haltgslb_syncd_connect_failures_total", "counter",
	     "Connection rounds or consumer starts that failed.");
	sample(f, "haltgslb_syncd_connect_failures_total", NULL, NULL, NULL,
	       (double)s->connect_failures);
	head(f, "haltgslb_syncd_consumer_losses_total", "counter",
	     "Running consumers lost (broker closed or cancelled, network, LMDB error).");
	sample(f, "haltgslb_syncd_consumer_losses_total", NULL, NULL, NULL,
	       (double)s->consumer_losses);
	head(f, "haltgslb_syncd_offset_restarts_total", "counter",
	     "Consumers started from the stored offset that got nothing for a snapshot "
	     "interval + 5 s and were restarted by time (a stream that ends below the offset).");
	sample(f, "haltgslb_syncd_offset_restarts_total", NULL, NULL, NULL,
	       (double)s->offset_restarts);
	head(f, "haltgslb_syncd_stream_offset", "gauge",
	     "Stream offset of the last delivery committed to LMDB; -1 none.");
	sample(f, "haltgslb_syncd_stream_offset", NULL, NULL, NULL, has ? (double)off : -1);
	head(f, "haltgslb_syncd_stream_offset_received", "gauge",
	     "Highest stream offset received by this process (committed or not).");
	sample(f, "haltgslb_syncd_stream_offset_received", NULL, NULL, NULL,
	       (double)s->ap.last_offset_seen);
	head(f, "haltgslb_syncd_stream_lag_offsets", "gauge",
	     "Received minus committed offset: deliveries read but not yet in LMDB.");
	sample(f, "haltgslb_syncd_stream_lag_offsets", NULL, NULL, NULL,
	       has && s->ap.last_offset_seen > off ? (double)(s->ap.last_offset_seen - off) : 0);
	head(f, "haltgslb_syncd_deliveries_total", "counter",
	     "Deliveries consumed (applied, duplicate or rejected).");
	sample(f, "haltgslb_syncd_deliveries_total", NULL, NULL, NULL, (double)s->ap.deliveries);
	fputs("# HELP haltgslb_syncd_transactions_total LMDB write transactions, by result.\n"
	      "# TYPE haltgslb_syncd_transactions_total counter\n",
	      f);
	fprintf(f,
	        "haltgslb_syncd_transactions_total{result=\"ok\"} %" PRIu64 "\n"
	        "haltgslb_syncd_transactions_total{result=\"error\"} %" PRIu64 "\n",
	        s->ap.commits, s->ap.commit_errors);
	head(f, "haltgslb_syncd_policy_generation", "gauge",
	     "Policy generation of the database; 0 none loaded.");
	sample(f, "haltgslb_syncd_policy_generation", NULL, NULL, NULL, (double)s->ap.generation);
	head(f, "haltgslb_syncd_stale_after_seconds", "gauge",
	     "The policy's smallest stale-after: a prober silent this long is stale.");
	sample(f, "haltgslb_syncd_stale_after_seconds", NULL, NULL, NULL, s->ap.stale_min_ms / 1e3);
}

int syncd_metrics_write(const syncd_t *s, const char *path)
{
	int ret = HG_EOK;
	size_t plen = strlen(path) + 32;
	char *tmp = malloc(plen);
	if (tmp == NULL) {
		return HG_ENOMEM;
	}
	snprintf(tmp, plen, "%s.tmp.%ld", path, (long)getpid());
	FILE *f = fopen(tmp, "w");
	if (f == NULL) {
		ret = hg_err_from_errno(errno);
		goto cleanup;
	}
	/* node_exporter runs as another user: the unit's UMask would leave the
	 * file unreadable to it. Metrics are not secret. */
	fchmod(fileno(f), 0644);
	daemon_series(f, s);
	policy_probers(f, s);
	sender_series(f, s);
	if (ferror(f) | (fclose(f) != 0)) {
		ret = HG_EIO;
		unlink(tmp);
		goto cleanup;
	}
	if (rename(tmp, path) != 0) {
		ret = hg_err_from_errno(errno);
		unlink(tmp);
	}
cleanup:
	free(tmp);
	return ret;
}
