/*  SPDX-License-Identifier: GPL-3.0-or-later */
/* Prometheus text format for node_exporter's textfile collector: written to
 * a temporary file in the same directory and renamed, so the collector
 * never reads half a file. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "errors.h"
#include "prober.h"

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

static void labels(FILE *f, const prober_t *p, const prober_target_t *t)
{
	fputs("{prober=\"", f);
	put_label(f, p->id);
	fputs("\",endpoint=\"", f);
	put_label(f, t->id);
	fputc('"', f);
}

typedef enum { M_UP, M_RTT, M_RTT_EWMA, M_LOSS, M_TOTAL } metric_t;

static void series(FILE *f, const prober_t *p, metric_t which)
{
	for (size_t i = 0; i < p->n_targets; i++) {
		const prober_target_t *t = p->targets[i];
		hg_rec_measure_t m;
		prober_state_measure(&t->st, &m);
		switch (which) {
		case M_UP:
			fputs("haltgslb_prober_up", f);
			labels(f, p, t);
			fprintf(f, "} %d\n",
			        m.state == HG_HEALTH_UP     ? 1
			        : m.state == HG_HEALTH_DOWN ? 0
			                                    : -1);
			break;
		case M_RTT:
		case M_RTT_EWMA: {
			uint32_t us = which == M_RTT ? m.rtt_median_us : m.rtt_ewma_us;
			if (us == HG_RTT_NONE) {
				break;
			}
			fputs(which == M_RTT ? "haltgslb_prober_rtt_seconds"
			                     : "haltgslb_prober_rtt_ewma_seconds",
			      f);
			labels(f, p, t);
			fprintf(f, "} %.6f\n", us / 1e6);
			break;
		}
		case M_LOSS:
			fputs("haltgslb_prober_loss_ratio", f);
			labels(f, p, t);
			fprintf(f, "} %.4f\n", m.loss_bp / 10000.0);
			break;
		case M_TOTAL:
			fputs("haltgslb_prober_probes_total", f);
			labels(f, p, t);
			fprintf(f, "} %llu\n", (unsigned long long)m.probes_total);
			break;
		}
	}
}

static void failed_series(FILE *f, const prober_t *p)
{
	for (size_t i = 0; i < p->n_targets; i++) {
		const prober_target_t *t = p->targets[i];
		for (unsigned c = HG_FAIL_TIMEOUT; c <= HG_FAIL_OTHER; c++) {
			if (t->failed_by_class[c] == 0) {
				continue; /* absent = 0: keeps the file small at 10,000 endpoints */
			}
			fputs("haltgslb_prober_probes_failed_total", f);
			labels(f, p, t);
			fprintf(f, ",class=\"%s\"} %llu\n", prober_fail_name((uint8_t)c),
			        (unsigned long long)t->failed_by_class[c]);
		}
	}
}

/* The names of CNAME endpoints (prober_resolve.h). */
static void resolver_series(FILE *f, const prober_t *p)
{
	if (p->resolver == NULL) {
		return;
	}
	prober_resolve_stats_t st;
	prober_resolver_stats(p->resolver, &st);
	const struct {
		const char *result;
		uint64_t n;
	} lookups[] = {
		{ "cached", st.cache_hits },
		{ "stale", st.stale_hits },
		{ "other", st.lookups - st.cache_hits - st.stale_hits },
	};
	fputs("# HELP haltgslb_prober_dns_lookups_total Addresses of CNAME endpoints asked for, by "
	      "how they were answered (cached: fresh; stale: expired, refreshing; other: a "
	      "query, or a failure remembered).\n"
	      "# TYPE haltgslb_prober_dns_lookups_total counter\n",
	      f);
	for (size_t i = 0; i < sizeof(lookups) / sizeof(lookups[0]); i++) {
		fputs("haltgslb_prober_dns_lookups_total{prober=\"", f);
		put_label(f, p->id);
		fprintf(f, "\",result=\"%s\"} %llu\n", lookups[i].result,
		        (unsigned long long)lookups[i].n);
	}
	fputs("# HELP haltgslb_prober_dns_queries_total DNS lookups sent, by outcome.\n"
	      "# TYPE haltgslb_prober_dns_queries_total counter\n"
	      "haltgslb_prober_dns_queries_total{prober=\"",
	      f);
	put_label(f, p->id);
	fprintf(f, "\",result=\"failed\"} %llu\n", (unsigned long long)st.failures);
	fputs("haltgslb_prober_dns_queries_total{prober=\"", f);
	put_label(f, p->id);
	fprintf(f, "\",result=\"answered\"} %llu\n",
	        (unsigned long long)(st.queries - st.failures - st.pending));
	fputs("# HELP haltgslb_prober_dns_pending DNS lookups in flight.\n"
	      "# TYPE haltgslb_prober_dns_pending gauge\nhaltgslb_prober_dns_pending{prober=\"",
	      f);
	put_label(f, p->id);
	fprintf(f, "\"} %zu\n", st.pending);
}

