/*  SPDX-License-Identifier: GPL-3.0-or-later */
/*  Write-side helper of tests/bench/bench_scale.sh (not a test).
 *
 *    bench_writer fill DB         one measurement per (endpoint, prober) of the
 *                                 loaded policy, all up, RTT from distance, one txn
 *    bench_writer batch DB N      N measurement records in one write txn, as a
 *                                 replicated batch would bring them; prints the
 *                                 time to apply them and to commit
 *
 *  RTTs are 1 ms + 0.01 ms per km of great-circle distance between prober and
 *  endpoint (as tests/unit/sel_fixture.c), so latency filters have something
 *  to rank; a batch moves each RTT by up to 0.4 ms. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "errors.h"
#include "store.h"
#include "writer.h"

typedef struct {
	char id[HG_ID_SIZE];
	double lat, lon;
	bool located;
} site_t;

typedef struct {
	site_t *v;
	size_t n, cap;
} sites_t;

static int add_site(sites_t *s, const char *id, double lat, double lon, bool located)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 64;
		site_t *grown = realloc(s->v, cap * sizeof(*grown));
		if (grown == NULL) {
			return HG_ENOMEM;
		}
		s->v = grown;
		s->cap = cap;
	}
	site_t *t = &s->v[s->n++];
	snprintf(t->id, sizeof(t->id), "%.*s", HG_ID_MAX, id);
	t->lat = lat;
	t->lon = lon;
	t->located = located;
	return HG_EOK;
}

static int visit_prober(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
	(void)key;
	(void)klen;
	const hg_rec_prober_t *p = val;
	return vlen == sizeof(*p) ? add_site(ctx, p->id, p->lat, p->lon, true) : HG_EOK;
}

static int visit_endpoint(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
	(void)key;
	(void)klen;
	const hg_rec_endpoint_t *e = val;
	return vlen == sizeof(*e) ? add_site(ctx, e->id, e->lat, e->lon, e->has_location) : HG_EOK;
}

static double km(const site_t *a, const site_t *b)
{
	double r = M_PI / 180.0;
	double d = sin(a->lat * r) * sin(b->lat * r) +
	           cos(a->lat * r) * cos(b->lat * r) * cos((a->lon - b->lon) * r);
	return acos(d > 1 ? 1 : d < -1 ? -1 : d) * 6371.0;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static hg_rec_measure_t measure_of(const site_t *ep, const site_t *pr, unsigned jitter,
                                   uint64_t now)
{
	double rtt = 1000.0 + (ep->located ? km(ep, pr) * 10.0 : 0.0) + 100.0 * jitter;
	hg_rec_measure_t m = {
		.state = HG_HEALTH_UP,
		.ts_ms = now,
		.changed_ms = now - 60000,
		.rtt_last_us = (uint32_t)rtt,
		.rtt_ewma_us = (uint32_t)rtt,
		.rtt_median_us = (uint32_t)rtt,
		.window = 10,
		.consec_ok = 10,
		.probes_total = 100,
	};
	return m;
}

static int read_sites(store_t *st, sites_t *probers, sites_t *eps)
{
	store_rtxn_t r = { 0 };
	int ret = store_rtxn_begin(st, &r);
	if (ret == HG_EOK) {
		ret = store_foreach(&r, STORE_PROBERS, NULL, 0, visit_prober, probers);
	}
	if (ret == HG_EOK) {
		ret = store_foreach(&r, STORE_ENDPOINTS, NULL, 0, visit_endpoint, eps);
	}
	store_rtxn_free(&r);
	if (ret == HG_EOK && (probers->n == 0 || eps->n == 0)) {
		ret = HG_ENOENT;
	}
	return ret;
}

/* N records: fill writes every pair once (n = pairs); batch cycles over them. */
static int write_records(store_t *st, const sites_t *pr, const sites_t *ep, size_t n, bool batch)
{
	uint64_t now = store_now_ms();
	store_wtxn_t w;
	double t0 = now_s();
	int ret = store_wtxn_begin(st, &w);
	for (size_t i = 0; i < n && ret == HG_EOK; i++) {
		const site_t *e = &ep->v[i % ep->n], *p = &pr->v[(i / ep->n) % pr->n];
		hg_rec_measure_t m = measure_of(e, p, batch ? (unsigned)(1 + i % 4) : 0, now);
		ret = writer_apply_measure(&w, e->id, p->id, &m);
	}
	double t1 = now_s();
	if (ret == HG_EOK) {
		ret = store_wtxn_commit(&w);
	} else {
		store_wtxn_abort(&w);
	}
	double t2 = now_s();
	if (ret == HG_EOK) {
		printf("%s %zu records: apply %.1f ms, commit %.1f ms, total %.1f ms\n",
		       batch ? "batch" : "fill", n, (t1 - t0) * 1e3, (t2 - t1) * 1e3,
		       (t2 - t0) * 1e3);
	}
	return ret;
}

int main(int argc, char **argv)
{
	if (argc < 3 || (strcmp(argv[1], "fill") != 0 && strcmp(argv[1], "batch") != 0) ||
	    (strcmp(argv[1], "batch") == 0 && argc < 4)) {
		fprintf(stderr, "usage: bench_writer fill DB | bench_writer batch DB N\n");
		return 2;
	}
	store_t *st = NULL;
	sites_t probers = { 0 }, eps = { 0 };
	int ret = store_open(argv[2], 0, &st);
	if (ret != HG_EOK) {
		fprintf(stderr, "bench_writer: %s\n", store_last_error());
		return 1;
	}
	ret = read_sites(st, &probers, &eps);
	if (ret == HG_EOK) {
		bool batch = strcmp(argv[1], "batch") == 0;
		size_t n = batch ? strtoul(argv[3], NULL, 10) : probers.n * eps.n;
		ret = write_records(st, &probers, &eps, n, batch);
	}
	if (ret != HG_EOK) {
		fprintf(stderr, "bench_writer: %s: %s\n", argv[2], hg_strerror(ret));
	}
	free(probers.v);
	free(eps.v);
	store_close(st);
	return ret == HG_EOK ? 0 : 1;
}
