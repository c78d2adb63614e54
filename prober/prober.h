/*  SPDX-License-Identifier: GPL-3.0-or-later */
/*!
 * \file
 * \brief haltgslb-prober internals: the event loop, targets, jobs.
 *
 * One thread, one epoll loop (plus a writer thread for the measurement
 * batches and a reload thread while a policy is read, so the loop never
 * waits for LMDB's write lock or a long read): a timerfd drives libcurl's multi socket API
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

#include "prober_resolve.h"
#include "prober_pub.h"
#include "prober_pub_diff.h"
#include "prober_state.h"
#include "store.h"

/*! Tag at the start of everything registered in epoll (data.ptr). */
enum prober_ev_kind {
	PROBER_EV_CURL_TIMER = 1,
	PROBER_EV_TICK,
	PROBER_EV_SIGNAL,
	PROBER_EV_CURL_SOCK,
	PROBER_EV_TCP,
	PROBER_EV_ICMP4,
	PROBER_EV_ICMP6,
	PROBER_EV_RESOLVER,
	PROBER_EV_RELOAD,
	PROBER_EV_WRITER,
};

typedef struct {
	int kind; /*!< enum prober_ev_kind */
} prober_ev_t;

struct prober_job;
/*! The measurement writer thread (prober_writer.c). */
typedef struct prober_writer prober_writer_t;

/*! One endpoint as probed by this prober. */
typedef struct prober_target {
	char id[HG_ID_SIZE];
	hg_rec_check_t check;
	bool has_addr; /*!< false: CNAME without probe-address */
	struct sockaddr_storage addr;
	socklen_t addrlen;
	char addr_text[64]; /*!< address literal; for a CNAME endpoint the
	                                        last address its name resolved to, "" before */
	prober_state_t st;
	uint64_t due_ns; /*!< next probe, CLOCK_MONOTONIC ns */
	size_t heap_idx;
	struct prober_job *job; /*!< in-flight probe or NULL */
	bool removed;           /*!< dropped by a reload; free when idle */
	bool dirty;             /*!< in the batch */
	bool kept;              /*!< scratch mark while a reload reconciles */
	uint64_t failed_by_class[HG_FAIL_OTHER + 1];
	prober_pub_ref_t pub_ref; /*!< what was last handed to the publisher (--broker) */
} prober_target_t;

/*! One probe in flight. */
typedef struct prober_job {
	prober_ev_t ev; /*!< PROBER_EV_TCP for TCP connects */
	struct prober *p;
	prober_target_t *target;
	prober_resolve_wait_t wait; /*!< queued while its name resolves (CNAME endpoint) */
	uint64_t start_ns, deadline_ns;
	struct prober_job *prev, *next; /*!< list of non-curl jobs (deadline scan) */
	int fd;                         /*!< TCP socket, -1 otherwise */
	uint16_t echo_seq;
	int icmp_family;
	CURL *easy; /*!< HTTP(S) */
	struct curl_slist *connect_to;
	char *body; /*!< first bytes of the body (body check only) */
	size_t body_len;
	bool body_capped;  /*!< we stopped the transfer ourselves */
	bool body_found;   /*!< the body text was seen */
	bool headers_done; /*!< the final response's header block ended */
} prober_job_t;

