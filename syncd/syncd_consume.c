/*  SPDX-License-Identifier: GPL-3.0-or-later */
/*  The stream consumer: connect (libhg_amqp), consume from the stored
 *  position, read deliveries, apply them in bursts, ack after each commit.
 *  Every failure ends in the same place: drop the connection, keep what
 *  was committed, resume from the stored offset on the next broker. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "errors.h"
#include "log.h"
#include "syncd.h"

/* Content frames follow their basic.deliver at once; waiting longer than
 * this for one means the connection is broken. */
#define SYNCD_CONTENT_WAIT_MS 5000
/* Retry soon while other brokers of the list are left to try. */
#define SYNCD_NEXT_URI_MS     100u

uint64_t syncd_tls_fingerprint(const syncd_config_t *cfg)
{
	uint64_t h = 14695981039346656037ull; /* FNV-1a 64 */
	const char *files[] = { cfg->tls_cert, cfg->tls_key, cfg->tls_ca };
	for (size_t i = 0; i < 3; i++) {
		FILE *f = files[i] != NULL ? fopen(files[i], "rb") : NULL;
		if (f == NULL) {
			h = (h ^ 0xff) * 1099511628211ull;
			continue;
		}
		for (int c; (c = fgetc(f)) != EOF;) {
			h = (h ^ (uint8_t)c) * 1099511628211ull;
		}
		fclose(f);
		h = (h ^ 0x100) * 1099511628211ull;
	}
	return h;
}

int syncd_consumer_setup(syncd_t *s)
{
	const syncd_config_t *cfg = &s->cfg;
	char why[HG_AMQP_ERR_MAX];
	hg_amqp_uris_t uris;
	if (hg_amqp_uris_parse(cfg->broker, &uris, why, sizeof(why)) != HG_EOK) {
		hg_err("--broker: %s", why);
		return HG_EINVAL;
	}
	if (cfg->vhost != NULL) {
		if (strlen(cfg->vhost) > HG_AMQP_VHOST_MAX) {
			hg_err("--vhost: longer than %d bytes", HG_AMQP_VHOST_MAX);
			return HG_EINVAL;
		}
		for (size_t i = 0; i < uris.n; i++) {
			snprintf(uris.uri[i].vhost, sizeof(uris.uri[i].vhost), "%s", cfg->vhost);
		}
	}
	/* EXTERNAL takes the user from the certificate; librabbitmq wants a
	 * non-empty identity: the certificate's CN says who we expect to be. */
	char cn[256];
	const char *identity = cfg->identity;
	if (identity == NULL) {
		if (hg_amqp_cert_cn(cfg->tls_cert, cn, sizeof(cn), why, sizeof(why)) != HG_EOK) {
			hg_err("--tls-cert: %s", why);
			return HG_EINVAL;
		}
		identity = cn;
	}
	char name[300];
	snprintf(name, sizeof(name), "haltgslb-syncd %s", identity);
	hg_amqp_config_t ac = {
		.uris = &uris,
		.tls_cert = cfg->tls_cert,
		.tls_key = cfg->tls_key,
		.tls_ca = cfg->tls_ca,
		.identity = identity,
		.conn_name = name,
		.heartbeat_s = cfg->heartbeat_s,
	};
	hg_amqp_t *c;
	int ret = hg_amqp_new(&ac, &c, why, sizeof(why));
	if (ret != HG_EOK) {
		hg_err("broker connection: %s", why);
		return ret;
	}
	hg_amqp_free(s->amqp);
	s->amqp = c;
	s->uris = uris;
	s->tls_print = syncd_tls_fingerprint(cfg);
	return HG_EOK;
}

static uint64_t next_rand(syncd_t *s)
{
	s->rng ^= s->rng >> 12;
	s->rng ^= s->rng << 25;
	s->rng ^= s->rng >> 27;
	return s->rng * 2685821657736338717ull;
}

/* Failures in a row: the next broker of the list at once, a backoff once
 * every broker failed. */
