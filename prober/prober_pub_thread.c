/*  SPDX-License-Identifier: GPL-3.0-or-later */
/* The publisher thread: its own AMQP connection (libhg_amqp), publisher
 * confirms, and the three kinds of feed message.
 *
 *   not connected: discard queued batches (the snapshot after the next
 *     connect covers them), try a round over the URIs, back off;
 *   connected: republish what the broker did not confirm (in order, same
 *     sequence numbers), then a snapshot, then batches as the loop commits
 *     them, a heartbeat every second, a snapshot every interval; read
 *     confirms; hold everything while the broker blocks publishers or
 *     PROBER_PUB_UNACKED_MAX messages wait for a confirm.
 *
 * Nothing here can stop the probe loop: the only thing shared with it is
 * the queue's mutex, held for pointer moves. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "errors.h"
#include "log.h"
#include "prober_pub_int.h"

#define PUB_EXCHANGE     "haltgslb"
#define PUB_CONTENT_TYPE "application/x-haltgslb-feed"

/* What was logged last, so each state change is said once. */
enum { LOG_NONE = 0, LOG_CONNECTED, LOG_DOWN, LOG_BLOCKED };

uint64_t prober_pub_mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void stats_update(prober_pub_t *pub, void (*fn)(prober_pub_stats_t *s, const void *arg),
                         const void *arg)
{
	pthread_mutex_lock(&pub->stats_lock);
	fn(&pub->stats, arg);
	pub->stats.unacked = prober_unacked_len(&pub->thr.unacked);
	pub->stats.seq = pub->thr.seq;
	pthread_mutex_unlock(&pub->stats_lock);
}

/* ---- publishing one message ---- */

static int send_msg(prober_pub_t *pub, prober_pub_msg_t *m)
{
	char mid[HG_ID_SIZE + 48];
	snprintf(mid, sizeof(mid), "%s/%llu/%llu", pub->id, (unsigned long long)pub->epoch,
	         (unsigned long long)m->seq);
	amqp_basic_properties_t props = { 0 };
	props._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG |
	               AMQP_BASIC_USER_ID_FLAG | AMQP_BASIC_TYPE_FLAG | AMQP_BASIC_MESSAGE_ID_FLAG |
	               AMQP_BASIC_TIMESTAMP_FLAG;
	props.content_type = amqp_cstring_bytes(PUB_CONTENT_TYPE);
	props.delivery_mode = AMQP_DELIVERY_PERSISTENT;
	/* The broker refuses a user_id that is not the connection's user (the
	 * certificate CN): receivers can trust it names the publisher. */
	props.user_id = amqp_cstring_bytes(pub->id);
	props.type = amqp_cstring_bytes(feed_kind_name(m->kind));
	props.message_id = amqp_cstring_bytes(mid);
	props.timestamp = (uint64_t)time(NULL);
	amqp_bytes_t body = { m->len, m->body };
	int st = amqp_basic_publish(hg_amqp_state(pub->amqp), HG_AMQP_CHANNEL,
	                            amqp_cstring_bytes(PUB_EXCHANGE), amqp_cstring_bytes(pub->id),
	                            0, 0, &props, body);
	int ret = hg_amqp_check(pub->amqp, st, "publishing");
	if (ret == HG_EOK) {
		m->tag = pub->thr.tag_next++;
	}
	return ret;
}

static void count_new(prober_pub_stats_t *s, const void *arg)
{
	const prober_pub_msg_t *m = arg;
	s->msgs[m->kind]++;
	s->recs[m->kind] += m->n_records;
}

/* A message just encoded: kept until confirmed, then sent. Kept first: a
 * publish that fails (connection lost) is republished after the reconnect. */
static int publish_new(prober_pub_t *pub, uint8_t *body, size_t len, uint8_t kind, uint32_t n)
{
	prober_pub_msg_t m = {
		.body = body, .len = len, .seq = pub->thr.seq, .kind = kind, .n_records = n
	};
	int ret = prober_unacked_add(&pub->thr.unacked, &m);
	if (ret != HG_EOK) {
		free(body);
		hg_err("publisher: out of memory: %s message %llu not sent", feed_kind_name(kind),
		       (unsigned long long)m.seq);
		return ret;
	}
	prober_pub_msg_t *kept =
	        prober_unacked_at(&pub->thr.unacked, prober_unacked_len(&pub->thr.unacked) - 1);
	ret = send_msg(pub, kept);
	stats_update(pub, count_new, kept);
	return ret;
}

