/*  SPDX-License-Identifier: GPL-3.0-or-later */
/* Benchmark of the policy compiler: generates policies in memory (a
 * realistic 100k-name one and the pathological inputs of issue 11) and
 * prints, for each, the parse time, the peak RSS and the verdict. Each case
 * runs in its own child process so its peak RSS is its own.
 *
 *   bench_policy [CASE...]            every case, or the ones named
 *   bench_policy --write CASE FILE    write a case's policy to FILE
 *   bench_policy --run CMD [ARG...]   run CMD, print its wall time and peak RSS
 *
 * A benchmark, not a test: it prints figures and fails only when it cannot
 * run. `make bench-policy` runs tests/bench/bench_policy.sh. */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "errors.h"
#include "policy.h"

typedef struct {
	char *s;
	size_t len, cap;
} sb_t;

static void sb_add(sb_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_add(sb_t *b, const char *fmt, ...)
{
	for (;;) {
		va_list ap;
		va_start(ap, fmt);
		int n = vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
		if (n >= 0 && (size_t)n < b->cap - b->len) {
			b->len += (size_t)n;
			return;
		}
		size_t ncap = b->cap ? b->cap * 2 : 1 << 20;
		char *p = realloc(b->s, ncap);
		if (p == NULL) {
			fprintf(stderr, "bench_policy: out of memory\n");
			exit(2);
		}
		b->s = p;
		b->cap = ncap;
	}
}

#define HEAD                                                                    \
	"version: 1\nprobers:\n  - {id: eu, location: {lat: 50.1, lon: 8.7}}\n" \
	"  - {id: ap, location: {lat: 1.35, lon: 103.8}}\n"                     \
	"  - {id: us, location: {lat: 38.9, lon: -77.4}}\n"

static void pools(sb_t *b, unsigned n)
{
	sb_add(b, "pools:\n");
	for (unsigned i = 0; i < n; i++) {
		sb_add(b,
		       "  - id: pool%u\n    priority: %u\n    endpoints:\n"
		       "      - {id: ep%ua, address: [198.51.100.%u, \"2001:db8::%x\"], "
		       "location: {lat: 50.1, lon: 8.7}}\n"
		       "      - {id: ep%ub, address: [203.0.113.%u], location: {lat: 1.3, lon: "
		       "103.8}, "
		       "check: {type: https, host: app.example.com, path: /health}}\n",
		       i, i % 3, i, i % 250 + 1, i + 1, i, i % 250 + 1);
	}
}

/* The realistic case: 1000 pools of 2 endpoints, N names over 2 pools each;
 * one name in four has a geofence and latency chain. */
static void gen_names(sb_t *b, unsigned n)
{
	unsigned np = n / 100 ? n / 100 : 1;
	sb_add(b, HEAD);
	pools(b, np);
	sb_add(b, "names:\n");
	for (unsigned i = 0; i < n; i++) {
		unsigned p = i % np, q = (i + 1) % np;
		sb_add(b, "  - name: n%u.gslb.example.net.\n    pools: [pool%u, pool%u]\n", i, p,
		       q);
		if (i % 4 == 0) {
			sb_add(b,
			       "    chain:\n      - up\n      - geofence:\n"
			       "          - {match: {continent: [EU]}, pools: [pool%u]}\n"
			       "      - lowest-latency: {tolerance: 20ms}\n      - first: 2\n",
			       p);
		} else {
			sb_add(b, "    chain: [up, nearest, first: 1]\n");
		}
	}
}

static void gen_deep_flow(sb_t *b, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		sb_add(b, "[");
	for (unsigned i = 0; i < n; i++)
		sb_add(b, "]");
	sb_add(b, "\n");
}

static void gen_deep_block(sb_t *b, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		sb_add(b, "- ");
	sb_add(b, "x\n");
}

static void gen_keys(sb_t *b, unsigned n)
{
	sb_add(b, "version: 1\npools: []\nnames: []\ndefaults:\n");
	for (unsigned i = 0; i < n; i++)
		sb_add(b, "  k%u: 1\n", i);
}

static void gen_dup_keys(sb_t *b, unsigned n)
{
	sb_add(b, "version: 1\npools: []\nnames: []\ndefaults:\n");
	for (unsigned i = 0; i < n; i++)
		sb_add(b, "  ttl: 1\n");
}

static void gen_dup_names(sb_t *b, unsigned n)
{
	sb_add(b, HEAD);
	pools(b, 1);
	sb_add(b, "names:\n");
	for (unsigned i = 0; i < n; i++)
		sb_add(b, "  - {name: same.example., pools: [pool0], chain: [up]}\n");
}

/* Many pools, each named by one name: lookups by id dominate. */
static void gen_pools(sb_t *b, unsigned n)
{
	sb_add(b, HEAD "pools:\n");
	for (unsigned i = 0; i < n; i++) {
		sb_add(b, "  - {id: p%u, endpoints: [{id: e%u, address: 192.0.2.%u}]}\n", i, i,
		       i % 250 + 1);
	}
	sb_add(b, "names:\n");
	for (unsigned i = 0; i < n; i++) {
		sb_add(b, "  - {name: n%u.example., pools: [p%u], chain: [up]}\n", i, n - 1 - i);
	}
}

static void gen_chain(sb_t *b, unsigned n)
{
	sb_add(b, "version: 1\npools: [{id: p, endpoints: [{id: e, address: 192.0.2.1}]}]\n"
	          "names:\n  - name: a.example.\n    pools: [p]\n    chain:\n");
	for (unsigned i = 0; i < n; i++)
		sb_add(b, "      - up\n");
}

/* 10k anchored checks, each used by 10 endpoints. */
static void gen_anchors(sb_t *b, unsigned n)
{
	sb_add(b, "version: 1\npools:\n");
	for (unsigned i = 0; i < n; i++) {
		sb_add(b, "  - id: p%u\n    check: &c%u {type: tcp, port: %u}\n    endpoints:\n", i,
		       i, i % 60000 + 1);
		for (unsigned j = 0; j < 10; j++) {
			sb_add(b, "      - {id: e%u-%u, address: 192.0.2.1, check: *c%u}\n", i, j,
			       i);
		}
	}
	sb_add(b, "names: []\n");
}

/* "Billion laughs": 10 aliases per level, n levels. */
static void gen_alias_bomb(sb_t *b, unsigned n)
{
	sb_add(b,
	       "version: 1\nnames: []\npools: []\nx:\n  a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
	for (unsigned i = 1; i <= n; i++) {
		sb_add(b, "  a%u: &a%u [", i, i);
		for (unsigned j = 0; j < 10; j++)
			sb_add(b, "%s*a%u", j ? ", " : "", i - 1);
		sb_add(b, "]\n");
	}
}

static void gen_directives(sb_t *b, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		sb_add(b, "%%TAG !t%u! tag:example.com,2000:%u:\n", i, i);
	sb_add(b, "---\nversion: 1\npools: []\nnames: []\n");
}

static void gen_endpoints(sb_t *b, unsigned n)
{
	sb_add(b, "version: 1\npools:\n  - id: p\n    endpoints:\n");
	for (unsigned i = 0; i < n; i++) {
		sb_add(b, "      - {id: e%u, address: [192.0.2.%u, \"2001:db8::%x:%x\"]}\n", i,
		       i % 250 + 1, (i >> 16) + 1, i & 0xffff);
	}
	sb_add(b, "names: []\n");
}

static const struct bcase {
	const char *name;
	void (*gen)(sb_t *, unsigned);
	unsigned n;
	const char *what;
} cases[] = {
	{ "names", gen_names, 100000, "100k names, 1000 pools, 2000 endpoints" },
	{ "deep-flow", gen_deep_flow, 200000, "200k-deep [[[...]]]" },
	{ "deep-block", gen_deep_block, 200000, "200k-deep - - - ..." },
	{ "keys", gen_keys, 50000, "50k keys in one map" },
	{ "dup-keys", gen_dup_keys, 50000, "50k copies of one key" },
	{ "dup-names", gen_dup_names, 100000, "100k copies of one name" },
	{ "pools", gen_pools, 100000, "100k pools, each the pool of one name" },
	{ "endpoints", gen_endpoints, 100000, "100k endpoints in one pool" },
	{ "chain", gen_chain, 100000, "a chain of 100k filters" },
	{ "anchors", gen_anchors, 10000, "10k anchors, 100k aliases" },
	{ "alias-bomb", gen_alias_bomb, 9, "10^9 nodes through 9 levels of aliases" },
	{ "directives", gen_directives, 100000, "100k %TAG directives" },
};

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long rss_kb(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kb = -1;
	while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1) {
			break;
		}
	}
	if (f != NULL) {
		fclose(f);
	}
	return kb;
}