/*! Per curl socket (curl_multi_assign). */
typedef struct prober_csock {
	prober_ev_t ev;
	curl_socket_t fd;
	bool dead;                 /*!< curl dropped it; freed after this epoll round */
	struct prober_csock *next; /*!< in the dead list */
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
	prober_pub_conf_t pub_conf; /*!< --broker and its TLS files (prober_pub.c) */
	/* resources */
	store_t *store;
	int epfd;
	prober_ev_t curl_timer_ev, tick_ev, signal_ev, icmp4_ev, icmp6_ev;
	int curl_tfd, tick_tfd, sig_fd;
	CURLM *multi;
	prober_csock_t *csock_dead;      /*!< curl sockets to free after the epoll round */
	int icmp4_fd, icmp6_fd;          /*!< -1 until first needed */
	bool icmp4_failed, icmp6_failed; /*!< ping socket refused (logged once) */
	prober_job_t *echo_seq[65536];   /*!< in-flight echo by sequence number */
	prober_resolver_t *resolver;     /*!< names of CNAME endpoints (prober_resolve.h) */
	prober_ev_t resolver_ev;
	uint16_t echo_next_seq;
	/* targets */
	prober_target_t **targets;
	size_t n_targets;
	prober_target_t **heap; /*!< min-heap on due_ns */
	size_t heap_len;
	prober_target_t **zombies; /*!< removed targets with a probe in flight */
	size_t n_zombies;
	prober_job_t *jobs; /*!< non-curl jobs, for timeouts */
	unsigned inflight;
	/* batch */
	prober_target_t **dirty;
	size_t n_dirty, dirty_cap;
	unsigned batch_results;
	uint64_t batch_deadline_ns; /*!< 0: empty batch */
	bool batch_waiting;         /*!< due while the writer was busy: hand over when done */
	prober_writer_t *writer;
	uint64_t targets_epoch; /*!< bumped by every change of the target set */
	/* metrics */
	uint64_t metrics_due_ns;
	int metrics_err; /*!< last write result, to log changes only */
	uint64_t probes_total, batches, batch_errors;
	bool skip_logged; /*!< measurements the DB refused (logged once) */
	/* policy (prober_reload.c) */
	uint64_t policy_gen;      /*!< generation the targets come from; 0: none yet */
	uint64_t policy_seen;     /*!< last generation read, applied or refused */
	uint64_t policy_check_ns; /*!< next look at the generation */
	store_rtxn_t watch_rtxn;  /*!< cached read txn of that look */
	struct prober_reload_work *reload_work; /*!< the reload thread's, while it runs */
	int reload_efd;                         /*!< eventfd: the reload thread is done */
	prober_ev_t reload_ev;
	struct prober_pub *pub; /*!< the publisher; NULL without --broker */
	/* control */
	bool stop, reload;
	uint64_t rng;
} prober_t;

#define PROBER_BATCH_MAX        256           /*!< results per transaction at most */
#define PROBER_BATCH_NS         100000000ull  /*!< and at least every 100 ms */
#define PROBER_BODY_CAP         65536         /*!< body bytes searched */
#define PROBER_METRICS_NS       5000000000ull /*!< metrics file rewritten every 5 s */
#define PROBER_INFLIGHT_DEFAULT 1024
#define PROBER_POLICY_CHECK_NS  1000000000ull /*!< a new policy generation is seen within 1 s */

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
 *        it, at once (startup: nothing to keep running meanwhile). Logs what
 *        it did, or why it refused (no policy, --id not one of its
 *        probers...); on failure the running targets are unchanged.
 * \return HG_EOK, HG_ENOENT (no policy / not one of its probers), or the
 *         store's or an allocation error.
 */
int prober_reload(prober_t *p);
/*! \brief The reload thread's wake-up fd, registered in the loop's epoll. */
int prober_reload_init(prober_t *p);
/*!
 * \brief Reload without stalling the loop: the policy is read and the new
 *        targets built on a thread of its own; the loop swaps them in when
 *        it is done (prober_reload_finish()). A request while a reload
 *        runs is kept in p->reload for after it.
 */
void prober_reload_start(prober_t *p);
/*! \brief The reload thread is done (its fd is readable): apply its result. */
void prober_reload_finish(prober_t *p);
/*! \brief Shutdown: wait for a running reload thread and drop its result;
 *         close the wake-up fd. */
void prober_reload_free(prober_t *p);
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
/*! \brief A probe that could not be started (HG_ENOENT: no address; else the
 *         start's error) ends as a failure of the matching class. Frees the job. */