static void schedule_retry(syncd_t *s, unsigned failures)
{
	s->failures += failures;
	size_t n = s->uris.n > 0 ? s->uris.n : 1;
	uint32_t delay = s->failures < n
	                         ? SYNCD_NEXT_URI_MS
	                         : hg_amqp_backoff_ms((unsigned)(s->failures / n),
	                                              HG_AMQP_BACKOFF_BASE_DEFAULT_MS,
	                                              HG_AMQP_BACKOFF_MAX_DEFAULT_MS, next_rand(s));
	s->retry_at_ms = syncd_mono_ms() + delay;
}

/* Say a failure once per change of its text: a broker down for an hour
 * must not fill the journal. */
static void report(syncd_t *s, const char *what, const char *why)
{
	char text[HG_AMQP_ERR_MAX];
	snprintf(text, sizeof(text), "%s", why);
	if (strcmp(text, s->last_error) != 0) {
		hg_warn("%s: %s", what, text);
		snprintf(s->last_error, sizeof(s->last_error), "%s", text);
	} else {
		hg_debug("%s: %s (again)", what, text);
	}
}

static void epoll_fd(syncd_t *s, int fd)
{
	if (s->amqp_fd >= 0) {
		epoll_ctl(s->epfd, EPOLL_CTL_DEL, s->amqp_fd, NULL);
	}
	s->amqp_fd = -1;
	if (fd >= 0) {
		struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };
		if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) == 0) {
			s->amqp_fd = fd;
		} else {
			hg_warn("epoll: %s: the broker is polled on the tick only",
			        strerror(errno));
		}
	}
}

/* The consumer is gone (broker, network, LMDB): what was not committed is
 * consumed again from the stored offset after reconnecting. */
static void lost(syncd_t *s, const char *why)
{
	syncd_batch_abort(&s->ap);
	s->batch_n = 0;
	epoll_fd(s, -1);
	hg_amqp_drop(s->amqp);
	s->consuming = false;
	s->consumer_losses++;
	report(s, "stream consumer lost", why);
	schedule_retry(s, 1);
}

static void cluster_name(syncd_t *s, char *out, size_t size)
{
	out[0] = '\0';
	amqp_table_t *t = amqp_get_server_properties(hg_amqp_state(s->amqp));
	for (int i = 0; t != NULL && i < t->num_entries; i++) {
		const amqp_table_entry_t *e = &t->entries[i];
		if (e->key.len == strlen("cluster_name") &&
		    memcmp(e->key.bytes, "cluster_name", e->key.len) == 0 &&
		    (e->value.kind == AMQP_FIELD_KIND_UTF8 ||
		     e->value.kind == AMQP_FIELD_KIND_BYTES)) {
			size_t n = e->value.value.bytes.len < size - 1 ? e->value.value.bytes.len
			                                               : size - 1;
			memcpy(out, e->value.value.bytes.bytes, n);
			out[n] = '\0';
		}
	}
}

/* qos, then basic.consume with x-stream-offset from the stored position
 * (the offset after it) or, without one, one snapshot interval back. */