/* In the child: generate, parse, print one line. */
static int run_case(const struct bcase *bc)
{
	sb_t b = { 0 };
	bc->gen(&b, bc->n);
	long before = rss_kb();
	policy_t *p = NULL;
	policy_errors_t errs;
	double t0 = now_s();
	int ret = policy_parse_buffer("bench.yaml", b.s, b.len, &p, &errs);
	double dt = now_s() - t0;
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	printf("bench_policy: %-10s %-42s %9.1f KB  parse %7.3f s  peak RSS %7.1f MB "
	       "(%.1f MB before parsing)  ",
	       bc->name, bc->what, (double)b.len / 1024, dt, (double)ru.ru_maxrss / 1024,
	       (double)before / 1024);
	if (ret == HG_EOK) {
		printf("OK: %zu names, %zu pools, %zu endpoints\n", p->n_names, p->n_pools,
		       p->n_endpoints);
	} else if (ret == HG_EPOLICY && errs.n_errors > 0) {
		printf("rejected (%zu error%s): %u:%u: %s\n", errs.n_errors,
		       errs.n_errors == 1 ? "" : "s", errs.errors[0].pos.line,
		       errs.errors[0].pos.col, errs.errors[0].msg);
	} else {
		printf("failed: %s\n", hg_strerror(ret));
	}
	policy_errors_free(&errs);
	policy_free(p);
	free(b.s);
	fflush(stdout); /* the child leaves by _exit() */
	return ret == HG_EOK || ret == HG_EPOLICY ? 0 : 1;
}

