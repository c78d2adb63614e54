/*  SPDX-License-Identifier: GPL-3.0-or-later */
#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "errors.h"
#include "log.h"
#include "prober.h"

uint64_t prober_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int prober_epoll_add(prober_t *p, int fd, uint32_t events, void *ptr)
{
	struct epoll_event ev = { .events = events, .data.ptr = ptr };
	if (epoll_ctl(p->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
		return hg_err_from_errno(errno);
	}
	return HG_EOK;
}

int prober_loop_init(prober_t *p)
{
	p->epfd = p->curl_tfd = p->tick_tfd = p->sig_fd = -1;
	p->icmp4_fd = p->icmp6_fd = -1;
	p->reload_efd = -1;
	p->curl_timer_ev.kind = PROBER_EV_CURL_TIMER;
	p->tick_ev.kind = PROBER_EV_TICK;
	p->signal_ev.kind = PROBER_EV_SIGNAL;
	p->icmp4_ev.kind = PROBER_EV_ICMP4;
	p->icmp6_ev.kind = PROBER_EV_ICMP6;
	p->resolver_ev.kind = PROBER_EV_RESOLVER;
	p->rng = prober_now_ns() ^ ((uint64_t)getpid() << 32);

	/* Signals arrive as fd events so a handler never runs in the middle of
	 * a curl callback or an LMDB transaction. */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, NULL) != 0) {
		return hg_err_from_errno(errno);
	}
	signal(SIGPIPE, SIG_IGN);

	p->epfd = epoll_create1(EPOLL_CLOEXEC);
	p->curl_tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	p->tick_tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	p->sig_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (p->epfd < 0 || p->curl_tfd < 0 || p->tick_tfd < 0 || p->sig_fd < 0) {
		return hg_err_from_errno(errno);
	}
	int ret = prober_epoll_add(p, p->curl_tfd, EPOLLIN, &p->curl_timer_ev);
	if (ret == HG_EOK) {
		ret = prober_epoll_add(p, p->tick_tfd, EPOLLIN, &p->tick_ev);
	}
	if (ret == HG_EOK) {
		ret = prober_epoll_add(p, p->sig_fd, EPOLLIN, &p->signal_ev);
	}
	if (ret == HG_EOK) {
		ret = prober_http_init(p);
	}
	if (ret == HG_EOK) {
		ret = prober_reload_init(p);
	}
	if (ret == HG_EOK) {
		ret = prober_writer_init(p);
	}
	if (ret == HG_EOK) {
		ret = prober_resolver_new(NULL, &p->resolver);
	}
	if (ret == HG_EOK) {
		ret = prober_epoll_add(p, prober_resolver_fd(p->resolver), EPOLLIN,
		                       &p->resolver_ev);
	}
	return ret;
}

/* Abandon every probe in flight: used at shutdown, results are not kept. */
static void abandon_jobs(prober_t *p)
{
	while (p->jobs != NULL) {
		prober_job_t *job = p->jobs;
		prober_job_unlink(p, job);
		prober_resolve_cancel(&job->wait);
		if (job->fd >= 0) {
			close(job->fd);
		}
		if (job->ev.kind == PROBER_EV_ICMP4 || job->ev.kind == PROBER_EV_ICMP6) {
			prober_icmp_cancel(p, job);
		}
		job->target->job = NULL;
		p->inflight--;
		free(job);
	}
}

void prober_loop_free(prober_t *p)
{
	prober_reload_free(p); /* before the targets a reload thread reads */
	prober_writer_free(p); /* before the store its transaction uses */
	abandon_jobs(p);
	prober_http_free(p);               /* abandons HTTP transfers */
	prober_resolver_free(p->resolver); /* abandons lookups */
	p->resolver = NULL;
	prober_icmp_close(p);
	prober_targets_free(p);
	free(p->dirty);
	p->dirty = NULL;
	int fds[] = { p->curl_tfd, p->tick_tfd, p->sig_fd, p->epfd };
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
		if (fds[i] >= 0) {
			close(fds[i]);
		}
	}
	p->epfd = p->curl_tfd = p->tick_tfd = p->sig_fd = -1;
}

void prober_job_link(prober_t *p, prober_job_t *job)
{
	job->prev = NULL;
	job->next = p->jobs;
	if (p->jobs != NULL) {
		p->jobs->prev = job;
	}
	p->jobs = job;
}

void prober_job_unlink(prober_t *p, prober_job_t *job)
{
	if (job->prev != NULL) {
		job->prev->next = job->next;
	} else if (p->jobs == job) {
		p->jobs = job->next;
	}
	if (job->next != NULL) {
		job->next->prev = job->prev;
	}
	job->prev = job->next = NULL;
}

