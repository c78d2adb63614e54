/*  SPDX-License-Identifier: GPL-3.0-or-later */
/* Asynchronous name resolution for CNAME endpoints (prober_resolve.h).
 *
 * Why c-ares and not a thread around getaddrinfo(): getaddrinfo() reports
 * no TTL (the cache could only guess a lifetime), a lookup cannot be
 * cancelled (a hung name pins a thread, and SIGTERM would have to wait for
 * it or leak it), and slow names would queue behind each other in any
 * bounded pool. c-ares runs every lookup at once on non-blocking sockets in
 * this thread, gives each record's TTL, and abandons lookups on demand.
 * libcurl's own resolver is not used either: Debian's libcurl resolves in a
 * thread per transfer, caches 60 s whatever the TTL, and a transfer that
 * ends while its lookup runs waits for that thread (multi_done()), which
 * blocks the loop again. */
#include <ares.h>
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "errors.h"
#include "log.h"
#include "prober_resolve.h"

#define NAME_MAX_LEN 253
#define MS           1000000ull

typedef struct prober_resolve_entry {
	struct prober_resolve_entry *hnext; /* hash chain */
	prober_resolver_t *r;
	bool pending; /* a c-ares lookup is in flight */
	bool redo;    /* its lookup died with a replaced channel */
	bool have_addr;
	struct sockaddr_storage addr;
	socklen_t addrlen;
	uint64_t expires_ns;   /* have_addr: fresh until */
	uint64_t neg_until_ns; /* a failed lookup is remembered until */
	uint64_t used_ns;      /* last prober_resolve() of it */
	int last_status;       /* ARES_* of the last lookup, for logging changes */
	prober_resolve_wait_t *waiters;
	char name[];
} entry_t;

struct prober_resolver {
	ares_channel channel;
	bool lib_ok, channel_ok;
	bool destroying;     /* ares_destroy() runs: callbacks only clean up */
	bool swapping;       /* ... to replace the channel: lookups are redone */
	const char *servers; /* prober_resolver_new()'s, for a reload */
	int epfd, tfd;       /* private epoll set: c-ares sockets + timer */
	entry_t **buckets;
	size_t nbuckets, n;
	uint64_t now_ns;  /* the caller's clock during callbacks */
	size_t n_pending; /* entries with a lookup in flight */
	bool timer_on;
	uint64_t sweep_ns;
	prober_resolve_stats_t st;
};

/* ---- the cache table ---- */

static uint64_t name_hash(const char *s)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a, case-folded: DNS names */
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		h = (h ^ (c >= 'A' && c <= 'Z' ? c + 32u : c)) * 1099511628211ull;
	}
	return h;
}

static entry_t *table_find(prober_resolver_t *r, const char *name)
{
	for (entry_t *e = r->buckets[name_hash(name) & (r->nbuckets - 1)]; e; e = e->hnext) {
		if (strcasecmp(e->name, name) == 0) {
			return e;
		}
	}
	return NULL;
}

static int table_grow(prober_resolver_t *r)
{
	size_t nb = r->nbuckets * 2;
	entry_t **b = calloc(nb, sizeof(*b));
	if (b == NULL) {
		return HG_ENOMEM;
	}
	for (size_t i = 0; i < r->nbuckets; i++) {
		for (entry_t *e = r->buckets[i], *next; e; e = next) {
			next = e->hnext;
			size_t k = name_hash(e->name) & (nb - 1);
			e->hnext = b[k];
			b[k] = e;
		}
	}
	free(r->buckets);
	r->buckets = b;
	r->nbuckets = nb;
	return HG_EOK;
}

static entry_t *table_add(prober_resolver_t *r, const char *name, size_t len)
{
	if (r->n >= r->nbuckets && table_grow(r) != HG_EOK) {
		return NULL;
	}
	entry_t *e = calloc(1, sizeof(*e) + len + 1);
	if (e == NULL) {
		return NULL;
	}
	memcpy(e->name, name, len + 1);
	e->r = r;
	e->last_status = ARES_SUCCESS;
	size_t k = name_hash(name) & (r->nbuckets - 1);
	e->hnext = r->buckets[k];
	r->buckets[k] = e;
	r->n++;
	return e;
}

/* Forget names nobody asked for in PROBER_RESOLVE_IDLE_MS (endpoints a
 * reload removed); at most once a minute. */
