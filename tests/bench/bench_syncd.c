/*  SPDX-License-Identifier: GPL-3.0-or-later */
/*  Benchmark helper for haltgslb-syncd (tests/bench/bench_syncd.py drives
 *  it; not a test). Publishes feed messages as a prober (libhg_amqp: TLS,
 *  EXTERNAL, user_id, publisher confirms) and watches the DNS node's LMDB:
 *
 *    bench_syncd backlog  COMMON --messages N --records R
 *        publish N batches of R records (endpoints ep-00000.. in turn), wait
 *        for every confirm, print "published N messages, N*R records".
 *    bench_syncd wait     --db DIR --prober ID --records T
 *        poll the prober's cursor until T records were applied; print the
 *        rate between the first and the last record seen applied.
 *    bench_syncd latency  COMMON --db DIR --batches N --name OWNER
 *        N times: publish a 1-record batch (ep-00000, a new RTT) and time
 *        until the cell of that endpoint OWNER reads (its set) shows it; print
 *        p50/p90/p99/max.
 *
 *    bench_syncd apply    --db DIR --messages N --records R
 *        no broker: N batches of R records through the apply path
 *        (syncd_batch_add, one transaction per --batch messages), in process.
 *
 *  COMMON: --broker URIS --tls-cert F --tls-key F --tls-ca F --prober ID
 *  [--verbose] (frames and acks seen while waiting for confirms, on stderr) */
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "errors.h"
#include "feed.h"
#include "hg_amqp.h"
#include "policy.h"
#include "store.h"
#include "syncd_apply.h"
#include "view.h"
#include "view_lookup.h"

typedef struct {
	const char *broker, *cert, *key, *ca, *prober, *db, *name;
	unsigned messages, records, batches;
	uint64_t total;
} args_t;

/* --verbose: every frame read while waiting for confirms, on stderr. */
static bool verbose;

static uint64_t mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static uint64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void die(const char *what, const char *why)
{
	fprintf(stderr, "bench_syncd: %s: %s\n", what, why);
	exit(1);
}

static hg_amqp_t *connect_pub(const args_t *a)
{
	hg_amqp_uris_t uris;
	char why[HG_AMQP_ERR_MAX];
	if (hg_amqp_uris_parse(a->broker, &uris, why, sizeof(why)) != HG_EOK) {
		die("--broker", why);
	}
	hg_amqp_config_t cfg = { .uris = &uris,
		                 .tls_cert = a->cert,
		                 .tls_key = a->key,
		                 .tls_ca = a->ca,
		                 .identity = a->prober,
		                 .conn_name = "bench_syncd" };
	hg_amqp_t *c;
	if (hg_amqp_new(&cfg, &c, why, sizeof(why)) != HG_EOK) {
		die("connection", why);
	}
	if (hg_amqp_connect(c) != HG_EOK) {
		die("connect", hg_amqp_error(c));
	}
	amqp_confirm_select(hg_amqp_state(c), HG_AMQP_CHANNEL);
	if (hg_amqp_check_reply(c, amqp_get_rpc_reply(hg_amqp_state(c)), "confirm.select") !=
	    HG_EOK) {
		die("confirm.select", hg_amqp_error(c));
	}
	return c;
}

static void publish(hg_amqp_t *c, const char *prober, const uint8_t *msg, size_t len)
{
	amqp_basic_properties_t p = { ._flags = AMQP_BASIC_USER_ID_FLAG |
		                                AMQP_BASIC_DELIVERY_MODE_FLAG,
		                      .user_id = amqp_cstring_bytes(prober),
		                      .delivery_mode = 2 };
	amqp_bytes_t body = { len, (void *)msg };
	int st = amqp_basic_publish(hg_amqp_state(c), HG_AMQP_CHANNEL,
	                            amqp_cstring_bytes("haltgslb"), amqp_cstring_bytes(prober), 0,
	                            0, &p, body);
	if (hg_amqp_check(c, st, "publish") != HG_EOK) {
		die("publish", hg_amqp_error(c));
	}
}