static const char *reason_text(const prober_target_t *t, const prober_result_t *r, char *buf,
                               size_t size)
{
	if (r->ok) {
		snprintf(buf, size, "%u consecutive successes", t->st.consec_ok);
	} else if (t->st.consec_fail < (t->check.fall == 0 ? 1 : t->check.fall)) {
		/* the loss-window threshold, not `fall`, decided */
		snprintf(buf, size, "%u of the last %u probes failed (down-loss %u%%), last: %s",
		         t->st.failed, t->st.n_loss, t->check.down_loss_bp / 100u,
		         prober_fail_name(t->st.fail_class));
	} else {
		snprintf(buf, size, "%u consecutive failures, last: %s", t->st.consec_fail,
		         prober_fail_name(t->st.fail_class));
	}
	return buf;
}

void prober_finish(prober_t *p, prober_job_t *job, const prober_result_t *r)
{
	prober_target_t *t = job->target;
	t->job = NULL;
	p->inflight--;
	free(job);
	if (t->removed) {
		prober_target_release(p, t);
		return;
	}
	uint8_t from = HG_HEALTH_UNKNOWN;
	if (prober_state_record(&t->st, r, t->check.rise, t->check.fall, t->check.down_loss_bp,
	                        store_now_ms(), &from)) {
		char why[96];
		hg_notice("endpoint %s (%s): %s -> %s (%s)", t->id, t->addr_text,
		          prober_health_name(from), prober_health_name(t->st.state),
		          reason_text(t, r, why, sizeof(why)));
	}
	if (!r->ok) {
		t->failed_by_class[t->st.fail_class]++;
		hg_debug("endpoint %s: probe failed: %s", t->id,
		         prober_fail_name(t->st.fail_class));
	}
	p->probes_total++;
	prober_batch_mark(p, t);
}

static uint64_t rng_next(prober_t *p)
{
	/* xorshift64*: spreads probe times, no need for quality beyond that */
	p->rng ^= p->rng >> 12;
	p->rng ^= p->rng << 25;
	p->rng ^= p->rng >> 27;
	return p->rng * 2685821657736338717ull;
}

/* Next due time: one interval later, +-5% jitter so endpoints that started
 * together drift apart instead of firing in lock-step forever. */
static void reschedule(prober_t *p, prober_target_t *t, uint64_t now)
{
	uint64_t iv = (uint64_t)t->check.interval_ms * 1000000ull;
	if (iv == 0) {
		iv = 1000000000ull;
	}
	uint64_t span = iv / 10;
	uint64_t jitter = span ? rng_next(p) % span : 0;
	t->due_ns += iv - span / 2 + jitter;
	if (t->due_ns <= now) {
		t->due_ns =
		        now + iv; /* fell behind (e.g. at the in-flight limit): skip, don't burst */
	}
}

void prober_finish_start_error(prober_t *p, prober_job_t *job, int err)
{
	/* Could not even start (no address, socket refused): that is a failed
	 * probe, accounted like any other. */
	prober_result_t r = { .ok = false,
		              .rtt_us = HG_RTT_NONE,
		              .ttfb_us = HG_RTT_NONE,
		              .fail_class = err == HG_ENOENT   ? HG_FAIL_RESOLVE
		                            : err == HG_EACCES ? HG_FAIL_OTHER
		                                               : HG_FAIL_UNREACHABLE };
	prober_finish(p, job, &r);
}

/* The probe proper, at an address with its port. */
static void probe_at(prober_t *p, prober_job_t *job, const struct sockaddr_storage *ss,
                     socklen_t len)
{
	int ret;
	switch (job->target->check.type) {
	case HG_CHECK_HTTP:
	case HG_CHECK_HTTPS: ret = prober_http_start(p, job, ss, len); break;
	case HG_CHECK_TCP: ret = prober_tcp_start(p, job, ss, len); break;
	case HG_CHECK_ICMP: ret = prober_icmp_start(p, job, ss, len); break;
	default: ret = HG_EINVAL;
	}
	if (ret != HG_EOK) {
		prober_finish_start_error(p, job, ret);
	}
}

/* A CNAME endpoint's name resolved: its port, and the address its log
 * lines show. */
