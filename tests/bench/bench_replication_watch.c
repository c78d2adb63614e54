/*  SPDX-License-Identifier: GPL-3.0-or-later */
/*  The timing side of `make bench-replication` (tests/bench/bench_replication.py
 *  runs the fleet). Reads LMDB environments only, never writes. Not a test.
 *
 *    bench_replication_watch latency --prober-db DIR --node-db DIR --prober ID
 *                                    --name NAME --batches N [--timeout-s S]
 *        Watch the prober's own LMDB: every committed transaction (a new
 *        txnid) that changes the health state of an endpoint of view NAME is
 *        a batch, timed from when it is first seen committed until the DNS
 *        node's view NAME shows every state it changed in that endpoint's
 *        cell for prober ID. Prints p50/p90/p99/max over N batches.
 *
 *    bench_replication_watch rate --node-db DIR --prober ID [--idle-ms MS]
 *                                 [--timeout-s S]
 *        Poll the prober's cursor on the node (records applied); once it
 *        moves, time until it has not moved for MS (default 1000): prints the
 *        records applied and records/s between the first and last move.
 *
 *  Both poll every 200 us: the figures carry up to that much error. */
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "errors.h"
#include "policy.h"
#include "store.h"
#include "view.h"
#include "view_lookup.h"

#define POLL_US     200
#define MAX_EPS     256
#define MAX_PENDING 64

typedef struct {
	const char *prober_db, *node_db, *prober, *name;
	unsigned batches, timeout_s, idle_ms;
} args_t;

static uint64_t mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void usage(FILE *f)
{
	fputs("usage: bench_replication_watch latency --prober-db DIR --node-db DIR --prober ID\n"
	      "                                       --name NAME --batches N [--timeout-s S]\n"
	      "       bench_replication_watch rate --node-db DIR --prober ID [--idle-ms MS]\n"
	      "                                    [--timeout-s S]\n",
	      f);
}

/* One endpoint of the watched view: its id, and the state last seen in the
 * prober's own LMDB. */
typedef struct {
	char id[HG_ID_SIZE];
	long ep; /* index in the node's view */
	uint8_t state;
} watched_t;

/* A batch on its way: the states it set, when it was seen committed. */
typedef struct {
	uint64_t seen_us;
	uint8_t want[MAX_EPS]; /* 0xff: not changed by this batch */
	unsigned n_want;
} pending_t;

/* The view NAME of \a store in \a r (an open read txn). */
static int view_of(store_rtxn_t *r, const char *name, view_t *v)
{
	uint8_t wire[HG_DNAME_MAX], wlen;
	int ret = policy_parse_dname(name, wire, &wlen);
	if (ret != HG_EOK) {
		return ret;
	}
	const void *val;
	size_t len;
	ret = store_get(r, STORE_VIEWS, wire, wlen, &val, &len);
	if (ret == HG_EOK) {
		ret = view_open(val, len, v);
	}
	/* Its cells are in the endpoint set it references (schema 2). */
	view_set_t set;
	uint8_t key[4];
	if (ret == HG_EOK) {
		view_set_key(v->hdr->set_id, key);
		ret = store_get(r, STORE_SETS, key, sizeof(key), &val, &len);
	}
	if (ret == HG_EOK) {
		ret = view_set_open(val, len, &set);
	}
	return ret == HG_EOK ? view_bind(v, &set) : ret;
}