static int start_consumer(syncd_t *s, char *from, size_t size)
{
	amqp_connection_state_t st = hg_amqp_state(s->amqp);
	amqp_basic_qos(st, HG_AMQP_CHANNEL, 0, (uint16_t)s->cfg.prefetch, 0);
	int ret = hg_amqp_check_reply(s->amqp, amqp_get_rpc_reply(st), "basic.qos");
	if (ret != HG_EOK) {
		return ret;
	}
	amqp_table_entry_t e = { .key = amqp_cstring_bytes("x-stream-offset") };
	uint64_t off;
	bool stored = syncd_apply_position(&s->ap, &off);
	s->watch.from_offset = stored;
	if (stored) {
		e.value.kind = AMQP_FIELD_KIND_I64;
		e.value.value.i64 = (int64_t)(off + 1);
		snprintf(from, size, "offset %" PRIu64 " (after the stored one)", off + 1);
	} else {
		uint64_t back = (uint64_t)s->cfg.snapshot_interval_ms + SYNCD_START_MARGIN_MS;
		uint64_t now = store_now_ms(), at = now > back ? (now - back) / 1000 : 0;
		e.value.kind = AMQP_FIELD_KIND_TIMESTAMP;
		e.value.value.u64 = at;
		snprintf(from, size, "time %" PRIu64 " (%" PRIu64 " s back: %s)", at, back / 1000,
		         s->by_time_next ? "the stored offset was never reached"
		                         : "no stored position for this cluster");
	}
	amqp_table_t args = { 1, &e };
	amqp_basic_consume(st, HG_AMQP_CHANNEL, amqp_cstring_bytes(SYNCD_STREAM(&s->cfg)),
	                   amqp_empty_bytes, 0, 0, 0, args);
	return hg_amqp_check_reply(s->amqp, amqp_get_rpc_reply(st), "basic.consume");
}

void syncd_consumer_step(syncd_t *s)
{
	if (s->consuming || s->amqp == NULL || syncd_mono_ms() < s->retry_at_ms) {
		return;
	}
	int ret = hg_amqp_connect(s->amqp);
	if (ret != HG_EOK) {
		s->connect_failures++;
		report(s, "no broker", hg_amqp_error(s->amqp));
		schedule_retry(s, (unsigned)s->uris.n);
		return;
	}
	char cluster[HG_CLUSTER_SIZE], from[200];
	cluster_name(s, cluster, sizeof(cluster));
	syncd_apply_set_cluster(&s->ap, cluster);
	if (s->by_time_next) {
		syncd_apply_drop_position(&s->ap);
	}
	ret = start_consumer(s, from, sizeof(from));
	if (ret != HG_EOK) {
		/* 406 "does not have a replica on the local node", 404 no stream,
		 * 403 no read permission: the next broker may do better. */
		char why[HG_AMQP_ERR_MAX];
		snprintf(why, sizeof(why), "%s", hg_amqp_error(s->amqp));
		s->connect_failures++;
		hg_amqp_drop(s->amqp);
		report(s, "cannot consume", why);
		schedule_retry(s, 1);
		return;
	}
	s->consuming = true;
	s->connected_ms = syncd_mono_ms();
	s->watch.delivered = false;
	s->watch.started_ms = s->connected_ms;
	s->by_time_next = false;
	s->reconnects += s->started_consuming;
	s->started_consuming = 1;
	s->last_error[0] = '\0';
	epoll_fd(s, hg_amqp_fd(s->amqp));
	hg_notice("consuming %s on %s (cluster '%s') from %s", SYNCD_STREAM(&s->cfg),
	          hg_amqp_uri(s->amqp), cluster, from);
}

/* Commit the open burst, then acknowledge it: the broker may forget what
 * the database holds. */
static int flush(syncd_t *s)
{
	if (!s->ap.open) {
		return HG_EOK;
	}
	size_t n = s->batch_n;
	s->batch_n = 0;
	int ret = syncd_batch_commit(&s->ap);
	if (ret != HG_EOK) {
		char why[300];
		snprintf(why, sizeof(why),
		         "LMDB commit of %zu deliveries failed: %s (they will be "
		         "consumed again from offset %" PRIu64 ")",
		         n, hg_strerror(ret), s->ap.pos.offset + 1);
		lost(s, why);
		return ret;
	}
	amqp_connection_state_t st = hg_amqp_state(s->amqp);
	ret = hg_amqp_check(s->amqp, amqp_basic_ack(st, HG_AMQP_CHANNEL, s->batch_tag, 1),
	                    "basic.ack");
	if (ret != HG_EOK) {
		lost(s, hg_amqp_error(s->amqp)); /* committed: resuming loses nothing */
	}
	return ret;
}