static void resolved_address(prober_target_t *t, struct sockaddr_storage *ss)
{
	uint16_t port = htons(t->check.port);
	const void *a;
	if (ss->ss_family == AF_INET) {
		((struct sockaddr_in *)ss)->sin_port = port;
		a = &((struct sockaddr_in *)ss)->sin_addr;
	} else {
		((struct sockaddr_in6 *)ss)->sin6_port = port;
		a = &((struct sockaddr_in6 *)ss)->sin6_addr;
	}
	inet_ntop(ss->ss_family, a, t->addr_text, sizeof(t->addr_text));
}

/* The lookup a probe waited for ended (prober_resolve_done_fn). */
static void on_resolved(prober_resolve_wait_t *w, int err, const struct sockaddr_storage *ss,
                        socklen_t len)
{
	prober_job_t *job = (prober_job_t *)((char *)w - offsetof(prober_job_t, wait));
	prober_t *p = job->p;
	prober_job_unlink(p, job);
	if (err != HG_EOK || job->target->removed) {
		prober_finish_start_error(p, job, err != HG_EOK ? err : HG_ENOENT);
		return;
	}
	struct sockaddr_storage addr = *ss;
	resolved_address(job->target, &addr);
	probe_at(p, job, &addr, len);
}

static void start_probe(prober_t *p, prober_target_t *t)
{
	prober_job_t *job = calloc(1, sizeof(*job));
	if (job == NULL) {
		return; /* this round is skipped */
	}
	job->p = p;
	job->target = t;
	job->fd = -1;
	job->start_ns = prober_now_ns();
	/* The whole probe, resolving a CNAME endpoint's name included. */
	job->deadline_ns =
	        job->start_ns +
	        (uint64_t)(t->check.timeout_ms ? t->check.timeout_ms : 2000) * 1000000ull;
	t->job = job;
	p->inflight++;
	if (t->has_addr) {
		probe_at(p, job, &t->addr, t->addrlen);
		return;
	}
	/* A CNAME endpoint without probe-address: its host, resolved without
	 * blocking; the probe waits on the lookup, the loop does not. */
	struct sockaddr_storage ss;
	socklen_t len = 0;
	int ret = t->check.host[0] == '\0'
	                  ? HG_ENOENT
	                  : prober_resolve(p->resolver, t->check.host, job->start_ns, &job->wait,
	                                   on_resolved, &ss, &len);
	if (ret == PROBER_RESOLVE_PENDING) {
		prober_job_link(p, job); /* for its deadline */
	} else if (ret == HG_EOK) {
		resolved_address(t, &ss);
		probe_at(p, job, &ss, len);
	} else {
		prober_finish_start_error(p, job, ret == HG_ENOMEM ? ret : HG_ENOENT);
	}
}

static void expire_jobs(prober_t *p, uint64_t now)
{
	prober_job_t *job = p->jobs;
	while (job != NULL) {
		prober_job_t *next = job->next;
		if (job->deadline_ns <= now) {
			prober_job_unlink(p, job);
			if (job->fd >= 0) {
				close(job->fd);
			}
			if (job->ev.kind == PROBER_EV_ICMP4 || job->ev.kind == PROBER_EV_ICMP6) {
				prober_icmp_cancel(p, job);
			}
			/* Still waiting for its name: the lookup goes on and fills
			 * the cache; the probe fails as unresolved, not as lost. */
			bool resolving = job->wait.entry != NULL;
			prober_resolve_cancel(&job->wait);
			prober_result_t r = { .ok = false,
				              .fail_class =
				                      resolving ? HG_FAIL_RESOLVE : HG_FAIL_TIMEOUT,
				              .rtt_us = HG_RTT_NONE,
				              .ttfb_us = HG_RTT_NONE };
			prober_finish(p, job, &r);
		}
		job = next;
	}
}

