/*  SPDX-License-Identifier: GPL-3.0-or-later */
/*  The event loop: broker socket, signals, a tick for heartbeats,
 *  reconnects and metrics. Signals arrive as fd events, so none interrupts
 *  a transaction: SIGTERM is seen between bursts, and the last one is
 *  committed and acknowledged before the connection is closed. */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "errors.h"
#include "log.h"
#include "syncd.h"

int syncd_reload(syncd_t *s);

uint64_t syncd_mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int syncd_loop_init(syncd_t *s)
{
	s->epfd = s->sig_fd = s->tick_fd = s->amqp_fd = -1;
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, NULL) != 0) {
		return hg_err_from_errno(errno);
	}
	signal(SIGPIPE, SIG_IGN); /* a broker closing the socket is an error code, not a death */
	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	s->sig_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	s->tick_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (s->epfd < 0 || s->sig_fd < 0 || s->tick_fd < 0) {
		return hg_err_from_errno(errno);
	}
	struct itimerspec its = {
		.it_interval = { .tv_sec = 0, .tv_nsec = SYNCD_TICK_MS * 1000000l },
		.it_value = { .tv_sec = 0, .tv_nsec = SYNCD_TICK_MS * 1000000l },
	};
	struct epoll_event sev = { .events = EPOLLIN, .data.fd = s->sig_fd };
	struct epoll_event tev = { .events = EPOLLIN, .data.fd = s->tick_fd };
	if (timerfd_settime(s->tick_fd, 0, &its, NULL) != 0 ||
	    epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->sig_fd, &sev) != 0 ||
	    epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->tick_fd, &tev) != 0) {
		return hg_err_from_errno(errno);
	}
	return HG_EOK;
}

void syncd_loop_free(syncd_t *s)
{
	int fds[] = { s->sig_fd, s->tick_fd, s->epfd };
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
		if (fds[i] >= 0) {
			close(fds[i]);
		}
	}
	s->epfd = s->sig_fd = s->tick_fd = -1;
}

static void on_signals(syncd_t *s)
{
	struct signalfd_siginfo si;
	while (read(s->sig_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			s->reload = true;
		} else {
			hg_notice("signal %s: stopping", strsignal((int)si.ssi_signo));
			s->stop = true;
		}
	}
}

static void write_metrics(syncd_t *s, bool now)
{
	uint64_t t = syncd_mono_ms();
	if (s->cfg.metrics == NULL || (!now && t < s->metrics_due_ms)) {
		return;
	}
	s->metrics_due_ms = t + s->cfg.metrics_interval_ms;
	int ret = syncd_metrics_write(s, s->cfg.metrics);
	if (ret != s->metrics_err) {
		if (ret != HG_EOK) {
			hg_warn("metrics %s: %s", s->cfg.metrics, hg_strerror(ret));
		} else if (s->metrics_err != HG_EOK) {
			hg_notice("metrics %s: written again", s->cfg.metrics);
		}
		s->metrics_err = ret;
	}
}

/* No consumer before a policy: every message would be dropped as from an
 * unknown prober, and its offset consumed for nothing. */
static bool policy_ready(syncd_t *s)
{
	bool loaded = false;
	int ret = syncd_apply_policy_loaded(&s->ap, &loaded);
	if (ret != HG_EOK || !loaded) {
		if (!s->waiting_policy) {
			hg_warn("database %s holds no policy (%s): not consuming until one is "
			        "loaded "
			        "(haltgslb-ctl load FILE --db %s)",
			        s->cfg.db,
			        ret != HG_EOK ? hg_strerror(ret) : "no policy_generation",
			        s->cfg.db);
			s->waiting_policy = true;
		}
		return false;
	}
	if (s->waiting_policy) {
		hg_notice("policy found: starting to consume");
		s->waiting_policy = false;
	}
	return true;
}

static void on_tick(syncd_t *s)
{
	uint64_t expirations;
	while (read(s->tick_fd, &expirations, sizeof(expirations)) ==
	       (ssize_t)sizeof(expirations)) {
	}
	if (s->consuming) {
		syncd_consumer_read(s); /* heartbeats, and anything not signalled */
		syncd_consumer_watch(s);
	} else if (policy_ready(s)) {
		syncd_consumer_step(s);
	}
	write_metrics(s, false);
}

int syncd_run(syncd_t *s)
{
	write_metrics(s, true);
	while (!s->stop) {
		struct epoll_event evs[8];
		/* Frames librabbitmq already read wake no epoll: poll instead. */
		bool pending = syncd_consumer_pending(s), read = false;
		int n = epoll_wait(s->epfd, evs, 8, pending ? 0 : -1);
		if (n < 0 && errno != EINTR) {
			hg_err("epoll_wait: %s", strerror(errno));
			break;
		}
		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;
			if (fd == s->sig_fd) {
				on_signals(s);
			} else if (fd == s->tick_fd) {
				on_tick(s);
			} else if (fd == s->amqp_fd && !s->stop) {
				syncd_consumer_read(s);
				read = true;
			}
		}
		if (pending && !read && !s->stop) {
			syncd_consumer_read(s);
		}
		if (s->reload && !s->stop) {
			s->reload = false;
			syncd_reload(s);
		}
	}
	syncd_consumer_stop(s, true);
	write_metrics(s, true);
	return HG_EOK;
}