/* ---- the three kinds ---- */

typedef struct {
	prober_pub_t *pub;
	size_t skipped;
	char first_bad[HG_ID_SIZE];
} snap_ctx_t;

static int snap_visit(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
	snap_ctx_t *s = ctx;
	char endpoint[HG_ID_SIZE], prober[HG_ID_SIZE];
	if (store_measure_key_split(key, klen, endpoint, prober) != HG_EOK ||
	    strcmp(prober, s->pub->id) != 0) {
		return HG_EOK; /* another prober's record (a single host holds several) */
	}
	hg_rec_measure_t m;
	int ret = HG_EINVAL;
	if (vlen == sizeof(m)) {
		memcpy(&m, val, sizeof(m));
		ret = m.layout == HG_REC_LAYOUT ? feed_enc_add(&s->pub->thr.enc, endpoint, &m)
		                                : HG_ESCHEMA;
	}
	if (ret == HG_ENOMEM) {
		return ret;
	}
	if (ret != HG_EOK && s->skipped++ == 0) {
		memcpy(s->first_bad, endpoint, sizeof(s->first_bad));
	}
	return HG_EOK;
}

/* Every record of ours, read from LMDB in one snapshot. Queued batches
 * are dropped first: they were committed before this read begins, so it
 * covers them; batches committed later follow the snapshot. */
static int publish_snapshot(prober_pub_t *pub)
{
	prober_pub_thr_t *t = &pub->thr;
	size_t covered = prober_pubq_clear(&pub->q, NULL);
	uint8_t *body = NULL;
	size_t len = 0;
	snap_ctx_t ctx = { .pub = pub };
	int ret = feed_enc_begin(&t->enc, FEED_SNAPSHOT, pub->id, pub->epoch, t->seq + 1,
	                         store_now_ms());
	if (ret == HG_EOK) {
		ret = store_rtxn_begin(pub->store, &t->rtxn);
	}
	if (ret == HG_EOK) {
		ret = store_foreach(&t->rtxn, STORE_MEASUREMENTS, NULL, 0, snap_visit, &ctx);
		/* Freed, not kept: no read txn outlives a snapshot (the thread may
		 * block on the broker for long, and the store closes at exit). */
		store_rtxn_free(&t->rtxn);
	}
	if (ret == HG_EOK) {
		ret = feed_enc_finish(&t->enc, &body, &len);
	}
	if (ret != HG_EOK) {
		hg_err("publisher: snapshot not built: %s", hg_strerror(ret));
		return ret;
	}
	if (ctx.skipped > 0) {
		hg_warn("publisher: snapshot leaves out %zu records it cannot encode (endpoint %s "
		        "first)",
		        ctx.skipped, ctx.first_bad);
	}
	t->seq++;
	t->snapshot_pending = false;
	t->next_snapshot_ms = prober_pub_mono_ms() + pub->snapshot_ms;
	pthread_mutex_lock(&pub->stats_lock);
	pub->stats.superseded += covered;
	pthread_mutex_unlock(&pub->stats_lock);
	hg_debug("publisher: snapshot %llu: %zu records, %zu bytes", (unsigned long long)t->seq,
	         feed_enc_count(&t->enc), len);
	return publish_new(pub, body, len, FEED_SNAPSHOT, (uint32_t)feed_enc_count(&t->enc));
}