int prober_metrics_write(const prober_t *p, const char *path)
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
	/* node_exporter runs as another user: the unit's UMask=0027 would leave
	 * the file unreadable to it. Metrics are not secret. */
	fchmod(fileno(f), 0644);
	static const struct {
		metric_t m;
		const char *name, *type, *help;
	} defs[] = {
		{ M_UP, "haltgslb_prober_up", "gauge",
		  "Endpoint health after rise/fall: 1 up, 0 down, -1 unknown." },
		{ M_RTT, "haltgslb_prober_rtt_seconds", "gauge",
		  "Median network round trip over the window (steering latency)." },
		{ M_RTT_EWMA, "haltgslb_prober_rtt_ewma_seconds", "gauge",
		  "Smoothed network round trip." },
		{ M_LOSS, "haltgslb_prober_loss_ratio", "gauge",
		  "Probes lost (timeout, unreachable) over the window." },
		{ M_TOTAL, "haltgslb_prober_probes_total", "counter", "Probes done." },
	};
	for (size_t i = 0; i < sizeof(defs) / sizeof(defs[0]); i++) {
		fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", defs[i].name, defs[i].help, defs[i].name,
		        defs[i].type);
		series(f, p, defs[i].m);
	}
	fputs("# HELP haltgslb_prober_probes_failed_total Failed probes by failure class.\n"
	      "# TYPE haltgslb_prober_probes_failed_total counter\n",
	      f);
	failed_series(f, p);
	fprintf(f, "# HELP haltgslb_prober_batches_total LMDB write transactions.\n"
	           "# TYPE haltgslb_prober_batches_total counter\n"
	           "haltgslb_prober_batches_total{prober=\"");
	put_label(f, p->id);
	fprintf(f, "\",result=\"ok\"} %llu\nhaltgslb_prober_batches_total{prober=\"",
	        (unsigned long long)p->batches);
	put_label(f, p->id);
	fprintf(f, "\",result=\"error\"} %llu\n", (unsigned long long)p->batch_errors);
	fprintf(f, "# HELP haltgslb_prober_inflight Probes in flight.\n"
	           "# TYPE haltgslb_prober_inflight gauge\nhaltgslb_prober_inflight{prober=\"");
	put_label(f, p->id);
	fprintf(f, "\"} %u\n", p->inflight);
	store_map_info_t m;
	if (p->store != NULL && store_map_info(p->store, &m) == HG_EOK) {
		/* The database's map: used against the ceiling, so an alert fires
		 * well before writes fail (the prober also logs at 80 %). */
		static const struct {
			const char *name, *type, *help;
		} maps[] = {
			{ "haltgslb_store_map_used_bytes", "gauge",
			  "Bytes of the database in use." },
			{ "haltgslb_store_map_size_bytes", "gauge", "Bytes this process maps." },
			{ "haltgslb_store_map_limit_bytes", "gauge",
			  "Ceiling of the map (HG_STORE_MAPSIZE_MAX)." },
			{ "haltgslb_store_map_grows_total", "counter", "Times the map was grown." },
		};
		uint64_t vals[] = { m.used, m.map, m.limit, m.grows };
		for (size_t i = 0; i < sizeof(maps) / sizeof(maps[0]); i++) {
			fprintf(f, "# HELP %s %s\n# TYPE %s %s\n%s{prober=\"", maps[i].name,
			        maps[i].help, maps[i].name, maps[i].type, maps[i].name);
			put_label(f, p->id);
			fprintf(f, "\"} %llu\n", (unsigned long long)vals[i]);
		}
	}
	resolver_series(f, p);
	prober_pub_metrics(p, f);
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