void prober_finish_start_error(prober_t *p, prober_job_t *job, int err);
void prober_job_link(prober_t *p, prober_job_t *job);
void prober_job_unlink(prober_t *p, prober_job_t *job);
int prober_epoll_add(prober_t *p, int fd, uint32_t events, void *ptr);

/* prober_targets.c */
/*! The new target set a reload computed, not applied yet (prober_targets.c). */
typedef struct prober_plan prober_plan_t;
/*!
 * \brief Plan the reconcile of the target set with the endpoints of the
 *        policy in \a rtxn: keep the running targets whose probe is the same
 *        (their history stays), build the new ones (seeded from their stored
 *        measurement), leave out removed ones.
 *
 * Safe on another thread than the loop's while the loop runs, as long as
 * no commit runs meanwhile: it reads p->targets and the id, check and
 * address of those targets (which only a commit changes), p->id and
 * p->window, and writes nothing of \a p. \a seed spreads the new targets'
 * first probes.
 * \param[out] out  The plan, for prober_targets_commit() or prober_plan_free().
 * \return HG_EOK, HG_ENOMEM or the store's error; nothing is planned then.
 */
int prober_targets_prepare(const prober_t *p, store_rtxn_t *rtxn, uint64_t seed,
                           prober_plan_t **out);
/*!
 * \brief On the loop: swap the planned set in (kept targets take their new
 *        check, removed ones stop once their probe in flight ends).
 *        Consumes \a plan in every case.
 * \return HG_EOK or HG_ENOMEM (the targets are then unchanged).
 */
int prober_targets_commit(prober_t *p, prober_plan_t *plan);
/*! \brief Drop a plan without applying it (frees the targets it built). NULL: no-op. */
void prober_plan_free(prober_plan_t *plan);
void prober_targets_free(prober_t *p);
void prober_target_release(prober_t *p, prober_target_t *t);
void prober_heap_push(prober_t *p, prober_target_t *t);
prober_target_t *prober_heap_top(prober_t *p);
prober_target_t *prober_heap_pop(prober_t *p);
void prober_heap_rebuild(prober_t *p);

/* prober_http.c */
int prober_http_init(prober_t *p);
void prober_http_free(prober_t *p);
int prober_http_start(prober_t *p, prober_job_t *job, const struct sockaddr_storage *ss,
                      socklen_t len);
void prober_http_on_timer(prober_t *p);
void prober_http_on_socket(prober_t *p, prober_csock_t *cs, uint32_t events);
/*! \brief Free curl socket records dropped during this epoll round. */
void prober_http_reap(prober_t *p);
/*! \brief Map a curl error (and the OS errno behind it) to a failure class. */
uint8_t prober_http_fail_class(CURLcode rc, long os_errno);

/*
 * The typed probe starts take a job from start_probe() (prober_loop.c:
 * target set, counted in flight, deadline set, not linked) and the address
 * to probe with its port. They return HG_EOK once the job is theirs (a
 * probe that fails at once is finished by them), or an error with the job
 * untouched, for prober_finish_start_error().
 */

/* prober_tcp.c */
/*! \brief Close with RST: thousands of probes a second must not pile up
 *         TIME_WAIT sockets on the prober. */
void prober_sock_nolinger(int fd);
int prober_tcp_start(prober_t *p, prober_job_t *job, const struct sockaddr_storage *ss,
                     socklen_t len);
void prober_tcp_on_event(prober_t *p, prober_job_t *job, uint32_t events);
uint8_t prober_errno_fail_class(int err);

/* prober_icmp.c */
int prober_icmp_start(prober_t *p, prober_job_t *job, const struct sockaddr_storage *ss,
                      socklen_t len);
void prober_icmp_on_event(prober_t *p, int family, uint32_t events);
void prober_icmp_cancel(prober_t *p, prober_job_t *job);
void prober_icmp_close(prober_t *p);

