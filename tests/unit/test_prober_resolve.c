/*  SPDX-License-Identifier: GPL-3.0-or-later */
/* The prober's resolver (prober/prober_resolve.c) against a DNS server in
 * this process on 127.0.0.1: the test answers each query itself, when it
 * wants, so coalescing, TTLs, stale answers, negative caching, cancelling
 * and freeing with lookups in flight are checked exactly. The cache's
 * clock is the test's (now_ns arguments); only c-ares' retries use real
 * time, and every query is answered long before they fire. */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "errors.h"
#include "log.h"
#include "prober_resolve.h"
#include "tap.h"

#define S 1000000000ull

/* ---- the server ---- */

typedef struct {
	const char *name; /* question name, lower case, no final dot */
	int rcode;        /* 0, 2 (SERVFAIL), 3 (NXDOMAIN) */
	const char *a;    /* NULL: NODATA for A */
	uint32_t ttl;
	const char *cname; /* answer a CNAME (ttl cname_ttl) then the A of that name */
	uint32_t cname_ttl;
} rr_t;

static rr_t zone[10];
static int srv_fd = -1;
static char srv_list[64];
static unsigned n_queries_a; /* A queries seen since the last reset */
static char last_qname[256];
static bool hold; /* queries are read and kept, not answered */
static uint8_t held[8][512];
static ssize_t held_len[8];
static struct sockaddr_storage held_from[8];
static socklen_t held_fromlen[8];
static int n_held;

static void zone_set(int i, rr_t rr)
{
	zone[i] = rr;
}

static const rr_t *zone_find(const char *name)
{
	for (size_t i = 0; i < sizeof(zone) / sizeof(zone[0]); i++) {
		if (zone[i].name != NULL && strcmp(zone[i].name, name) == 0) {
			return &zone[i];
		}
	}
	return NULL;
}

static size_t put_name(uint8_t *p, const char *name)
{
	size_t n = 0;
	while (*name) {
		const char *dot = strchr(name, '.');
		size_t l = dot ? (size_t)(dot - name) : strlen(name);
		p[n++] = (uint8_t)l;
		memcpy(p + n, name, l);
		n += l;
		name += l + (dot ? 1 : 0);
	}
	p[n++] = 0;
	return n;
}

static size_t put_rr(uint8_t *p, const uint8_t *owner, size_t olen, uint16_t type, uint32_t ttl,
                     const uint8_t *rdata, uint16_t rdlen)
{
	size_t n = 0;
	memcpy(p, owner, olen);
	n += olen;
	uint8_t fix[10] = { (uint8_t)(type >> 8),
		            (uint8_t)type,
		            0,
		            1,
		            (uint8_t)(ttl >> 24),
		            (uint8_t)(ttl >> 16),
		            (uint8_t)(ttl >> 8),
		            (uint8_t)ttl,
		            (uint8_t)(rdlen >> 8),
		            (uint8_t)rdlen };
	memcpy(p + n, fix, 10);
	n += 10;
	memcpy(p + n, rdata, rdlen);
	return n + rdlen;
}

/* One answer for one query; returns its length (0: do not answer). */
static size_t answer(const uint8_t *q, size_t qlen, uint8_t *out)
{
	if (qlen < 17) {
		return 0;
	}
	char name[256] = "";
	size_t off = 12, nl = 0;
	while (off < qlen && q[off] != 0) {
		size_t l = q[off++];
		if (off + l > qlen || nl + l + 2 > sizeof(name)) {
			return 0;
		}
		if (nl) {
			name[nl++] = '.';
		}
		for (size_t i = 0; i < l; i++) {
			char c = (char)q[off + i];
			name[nl++] = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
		}
		off += l;
	}
	name[nl] = '\0';
	off++;
	if (off + 4 > qlen) {
		return 0;
	}
	uint16_t qtype = (uint16_t)(q[off] << 8 | q[off + 1]);
	off += 4;
	if (qtype == 1) {
		n_queries_a++;
		snprintf(last_qname, sizeof(last_qname), "%s", name);
	}
	memcpy(out, q, off);                      /* header + question */
	out[2] = (uint8_t)(0x84 | (q[2] & 0x01)); /* QR, AA, RD as asked */
	out[3] = 0x80;                            /* RA, rcode below */
	memset(out + 6, 0, 6);                    /* counts */
	const rr_t *rr = zone_find(name);
	if (rr == NULL) {
		out[3] |= 3;
		return off;
	}
	out[3] |= (uint8_t)rr->rcode;
	if (rr->rcode != 0 || qtype != 1) {
		return off; /* error, or NODATA for AAAA */
	}
	size_t n = off;
	uint8_t owner[2] = { 0xc0, 12 };
	unsigned an = 0;
	const rr_t *target = rr;
	if (rr->cname != NULL) {
		uint8_t rd[256];
		size_t rdl = put_name(rd, rr->cname);
		n += put_rr(out + n, owner, 2, 5, rr->cname_ttl, rd, (uint16_t)rdl);
		an++;
		target = zone_find(rr->cname);
	}
	if (target != NULL && target->a != NULL) {
		uint8_t a4[4];
		inet_pton(AF_INET, target->a, a4);
		uint8_t on[256];
		size_t onl = rr->cname ? put_name(on, rr->cname) : 0;
		n += rr->cname ? put_rr(out + n, on, onl, 1, target->ttl, a4, 4)
		               : put_rr(out + n, owner, 2, 1, target->ttl, a4, 4);
		an++;
	}
	out[7] = (uint8_t)an;
	return n;
}