static void table_sweep(prober_resolver_t *r, uint64_t now)
{
	if (now < r->sweep_ns) {
		return;
	}
	r->sweep_ns = now + 60000 * MS;
	for (size_t i = 0; i < r->nbuckets; i++) {
		entry_t **pp = &r->buckets[i];
		while (*pp != NULL) {
			entry_t *e = *pp;
			if (!e->pending && e->waiters == NULL &&
			    now - e->used_ns > PROBER_RESOLVE_IDLE_MS * MS) {
				*pp = e->hnext;
				free(e);
				r->n--;
			} else {
				pp = &e->hnext;
			}
		}
	}
}

/* ---- c-ares on the private epoll set ---- */

static void sock_state_cb(void *data, ares_socket_t fd, int readable, int writable)
{
	prober_resolver_t *r = data;
	if (!readable && !writable) {
		epoll_ctl(r->epfd, EPOLL_CTL_DEL, fd, NULL); /* c-ares closes it next */
		return;
	}
	struct epoll_event ev = { .events = (readable ? EPOLLIN : 0u) | (writable ? EPOLLOUT : 0u),
		                  .data.fd = fd };
	if (epoll_ctl(r->epfd, EPOLL_CTL_MOD, fd, &ev) != 0 && errno == ENOENT) {
		epoll_ctl(r->epfd, EPOLL_CTL_ADD, fd, &ev);
	}
}

/* While lookups are in flight, the timer fd fires every
 * PROBER_RESOLVE_TICK_MS so c-ares can retry and time queries out: its
 * retries are seconds apart, and ares_timeout() (the exact next deadline)
 * walks every query in flight, which 10,000 names of a dead server would
 * make quadratic. */
#define PROBER_RESOLVE_TICK_MS 100

static void arm_timer(prober_resolver_t *r)
{
	bool on = r->n_pending > 0;
	if (on == r->timer_on) {
		return;
	}
	struct itimerspec its = { 0 };
	if (on) {
		its.it_value.tv_nsec = PROBER_RESOLVE_TICK_MS * 1000000L;
		its.it_interval = its.it_value;
	}
	timerfd_settime(r->tfd, 0, &its, NULL);
	r->timer_on = on;
}

static void set_pending(entry_t *e, bool pending)
{
	if (e->pending != pending) {
		e->r->n_pending += pending ? 1 : (size_t)-1;
		e->pending = pending;
	}
}

static const char *addr_text(const struct sockaddr_storage *ss, char *buf, size_t size)
{
	const void *a = ss->ss_family == AF_INET
	                        ? (const void *)&((const struct sockaddr_in *)ss)->sin_addr
	                        : (const void *)&((const struct sockaddr_in6 *)ss)->sin6_addr;
	if (inet_ntop(ss->ss_family, a, buf, (socklen_t)size) == NULL) {
		snprintf(buf, size, "?");
	}
	return buf;
}

/* The address and the lifetime an answer gives: the first address of
 * c-ares' order, the smallest TTL of every record that led to it. */
static bool take_answer(const struct ares_addrinfo *ai, struct sockaddr_storage *ss, socklen_t *len,
                        uint64_t *ttl_ms)
{
	const struct ares_addrinfo_node *first = NULL;
	int64_t ttl = -1;
	for (const struct ares_addrinfo_node *n = ai ? ai->nodes : NULL; n; n = n->ai_next) {
		bool usable =
		        (n->ai_family == AF_INET && n->ai_addrlen == sizeof(struct sockaddr_in)) ||
		        (n->ai_family == AF_INET6 && n->ai_addrlen == sizeof(struct sockaddr_in6));
		if (!usable) {
			continue;
		}
		if (first == NULL) {
			first = n;
		}
		if (ttl < 0 || n->ai_ttl < ttl) {
			ttl = n->ai_ttl;
		}
	}
	if (first == NULL) {
		return false;
	}
	for (const struct ares_addrinfo_cname *c = ai->cnames; c; c = c->next) {
		if (c->ttl < ttl) {
			ttl = c->ttl;
		}
	}
	memset(ss, 0, sizeof(*ss));
	memcpy(ss, first->ai_addr, first->ai_addrlen);
	*len = first->ai_addrlen;
	if (ss->ss_family == AF_INET) {
		((struct sockaddr_in *)ss)->sin_port = 0;
	} else {
		((struct sockaddr_in6 *)ss)->sin6_port = 0;
	}
	uint64_t ms = ttl > 0 ? (uint64_t)ttl * 1000u : 0;
	*ttl_ms = ms < PROBER_RESOLVE_TTL_MIN_MS   ? PROBER_RESOLVE_TTL_MIN_MS
	          : ms > PROBER_RESOLVE_TTL_MAX_MS ? PROBER_RESOLVE_TTL_MAX_MS
	                                           : ms;
	return true;
}

