/*  SPDX-License-Identifier: GPL-3.0-or-later */
/* TCP checks: a non-blocking connect on the shared epoll; the RTT is the
 * handshake time (connect() to writable). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "errors.h"
#include "log.h"
#include "prober.h"

uint8_t prober_errno_fail_class(int err)
{
	switch (err) {
	case ECONNREFUSED:
	case ECONNRESET: return HG_FAIL_REFUSED;
	case ETIMEDOUT: return HG_FAIL_TIMEOUT;
	case EHOSTUNREACH:
	case ENETUNREACH:
	case EHOSTDOWN:
	case ENETDOWN:
	case EADDRNOTAVAIL: return HG_FAIL_UNREACHABLE;
	default: return HG_FAIL_OTHER;
	}
}

void prober_sock_nolinger(int fd)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
}

int prober_tcp_start(prober_t *p, prober_job_t *job, const struct sockaddr_storage *ss,
                     socklen_t len)
{
	int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		return hg_err_from_errno(errno);
	}
	prober_sock_nolinger(fd);
	job->ev.kind = PROBER_EV_TCP;
	job->fd = fd;
	job->start_ns = prober_now_ns(); /* the RTT is the handshake alone */
	prober_job_link(p, job);
	prober_result_t r = { .ok = false, .rtt_us = HG_RTT_NONE, .ttfb_us = HG_RTT_NONE };
	if (connect(fd, (const struct sockaddr *)ss, len) != 0 && errno != EINPROGRESS) {
		r.fail_class = prober_errno_fail_class(errno);
		goto fail;
	}
	if (prober_epoll_add(p, fd, EPOLLOUT, job) != HG_EOK) {
		r.fail_class = HG_FAIL_OTHER;
		goto fail;
	}
	return HG_EOK;
fail:
	/* Failed at once (e.g. no route): a finished probe, not a start error. */
	prober_job_unlink(p, job);
	close(fd);
	job->fd = -1;
	prober_finish(p, job, &r);
	return HG_EOK;
}

void prober_tcp_on_event(prober_t *p, prober_job_t *job, uint32_t events)
{
	uint64_t now = prober_now_ns();
	int err = 0;
	socklen_t elen = sizeof(err);
	if (getsockopt(job->fd, SOL_SOCKET, SO_ERROR, &err, &elen) != 0) {
		err = errno;
	}
	prober_result_t r = { .ok = err == 0, .rtt_us = HG_RTT_NONE, .ttfb_us = HG_RTT_NONE };
	if (err == 0) {
		uint64_t us = (now - job->start_ns) / 1000;
		r.rtt_us = us >= HG_RTT_NONE ? HG_RTT_NONE - 1 : (uint32_t)us;
	} else {
		r.fail_class = prober_errno_fail_class(err);
	}
	prober_job_unlink(p, job);
	close(job->fd); /* also removes it from epoll */
	job->fd = -1;
	prober_finish(p, job, &r);
}