/* Read every query waiting; answer it now, or keep it while `hold`. */
static void serve(void)
{
	for (;;) {
		uint8_t q[512], out[1024];
		struct sockaddr_storage from;
		socklen_t fl = sizeof(from);
		ssize_t n =
		        recvfrom(srv_fd, q, sizeof(q), MSG_DONTWAIT, (struct sockaddr *)&from, &fl);
		if (n <= 0) {
			return;
		}
		if (hold && n_held < 8) {
			memcpy(held[n_held], q, (size_t)n);
			held_len[n_held] = n;
			held_from[n_held] = from;
			held_fromlen[n_held] = fl;
			n_held++;
			continue;
		}
		size_t len = answer(q, (size_t)n, out);
		if (len > 0) {
			sendto(srv_fd, out, len, 0, (struct sockaddr *)&from, fl);
		}
	}
}

static void release_held(void)
{
	for (int i = 0; i < n_held; i++) {
		uint8_t out[1024];
		size_t len = answer(held[i], (size_t)held_len[i], out);
		if (len > 0) {
			sendto(srv_fd, out, len, 0, (struct sockaddr *)&held_from[i],
			       held_fromlen[i]);
		}
	}
	n_held = 0;
}

static void server_start(void)
{
	srv_fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sin = { .sin_family = AF_INET,
		                   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sin);
	if (srv_fd < 0 || bind(srv_fd, (struct sockaddr *)&sin, sizeof(sin)) != 0 ||
	    getsockname(srv_fd, (struct sockaddr *)&sin, &sl) != 0) {
		printf("Bail out! cannot bind a UDP socket on 127.0.0.1: %s\n", strerror(errno));
		exit(1);
	}
	snprintf(srv_list, sizeof(srv_list), "127.0.0.1:%u", ntohs(sin.sin_port));
}

/* ---- driving the resolver ---- */

typedef struct {
	prober_resolve_wait_t w;
	int calls, err;
	char addr[64];
} waiter_t;

static void on_done(prober_resolve_wait_t *w, int err, const struct sockaddr_storage *ss,
                    socklen_t len)
{
	waiter_t *x = (waiter_t *)w;
	x->calls++;
	x->err = err;
	x->addr[0] = '\0';
	if (err == HG_EOK && len == sizeof(struct sockaddr_in)) {
		inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr, x->addr,
		          sizeof(x->addr));
	}
}

/* Serve and process until cond() or 2 s of real time. */
static bool pump(prober_resolver_t *r, uint64_t now, bool (*cond)(void *), void *arg)
{
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		if (cond != NULL && cond(arg)) {
			return true;
		}
		struct timespec t;
		clock_gettime(CLOCK_MONOTONIC, &t);
		if ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 > 2000) {
			return cond == NULL;
		}
		struct pollfd pf[2] = { { .fd = prober_resolver_fd(r), .events = POLLIN },
			                { .fd = srv_fd, .events = POLLIN } };
		poll(pf, 2, cond == NULL ? 50 : 20);
		if (pf[1].revents) {
			serve();
		}
		if (pf[0].revents) {
			prober_resolver_process(r, now);
		}
		if (cond == NULL && !pf[0].revents && !pf[1].revents) {
			return true; /* quiet for 50 ms */
		}
	}
}