/* Wait until the broker confirmed delivery tag \a tag (acks may be multiple). */
static void wait_confirm(hg_amqp_t *c, uint64_t tag)
{
	for (;;) {
		amqp_frame_t f;
		int r = hg_amqp_wait_frame(c, 10000, &f);
		if (r != HG_EOK) {
			const char *why = NULL;
			if (r == HG_ENODATA && hg_amqp_blocked(c, &why)) {
				die("waiting for confirms: the broker blocks publishers", why);
			}
			die("waiting for confirms", r == HG_ENODATA ? "timeout" : hg_amqp_error(c));
		}
		if (verbose) {
			fprintf(stderr, "frame type %u channel %u method 0x%08x\n", f.frame_type,
			        f.channel,
			        f.frame_type == AMQP_FRAME_METHOD ? f.payload.method.id : 0);
		}
		if (f.frame_type == AMQP_FRAME_METHOD &&
		    f.payload.method.id == AMQP_BASIC_ACK_METHOD) {
			const amqp_basic_ack_t *ack = f.payload.method.decoded;
			if (verbose) {
				fprintf(stderr, "ack %llu multiple %d (waiting for %llu)\n",
				        (unsigned long long)ack->delivery_tag, ack->multiple,
				        (unsigned long long)tag);
			}
			if (ack->delivery_tag >= tag) {
				return;
			}
		} else if (f.frame_type == AMQP_FRAME_METHOD &&
		           f.payload.method.id == AMQP_BASIC_NACK_METHOD) {
			die("publish", "nacked by the broker");
		}
	}
}

static uint8_t *batch(feed_enc_t *e, const char *prober, uint64_t epoch, uint64_t seq,
                      unsigned first, unsigned n, unsigned n_eps, uint32_t rtt, size_t *len)
{
	uint64_t now = wall_ms();
	feed_enc_begin(e, FEED_BATCH, prober, epoch, seq, now);
	for (unsigned i = 0; i < n; i++) {
		char ep[16];
		snprintf(ep, sizeof(ep), "ep-%05u", (first + i) % n_eps);
		hg_rec_measure_t m = { .state = HG_HEALTH_UP,
			               .ts_ms = now,
			               .changed_ms = now - 3600000,
			               .rtt_last_us = rtt + i,
			               .rtt_ewma_us = rtt + i,
			               .rtt_median_us = rtt + i,
			               .ttfb_us = 4000,
			               .loss_bp = 0,
			               .window = 20,
			               .consec_ok = 720,
			               .probes_total = 518400,
			               .probes_failed = 12 };
		feed_enc_add(e, ep, &m);
	}
	uint8_t *msg = NULL;
	if (feed_enc_finish(e, &msg, len) != HG_EOK) {
		die("encode", "failed");
	}
	return msg;
}

static int backlog(const args_t *a)
{
	hg_amqp_t *c = connect_pub(a);
	feed_enc_t e;
	feed_enc_init(&e);
	uint64_t epoch = wall_ms(), t0 = mono_us();
	for (unsigned i = 0; i < a->messages; i++) {
		size_t len;
		uint8_t *msg = batch(&e, a->prober, epoch, i + 1, i * a->records, a->records, 1000,
		                     10000 + i, &len);
		publish(c, a->prober, msg, len);
		free(msg);
		/* Drain confirms now and then: librabbitmq buffers them otherwise. */
		if ((i + 1) % 100 == 0 || i + 1 == a->messages) {
			wait_confirm(c, i + 1);
		}
	}
	double s = (mono_us() - t0) / 1e6;
	printf("published %u messages, %" PRIu64 " records in %.2f s (%.0f records/s)\n",
	       a->messages, (uint64_t)a->messages * a->records, s, a->messages * a->records / s);
	feed_enc_free(&e);
	hg_amqp_free(c);
	return 0;
}

static uint64_t cursor_records(store_t *st, const char *prober)
{
	store_rtxn_t r = { 0 };
	const void *val;
	size_t len;
	uint64_t n = 0;
	if (store_rtxn_begin(st, &r) == HG_EOK &&
	    store_get(&r, STORE_CURSORS, prober, strlen(prober), &val, &len) == HG_EOK &&
	    len == sizeof(hg_rec_cursor_t)) {
		n = ((const hg_rec_cursor_t *)val)->records;
	}
	store_rtxn_free(&r);
	return n;
}

