/*  SPDX-License-Identifier: GPL-3.0-or-later */
/* The publisher as the probe loop sees it: options, start and stop, the
 * batch hooks (collect what changed, hand it over on commit), metrics. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "errors.h"
#include "log.h"
#include "prober.h"
#include "prober_pub_int.h"
#include "text.h"

/* ---- options ---- */

int prober_pub_opt_broker(prober_t *p, const char *arg)
{
	char why[HG_AMQP_ERR_MAX];
	if (hg_amqp_uris_parse(arg, &p->pub_conf.uris, why, sizeof(why)) != HG_EOK) {
		hg_err("--broker: %s", why);
		return HG_EINVAL;
	}
	p->pub_conf.broker = arg;
	return HG_EOK;
}

int prober_pub_opt_tls_cert(prober_t *p, const char *arg)
{
	p->pub_conf.tls_cert = arg;
	return HG_EOK;
}

int prober_pub_opt_tls_key(prober_t *p, const char *arg)
{
	p->pub_conf.tls_key = arg;
	return HG_EOK;
}

int prober_pub_opt_tls_ca(prober_t *p, const char *arg)
{
	p->pub_conf.tls_ca = arg;
	return HG_EOK;
}

int prober_pub_opt_snapshot(prober_t *p, const char *arg)
{
	uint32_t ms;
	if (hg_duration_parse_ms(arg, &ms) != HG_EOK || ms < 1000 || ms > 86400000u) {
		hg_err("--snapshot-interval: expected a duration from 1s to 24h (e.g. 30s, 2m), "
		       "not '%s'",
		       arg);
		return HG_EINVAL;
	}
	p->pub_conf.snapshot_ms = ms;
	return HG_EOK;
}

int prober_pub_opt_queue(prober_t *p, const char *arg)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(arg, &end, 10);
	if (errno != 0 || end == arg || *end != '\0' || arg[0] == '-' || v < 1 ||
	    v > PROBER_PUB_QUEUE_LIMIT) {
		hg_err("--publish-queue: expected a number of batches from 1 to %u, not '%s'",
		       PROBER_PUB_QUEUE_LIMIT, arg);
		return HG_EINVAL;
	}
	p->pub_conf.queue_max = (uint32_t)v;
	return HG_EOK;
}

int prober_pub_opts_check(prober_t *p)
{
	const prober_pub_conf_t *c = &p->pub_conf;
	if (c->broker == NULL) {
		const char *given = c->tls_cert      ? "--tls-cert"
		                    : c->tls_key     ? "--tls-key"
		                    : c->tls_ca      ? "--tls-ca"
		                    : c->snapshot_ms ? "--snapshot-interval"
		                    : c->queue_max   ? "--publish-queue"
		                                     : NULL;
		if (given != NULL) {
			hg_err("%s is for publishing to a broker: give --broker too (or drop it)",
			       given);
			return HG_EINVAL;
		}
		return HG_EOK;
	}
	if (c->tls_cert == NULL || c->tls_key == NULL || c->tls_ca == NULL) {
		hg_err("--broker needs --tls-cert, --tls-key and --tls-ca (the broker "
		       "authenticates "
		       "the prober by its client certificate)");
		return HG_EINVAL;
	}
	return HG_EOK;
}

/* ---- start and stop ---- */

/* The certificate must name us: the broker takes the user from its CN and
 * lets that user publish only with its own id as routing key and user_id. */
static int check_cn(const prober_t *p)
{
	char cn[256], why[HG_AMQP_ERR_MAX];
	if (hg_amqp_cert_cn(p->pub_conf.tls_cert, cn, sizeof(cn), why, sizeof(why)) != HG_EOK) {
		hg_err("--tls-cert: %s", why);
		return HG_EINVAL;
	}
	if (strcmp(cn, p->id) != 0) {
		hg_err("--tls-cert %s: its subject CN is '%s', not the prober id '%s' (--id): the "
		       "broker knows a prober by its certificate's CN; use the certificate issued "
		       "for '%s'",
		       p->pub_conf.tls_cert, cn, p->id, p->id);
		return HG_EINVAL;
	}
	return HG_EOK;
}