static int wait_child(pid_t pid, struct rusage *ru)
{
	int status = 0;
	if (wait4(pid, &status, 0, ru) != pid) {
		perror("bench_policy: wait4");
		return 1;
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int fork_case(const struct bcase *bc)
{
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0) {
		perror("bench_policy: fork");
		return 1;
	}
	if (pid == 0) {
		_exit(run_case(bc));
	}
	struct rusage ru;
	int rc = wait_child(pid, &ru);
	if (rc != 0) {
		printf("bench_policy: %s: child exited with %d\n", bc->name, rc);
	}
	return rc;
}

/* --run: wall time and peak RSS of a command (for haltgslb-ctl end to end). */
static int run_command(char **argv)
{
	double t0 = now_s();
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0) {
		perror("bench_policy: fork");
		return 1;
	}
	if (pid == 0) {
		execvp(argv[0], argv);
		perror(argv[0]);
		_exit(127);
	}
	struct rusage ru;
	int rc = wait_child(pid, &ru);
	printf("bench_policy: %s %s: %.2f s wall, %.2f s user, %.2f s sys, peak RSS %.1f MB, "
	       "exit %d\n",
	       argv[0], argv[1] ? argv[1] : "", now_s() - t0,
	       (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6,
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6,
	       (double)ru.ru_maxrss / 1024, rc);
	return rc;
}

static const struct bcase *find_case(const char *name)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (strcmp(cases[i].name, name) == 0) {
			return &cases[i];
		}
	}
	fprintf(stderr, "bench_policy: unknown case '%s'\n", name);
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		printf("Usage: bench_policy [CASE...]\n"
		       "       bench_policy --write CASE FILE\n"
		       "       bench_policy --run CMD [ARG...]\nCases:\n");
		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			printf("  %-10s %s\n", cases[i].name, cases[i].what);
		}
		return 0;
	}
	if (argc > 2 && strcmp(argv[1], "--run") == 0) {
		return run_command(argv + 2);
	}
	if (argc == 4 && strcmp(argv[1], "--write") == 0) {
		const struct bcase *bc = find_case(argv[2]);
		FILE *f = bc != NULL ? fopen(argv[3], "w") : NULL;
		sb_t b = { 0 };
		if (f == NULL) {
			return 2;
		}
		bc->gen(&b, bc->n);
		int ok = fwrite(b.s, 1, b.len, f) == b.len;
		ok &= fclose(f) == 0;
		free(b.s);
		return ok ? 0 : 2;
	}
	int rc = 0;
	if (argc == 1) {
		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			rc |= fork_case(&cases[i]);
		}
		return rc;
	}
	for (int i = 1; i < argc; i++) {
		const struct bcase *bc = find_case(argv[i]);
		rc |= bc != NULL ? fork_case(bc) : 2;
	}
	return rc;
}