/* Everything time-driven; returns the next time it needs to run. */
static uint64_t tick(prober_t *p)
{
	uint64_t now = prober_now_ns();
	expire_jobs(p, now);

	prober_target_t *t;
	while ((t = prober_heap_top(p)) != NULL && t->due_ns <= now &&
	       p->inflight < p->max_inflight) {
		prober_heap_pop(p);
		if (t->job == NULL) {
			start_probe(p, t);
		}
		reschedule(p, t, now);
		prober_heap_push(p, t);
	}

	if (p->batch_deadline_ns != 0 &&
	    (p->batch_deadline_ns <= now || p->batch_results >= PROBER_BATCH_MAX)) {
		prober_batch_flush(p);
	}
	if (p->metrics_path != NULL && p->metrics_due_ns <= now) {
		/* Logged when the outcome changes, not every 5 s. */
		int ret = prober_metrics_write(p, p->metrics_path);
		if (ret != p->metrics_err) {
			if (ret != HG_EOK) {
				hg_warn("cannot write metrics to %s: %s", p->metrics_path,
				        hg_strerror(ret));
			} else {
				hg_notice("writing metrics to %s again", p->metrics_path);
			}
			p->metrics_err = ret;
		}
		p->metrics_due_ns = now + PROBER_METRICS_NS;
	}

	uint64_t next = now + 1000000000ull;
	t = prober_heap_top(p);
	if (t != NULL && p->inflight < p->max_inflight && t->due_ns < next) {
		next = t->due_ns;
	}
	if (p->batch_deadline_ns != 0 && p->batch_deadline_ns < next) {
		next = p->batch_deadline_ns;
	}
	if (p->metrics_path != NULL && p->metrics_due_ns < next) {
		next = p->metrics_due_ns;
	}
	for (prober_job_t *job = p->jobs; job != NULL; job = job->next) {
		if (job->deadline_ns < next) {
			next = job->deadline_ns;
		}
	}
	return next;
}

static void arm_tick(prober_t *p, uint64_t at_ns)
{
	struct itimerspec its = { 0 };
	if (at_ns == 0) {
		at_ns = 1; /* an all-zero value would disarm */
	}
	its.it_value.tv_sec = (time_t)(at_ns / 1000000000ull);
	its.it_value.tv_nsec = (long)(at_ns % 1000000000ull);
	timerfd_settime(p->tick_tfd, TFD_TIMER_ABSTIME, &its, NULL);
}

static void on_signal(prober_t *p)
{
	struct signalfd_siginfo si;
	while (read(p->sig_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			hg_notice("SIGHUP: reloading the policy from %s and the resolver "
			          "configuration",
			          p->db_dir);
			p->reload = true;
			prober_resolver_reload(p->resolver, prober_now_ns());
		} else {
			hg_notice("signal %u: stopping", si.ssi_signo);
			p->stop = true;
		}
	}
}

static void dispatch(prober_t *p, struct epoll_event *ev)
{
	prober_ev_t *tag = ev->data.ptr;
	uint64_t expirations;
	switch (tag->kind) {
	case PROBER_EV_CURL_TIMER:
		if (read(p->curl_tfd, &expirations, sizeof(expirations)) > 0) {
			prober_http_on_timer(p);
		}
		break;
	case PROBER_EV_TICK:
		if (read(p->tick_tfd, &expirations, sizeof(expirations)) < 0) {
			break; /* spurious: tick() runs after every wake-up anyway */
		}
		break;
	case PROBER_EV_SIGNAL: on_signal(p); break;
	case PROBER_EV_CURL_SOCK:
		prober_http_on_socket(p, (prober_csock_t *)tag, ev->events);
		break;
	case PROBER_EV_TCP: prober_tcp_on_event(p, (prober_job_t *)tag, ev->events); break;
	case PROBER_EV_ICMP4: prober_icmp_on_event(p, AF_INET, ev->events); break;
	case PROBER_EV_ICMP6: prober_icmp_on_event(p, AF_INET6, ev->events); break;
	case PROBER_EV_RESOLVER: prober_resolver_process(p->resolver, prober_now_ns()); break;
	case PROBER_EV_RELOAD: prober_reload_finish(p); break;
	case PROBER_EV_WRITER: prober_batch_written(p); break;
	default: break;
	}
}

int prober_run(prober_t *p)
{
	struct epoll_event evs[64];
	p->metrics_due_ns = prober_now_ns();
	arm_tick(p, tick(p));
	while (!p->stop) {
		int n = epoll_wait(p->epfd, evs, 64, -1);
		if (n < 0) {
			if (errno == EINTR) {
				continue;
			}
			hg_err("epoll_wait: %s", strerror(errno));
			return hg_err_from_errno(errno);
		}
		for (int i = 0; i < n && !p->stop; i++) {
			dispatch(p, &evs[i]);
		}
		prober_http_reap(p);
		if (p->stop) {
			break;
		}
		/* tick() wakes the loop at least once a second, so this runs at
		 * least that often. */
		prober_watch_policy(p, prober_now_ns());
		if (p->reload && p->reload_work == NULL) {
			p->reload = false;
			prober_reload_start(p); /* read on its own thread */
		}
		arm_tick(p, tick(p));
	}
	/* SIGTERM: in-flight probes are abandoned, finished results committed. */
	abandon_jobs(p);
	int ret = prober_batch_final(p);
	if (p->metrics_path != NULL) {
		prober_metrics_write(p, p->metrics_path);
	}
	return ret;
}