static int wait_records(const args_t *a)
{
	store_t *st;
	if (store_open(a->db, STORE_RDONLY, &st) != HG_EOK) {
		die(a->db, store_last_error());
	}
	uint64_t first_n = 0, first_t = 0, n = 0, deadline = mono_us() + 600u * 1000000u;
	while ((n = cursor_records(st, a->prober)) < a->total) {
		if (n > 0 && first_t == 0) {
			first_t = mono_us();
			first_n = n;
		}
		if (mono_us() > deadline) {
			die("wait", "600 s without all records");
		}
		usleep(1000);
	}
	uint64_t t = mono_us();
	if (first_t == 0) {
		first_t = t;
		first_n = n;
	}
	double s = (t - first_t) / 1e6;
	printf("applied %" PRIu64 " records; %" PRIu64 " of them in %.3f s after the first "
	       "commit seen: %.0f records/s\n",
	       n, n - first_n, s, s > 0 ? (n - first_n) / s : 0.0);
	store_close(st);
	return 0;
}

/* The RTT of ep-00000 by bench-p1 as OWNER reads it: in the endpoint set its
 * view references (schema 2). */
static bool cell_rtt(store_t *st, const uint8_t *owner, uint8_t olen, uint32_t *rtt)
{
	store_rtxn_t r = { 0 };
	const void *val;
	size_t len;
	bool found = false;
	if (store_rtxn_begin(st, &r) == HG_EOK &&
	    store_get(&r, STORE_VIEWS, owner, olen, &val, &len) == HG_EOK) {
		view_t v;
		view_set_t s;
		uint8_t key[4];
		if (view_open(val, len, &v) == HG_EOK) {
			view_set_key(v.hdr->set_id, key);
			if (store_get(&r, STORE_SETS, key, sizeof(key), &val, &len) == HG_EOK &&
			    view_set_open(val, len, &s) == HG_EOK) {
				long e = view_find_ep(&s, "ep-00000");
				long p = e >= 0 ? view_find_prober(&s, "bench-p1") : -1;
				if (p >= 0) {
					*rtt = view_cell(&s, (unsigned)e, (unsigned)p)->rtt_us;
					found = true;
				}
			}
		}
	}
	store_rtxn_free(&r);
	return found;
}

/* The apply path alone: what LMDB and the view patching cost per record. */
static int apply_only(const args_t *a)
{
	store_t *st;
	if (store_open(a->db, 0, &st) != HG_EOK) {
		die(a->db, store_last_error());
	}
	syncd_apply_t ap;
	if (syncd_apply_init(&ap, st, "haltgslb.measurements") != HG_EOK) {
		die("apply", "init failed");
	}
	feed_enc_t e;
	feed_enc_init(&e);
	uint8_t **msgs = calloc(a->messages, sizeof(*msgs));
	size_t *lens = calloc(a->messages, sizeof(*lens));
	uint64_t epoch = wall_ms();
	for (unsigned i = 0; i < a->messages; i++) {
		msgs[i] = batch(&e, a->prober, epoch, i + 1, i * a->records, a->records, 1000,
		                20000 + i, &lens[i]);
	}
	unsigned per_txn = a->batches ? a->batches : 1;
	uint64_t t0 = mono_us(), applied = 0;
	for (unsigned i = 0; i < a->messages; i += per_txn) {
		if (syncd_batch_begin(&ap, wall_ms()) != HG_EOK) {
			die("apply", "begin failed");
		}
		for (unsigned k = i; k < i + per_txn && k < a->messages; k++) {
			syncd_delivery_t d = { .user_id = a->prober,
				               .user_id_len = strlen(a->prober),
				               .routing_key = a->prober,
				               .routing_key_len = strlen(a->prober),
				               .body = msgs[k],
				               .len = lens[k],
				               .has_offset = true,
				               .offset = k + 1,
				               .arrival_ms = wall_ms() };
			syncd_verdict_t v;
			if (syncd_batch_add(&ap, &d, &v) != HG_EOK || v.outcome != SYNCD_APPLIED) {
				die("apply", "a message was not applied");
			}
			applied += v.applied;
		}
		if (syncd_batch_commit(&ap) != HG_EOK) {
			die("apply", "commit failed");
		}
	}
	double s = (mono_us() - t0) / 1e6;
	printf("apply path (no broker): %" PRIu64 " records in %u messages, %u per transaction, "
	       "%.3f s: %.0f records/s\n",
	       applied, a->messages, per_txn, s, applied / s);
	for (unsigned i = 0; i < a->messages; i++) {
		free(msgs[i]);
	}
	free(msgs);
	free(lens);
	feed_enc_free(&e);
	syncd_apply_free(&ap);
	store_close(st);
	return 0;
}