/* The content of one delivery: its header frame (properties) and body frames. */
static int read_content(syncd_t *s, syncd_delivery_t *d, char *user, size_t *user_len)
{
	amqp_frame_t f;
	int ret = hg_amqp_wait_frame(s->amqp, SYNCD_CONTENT_WAIT_MS, &f);
	if (ret != HG_EOK || f.frame_type != AMQP_FRAME_HEADER) {
		return ret != HG_EOK ? ret : HG_EIO;
	}
	const amqp_basic_properties_t *p = f.payload.properties.decoded;
	uint64_t size = f.payload.properties.body_size;
	if (p->_flags & AMQP_BASIC_USER_ID_FLAG) {
		*user_len = p->user_id.len < 255 ? p->user_id.len : 255;
		memcpy(user, p->user_id.bytes, *user_len);
		d->user_id = user;
		d->user_id_len = *user_len;
	}
	if (p->_flags & AMQP_BASIC_HEADERS_FLAG) {
		for (int i = 0; i < p->headers.num_entries; i++) {
			const amqp_table_entry_t *e = &p->headers.entries[i];
			if (e->key.len == strlen("x-stream-offset") &&
			    memcmp(e->key.bytes, "x-stream-offset", e->key.len) == 0 &&
			    e->value.kind == AMQP_FIELD_KIND_I64 && e->value.value.i64 >= 0) {
				d->has_offset = true;
				d->offset = (uint64_t)e->value.value.i64;
			}
		}
	}
	/* Keep at most what a valid message can be; an oversized body is read
	 * and dropped, the decoder rejects it by its length alone. */
	bool keep = size <= FEED_MAX_MSG_BYTES;
	if (keep && size > s->body_cap) {
		uint8_t *grown = realloc(s->body, size);
		if (grown == NULL) {
			return HG_ENOMEM;
		}
		s->body = grown;
		s->body_cap = size;
	}
	for (uint64_t got = 0; got < size;) {
		ret = hg_amqp_wait_frame(s->amqp, SYNCD_CONTENT_WAIT_MS, &f);
		if (ret != HG_EOK || f.frame_type != AMQP_FRAME_BODY ||
		    f.payload.body_fragment.len > size - got) {
			return ret != HG_EOK ? ret : HG_EIO;
		}
		if (keep) {
			memcpy(s->body + got, f.payload.body_fragment.bytes,
			       f.payload.body_fragment.len);
		}
		got += f.payload.body_fragment.len;
	}
	d->body = s->body;
	d->len = (size_t)size;
	return HG_EOK;
}

static int on_deliver(syncd_t *s, const amqp_basic_deliver_t *m)
{
	char key[256], user[256];
	size_t user_len = 0;
	syncd_delivery_t d = { .arrival_ms = store_now_ms() };
	uint64_t tag = m->delivery_tag;
	size_t klen = m->routing_key.len < sizeof(key) ? m->routing_key.len : sizeof(key) - 1;
	memcpy(key, m->routing_key.bytes, klen);
	d.routing_key = key;
	d.routing_key_len = klen;
	int ret = read_content(s, &d, user, &user_len);
	if (ret != HG_EOK) {
		lost(s, ret == HG_EIO && hg_amqp_error(s->amqp)[0] == '\0'
		                ? "malformed delivery (content frames out of order)"
		                : hg_amqp_error(s->amqp));
		return ret;
	}
	if (!s->ap.open) {
		ret = syncd_batch_begin(&s->ap, d.arrival_ms);
		if (ret != HG_EOK) {
			char why[200];
			snprintf(why, sizeof(why), "LMDB write transaction: %s", hg_strerror(ret));
			lost(s, why);
			return ret;
		}
		s->batch_open_ms = syncd_mono_ms();
	}
	syncd_verdict_t v;
	ret = syncd_batch_add(&s->ap, &d, &v);
	if (ret != HG_EOK) {
		char why[300];
		snprintf(why, sizeof(why),
		         "applying offset %" PRIu64 ": %s (the burst is consumed "
		         "again)",
		         d.offset, hg_strerror(ret));
		lost(s, why);
		return ret;
	}
	s->batch_tag = tag;
	s->batch_n++;
	s->watch.delivered = true;
	s->failures = 0; /* the broker delivers: the next failure starts afresh */
	return HG_EOK;
}