static void pub_free(prober_pub_t *pub)
{
	if (pub == NULL) {
		return;
	}
	hg_amqp_free(pub->amqp);
	prober_pubq_free(&pub->q);
	prober_unacked_free(&pub->thr.unacked);
	feed_enc_free(&pub->thr.enc);
	store_rtxn_free(&pub->thr.rtxn);
	prober_pub_batch_free(&pub->building);
	free(pub->build_targets);
	if (pub->wake_fd >= 0) {
		close(pub->wake_fd);
	}
	pthread_mutex_destroy(&pub->stats_lock);
	pthread_mutex_destroy(&pub->done_lock);
	pthread_cond_destroy(&pub->done_cond);
	free(pub);
}

int prober_pub_start(prober_t *p)
{
	const prober_pub_conf_t *c = &p->pub_conf;
	if (c->broker == NULL) {
		return HG_EOK;
	}
	int ret = check_cn(p);
	if (ret != HG_EOK) {
		return ret;
	}
	prober_pub_t *pub = calloc(1, sizeof(*pub));
	if (pub == NULL) {
		return HG_ENOMEM;
	}
	pub->wake_fd = -1;
	pthread_mutex_init(&pub->stats_lock, NULL);
	pthread_mutex_init(&pub->done_lock, NULL);
	pthread_cond_init(&pub->done_cond, NULL);
	snprintf(pub->id, sizeof(pub->id), "%s", p->id);
	/* A restart always gets a larger epoch: start time in ms (restarting
	 * takes far longer than 1 ms; NTP slews, it does not step back). */
	pub->epoch = store_now_ms();
	pub->snapshot_ms = c->snapshot_ms ? c->snapshot_ms : PROBER_SNAPSHOT_DEFAULT_MS;
	pub->store = p->store;
	feed_enc_init(&pub->thr.enc);
	prober_unacked_init(&pub->thr.unacked);
	pub->thr.rng = pub->epoch ^ ((uint64_t)getpid() << 32);
	char conn_name[HG_ID_SIZE + 32], why[HG_AMQP_ERR_MAX];
	snprintf(conn_name, sizeof(conn_name), "haltgslb-prober %s", p->id);
	hg_amqp_config_t cfg = { .uris = &c->uris,
		                 .tls_cert = c->tls_cert,
		                 .tls_key = c->tls_key,
		                 .tls_ca = c->tls_ca,
		                 .identity = p->id,
		                 .conn_name = conn_name };
	ret = hg_amqp_new(&cfg, &pub->amqp, why, sizeof(why));
	if (ret != HG_EOK) {
		hg_err("cannot publish to the broker: %s", why);
		goto fail;
	}
	pub->queue_max = c->queue_max ? c->queue_max : PROBER_PUB_QUEUE_MAX;
	ret = prober_pubq_init(&pub->q, pub->queue_max);
	if (ret != HG_EOK) {
		goto fail;
	}
	pub->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (pub->wake_fd < 0) {
		ret = hg_err_from_errno(errno);
		goto fail;
	}
	/* The thread inherits the blocked SIGTERM/SIGINT/SIGHUP: signals stay
	 * with the loop's signalfd. */
	int rc = pthread_create(&pub->thread, NULL, prober_pub_main, pub);
	if (rc != 0) {
		ret = hg_err_from_errno(rc);
		hg_err("cannot start the publisher thread: %s", hg_strerror(ret));
		goto fail;
	}
	pub->thread_started = true;
	p->pub = pub;
	hg_notice("publishing to %s as %s (epoch %llu, snapshot every %u ms)", c->broker, p->id,
	          (unsigned long long)pub->epoch, pub->snapshot_ms);
	return HG_EOK;
fail:
	pub_free(pub);
	return ret;
}

static void wake(prober_pub_t *pub)
{
	uint64_t one = 1;
	ssize_t n = write(pub->wake_fd, &one, sizeof(one));
	(void)n; /* EAGAIN: the counter is already non-zero, the thread will wake */
}

/* Wait for the thread's done flag until \a deadline (CLOCK_REALTIME, as
 * pthread_cond_timedwait measures). */
static bool wait_done(prober_pub_t *pub, const struct timespec *deadline)
{
	pthread_mutex_lock(&pub->done_lock);
	while (!pub->done) {
		if (pthread_cond_timedwait(&pub->done_cond, &pub->done_lock, deadline) ==
		    ETIMEDOUT) {
			break;
		}
	}
	bool done = pub->done;
	pthread_mutex_unlock(&pub->done_lock);
	return done;
}

