/*  SPDX-License-Identifier: GPL-3.0-or-later */
/*!
 * \file
 * \brief Names of CNAME endpoints resolved without ever blocking the
 *        prober's loop: c-ares on one pollable fd, answers cached for
 *        their TTL.
 *
 * A CNAME endpoint without `probe-address` is probed at the address its
 * check's `host` resolves to. getaddrinfo() blocks; one slow name used to
 * stall every probe, every write and SIGTERM. Here each name has one cache
 * entry and at most one query in flight (c-ares, non-blocking sockets on a
 * private epoll set whose fd the loop polls); probes of a name being
 * resolved wait on the entry, everything else goes on.
 *
 * Cache rules (times are the caller's CLOCK_MONOTONIC nanoseconds):
 * - an answer is used for the smallest TTL of its address records and
 *   CNAMEs, clamped to [PROBER_RESOLVE_TTL_MIN_MS, PROBER_RESOLVE_TTL_MAX_MS];
 *   the address used is the first of c-ares' RFC 6724 order (IPv4 or IPv6);
 * - an expired answer is still used while its refresh is in flight, or
 *   after the refresh failed for want of a server (timeout, SERVFAIL,
 *   refused...), at most PROBER_RESOLVE_STALE_MS past its expiry;
 *   NXDOMAIN or no address drops it at once;
 * - a failed lookup is remembered PROBER_RESOLVE_NEG_MS: lookups of that
 *   name fail at once meanwhile (no query per probe for a missing name).
 *
 * c-ares reads /etc/resolv.conf (nameserver, search, ndots, options
 * timeout/attempts/rotate) and /etc/hosts, in the order of the hosts line
 * of /etc/nsswitch.conf (files, dns); other NSS sources are not used.
 * They are read when the resolver is made and by prober_resolver_reload().
 *
 * Not thread-safe: the loop's thread only.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define PROBER_RESOLVE_TTL_MIN_MS 1000u    /*!< answers kept at least 1 s */
#define PROBER_RESOLVE_TTL_MAX_MS 3600000u /*!< and at most 1 h */
#define PROBER_RESOLVE_STALE_MS   30000u   /*!< expired answer used while refreshing */
#define PROBER_RESOLVE_NEG_MS     5000u    /*!< failed lookup remembered */
#define PROBER_RESOLVE_IDLE_MS    600000u  /*!< names unused this long are forgotten */

/*! Returned by prober_resolve() when the waiter was queued. */
#define PROBER_RESOLVE_PENDING 1

typedef struct prober_resolver prober_resolver_t;
struct prober_resolve_entry;
struct prober_resolve_wait;

/*!
 * Called once for a queued waiter when the lookup ends: \a err is HG_EOK
 * (\a ss holds the address, port 0; valid during the call only) or
 * HG_ENOENT (the name has no usable address). The waiter is no longer
 * queued when this runs; the callback may free it and may call
 * prober_resolve() again.
 */
typedef void (*prober_resolve_done_fn)(struct prober_resolve_wait *w, int err,
                                       const struct sockaddr_storage *ss, socklen_t len);

/*! A lookup a caller waits for; embedded in the caller's own object. */
typedef struct prober_resolve_wait {
	struct prober_resolve_entry *entry; /*!< NULL: not queued */
	struct prober_resolve_wait *prev, *next;
	prober_resolve_done_fn done;
} prober_resolve_wait_t;

/*! Counters for the metrics file. */
typedef struct {
	uint64_t lookups;    /*!< prober_resolve() calls */
	uint64_t cache_hits; /*!< answered from a fresh entry */
	uint64_t stale_hits; /*!< answered from an expired entry (refresh in flight or failed) */
	uint64_t queries;    /*!< c-ares lookups started */
	uint64_t failures;   /*!< c-ares lookups that ended without an address */
	size_t names;        /*!< entries in the cache */
	size_t pending;      /*!< lookups in flight */
} prober_resolve_stats_t;

/*!
 * \brief Create a resolver.
 * \param[in] servers  NULL: the system's configuration (above); else a
 *                     c-ares server list "ADDR:PORT,..." (tests).
 * \param[out] out     Owned by the caller, prober_resolver_free().
 * \return HG_EOK, HG_ENOMEM, or HG_EIO (c-ares could not start: logged
 *         with its reason).
 */
int prober_resolver_new(const char *servers, prober_resolver_t **out);

/*! \brief Free the resolver; lookups in flight are abandoned and queued
 *         waiters dropped without a call. NULL is a no-op. */
void prober_resolver_free(prober_resolver_t *r);

/*!
 * \brief Read the system's configuration again (SIGHUP): a new c-ares
 *        channel; lookups in flight are sent again on it (their waiters
 *        stay queued), the cache is kept.
 * \return HG_EOK, or HG_ENOMEM / HG_EIO (logged; the old channel stays).
 */
int prober_resolver_reload(prober_resolver_t *r, uint64_t now_ns);

/*! \brief The fd to poll for reading (level-triggered): when it is
 *         readable, call prober_resolver_process(). */
int prober_resolver_fd(const prober_resolver_t *r);

/*! \brief Handle what is ready (answers, retries, timeouts), calling the
 *         waiters of finished lookups; never blocks. Also forgets names
 *         unused for PROBER_RESOLVE_IDLE_MS. */
void prober_resolver_process(prober_resolver_t *r, uint64_t now_ns);

/*!
 * \brief The address of \a name, from the cache or by a lookup.
 *
 * \return HG_EOK: \a ss / \a len hold the address (port 0), \a w unused;
 *         PROBER_RESOLVE_PENDING: \a w is queued and \a done will be called
 *         (unless prober_resolve_cancel()); HG_ENOENT: the name has no
 *         address (now, or a failure remembered); HG_ENOMEM, HG_EINVAL
 *         (empty or overlong name).
 *         A lookup c-ares completes at once (an address literal, /etc/hosts)
 *         returns HG_EOK or HG_ENOENT, never calls \a done.
 */
int prober_resolve(prober_resolver_t *r, const char *name, uint64_t now_ns,
                   prober_resolve_wait_t *w, prober_resolve_done_fn done,
                   struct sockaddr_storage *ss, socklen_t *len);

/*! \brief Take a queued waiter off its lookup (which goes on and fills the
 *         cache); no-op if \a w is not queued. */
void prober_resolve_cancel(prober_resolve_wait_t *w);

/*! \brief Counters so far. */
void prober_resolver_stats(const prober_resolver_t *r, prober_resolve_stats_t *st);