void syncd_consumer_read(syncd_t *s)
{
	/* A long catch-up must not hold off signals, heartbeats and metrics:
	 * return after a slice; the loop calls again while data is pending. */
	uint64_t until = syncd_mono_ms() + SYNCD_READ_SLICE_MS;
	while (s->consuming && syncd_mono_ms() < until) {
		amqp_frame_t f;
		int ret = hg_amqp_wait_frame(s->amqp, 0, &f);
		if (ret == HG_ENODATA) {
			break;
		}
		if (ret != HG_EOK) {
			lost(s, hg_amqp_error(s->amqp));
			return;
		}
		if (f.frame_type != AMQP_FRAME_METHOD) {
			lost(s, "a content frame without its basic.deliver");
			return;
		}
		if (f.payload.method.id == AMQP_BASIC_DELIVER_METHOD) {
			if (on_deliver(s, f.payload.method.decoded) != HG_EOK) {
				return;
			}
		} else if (f.payload.method.id == AMQP_BASIC_CANCEL_METHOD) {
			lost(s,
			     "the broker cancelled the consumer (stream deleted, or this node lost "
			     "its replica)");
			return;
		} else {
			hg_debug("ignored method 0x%08x from the broker", f.payload.method.id);
		}
		if (s->ap.open &&
		    (s->batch_n >= s->cfg.batch_max ||
		     syncd_mono_ms() - s->batch_open_ms >= SYNCD_BATCH_MAX_MS) &&
		    flush(s) != HG_EOK) {
			return;
		}
	}
	if (flush(s) == HG_EOK && s->consuming) {
		amqp_maybe_release_buffers(hg_amqp_state(s->amqp));
		if (syncd_mono_ms() - s->connected_ms >= SYNCD_STABLE_MS) {
			s->failures = 0;
		}
	}
}

void syncd_consumer_watch(syncd_t *s)
{
	if (!s->consuming ||
	    !syncd_resume_stalled(&s->watch, syncd_mono_ms(), s->cfg.snapshot_interval_ms)) {
		return;
	}
	uint64_t off = 0;
	syncd_apply_position(&s->ap, &off);
	hg_warn("no delivery %" PRIu32 " s after asking broker cluster '%s' for offset %" PRIu64
	        " (after the stored one): the stream ends below it (a cluster rebuilt under the "
	        "same cluster_name?) or nothing was published; restarting %" PRIu32
	        " s back by time (duplicates are dropped by sequence number)",
	        (s->cfg.snapshot_interval_ms + SYNCD_STALL_MARGIN_MS) / 1000, s->ap.cluster,
	        off + 1, (s->cfg.snapshot_interval_ms + SYNCD_START_MARGIN_MS) / 1000);
	/* A new connection, like after any lost consumer, but at once and not
	 * counted as a failure: the broker did nothing wrong. */
	syncd_batch_abort(&s->ap);
	s->batch_n = 0;
	epoll_fd(s, -1);
	hg_amqp_drop(s->amqp);
	s->consuming = false;
	s->watch.from_offset = false;
	s->by_time_next = true;
	s->offset_restarts++;
	s->retry_at_ms = 0;
}

bool syncd_consumer_pending(syncd_t *s)
{
	return s->consuming && hg_amqp_pending(s->amqp);
}

void syncd_consumer_stop(syncd_t *s, bool clean)
{
	if (s->consuming && clean) {
		flush(s); /* what was read is committed and acknowledged first */
	}
	syncd_batch_abort(&s->ap);
	s->batch_n = 0;
	epoll_fd(s, -1);
	if (s->amqp != NULL) {
		if (clean) {
			hg_amqp_close(s->amqp);
		} else {
			hg_amqp_drop(s->amqp);
		}
	}
	s->consuming = false;
}