/* The health state the prober's own LMDB holds for \a ep; 0 when none. */
static uint8_t own_state(store_rtxn_t *r, const char *ep, const char *prober)
{
	uint8_t key[STORE_MEASURE_KEY_MAX];
	size_t klen = store_measure_key(key, sizeof(key), ep, prober);
	const void *val;
	size_t len;
	if (klen == 0 || store_get(r, STORE_MEASUREMENTS, key, klen, &val, &len) != HG_EOK ||
	    len != sizeof(hg_rec_measure_t)) {
		return 0;
	}
	return ((const hg_rec_measure_t *)val)->state;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static double pct(const uint64_t *v, unsigned n, double p)
{
	unsigned i = (unsigned)(p * (n - 1) + 0.5);
	return v[i] / 1000.0;
}

static int run_latency(const args_t *a)
{
	store_t *ps = NULL, *ns = NULL;
	store_rtxn_t pr = { 0 }, nr = { 0 };
	watched_t eps[MAX_EPS];
	pending_t pend[MAX_PENDING];
	unsigned n_eps = 0, n_pend = 0, done = 0, lost = 0, superseded = 0;
	uint64_t *lat = calloc(a->batches, sizeof(*lat));
	long prober_col = -1;
	int ret = lat == NULL ? HG_ENOMEM : HG_EOK;
	if (ret == HG_EOK) {
		ret = store_open(a->prober_db, STORE_RDONLY, &ps);
	}
	if (ret == HG_EOK) {
		ret = store_open(a->node_db, STORE_RDONLY, &ns);
	}
	if (ret != HG_EOK) {
		fprintf(stderr, "bench_replication_watch: %s\n", store_last_error());
		goto cleanup;
	}
	/* The endpoints of the view, in the node's view order. */
	view_t v;
	if ((ret = store_rtxn_begin(ns, &nr)) != HG_EOK ||
	    (ret = view_of(&nr, a->name, &v)) != HG_EOK) {
		fprintf(stderr, "bench_replication_watch: no view %s in %s\n", a->name, a->node_db);
		goto cleanup;
	}
	prober_col = view_find_prober(&v.s, a->prober);
	for (unsigned i = 0; i < v.s.hdr->n_endpoints && n_eps < MAX_EPS; i++) {
		const hg_view_ep_t *e = &v.s.ep[i];
		snprintf(eps[n_eps].id, sizeof(eps[n_eps].id), "%.*s", (int)e->id_len,
		         (const char *)v.s.strings + e->id_off);
		eps[n_eps].ep = (long)i;
		eps[n_eps].state = 0;
		n_eps++;
	}
	store_rtxn_end(&nr);
	if (prober_col < 0) {
		fprintf(stderr, "bench_replication_watch: prober %s not in view %s\n", a->prober,
		        a->name);
		ret = HG_EINVAL;
		goto cleanup;
	}
	MDB_envinfo info;
	mdb_env_info(store_env(ps), &info);
	size_t txnid = info.me_last_txnid;
	if ((ret = store_rtxn_begin(ps, &pr)) != HG_EOK) {
		goto cleanup;
	}
	for (unsigned i = 0; i < n_eps; i++) {
		eps[i].state = own_state(&pr, eps[i].id, a->prober);
	}
	store_rtxn_end(&pr);
	uint64_t deadline = mono_us() + (uint64_t)a->timeout_s * 1000000u;
	while (done < a->batches && mono_us() < deadline) {
		mdb_env_info(store_env(ps), &info);
		if (info.me_last_txnid != txnid) {
			/* A commit on the prober: which watched states did it change? */
			uint64_t now = mono_us();
			txnid = info.me_last_txnid;
			pending_t p = { .seen_us = now };
			memset(p.want, 0xff, sizeof(p.want));
			if ((ret = store_rtxn_begin(ps, &pr)) != HG_EOK) {
				goto cleanup;
			}
			for (unsigned i = 0; i < n_eps; i++) {
				uint8_t st = own_state(&pr, eps[i].id, a->prober);
				if (st != eps[i].state) {
					eps[i].state = st;
					p.want[i] = st;
					p.n_want++;
					/* An older batch still waiting on this endpoint can
					 * never match any more. */
					for (unsigned j = 0; j < n_pend; j++) {
						if (pend[j].want[i] != 0xff) {
							pend[j].want[i] = 0xff;
							pend[j].n_want--;
							superseded++;
						}
					}
				}
			}
			store_rtxn_end(&pr);
			if (p.n_want > 0 && n_pend < MAX_PENDING) {
				pend[n_pend++] = p;
			}
		}
		if (n_pend > 0) {
			uint64_t now = mono_us();
			if ((ret = store_rtxn_begin(ns, &nr)) != HG_EOK ||
			    (ret = view_of(&nr, a->name, &v)) != HG_EOK) {
				goto cleanup;
			}
			for (unsigned j = 0; j < n_pend;) {
				pending_t *p = &pend[j];
				for (unsigned i = 0; i < n_eps; i++) {
					if (p->want[i] != 0xff &&
					    view_cell(&v.s, (unsigned)eps[i].ep,
					              (unsigned)prober_col)
					                    ->state == p->want[i]) {
						p->want[i] = 0xff;
						p->n_want--;
					}
				}
				bool finished = p->n_want == 0,
				     timed_out = now - p->seen_us > 5000000u;
				if (finished && done < a->batches) {
					lat[done++] = now - p->seen_us;
				} else if (timed_out) {
					lost++;
				}
				if (finished || timed_out) {
					pend[j] = pend[--n_pend];
				} else {
					j++;
				}
			}
			store_rtxn_end(&nr);
		}
		usleep(POLL_US);
	}
	if (done == 0) {
		fprintf(stderr, "bench_replication_watch: no batch seen in %u s\n", a->timeout_s);
		ret = HG_ENODATA;
		goto cleanup;
	}
	qsort(lat, done, sizeof(*lat), cmp_u64);
	printf("batches %u (lost %u, superseded endpoint changes %u): commit on prober -> view "
	       "patched on node p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms\n",
	       done, lost, superseded, pct(lat, done, 0.5), pct(lat, done, 0.9),
	       pct(lat, done, 0.99), lat[done - 1] / 1000.0);
	ret = done < a->batches ? HG_ENODATA : HG_EOK;
cleanup:
	store_rtxn_free(&pr);
	store_rtxn_free(&nr);
	store_close(ps);
	store_close(ns);
	free(lat);
	return ret;
}

/* Records applied for \a prober according to its cursor on the node. */
static int cursor_records(store_t *s, const char *prober, uint64_t *records)
{
	store_rtxn_t r = { 0 };
	const void *val;
	size_t len;
	int ret = store_rtxn_begin(s, &r);
	if (ret == HG_EOK) {
		ret = store_get(&r, STORE_CURSORS, prober, strlen(prober), &val, &len);
		if (ret == HG_EOK && len == sizeof(hg_rec_cursor_t)) {
			*records = ((const hg_rec_cursor_t *)val)->records;
		} else if (ret == HG_ENOENT) {
			*records = 0;
			ret = HG_EOK;
		}
	}
	store_rtxn_free(&r);
	return ret;
}

static int run_rate(const args_t *a)
{
	store_t *ns = NULL;
	int ret = store_open(a->node_db, STORE_RDONLY, &ns);
	if (ret != HG_EOK) {
		fprintf(stderr, "bench_replication_watch: %s\n", store_last_error());
		return ret;
	}
	uint64_t start = 0, last = 0, first_us = 0, last_us = 0;
	uint64_t deadline = mono_us() + (uint64_t)a->timeout_s * 1000000u;
	ret = cursor_records(ns, a->prober, &start);
	last = start;
	while (ret == HG_EOK && mono_us() < deadline) {
		uint64_t now_rec, now = mono_us();
		if ((ret = cursor_records(ns, a->prober, &now_rec)) != HG_EOK) {
			break;
		}
		if (now_rec != last) {
			if (first_us == 0) {
				first_us = now;
				start = last; /* the first commit's records happened before it was seen */
			}
			last = now_rec;
			last_us = now;
		} else if (first_us != 0 && now - last_us > (uint64_t)a->idle_ms * 1000u) {
			break;
		}
		usleep(POLL_US);
	}
	if (ret == HG_EOK && first_us != 0 && last_us > first_us) {
		double s = (last_us - first_us) / 1e6;
		printf("records %" PRIu64 " applied in %.3f s: %.0f records/s\n", last - start, s,
		       (last - start) / s);
	} else if (ret == HG_EOK) {
		fprintf(stderr, "bench_replication_watch: the cursor of %s did not move\n",
		        a->prober);
		ret = HG_ENODATA;
	}
	store_close(ns);
	return ret;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "prober-db", required_argument, NULL, 'p' },
		{ "node-db", required_argument, NULL, 'n' },
		{ "prober", required_argument, NULL, 'i' },
		{ "name", required_argument, NULL, 'N' },
		{ "batches", required_argument, NULL, 'b' },
		{ "timeout-s", required_argument, NULL, 't' },
		{ "idle-ms", required_argument, NULL, 'I' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	args_t a = { .batches = 1000, .timeout_s = 600, .idle_ms = 1000 };
	if (argc < 2 || strcmp(argv[1], "--help") == 0) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	const char *mode = argv[1];
	optind = 2;
	for (int c; (c = getopt_long(argc, argv, "", opts, NULL)) != -1;) {
		switch (c) {
		case 'p': a.prober_db = optarg; break;
		case 'n': a.node_db = optarg; break;
		case 'i': a.prober = optarg; break;
		case 'N': a.name = optarg; break;
		case 'b': a.batches = (unsigned)strtoul(optarg, NULL, 10); break;
		case 't': a.timeout_s = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'I': a.idle_ms = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	int ret;
	if (strcmp(mode, "latency") == 0 && a.prober_db && a.node_db && a.prober && a.name &&
	    a.batches > 0) {
		ret = run_latency(&a);
	} else if (strcmp(mode, "rate") == 0 && a.node_db && a.prober) {
		ret = run_rate(&a);
	} else {
		usage(stderr);
		return 2;
	}
	if (ret != HG_EOK) {
		fprintf(stderr, "bench_replication_watch: %s\n", hg_strerror(ret));
	}
	return ret == HG_EOK ? 0 : 1;
}