static int publish_batch(prober_pub_t *pub, prober_pub_batch_t *b)
{
	prober_pub_thr_t *t = &pub->thr;
	uint8_t *body = NULL;
	size_t len = 0, bad = 0;
	int ret = feed_enc_begin(&t->enc, FEED_BATCH, pub->id, pub->epoch, t->seq + 1,
	                         store_now_ms());
	for (size_t i = 0; ret == HG_EOK && i < b->n; i++) {
		int r = feed_enc_add(&t->enc, b->recs[i].endpoint, &b->recs[i].m);
		if (r == HG_ENOMEM) {
			ret = r;
		} else if (r != HG_EOK && bad++ == 0) {
			hg_warn("publisher: record of %s cannot be encoded (%s): left out",
			        b->recs[i].endpoint, hg_strerror(r));
		}
	}
	size_t n = feed_enc_count(&t->enc);
	prober_pub_batch_free(b);
	if (ret == HG_EOK && n == 0) {
		return HG_EOK;
	}
	if (ret == HG_EOK) {
		ret = feed_enc_finish(&t->enc, &body, &len);
	}
	if (ret != HG_EOK) {
		hg_err("publisher: batch not built: %s", hg_strerror(ret));
		t->snapshot_pending = true; /* what it carried goes out in the snapshot */
		return HG_EOK;
	}
	t->seq++;
	return publish_new(pub, body, len, FEED_BATCH, (uint32_t)n);
}

static int publish_heartbeat(prober_pub_t *pub)
{
	prober_pub_thr_t *t = &pub->thr;
	uint8_t *body = NULL;
	size_t len = 0;
	uint64_t now = prober_pub_mono_ms();
	/* Every second from the last, without catching up after a stall. */
	t->next_heartbeat_ms = t->next_heartbeat_ms + PROBER_HEARTBEAT_MS > now
	                               ? t->next_heartbeat_ms + PROBER_HEARTBEAT_MS
	                               : now + PROBER_HEARTBEAT_MS;
	int ret = feed_enc_begin(&t->enc, FEED_HEARTBEAT, pub->id, pub->epoch, t->seq + 1,
	                         store_now_ms());
	if (ret == HG_EOK) {
		ret = feed_enc_finish(&t->enc, &body, &len);
	}
	if (ret != HG_EOK) {
		hg_err("publisher: heartbeat not built: %s", hg_strerror(ret));
		return HG_EOK;
	}
	t->seq++;
	return publish_new(pub, body, len, FEED_HEARTBEAT, 0);
}

/* ---- confirms and other frames ---- */

static void count_confirm(prober_pub_stats_t *s, const void *arg)
{
	const uint64_t *v = arg; /* { acked, nacked } */
	s->acks += v[0];
	s->nacks += v[1];
}

static void on_frame(prober_pub_t *pub, const amqp_frame_t *f)
{
	if (f->frame_type != AMQP_FRAME_METHOD) {
		return;
	}
	uint64_t counts[2] = { 0, 0 };
	if (f->payload.method.id == AMQP_BASIC_ACK_METHOD) {
		const amqp_basic_ack_t *a = f->payload.method.decoded;
		counts[0] = prober_unacked_confirm(&pub->thr.unacked, a->delivery_tag,
		                                   a->multiple != 0, NULL);
	} else if (f->payload.method.id == AMQP_BASIC_NACK_METHOD) {
		/* The broker could not take them (e.g. a stream replica failed):
		 * what they said goes out again in a snapshot. */
		const amqp_basic_nack_t *a = f->payload.method.decoded;
		counts[1] = prober_unacked_confirm(&pub->thr.unacked, a->delivery_tag,
		                                   a->multiple != 0, NULL);
		hg_warn("publisher: the broker refused %llu message(s) (basic.nack): a snapshot "
		        "follows",
		        (unsigned long long)counts[1]);
		pub->thr.snapshot_pending = true;
	} else {
		return;
	}
	stats_update(pub, count_confirm, counts);
}

/* Everything readable now; HG_EOK or the error that lost the connection. */
static int read_frames(prober_pub_t *pub)
{
	for (;;) {
		amqp_frame_t f;
		int ret = hg_amqp_wait_frame(pub->amqp, 0, &f);
		if (ret == HG_ENODATA) {
			return HG_EOK;
		}
		if (ret != HG_EOK) {
			return ret;
		}
		on_frame(pub, &f);
	}
}

/* ---- connection state ---- */

static void set_connected(prober_pub_stats_t *s, const void *arg)
{
	const int *v = arg; /* { connected, blocked, connect (1) / failure (2) / 0 } */
	s->connected = v[0];
	s->blocked = v[1];
	if (v[2] == 1) {
		s->connects++;
	} else if (v[2] == 2) {
		s->connect_failures++;
	}
}

