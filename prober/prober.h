/*  SPDX-License-Identifier: GPL-3.0-or-later */
/*!
 * \file
 * \brief haltgslb-prober internals: the event loop, targets, jobs.
 *
 * One thread, one epoll loop: a timerfd drives libcurl's multi socket API
 * (curl's ephiperfifo.c pattern), a second timerfd the probe schedule and
 * the batch flush, a signalfd SIGTERM/SIGINT/SIGHUP; TCP connects and ICMP
 * echo sockets are plain fds on the same epoll.
 *
 * Ownership: the prober_t owns every target; a target removed by a reload
 * while a probe is in flight is only flagged and freed when the probe ends.
 */
#pragma once

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include <curl/curl.h>

#include "prober_pub.h"
#include "prober_pub_diff.h"
#include "prober_state.h"
#include "store.h"

/*! Tag at the start of everything registered in epoll (data.ptr). */
enum prober_ev_kind {
	PROBER_EV_CURL_TIMER = 1, PROBER_EV_TICK, PROBER_EV_SIGNAL,
	PROBER_EV_CURL_SOCK, PROBER_EV_TCP, PROBER_EV_ICMP4, PROBER_EV_ICMP6,
};

typedef struct {
	int kind;   /*!< enum prober_ev_kind */
} prober_ev_t;

struct prober_job;

/*! One endpoint as probed by this prober. */
typedef struct prober_target {
	char id[HG_ID_SIZE];
	hg_rec_check_t check;
	bool has_addr;                     /*!< false: CNAME without probe-address */
	struct sockaddr_storage addr;
	socklen_t addrlen;
	char addr_text[64];                /*!< address literal; "" when !has_addr */
	prober_state_t st;
	uint64_t due_ns;                   /*!< next probe, CLOCK_MONOTONIC ns */
	size_t heap_idx;
	struct prober_job *job;            /*!< in-flight probe or NULL */
	bool removed;                      /*!< dropped by a reload; free when idle */
	bool dirty;                        /*!< in the batch */
	bool kept;                         /*!< scratch mark while a reload reconciles */
	uint64_t failed_by_class[HG_FAIL_OTHER + 1];
	prober_pub_ref_t pub_ref;          /*!< what was last handed to the publisher (--broker) */
} prober_target_t;

/*! One probe in flight. */
typedef struct prober_job {
	prober_ev_t ev;                    /*!< PROBER_EV_TCP for TCP connects */
	prober_target_t *target;
	uint64_t start_ns, deadline_ns;
	struct prober_job *prev, *next;    /*!< list of non-curl jobs (deadline scan) */
	int fd;                            /*!< TCP socket, -1 otherwise */
	uint16_t echo_seq;
	int icmp_family;
	CURL *easy;                        /*!< HTTP(S) */
	struct curl_slist *connect_to;
	char *body;                        /*!< first bytes of the body (body check only) */
	size_t body_len;
	bool body_capped;                  /*!< we stopped the transfer ourselves */
	bool body_found;                   /*!< the body text was seen */
	bool headers_done;                 /*!< the final response's header block ended */
} prober_job_t;

/*! Per curl socket (curl_multi_assign). */
typedef struct prober_csock {
	prober_ev_t ev;
	curl_socket_t fd;
	bool dead;                         /*!< curl dropped it; freed after this epoll round */
	struct prober_csock *next;         /*!< in the dead list */
} prober_csock_t;

typedef struct prober {
	/* configuration */
	const char *id;
	const char *db_dir;
	const char *metrics_path;
	unsigned window;
	unsigned max_inflight;
	bool foreground;
	int log_level;
	prober_pub_conf_t pub_conf;        /*!< --broker and its TLS files (prober_pub.c) */
	/* resources */
	store_t *store;
	int epfd;
	prober_ev_t curl_timer_ev, tick_ev, signal_ev, icmp4_ev, icmp6_ev;
	int curl_tfd, tick_tfd, sig_fd;
	CURLM *multi;
	prober_csock_t *csock_dead;        /*!< curl sockets to free after the epoll round */
	int icmp4_fd, icmp6_fd;            /*!< -1 until first needed */
	bool icmp4_failed, icmp6_failed;   /*!< ping socket refused (logged once) */
	prober_job_t *echo_seq[65536];     /*!< in-flight echo by sequence number */
	uint16_t echo_next_seq;
	/* targets */
	prober_target_t **targets;
	size_t n_targets;
	prober_target_t **heap;            /*!< min-heap on due_ns */
	size_t heap_len;
	prober_target_t **zombies;         /*!< removed targets with a probe in flight */
	size_t n_zombies;
	prober_job_t *jobs;                /*!< non-curl jobs, for timeouts */
	unsigned inflight;
	/* batch */
	prober_target_t **dirty;
	size_t n_dirty, dirty_cap;
	unsigned batch_results;
	uint64_t batch_deadline_ns;        /*!< 0: empty batch */
	/* metrics */
	uint64_t metrics_due_ns;
	int metrics_err;                /*!< last write result, to log changes only */
	uint64_t probes_total, batches, batch_errors;
	bool skip_logged;                  /*!< measurements the DB refused (logged once) */
	/* policy (prober_reload.c) */
	uint64_t policy_gen;               /*!< generation the targets come from; 0: none yet */
	uint64_t policy_seen;              /*!< last generation read, applied or refused */
	uint64_t policy_check_ns;          /*!< next look at the generation */
	store_rtxn_t watch_rtxn;           /*!< cached read txn of that look */
	struct prober_pub *pub;            /*!< the publisher; NULL without --broker */
	/* control */
	bool stop, reload;
	uint64_t rng;
} prober_t;