static bool settled(void *arg)
{
	prober_resolve_stats_t st;
	prober_resolver_stats(arg, &st);
	return st.pending == 0;
}

static bool called(void *arg)
{
	return ((waiter_t *)arg)->calls > 0;
}

static const char *resolve_now(prober_resolver_t *r, const char *name, uint64_t now, int *ret,
                               waiter_t *w)
{
	static char buf[64];
	struct sockaddr_storage ss;
	socklen_t len = 0;
	memset(w, 0, sizeof(*w));
	*ret = prober_resolve(r, name, now, &w->w, on_done, &ss, &len);
	buf[0] = '\0';
	if (*ret == HG_EOK && ss.ss_family == AF_INET) {
		inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, buf, sizeof(buf));
	}
	return buf;
}

int main(void)
{
	hg_log_init("test_prober_resolve", HG_LOG_ERR);
	server_start();
	prober_resolver_t *r = NULL;
	is_int(prober_resolver_new(srv_list, &r), HG_EOK, "resolver on the test server");
	if (r == NULL) {
		return done_testing();
	}
	int ret;
	waiter_t w1, w2, w3;
	uint64_t t0 = 1000 * S;
	prober_resolve_stats_t st;

	/* An address literal: at once, no query, no callback. */
	is_str(resolve_now(r, "192.0.2.7", t0, &ret, &w1), "192.0.2.7", "literal resolved at once");
	is_int(ret, HG_EOK, "literal: HG_EOK");
	pump(r, t0, NULL, NULL);
	is_int(n_queries_a, 0, "literal: no query sent");
	is_int(w1.calls, 0, "literal: no callback");
	{
		struct sockaddr_storage ss0;
		socklen_t l0;
		is_int(prober_resolve(r, "", t0, &w1.w, on_done, &ss0, &l0), HG_EINVAL,
		       "empty name refused");
	}

	/* Two probes of one name: one query, both called with the answer. */
	zone_set(0, (rr_t){ .name = "a.hg.test", .a = "10.0.0.1", .ttl = 30 });
	resolve_now(r, "a.hg.test.", t0, &ret, &w1);
	is_int(ret, PROBER_RESOLVE_PENDING, "first lookup pending");
	int ret2;
	resolve_now(r, "A.HG.test.", t0, &ret2, &w2);
	is_int(ret2, PROBER_RESOLVE_PENDING, "second probe of the name (any case) waits too");
	ok(pump(r, t0, called, &w2) && w1.calls == 1, "both waiters called");
	is_int(w1.err, HG_EOK, "answer: HG_EOK");
	is_str(w1.addr, "10.0.0.1", "answer: the A record");
	is_str(w2.addr, "10.0.0.1", "second waiter: same answer");
	is_int(n_queries_a, 1, "one A query for both");
	n_queries_a = 0;

	/* Fresh for its TTL: no query. */
	is_str(resolve_now(r, "a.hg.test.", t0 + 29 * S, &ret, &w1), "10.0.0.1",
	       "cached at TTL-1 s");
	is_int(ret, HG_EOK, "cached: HG_EOK");
	pump(r, t0 + 29 * S, NULL, NULL);
	is_int(n_queries_a, 0, "cached: no query");

	/* Expired: the last answer is used while the refresh runs. */
	zone_set(0, (rr_t){ .name = "a.hg.test", .a = "10.0.0.2", .ttl = 30 });
	hold = true;
	is_str(resolve_now(r, "a.hg.test.", t0 + 31 * S, &ret, &w1), "10.0.0.1",
	       "expired: last answer used at once");
	is_int(ret, HG_EOK, "expired: HG_EOK (stale)");
	pump(r, t0 + 31 * S, NULL, NULL);
	is_int(n_held, 2, "expired: one refresh sent (A and AAAA)");
	is_str(resolve_now(r, "a.hg.test.", t0 + 32 * S, &ret, &w1), "10.0.0.1",
	       "refresh in flight: still the last answer");
	pump(r, t0 + 32 * S, NULL, NULL);
	is_int(n_held, 2, "no second query while one runs");
	hold = false;
	release_held();
	ok(pump(r, t0 + 32 * S, settled, r), "refresh answered");
	is_str(resolve_now(r, "a.hg.test.", t0 + 33 * S, &ret, &w1), "10.0.0.2",
	       "the refreshed answer is used");
	is_int(w1.calls, 0, "no callback for answers given at once");

	/* The servers fail (SERVFAIL) after it expired: the last answer stays
	 * usable for PROBER_RESOLVE_STALE_MS past its expiry, and the failure
	 * is remembered PROBER_RESOLVE_NEG_MS (no query per probe). */
	uint64_t exp = t0 + 32 * S + 30 * S;
	zone_set(0, (rr_t){ .name = "a.hg.test", .rcode = 2 });
	n_queries_a = 0;
	is_str(resolve_now(r, "a.hg.test.", exp + 1 * S, &ret, &w1), "10.0.0.2",
	       "expired, refresh starts: last answer");
	ok(pump(r, exp + 1 * S, settled, r), "SERVFAIL answered");
	ok(n_queries_a >= 1, "refresh was sent");
	unsigned sent = n_queries_a;
	is_str(resolve_now(r, "a.hg.test.", exp + 2 * S, &ret, &w1), "10.0.0.2",
	       "refresh failed for want of a server: last answer still used");
	pump(r, exp + 2 * S, NULL, NULL);
	is_int(n_queries_a, sent, "failure remembered: no new query within 5 s");
	resolve_now(r, "a.hg.test.", exp + PROBER_RESOLVE_STALE_MS / 1000 * S + 1 * S, &ret, &w1);
	is_int(ret, PROBER_RESOLVE_PENDING, "past the stale window: the probe waits for a lookup");
	ok(pump(r, exp + 31 * S, called, &w1), "that lookup ends");
	is_int(w1.err, HG_ENOENT, "and fails: HG_ENOENT");

	/* NXDOMAIN: failed at once, remembered 5 s, then asked again. */
	resolve_now(r, "nx.hg.test.", t0, &ret, &w1);
	is_int(ret, PROBER_RESOLVE_PENDING, "unknown name: pending");
	ok(pump(r, t0, called, &w1), "NXDOMAIN answered");
	is_int(w1.err, HG_ENOENT, "NXDOMAIN: HG_ENOENT");
	n_queries_a = 0;
	resolve_now(r, "nx.hg.test.", t0 + 4 * S, &ret, &w1);
	is_int(ret, HG_ENOENT, "NXDOMAIN remembered: fails at once");
	pump(r, t0 + 4 * S, NULL, NULL);
	is_int(n_queries_a, 0, "NXDOMAIN remembered: no query");
	resolve_now(r, "nx.hg.test.", t0 + 6 * S, &ret, &w1);
	is_int(ret, PROBER_RESOLVE_PENDING, "after 5 s: asked again");
	ok(pump(r, t0 + 6 * S, called, &w1), "answered again");

	/* A name that disappears (NXDOMAIN on refresh) is dropped at once. */
	zone_set(1, (rr_t){ .name = "b.hg.test", .a = "10.0.0.3", .ttl = 10 });
	resolve_now(r, "b.hg.test.", t0, &ret, &w1);
	ok(pump(r, t0, called, &w1) && w1.err == HG_EOK, "b resolved");
	zone_set(1, (rr_t){ .name = NULL });
	resolve_now(r, "b.hg.test.", t0 + 11 * S, &ret, &w1);
	is_int(ret, HG_EOK, "b expired: last answer while refreshing");
	ok(pump(r, t0 + 11 * S, settled, r), "refresh answered NXDOMAIN");
	resolve_now(r, "b.hg.test.", t0 + 12 * S, &ret, &w1);
	is_int(ret, HG_ENOENT, "NXDOMAIN drops the last answer: fails at once");

	/* TTL 0 is kept the minimum (1 s); the lifetime of a CNAME answer is
	 * its smallest TTL. */
	zone_set(2, (rr_t){ .name = "z.hg.test", .a = "10.0.0.4", .ttl = 0 });
	zone_set(3, (rr_t){ .name = "c.hg.test", .cname = "d.hg.test", .cname_ttl = 5 });
	zone_set(4, (rr_t){ .name = "d.hg.test", .a = "10.0.0.5", .ttl = 100 });
	resolve_now(r, "z.hg.test.", t0, &ret, &w1);
	resolve_now(r, "c.hg.test.", t0, &ret2, &w2);
	ok(pump(r, t0, called, &w1) && pump(r, t0, called, &w2), "z and c resolved");
	is_str(w2.addr, "10.0.0.5", "CNAME followed to its A record");
	n_queries_a = 0;
	resolve_now(r, "z.hg.test.", t0 + S / 2, &ret, &w1);
	resolve_now(r, "c.hg.test.", t0 + 4 * S, &ret2, &w2);
	pump(r, t0 + 4 * S, NULL, NULL);
	ok(ret == HG_EOK && ret2 == HG_EOK && n_queries_a == 0,
	   "TTL 0 kept 1 s, CNAME answer kept for its CNAME's TTL (5 s)");
	resolve_now(r, "z.hg.test.", t0 + S + S / 10, &ret, &w1);
	resolve_now(r, "c.hg.test.", t0 + 6 * S, &ret2, &w2);
	ok(pump(r, t0 + 6 * S, settled, r) && n_queries_a == 2,
	   "refreshed after 1 s and after 5 s (not the A record's 100 s)");

	/* A cancelled waiter is never called; its lookup still fills the cache. */
	zone_set(5, (rr_t){ .name = "e.hg.test", .a = "10.0.0.6", .ttl = 60 });
	resolve_now(r, "e.hg.test.", t0, &ret, &w1);
	resolve_now(r, "e.hg.test.", t0, &ret2, &w2);
	prober_resolve_cancel(&w1.w);
	prober_resolve_cancel(&w1.w); /* twice: a no-op */
	ok(pump(r, t0, called, &w2), "the other waiter is called");
	is_int(w1.calls, 0, "cancelled waiter not called");
	is_str(resolve_now(r, "e.hg.test.", t0 + S, &ret, &w1), "10.0.0.6",
	       "the abandoned lookup filled the cache");

	/* A reload (SIGHUP) with a lookup in flight: sent again on the new
	 * channel, the waiter still called once; the cache is kept. */
	zone_set(7, (rr_t){ .name = "g.hg.test", .a = "10.0.0.8", .ttl = 60 });
	hold = true;
	resolve_now(r, "g.hg.test.", t0, &ret, &w1);
	is_int(ret, PROBER_RESOLVE_PENDING, "g pending");
	pump(r, t0, NULL, NULL);
	n_held = 0; /* the old channel's query: never answered */
	hold = false;
	is_int(prober_resolver_reload(r, t0), HG_EOK, "reload");
	ok(pump(r, t0, called, &w1), "the lookup was sent again and answered");
	ok(w1.calls == 1 && w1.err == HG_EOK && strcmp(w1.addr, "10.0.0.8") == 0,
	   "waiter called once with the answer");
	is_str(resolve_now(r, "e.hg.test.", t0 + S, &ret, &w2), "10.0.0.6",
	       "cache kept over a reload");

	/* /etc/hosts (localhost) completes inside prober_resolve(). */
	struct sockaddr_storage ss;
	socklen_t len = 0;
	memset(&w3, 0, sizeof(w3));
	ret = prober_resolve(r, "localhost", t0, &w3.w, on_done, &ss, &len);
	ok(ret == HG_EOK && (ss.ss_family == AF_INET || ss.ss_family == AF_INET6) && w3.calls == 0,
	   "localhost: at once, no callback (ret %d)", ret);

	prober_resolver_stats(r, &st);
	ok(st.lookups > 20 && st.cache_hits >= 4 && st.stale_hits >= 3 && st.queries >= 10 &&
	           st.failures >= 3 && st.pending == 0 && st.names >= 7,
	   "counters: %llu lookups, %llu hits, %llu stale, %llu queries, %llu failures, %zu names",
	   (unsigned long long)st.lookups, (unsigned long long)st.cache_hits,
	   (unsigned long long)st.stale_hits, (unsigned long long)st.queries,
	   (unsigned long long)st.failures, st.names);

	/* Freed with a lookup in flight and a waiter queued: nothing called,
	 * nothing leaked (ASan / valgrind). */
	hold = true;
	zone_set(6, (rr_t){ .name = "f.hg.test", .a = "10.0.0.7", .ttl = 60 });
	resolve_now(r, "f.hg.test.", t0, &ret, &w1);
	is_int(ret, PROBER_RESOLVE_PENDING, "f pending");
	pump(r, t0, NULL, NULL);
	prober_resolver_free(r);
	is_int(w1.calls, 0, "freed: waiter not called");
	ok(w1.w.entry == NULL, "freed: waiter detached");
	close(srv_fd);
	return done_testing();
}