static void count_republished(prober_pub_stats_t *s, const void *arg)
{
	s->republished += *(const size_t *)arg;
}

/* Unconfirmed messages again, oldest first, before anything new. */
static int republish(prober_pub_t *pub, size_t *count)
{
	prober_pub_unacked_t *u = &pub->thr.unacked;
	*count = 0;
	for (size_t i = 0; i < prober_unacked_len(u); i++) {
		prober_pub_msg_t *m = prober_unacked_at(u, i);
		if (m->confirmed) {
			continue;
		}
		int ret = send_msg(pub, m);
		if (ret != HG_EOK) {
			return ret;
		}
		(*count)++;
	}
	return HG_EOK;
}

/* A connection that ends within this long counts as a failed round, so
 * a broker that accepts the login and then refuses what we publish (403
 * on the channel) is retried with backoff, not in a loop. */
#define PUB_STABLE_MS 10000u

static void lost(prober_pub_t *pub, int ret)
{
	prober_pub_thr_t *t = &pub->thr;
	uint64_t now = prober_pub_mono_ms();
	const char *text = hg_amqp_error(pub->amqp);
	if (atomic_load(&pub->cmd) == PUB_ABORT) {
		hg_debug("publisher: connection ended at shutdown: %s", text);
	} else if (t->log_state == LOG_DOWN && strcmp(t->last_err, text) == 0) {
		hg_debug("publisher: lost the broker again: %s", text);
	} else {
		if (ret == HG_EACCES) {
			hg_err("publisher: refused by the broker: %s (reconnecting with backoff; "
			       "probing goes on)",
			       text);
		} else {
			hg_warn("publisher: lost the broker: %s (reconnecting; probing goes on)",
			        text);
		}
		t->log_state = LOG_DOWN;
		t->down_kind = ret == HG_EACCES ? HG_EACCES : HG_EIO;
		snprintf(t->last_err, sizeof(t->last_err), "%s", text);
	}
	t->quick_losses = now - t->connected_at_ms < PUB_STABLE_MS ? t->quick_losses + 1 : 0;
	t->rng = t->rng * 6364136223846793005ull + 1442695040888963407ull;
	/* At once (the next URI) after a connection that lasted; else back off. */
	t->retry_at_ms = now + hg_amqp_backoff_ms(t->quick_losses, HG_AMQP_BACKOFF_BASE_DEFAULT_MS,
	                                          HG_AMQP_BACKOFF_MAX_DEFAULT_MS, t->rng >> 16);
	hg_amqp_drop(pub->amqp);
	int v[3] = { 0, 0, 0 };
	stats_update(pub, set_connected, v);
}

/* A failed round: said at warning/error when the state changes (connected
 * or refused -> unreachable, ...), at info when only the reason changes
 * (brokers answering differently from round to round), else at debug. */
static void log_down(prober_pub_t *pub, int ret, const char *text, uint32_t delay)
{
	prober_pub_thr_t *t = &pub->thr;
	int kind = ret == HG_EACCES ? HG_EACCES : HG_EIO;
	if (t->log_state == LOG_DOWN && t->down_kind == kind) {
		if (strcmp(t->last_err, text) != 0) {
			hg_info("publisher: still %s, now: %s",
			        kind == HG_EACCES ? "refused" : "no broker", text);
			snprintf(t->last_err, sizeof(t->last_err), "%s", text);
		} else {
			hg_debug("publisher: still no broker, next try in %u ms: %s", delay, text);
		}
		return;
	}
	if (kind == HG_EACCES) {
		hg_err("publisher: refused by the broker: %s (retrying with backoff; probing goes "
		       "on)",
		       text);
	} else {
		hg_warn("publisher: no broker reachable: %s (retrying with backoff; probing goes "
		        "on)",
		        text);
	}
	t->log_state = LOG_DOWN;
	t->down_kind = kind;
	snprintf(t->last_err, sizeof(t->last_err), "%s", text);
}

/* Not connected: queued batches are discarded, not published late (the
 * snapshot after connecting says it all), and counted as superseded. */