#define PROBER_BATCH_MAX     256           /*!< results per transaction at most */
#define PROBER_BATCH_NS      100000000ull  /*!< and at least every 100 ms */
#define PROBER_BODY_CAP      65536         /*!< body bytes searched */
#define PROBER_METRICS_NS    5000000000ull /*!< metrics file rewritten every 5 s */
#define PROBER_INFLIGHT_DEFAULT 1024
#define PROBER_POLICY_CHECK_NS 1000000000ull /*!< a new policy generation is seen within 1 s */

/* prober_opts.c */
/*! Returned by prober_opts_parse() when --help or --version was printed. */
#define PROBER_OPTS_EXIT 1
/*!
 * \brief Parse the command line into \a p's configuration (one table drives
 *        getopt and --help: an option is one line there).
 * \return HG_EOK to run, PROBER_OPTS_EXIT (help/version printed: exit 0),
 *         or HG_EINVAL (a usage error was printed: exit 2).
 */
int prober_opts_parse(prober_t *p, int argc, char **argv);

/* prober_reload.c */
/*!
 * \brief Read the policy loaded into the DB and reconcile the targets with
 *        it. Logs what it did, or why it refused (no policy, --id not one of
 *        its probers...); on failure the running targets are unchanged.
 * \return HG_EOK, HG_ENOENT (no policy / not one of its probers), or the
 *         store's or an allocation error.
 */
int prober_reload(prober_t *p);
/*! \brief At most once per PROBER_POLICY_CHECK_NS: set p->reload when the DB
 *         holds a policy generation not read yet. */
void prober_watch_policy(prober_t *p, uint64_t now);

/* prober_loop.c */
uint64_t prober_now_ns(void);
int prober_loop_init(prober_t *p);
void prober_loop_free(prober_t *p);
int prober_run(prober_t *p);
/*! \brief A probe ended: account it, log state changes, queue the write. Frees the job. */
void prober_finish(prober_t *p, prober_job_t *job, const prober_result_t *r);
void prober_job_link(prober_t *p, prober_job_t *job);
void prober_job_unlink(prober_t *p, prober_job_t *job);
int prober_epoll_add(prober_t *p, int fd, uint32_t events, void *ptr);

/* prober_targets.c */
/*!
 * \brief Reconcile the target set with the endpoints of the policy in \a rtxn
 *        (active): start new ones (seeded from their stored measurement),
 *        stop removed ones, keep the history of the others.
 * \return HG_EOK, HG_ENOMEM or the store's error; the targets are then
 *         unchanged.
 */
int prober_targets_apply(prober_t *p, store_rtxn_t *rtxn);
void prober_targets_free(prober_t *p);
void prober_target_release(prober_t *p, prober_target_t *t);
void prober_heap_push(prober_t *p, prober_target_t *t);
prober_target_t *prober_heap_top(prober_t *p);
prober_target_t *prober_heap_pop(prober_t *p);
void prober_heap_rebuild(prober_t *p);

/* prober_http.c */
int prober_http_init(prober_t *p);
void prober_http_free(prober_t *p);
int prober_http_start(prober_t *p, prober_target_t *t);
void prober_http_on_timer(prober_t *p);
void prober_http_on_socket(prober_t *p, prober_csock_t *cs, uint32_t events);
/*! \brief Free curl socket records dropped during this epoll round. */
void prober_http_reap(prober_t *p);
/*! \brief Map a curl error (and the OS errno behind it) to a failure class. */
uint8_t prober_http_fail_class(CURLcode rc, long os_errno);

/* prober_tcp.c */
/*! \brief The address to probe, port set (resolves a CNAME endpoint's host);
 *         HG_ENOENT when there is none. */
int prober_target_sockaddr(const prober_target_t *t, struct sockaddr_storage *ss,
                           socklen_t *len);
/*! \brief Close with RST: thousands of probes a second must not pile up
 *         TIME_WAIT sockets on the prober. */
void prober_sock_nolinger(int fd);
int prober_tcp_start(prober_t *p, prober_target_t *t);
void prober_tcp_on_event(prober_t *p, prober_job_t *job, uint32_t events);
uint8_t prober_errno_fail_class(int err);

/* prober_icmp.c */
int prober_icmp_start(prober_t *p, prober_target_t *t);
void prober_icmp_on_event(prober_t *p, int family, uint32_t events);
void prober_icmp_cancel(prober_t *p, prober_job_t *job);
void prober_icmp_close(prober_t *p);

/* prober_batch.c */
void prober_batch_mark(prober_t *p, prober_target_t *t);
/*! \brief Write every pending measurement in one transaction. */
int prober_batch_flush(prober_t *p);
void prober_batch_drop(prober_t *p, prober_target_t *t);

/* prober_metrics.c */
/*! \brief Write the Prometheus textfile atomically (tmp + rename). */
int prober_metrics_write(const prober_t *p, const char *path);