/* NXDOMAIN or no address: the name's owner says so, forget the address.
 * Anything else is the servers' trouble: an address still in its stale
 * window stays usable. */
static bool authoritative_no(int status)
{
	return status == ARES_ENOTFOUND || status == ARES_ENODATA || status == ARES_SUCCESS;
}

static void log_answer(entry_t *e, const struct sockaddr_storage *ss, socklen_t len,
                       uint64_t ttl_ms)
{
	char now_txt[INET6_ADDRSTRLEN], was_txt[INET6_ADDRSTRLEN];
	addr_text(ss, now_txt, sizeof(now_txt));
	if (e->last_status != ARES_SUCCESS) {
		hg_notice("name %s resolves again: %s (kept %llu s)", e->name, now_txt,
		          (unsigned long long)(ttl_ms / 1000));
	} else if (!e->have_addr) {
		hg_info("name %s: %s (kept %llu s)", e->name, now_txt,
		        (unsigned long long)(ttl_ms / 1000));
	} else if (e->addrlen != len || memcmp(&e->addr, ss, len) != 0) {
		hg_notice("name %s: now %s (was %s)", e->name, now_txt,
		          addr_text(&e->addr, was_txt, sizeof(was_txt)));
	}
}

static void log_failure(entry_t *e, int status, bool stale)
{
	if (status == e->last_status) {
		return; /* said already */
	}
	char txt[INET6_ADDRSTRLEN];
	if (stale) {
		hg_warn("name %s: cannot resolve it (%s): probing its last address %s for at most "
		        "%u s more",
		        e->name, ares_strerror(status), addr_text(&e->addr, txt, sizeof(txt)),
		        PROBER_RESOLVE_STALE_MS / 1000);
	} else {
		hg_warn("name %s: cannot resolve it (%s): its probes fail (class resolve)", e->name,
		        ares_strerror(status));
	}
}

/* Record what a lookup found; returns HG_EOK when the entry has an address
 * to use now. */
static int entry_settle(entry_t *e, int status, const struct ares_addrinfo *ai)
{
	uint64_t now = e->r->now_ns;
	struct sockaddr_storage ss;
	socklen_t len = 0;
	uint64_t ttl_ms = 0;
	set_pending(e, false);
	if (status == ARES_SUCCESS && take_answer(ai, &ss, &len, &ttl_ms)) {
		log_answer(e, &ss, len, ttl_ms);
		e->addr = ss;
		e->addrlen = len;
		e->have_addr = true;
		e->expires_ns = now + ttl_ms * MS;
		e->neg_until_ns = 0;
		e->last_status = ARES_SUCCESS;
		return HG_EOK;
	}
	if (status == ARES_SUCCESS) {
		status = ARES_ENODATA; /* an answer with no usable address */
	}
	e->r->st.failures++;
	e->neg_until_ns = now + PROBER_RESOLVE_NEG_MS * MS;
	bool stale = e->have_addr && !authoritative_no(status) &&
	             now < e->expires_ns + PROBER_RESOLVE_STALE_MS * MS;
	log_failure(e, status, stale);
	e->last_status = status;
	e->have_addr = stale;
	return stale ? HG_EOK : HG_ENOENT;
}

/* Call the waiters one at a time: a callback may cancel another waiter or
 * queue a new one (only on a new lookup, which this loop then leaves
 * alone). */
static void entry_notify(entry_t *e, int ret)
{
	while (!e->pending && e->waiters != NULL) {
		prober_resolve_wait_t *w = e->waiters;
		e->waiters = w->next;
		if (e->waiters != NULL) {
			e->waiters->prev = NULL;
		}
		w->entry = NULL;
		w->prev = w->next = NULL;
		struct sockaddr_storage ss = e->addr;
		w->done(w, ret, ret == HG_EOK ? &ss : NULL, ret == HG_EOK ? e->addrlen : 0);
	}
}

static void on_addrinfo(void *arg, int status, int timeouts, struct ares_addrinfo *ai)
{
	entry_t *e = arg;
	(void)timeouts;
	if (status == ARES_EDESTRUCTION || status == ARES_ECANCELLED || e->r->destroying) {
		/* Shutting down (nobody waits any more), or the channel is being
		 * replaced (the lookup is sent again on the new one). */
		set_pending(e, false);
		e->redo = e->r->swapping;
		ares_freeaddrinfo(ai);
		return;
	}
	int ret = entry_settle(e, status, ai);
	ares_freeaddrinfo(ai);
	entry_notify(e, ret);
}