/* prober_batch.c */
/*! One measurement of a batch: a copy, so the loop may go on probing. */
typedef struct {
	char id[HG_ID_SIZE];
	hg_rec_measure_t m;
	bool written; /*!< set by prober_batch_write(): it is in LMDB */
} prober_batch_item_t;
/*! What writing one batch did. */
typedef struct {
	int ret;    /*!< HG_EOK: committed */
	bool began; /*!< the write txn began (else ret is its error) */
	size_t n, written, skipped;
	char first[HG_ID_SIZE]; /*!< first endpoint skipped (not in the policy) */
	uint64_t gen;           /*!< the txn's policy generation, when skipped */
	char why[256];          /*!< HG_EMAPFULL: the writer's message (its limit) */
} prober_batch_result_t;
/*! \brief A probe of \a t ended: its measurement goes with the next batch. */
void prober_batch_mark(prober_t *p, prober_target_t *t);
/*!
 * \brief The batch is due: hand the pending measurements to the writer
 *        thread, or, while it still writes the last batch, keep them for
 *        when it is done (never waits).
 * \return HG_EOK, or HG_ENOMEM (the batch was dropped and logged).
 */
int prober_batch_flush(prober_t *p);
/*! \brief The writer's fd is readable: account its batch, hand over what waited. */
void prober_batch_written(prober_t *p);
/*!
 * \brief Shutdown: wait for the batch being written, then write what is
 *        left in one transaction on the calling thread.
 * \return HG_EOK or the error of that last transaction (logged).
 */
int prober_batch_final(prober_t *p);
void prober_batch_drop(prober_t *p, prober_target_t *t);
/*!
 * \brief Write \a n measurements of prober \a prober_id in one write
 *        transaction (waits for LMDB's write lock; run again on a grown
 *        map when it fills, store_write()). Endpoints the policy does not
 *        have are skipped and counted, the rest is committed
 *        (items[i].written says which).
 *        Thread-safe (any thread, one transaction at a time per thread).
 * \param[out] res  What happened, for the loop's accounting.
 * \return res->ret: HG_EOK or the store's error (nothing committed).
 */
int prober_batch_write(store_t *store, const char *prober_id, prober_batch_item_t *items, size_t n,
                       prober_batch_result_t *res);

/* prober_writer.c */
/*! \brief Start the writer thread and register its wake-up fd (p->writer is
 *         set even on failure, for prober_writer_free()). */
int prober_writer_init(prober_t *p);
/*! \brief A batch was handed over and is not accounted yet. */
bool prober_writer_busy(const prober_t *p);
/*!
 * \brief Copy the measurements of \a targets and wake the thread to write
 *        them to p->store. Only while not busy.
 * \return HG_EOK, HG_EBUSY (a batch is being written), HG_ENOMEM.
 */
int prober_writer_submit(prober_t *p, prober_target_t *const *targets, size_t n);
/*! \brief On the writer's fd event: true and its result once the batch is
 *         written (then not busy any more); false if nothing was done. */
bool prober_writer_finish(prober_t *p, prober_batch_result_t *res);
/*! \brief The batch last handed over, once finished: its items, the targets
 *         they came from and p->targets_epoch at the hand-over (the
 *         targets are valid only while the epoch is unchanged). */
const prober_batch_item_t *prober_writer_batch(const prober_t *p, prober_target_t *const **targets,
                                               uint64_t *epoch);
/*! \brief Wait for the batch being written, if any: true and its result. */
bool prober_writer_wait(prober_t *p, prober_batch_result_t *res);
/*! \brief Stop and join the thread (after the batch it writes), free it. NULL-safe. */
void prober_writer_free(prober_t *p);

/* prober_metrics.c */
/*! \brief Write the Prometheus textfile atomically (tmp + rename). */
int prober_metrics_write(const prober_t *p, const char *path);