static int cmp_u64(const void *x, const void *y)
{
	uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
	return a < b ? -1 : a > b;
}

static int latency(const args_t *a)
{
	store_t *st;
	uint8_t owner[HG_DNAME_MAX], olen;
	if (store_open(a->db, STORE_RDONLY, &st) != HG_EOK) {
		die(a->db, store_last_error());
	}
	if (policy_parse_dname(a->name, owner, &olen) != HG_EOK) {
		die("--name", "not a domain name");
	}
	hg_amqp_t *c = connect_pub(a);
	feed_enc_t e;
	feed_enc_init(&e);
	uint64_t *lat = calloc(a->batches, sizeof(*lat)), epoch = wall_ms() + 1;
	for (unsigned i = 0; i < a->batches; i++) {
		uint32_t want = 500000 + i, got = 0;
		size_t len;
		uint8_t *msg = batch(&e, a->prober, epoch, i + 1, 0, 1, 1000, want, &len);
		uint64_t t0 = mono_us(), deadline = t0 + 10000000u;
		publish(c, a->prober, msg, len);
		free(msg);
		while (!cell_rtt(st, owner, olen, &got) || got != want) {
			if (mono_us() > deadline) {
				die("latency", "the view did not change within 10 s");
			}
			usleep(50);
		}
		lat[i] = mono_us() - t0;
		wait_confirm(c, i + 1);
		usleep(5000); /* separate batches, as a prober's (100 ms apart at most) are */
	}
	qsort(lat, a->batches, sizeof(*lat), cmp_u64);
	unsigned n = a->batches;
	printf("publish -> view patched over %u batches: p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, "
	       "max %.2f ms\n",
	       n, lat[n / 2] / 1e3, lat[n * 9 / 10] / 1e3, lat[n * 99 / 100] / 1e3,
	       lat[n - 1] / 1e3);
	free(lat);
	feed_enc_free(&e);
	hg_amqp_free(c);
	store_close(st);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "broker", required_argument, NULL, 'b' },
		{ "tls-cert", required_argument, NULL, 'c' },
		{ "tls-key", required_argument, NULL, 'k' },
		{ "tls-ca", required_argument, NULL, 'a' },
		{ "prober", required_argument, NULL, 'p' },
		{ "db", required_argument, NULL, 'd' },
		{ "name", required_argument, NULL, 'n' },
		{ "messages", required_argument, NULL, 'm' },
		{ "records", required_argument, NULL, 'r' },
		{ "batches", required_argument, NULL, 'B' },
		{ "verbose", no_argument, NULL, 'v' },
		{ NULL, 0, NULL, 0 },
	};
	args_t a = { .messages = 500, .records = 200, .batches = 1000, .prober = "bench-p1" };
	if (argc < 2) {
		fprintf(stderr,
		        "usage: bench_syncd backlog|wait|latency OPTIONS (see the source)\n");
		return 2;
	}
	const char *mode = argv[1];
	optind = 2;
	for (int o; (o = getopt_long(argc, argv, "", opts, NULL)) != -1;) {
		switch (o) {
		case 'b': a.broker = optarg; break;
		case 'c': a.cert = optarg; break;
		case 'k': a.key = optarg; break;
		case 'a': a.ca = optarg; break;
		case 'p': a.prober = optarg; break;
		case 'd': a.db = optarg; break;
		case 'n': a.name = optarg; break;
		case 'm': a.messages = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'r':
			a.records = (unsigned)strtoul(optarg, NULL, 10);
			a.total = strtoull(optarg, NULL, 10);
			break;
		case 'B': a.batches = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'v': verbose = true; break;
		default: return 2;
		}
	}
	if (strcmp(mode, "backlog") == 0) {
		return backlog(&a);
	} else if (strcmp(mode, "wait") == 0) {
		return wait_records(&a);
	} else if (strcmp(mode, "latency") == 0) {
		return latency(&a);
	} else if (strcmp(mode, "apply") == 0) {
		return apply_only(&a);
	}
	fprintf(stderr, "bench_syncd: unknown mode %s\n", mode);
	return 2;
}