static void discard_queued(prober_pub_t *pub)
{
	size_t covered = prober_pubq_clear(&pub->q, NULL);
	if (covered > 0) {
		pthread_mutex_lock(&pub->stats_lock);
		pub->stats.superseded += covered;
		pthread_mutex_unlock(&pub->stats_lock);
	}
}

static int connect_round(prober_pub_t *pub)
{
	prober_pub_thr_t *t = &pub->thr;
	discard_queued(pub);
	int ret = hg_amqp_connect(pub->amqp);
	if (ret == HG_EOK) {
		amqp_confirm_select(hg_amqp_state(pub->amqp), HG_AMQP_CHANNEL);
		ret = hg_amqp_check_reply(pub->amqp, amqp_get_rpc_reply(hg_amqp_state(pub->amqp)),
		                          "enabling publisher confirms");
	}
	if (ret != HG_EOK) {
		char text[HG_AMQP_ERR_MAX];
		snprintf(text, sizeof(text), "%s", hg_amqp_error(pub->amqp));
		hg_amqp_drop(pub->amqp);
		uint32_t delay = hg_amqp_retry_delay_ms(pub->amqp);
		t->retry_at_ms = prober_pub_mono_ms() + delay;
		log_down(pub, ret, text, delay);
		int v[3] = { 0, 0, 2 };
		stats_update(pub, set_connected, v);
		return ret;
	}
	t->tag_next = 1;
	t->connected_at_ms = prober_pub_mono_ms();
	prober_unacked_untag(&t->unacked);
	size_t n = 0;
	ret = republish(pub, &n);
	if (ret != HG_EOK) {
		lost(pub, ret);
		return ret;
	}
	hg_notice("publisher: connected to %s as %s (epoch %llu, seq %llu; %zu unconfirmed "
	          "message(s) republished)",
	          hg_amqp_uri(pub->amqp), pub->id, (unsigned long long)pub->epoch,
	          (unsigned long long)t->seq, n);
	t->log_state = LOG_CONNECTED;
	t->snapshot_pending = true;
	t->next_heartbeat_ms = prober_pub_mono_ms();
	int v[3] = { 1, 0, 1 };
	stats_update(pub, set_connected, v);
	stats_update(pub, count_republished, &n);
	return ret;
}

/* Say when the broker starts or stops blocking us (a resource alarm). */
static void watch_blocked(prober_pub_t *pub)
{
	const char *why = NULL;
	bool blocked = hg_amqp_blocked(pub->amqp, &why);
	bool was = pub->thr.log_state == LOG_BLOCKED;
	if (blocked == was) {
		return;
	}
	if (blocked) {
		hg_warn("publisher: %s blocks publishers (%s): holding messages; probing goes on",
		        hg_amqp_uri(pub->amqp), why && why[0] ? why : "resource alarm");
		pub->thr.log_state = LOG_BLOCKED;
	} else {
		hg_notice("publisher: %s accepts messages again", hg_amqp_uri(pub->amqp));
		pub->thr.log_state = LOG_CONNECTED;
	}
	int v[3] = { 1, blocked, 0 };
	stats_update(pub, set_connected, v);
}

/* Publish what is due, as far as the broker lets us. */
static int publish_due(prober_pub_t *pub, bool flushing)
{
	prober_pub_thr_t *t = &pub->thr;
	int ret = HG_EOK;
	while (ret == HG_EOK && !hg_amqp_blocked(pub->amqp, NULL) &&
	       prober_unacked_len(&t->unacked) < PROBER_PUB_UNACKED_MAX) {
		uint64_t now = prober_pub_mono_ms();
		prober_pub_batch_t b;
		if (!flushing && (t->snapshot_pending || now >= t->next_snapshot_ms ||
		                  prober_pubq_snapshot_needed(&pub->q))) {
			ret = publish_snapshot(pub);
			if (ret != HG_EOK && hg_amqp_connected(pub->amqp)) {
				/* Not the broker's fault (store, memory): retry at the next interval. */
				t->snapshot_pending = false;
				t->next_snapshot_ms = now + pub->snapshot_ms;
				ret = HG_EOK;
			}
		} else if (prober_pubq_pop(&pub->q, &b)) {
			ret = publish_batch(pub, &b);
		} else if (!flushing && now >= t->next_heartbeat_ms) {
			ret = publish_heartbeat(pub);
		} else {
			break;
		}
	}
	return hg_amqp_connected(pub->amqp) ? HG_EOK : (ret != HG_EOK ? ret : HG_EIO);
}