/* Start a lookup; c-ares may finish it before returning (an address
 * literal, /etc/hosts), then e->pending is already false again. */
static void entry_query(prober_resolver_t *r, entry_t *e)
{
	struct ares_addrinfo_hints hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
	set_pending(e, true);
	r->st.queries++;
	ares_getaddrinfo(r->channel, e->name, NULL, &hints, on_addrinfo, e);
	arm_timer(r);
}

/* ---- API ---- */

/* A channel with the system's configuration (or the test's servers). */
static int channel_new(prober_resolver_t *r, ares_channel *ch)
{
	struct ares_options opts = { .sock_state_cb = sock_state_cb, .sock_state_cb_data = r };
	int rc = ares_init_options(ch, &opts, ARES_OPT_SOCK_STATE_CB);
	if (rc == ARES_SUCCESS && r->servers != NULL) {
		rc = ares_set_servers_ports_csv(*ch, r->servers);
		if (rc != ARES_SUCCESS) {
			ares_destroy(*ch);
		}
	}
	return rc;
}

int prober_resolver_reload(prober_resolver_t *r, uint64_t now_ns)
{
	ares_channel fresh;
	int rc = channel_new(r, &fresh);
	if (rc != ARES_SUCCESS) {
		hg_err("name resolver: cannot read the configuration again (%s): keeping the old "
		       "one",
		       ares_strerror(rc));
		return rc == ARES_ENOMEM ? HG_ENOMEM : HG_EIO;
	}
	/* Lookups in flight die with the old channel and go again on the new
	 * one; the cache stays (its answers are still the DNS's). */
	r->swapping = true;
	ares_destroy(r->channel);
	r->swapping = false;
	r->channel = fresh;
	r->now_ns = now_ns;
	for (size_t i = 0; i < r->nbuckets; i++) {
		for (entry_t *e = r->buckets[i]; e; e = e->hnext) {
			if (e->redo) {
				e->redo = false;
				entry_query(r, e);
				if (!e->pending) {
					/* Answered at once (/etc/hosts): the waiters now. */
					entry_notify(e, e->have_addr ? HG_EOK : HG_ENOENT);
				}
			}
		}
	}
	arm_timer(r);
	return HG_EOK;
}

int prober_resolver_new(const char *servers, prober_resolver_t **out)
{
	*out = NULL;
	prober_resolver_t *r = calloc(1, sizeof(*r));
	if (r == NULL) {
		return HG_ENOMEM;
	}
	r->epfd = r->tfd = -1;
	r->nbuckets = 64;
	r->buckets = calloc(r->nbuckets, sizeof(*r->buckets));
	int ret = r->buckets == NULL ? HG_ENOMEM : HG_EOK;
	if (ret == HG_EOK) {
		r->epfd = epoll_create1(EPOLL_CLOEXEC);
		r->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
		struct epoll_event ev = { .events = EPOLLIN };
		ev.data.fd = r->tfd;
		if (r->epfd < 0 || r->tfd < 0 ||
		    epoll_ctl(r->epfd, EPOLL_CTL_ADD, r->tfd, &ev) != 0) {
			ret = hg_err_from_errno(errno);
		}
	}
	r->servers = servers;
	int ares_rc = ARES_SUCCESS;
	if (ret == HG_EOK) {
		ares_rc = ares_library_init(ARES_LIB_INIT_ALL);
		r->lib_ok = ares_rc == ARES_SUCCESS;
	}
	if (ret == HG_EOK && ares_rc == ARES_SUCCESS) {
		ares_rc = channel_new(r, &r->channel);
		r->channel_ok = ares_rc == ARES_SUCCESS;
	}
	if (ret == HG_EOK && ares_rc != ARES_SUCCESS) {
		hg_err("name resolver (c-ares): %s", ares_strerror(ares_rc));
		ret = ares_rc == ARES_ENOMEM ? HG_ENOMEM : HG_EIO;
	}
	if (ret != HG_EOK) {
		prober_resolver_free(r);
		return ret;
	}
	*out = r;
	return HG_EOK;
}

void prober_resolver_free(prober_resolver_t *r)
{
	if (r == NULL) {
		return;
	}
	if (r->channel_ok) {
		r->destroying = true;
		ares_destroy(r->channel);
	}
	if (r->lib_ok) {
		ares_library_cleanup();
	}
	for (size_t i = 0; r->buckets != NULL && i < r->nbuckets; i++) {
		for (entry_t *e = r->buckets[i], *next; e; e = next) {
			next = e->hnext;
			for (prober_resolve_wait_t *w = e->waiters; w; w = w->next) {
				w->entry = NULL;
			}
			free(e);
		}
	}
	free(r->buckets);
	if (r->tfd >= 0) {
		close(r->tfd);
	}
	if (r->epfd >= 0) {
		close(r->epfd);
	}
	free(r);
}