static void add_ms(struct timespec *ts, unsigned ms)
{
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

void prober_pub_stop(prober_t *p)
{
	prober_pub_t *pub = p->pub;
	if (pub == NULL) {
		return;
	}
	p->pub = NULL;
	struct timespec deadline;
	clock_gettime(CLOCK_REALTIME, &deadline);
	add_ms(&deadline, PROBER_PUB_FLUSH_MS);
	atomic_store(&pub->cmd, PUB_FLUSH);
	wake(pub);
	bool done = wait_done(pub, &deadline);
	if (!done) {
		/* Not confirmed in time (broker slow, blocked or away): cut the
		 * socket so a publish blocked in librabbitmq returns. */
		atomic_store(&pub->cmd, PUB_ABORT);
		hg_amqp_abort(pub->amqp);
		wake(pub);
		add_ms(&deadline, 1000);
		done = wait_done(pub, &deadline);
	}
	if (!done) {
		/* Inside a connect (bounded by its timeout, not interruptible): the
		 * process is exiting, leave the thread and its memory behind. */
		hg_warn("publisher: still connecting to the broker at exit: not waiting for it");
		pthread_detach(pub->thread);
		return;
	}
	pthread_join(pub->thread, NULL);
	size_t left = prober_unacked_len(&pub->thr.unacked), queued;
	uint64_t dropped;
	prober_pubq_stats(&pub->q, &queued, &dropped);
	if (left > 0 || queued > 0) {
		hg_warn("publisher: stopped with %zu message(s) unconfirmed and %zu batch(es) not "
		        "published (the DNS nodes resync from this prober's next snapshot)",
		        left, queued);
	} else {
		hg_info("publisher: stopped, every message confirmed (last seq %llu)",
		        (unsigned long long)pub->thr.seq);
	}
	pub_free(pub);
}

/* ---- batch hooks ---- */

void prober_pub_collect(prober_t *p, prober_target_t *t, const hg_rec_measure_t *m)
{
	prober_pub_t *pub = p->pub;
	if (pub == NULL || !prober_pub_changed(&t->pub_ref, m)) {
		return;
	}
	prober_pub_batch_t *b = &pub->building;
	if (b->n == pub->build_cap) {
		size_t cap = pub->build_cap ? 2 * pub->build_cap : 64;
		feed_rec_t *recs = realloc(b->recs, cap * sizeof(*recs));
		if (recs == NULL) {
			hg_err("publisher: out of memory: %s not published", t->id);
			return;
		}
		b->recs = recs;
		prober_target_t **tg = realloc(pub->build_targets, cap * sizeof(*tg));
		if (tg == NULL) {
			hg_err("publisher: out of memory: %s not published", t->id);
			return;
		}
		pub->build_targets = tg;
		pub->build_cap = cap;
	}
	feed_rec_t *r = &b->recs[b->n];
	memcpy(r->endpoint, t->id, sizeof(r->endpoint));
	r->m = *m;
	pub->build_targets[b->n++] = t;
}

void prober_pub_commit(prober_t *p)
{
	prober_pub_t *pub = p->pub;
	if (pub == NULL || pub->building.n == 0) {
		return;
	}
	for (size_t i = 0; i < pub->building.n; i++) {
		prober_pub_ref_set(&pub->build_targets[i]->pub_ref, &pub->building.recs[i].m);
	}
	/* The queue takes the records; the next batch allocates anew. */
	bool dropped = prober_pubq_push(&pub->q, &pub->building);
	pub->build_cap = 0;
	wake(pub);
	if (dropped && !pub->drop_logged) {
		hg_warn("publisher: %u batches wait for the broker (slow, blocked or away): "
		        "dropping "
		        "the oldest; a snapshot follows",
		        pub->queue_max);
		pub->drop_logged = true;
	} else if (!dropped && pub->drop_logged) {
		hg_notice("publisher: keeping up with the batches again");
		pub->drop_logged = false;
	}
}

void prober_pub_abort(prober_t *p)
{
	if (p->pub != NULL) {
		p->pub->building.n = 0;
	}
}

/* ---- metrics ---- */

static void series(FILE *f, const char *name, const char *id, const char *label, const char *value,
                   unsigned long long v)
{
	fprintf(f, "%s{prober=\"%s\"", name, id);
	if (label != NULL) {
		fprintf(f, ",%s=\"%s\"", label, value);
	}
	fprintf(f, "} %llu\n", v);
}

static void head(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void prober_pub_metrics(const prober_t *p, FILE *f)
{
	prober_pub_t *pub = p->pub;
	if (pub == NULL) {
		return;
	}
	prober_pub_stats_t s;
	pthread_mutex_lock(&pub->stats_lock);
	s = pub->stats;
	pthread_mutex_unlock(&pub->stats_lock);
	size_t queued;
	uint64_t dropped;
	prober_pubq_stats(&pub->q, &queued, &dropped);
	const char *id = pub->id; /* ids are [A-Za-z0-9._-]: nothing to escape */
	static const char *const kinds[] = {
		[FEED_BATCH] = "batch", [FEED_SNAPSHOT] = "snapshot", [FEED_HEARTBEAT] = "heartbeat"
	};
	head(f, "haltgslb_prober_published_messages_total", "counter",
	     "Feed messages published to the broker, by kind (republications not counted).");
	for (int k = FEED_BATCH; k <= FEED_HEARTBEAT; k++) {
		series(f, "haltgslb_prober_published_messages_total", id, "kind", kinds[k],
		       s.msgs[k]);
	}
	head(f, "haltgslb_prober_published_records_total", "counter",
	     "Measurement records in the published messages, by kind.");
	for (int k = FEED_BATCH; k <= FEED_SNAPSHOT; k++) {
		series(f, "haltgslb_prober_published_records_total", id, "kind", kinds[k],
		       s.recs[k]);
	}
	head(f, "haltgslb_prober_confirms_total", "counter",
	     "Publisher confirms from the broker: ack (stored), nack (refused).");
	series(f, "haltgslb_prober_confirms_total", id, "result", "ack", s.acks);
	series(f, "haltgslb_prober_confirms_total", id, "result", "nack", s.nacks);
	head(f, "haltgslb_prober_unconfirmed_messages", "gauge",
	     "Messages published and not confirmed yet (republished after a reconnect).");
	series(f, "haltgslb_prober_unconfirmed_messages", id, NULL, NULL, s.unacked);
	head(f, "haltgslb_prober_republished_messages_total", "counter",
	     "Unconfirmed messages published again after a reconnect.");
	series(f, "haltgslb_prober_republished_messages_total", id, NULL, NULL, s.republished);
	head(f, "haltgslb_prober_broker_connected", "gauge",
	     "1 while connected to a broker, 0 otherwise.");
	series(f, "haltgslb_prober_broker_connected", id, NULL, NULL, s.connected);
	head(f, "haltgslb_prober_broker_blocked", "gauge",
	     "1 while the broker blocks publishers (resource alarm).");
	series(f, "haltgslb_prober_broker_blocked", id, NULL, NULL, s.blocked);
	head(f, "haltgslb_prober_broker_connects_total", "counter",
	     "Connections established (the first one and every reconnect).");
	series(f, "haltgslb_prober_broker_connects_total", id, NULL, NULL, s.connects);
	head(f, "haltgslb_prober_broker_reconnects_total", "counter",
	     "Connections established after the first.");
	series(f, "haltgslb_prober_broker_reconnects_total", id, NULL, NULL,
	       s.connects > 0 ? s.connects - 1 : 0);
	head(f, "haltgslb_prober_broker_connect_failures_total", "counter",
	     "Connection rounds (every URI tried once) that failed.");
	series(f, "haltgslb_prober_broker_connect_failures_total", id, NULL, NULL,
	       s.connect_failures);
	head(f, "haltgslb_prober_publish_queue_batches", "gauge",
	     "Committed batches waiting for the publisher thread.");
	series(f, "haltgslb_prober_publish_queue_batches", id, NULL, NULL, queued);
	head(f, "haltgslb_prober_publish_dropped_batches_total", "counter",
	     "Batches dropped because the queue was full (a snapshot followed).");
	series(f, "haltgslb_prober_publish_dropped_batches_total", id, NULL, NULL, dropped);
	head(f, "haltgslb_prober_publish_superseded_batches_total", "counter",
	     "Queued batches not published because a snapshot carried them.");
	series(f, "haltgslb_prober_publish_superseded_batches_total", id, NULL, NULL, s.superseded);
	head(f, "haltgslb_prober_feed_seq", "gauge",
	     "Last feed sequence number used in this epoch.");
	series(f, "haltgslb_prober_feed_seq", id, NULL, NULL, s.seq);
	head(f, "haltgslb_prober_feed_epoch", "gauge",
	     "This run's feed epoch (start time, Unix ms).");
	series(f, "haltgslb_prober_feed_epoch", id, NULL, NULL, pub->epoch);
}