static void drain_wake(prober_pub_t *pub)
{
	uint64_t v;
	while (read(pub->wake_fd, &v, sizeof(v)) == (ssize_t)sizeof(v)) {
	}
}

/* Sleep until \a until_ms (monotonic), a wake-up or a readable broker. */
static void wait_for(prober_pub_t *pub, uint64_t until_ms, bool with_broker)
{
	struct pollfd fds[2] = { { .fd = pub->wake_fd, .events = POLLIN },
		                 { .fd = with_broker ? hg_amqp_fd(pub->amqp) : -1,
		                   .events = POLLIN } };
	uint64_t now = prober_pub_mono_ms();
	int timeout = until_ms > now ? (int)(until_ms - now) : 0;
	if (poll(fds, 2, timeout) > 0 && (fds[0].revents & POLLIN)) {
		drain_wake(pub);
	}
}

static bool flushed(prober_pub_t *pub)
{
	size_t len;
	uint64_t dropped;
	prober_pubq_stats(&pub->q, &len, &dropped);
	return len == 0 && prober_unacked_len(&pub->thr.unacked) == 0;
}

/* One turn while connected; HG_EOK, or the error that lost the broker. */
static int connected_turn(prober_pub_t *pub, bool flushing)
{
	prober_pub_thr_t *t = &pub->thr;
	int ret = read_frames(pub);
	if (ret == HG_EOK) {
		watch_blocked(pub);
		ret = publish_due(pub, flushing);
	}
	if (ret == HG_EOK) {
		ret = read_frames(pub);
	}
	if (ret != HG_EOK || (flushing && flushed(pub))) {
		return ret;
	}
	if (hg_amqp_pending(pub->amqp)) {
		return HG_EOK; /* frames already buffered: no sleep */
	}
	/* Heartbeats (ours and AMQP's) need a turn at least every second. */
	uint64_t until = t->next_heartbeat_ms;
	if (!flushing && t->next_snapshot_ms < until) {
		until = t->next_snapshot_ms;
	}
	uint64_t cap = prober_pub_mono_ms() + PROBER_HEARTBEAT_MS;
	wait_for(pub, until < cap ? until : cap, true);
	return HG_EOK;
}

void *prober_pub_main(void *arg)
{
	prober_pub_t *pub = arg;
	prober_pub_thr_t *t = &pub->thr;
	for (;;) {
		int cmd = atomic_load(&pub->cmd);
		if (cmd == PUB_ABORT) {
			break;
		}
		bool flushing = cmd == PUB_FLUSH;
		if (!hg_amqp_connected(pub->amqp)) {
			if (flushing) {
				break; /* nothing can be flushed without a broker */
			}
			if (prober_pub_mono_ms() < t->retry_at_ms) {
				discard_queued(pub);
				wait_for(pub, t->retry_at_ms, false);
				continue;
			}
			connect_round(pub);
			continue;
		}
		if (flushing && flushed(pub)) {
			/* Everything confirmed: a clean close, unless the broker blocks
			 * us (it reads nothing then, and close-ok would never come). */
			if (hg_amqp_blocked(pub->amqp, NULL)) {
				hg_amqp_drop(pub->amqp);
			} else {
				hg_amqp_close(pub->amqp);
			}
			break;
		}
		int ret = connected_turn(pub, flushing);
		if (ret != HG_EOK) {
			lost(pub, ret);
		}
	}
	if (atomic_load(&pub->cmd) == PUB_ABORT) {
		hg_amqp_drop(pub->amqp); /* the broker did not confirm in time: no handshake */
	}
	hg_amqp_close(pub->amqp);
	store_rtxn_free(&t->rtxn);
	pthread_mutex_lock(&pub->done_lock);
	pub->done = true;
	pthread_cond_signal(&pub->done_cond);
	pthread_mutex_unlock(&pub->done_lock);
	return NULL;
}