int prober_resolver_fd(const prober_resolver_t *r)
{
	return r->epfd;
}

void prober_resolver_process(prober_resolver_t *r, uint64_t now_ns)
{
	r->now_ns = now_ns;
	struct epoll_event evs[64];
	int n = epoll_wait(r->epfd, evs, 64, 0);
	bool any = false;
	for (int i = 0; i < n; i++) {
		int fd = evs[i].data.fd;
		if (fd == r->tfd) {
			uint64_t x;
			ssize_t got = read(r->tfd, &x, sizeof(x));
			(void)got; /* only the wake-up matters */
			continue;
		}
		uint32_t ev = evs[i].events;
		ares_process_fd(r->channel,
		                (ev & (EPOLLIN | EPOLLERR | EPOLLHUP)) ? fd : ARES_SOCKET_BAD,
		                (ev & EPOLLOUT) ? fd : ARES_SOCKET_BAD);
		any = true;
	}
	if (!any) {
		/* The tick, or a spurious wake-up: let c-ares retry and time out. */
		ares_process_fd(r->channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
	}
	arm_timer(r);
	table_sweep(r, now_ns);
}

int prober_resolve(prober_resolver_t *r, const char *name, uint64_t now_ns,
                   prober_resolve_wait_t *w, prober_resolve_done_fn done,
                   struct sockaddr_storage *ss, socklen_t *len)
{
	size_t nlen = strlen(name);
	if (nlen == 0 || nlen > NAME_MAX_LEN) {
		return HG_EINVAL;
	}
	r->now_ns = now_ns;
	r->st.lookups++;
	/* An address literal (a host given as IPv4): no lookup, no entry.
	 * c-ares 1.18 would send an IPv4 literal to the DNS with AF_UNSPEC. */
	memset(ss, 0, sizeof(*ss));
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
	if (inet_pton(AF_INET, name, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		*len = sizeof(*sin);
		return HG_EOK;
	}
	if (inet_pton(AF_INET6, name, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		*len = sizeof(*sin6);
		return HG_EOK;
	}
	entry_t *e = table_find(r, name);
	if (e == NULL && (e = table_add(r, name, nlen)) == NULL) {
		return HG_ENOMEM;
	}
	e->used_ns = now_ns;
	if (e->have_addr && now_ns >= e->expires_ns + PROBER_RESOLVE_STALE_MS * MS) {
		e->have_addr = false; /* too old to probe, even while refreshing */
	}
	if (e->have_addr && now_ns < e->expires_ns) {
		r->st.cache_hits++;
		goto have;
	}
	if (e->have_addr) {
		/* Expired: refresh it (unless a refresh runs or just failed for
		 * want of a server) and probe the last answer meanwhile. */
		if (!e->pending && now_ns >= e->neg_until_ns) {
			entry_query(r, e); /* may settle at once: e is then current */
		}
		if (e->have_addr) {
			r->st.stale_hits += now_ns >= e->expires_ns;
			r->st.cache_hits += now_ns < e->expires_ns;
			goto have;
		}
		if (!e->pending) {
			return HG_ENOENT; /* the name's owner says it has no address */
		}
	} else if (!e->pending) {
		if (now_ns < e->neg_until_ns) {
			return HG_ENOENT;
		}
		entry_query(r, e);
		if (!e->pending) {
			if (!e->have_addr) {
				return HG_ENOENT;
			}
			goto have;
		}
	}
	w->done = done;
	w->entry = e;
	w->prev = NULL;
	w->next = e->waiters;
	if (e->waiters != NULL) {
		e->waiters->prev = w;
	}
	e->waiters = w;
	return PROBER_RESOLVE_PENDING;
have:
	*ss = e->addr;
	*len = e->addrlen;
	return HG_EOK;
}

void prober_resolve_cancel(prober_resolve_wait_t *w)
{
	entry_t *e = w->entry;
	if (e == NULL) {
		return;
	}
	if (w->prev != NULL) {
		w->prev->next = w->next;
	} else {
		e->waiters = w->next;
	}
	if (w->next != NULL) {
		w->next->prev = w->prev;
	}
	w->entry = NULL;
	w->prev = w->next = NULL;
}

void prober_resolver_stats(const prober_resolver_t *r, prober_resolve_stats_t *st)
{
	*st = r->st;
	st->names = r->n;
	st->pending = r->n_pending;
}
