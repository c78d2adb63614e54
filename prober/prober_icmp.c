/*  SPDX-License-Identifier: GPL-3.0-or-later */
/* ICMP echo over unprivileged ping sockets (SOCK_DGRAM + IPPROTO_ICMP /
 * IPPROTO_ICMPV6): no root, no raw sockets. The kernel sets the echo id and
 * the checksum; we match replies by sequence number and a token. */
#include <errno.h>
#include <netinet/icmp6.h>
#include <netinet/ip_icmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "errors.h"
#include "log.h"
#include "prober.h"

/* Echo header (same layout for v4 and v6) followed by our token. */
typedef struct {
	uint8_t type, code;
	uint16_t csum, id, seq;
	uint64_t token;
} __attribute__((packed)) echo_t;

static void ping_denied_hint(int family)
{
	char range[64] = "?";
	FILE *f = fopen("/proc/sys/net/ipv4/ping_group_range", "r");
	if (f != NULL) {
		if (fgets(range, sizeof(range), f) != NULL) {
			range[strcspn(range, "\n")] = '\0';
		}
		fclose(f);
	}
	hg_err("ICMP%s checks: ping sockets are not allowed for group %u "
	       "(net.ipv4.ping_group_range = \"%s\"); add the prober's group to that "
	       "range, e.g. sysctl -w net.ipv4.ping_group_range=\"0 2147483647\"",
	       family == AF_INET6 ? "v6" : "", (unsigned)getgid(), range);
}

static int open_sock(prober_t *p, int family)
{
	int *fd = family == AF_INET ? &p->icmp4_fd : &p->icmp6_fd;
	bool *failed = family == AF_INET ? &p->icmp4_failed : &p->icmp6_failed;
	if (*fd >= 0) {
		return HG_EOK;
	}
	int s = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	               family == AF_INET ? IPPROTO_ICMP : IPPROTO_ICMPV6);
	if (s < 0) {
		int err = errno;
		if (!*failed) {
			*failed = true;
			if (err == EACCES || err == EPERM) {
				ping_denied_hint(family);
			} else {
				hg_err("ICMP socket: %s", strerror(err));
			}
		}
		return hg_err_from_errno(err);
	}
	/* Unreachable errors come back on the error queue. */
	int one = 1;
	if (family == AF_INET) {
		setsockopt(s, IPPROTO_IP, IP_RECVERR, &one, sizeof(one));
	} else {
		setsockopt(s, IPPROTO_IPV6, IPV6_RECVERR, &one, sizeof(one));
	}
	int ret = prober_epoll_add(p, s, EPOLLIN, family == AF_INET ? &p->icmp4_ev : &p->icmp6_ev);
	if (ret != HG_EOK) {
		close(s);
		return ret;
	}
	if (*failed) {
		hg_notice("ICMP%s: ping socket available now", family == AF_INET6 ? "v6" : "");
	}
	*failed = false;
	*fd = s;
	return HG_EOK;
}

void prober_icmp_close(prober_t *p)
{
	if (p->icmp4_fd >= 0) {
		close(p->icmp4_fd);
	}
	if (p->icmp6_fd >= 0) {
		close(p->icmp6_fd);
	}
	p->icmp4_fd = p->icmp6_fd = -1;
}

void prober_icmp_cancel(prober_t *p, prober_job_t *job)
{
	if (p->echo_seq[job->echo_seq] == job) {
		p->echo_seq[job->echo_seq] = NULL;
	}
}

int prober_icmp_start(prober_t *p, prober_job_t *job, const struct sockaddr_storage *ss,
                      socklen_t len)
{
	int family = ss->ss_family;
	int ret = open_sock(p, family);
	if (ret != HG_EOK) {
		return ret;
	}
	/* A free sequence number: in-flight probes are far fewer than 65536. */
	uint16_t seq = p->echo_next_seq;
	for (unsigned tries = 0; p->echo_seq[seq] != NULL; tries++) {
		if (tries == 65536) {
			return HG_EBUSY;
		}
		seq++;
	}
	p->echo_next_seq = (uint16_t)(seq + 1);

	job->ev.kind = family == AF_INET ? PROBER_EV_ICMP4 : PROBER_EV_ICMP6;
	job->echo_seq = seq;
	job->icmp_family = family;
	job->start_ns = prober_now_ns(); /* the echo time alone, and the token */
	echo_t pkt = {
		.type = family == AF_INET ? ICMP_ECHO : ICMP6_ECHO_REQUEST,
		.seq = htons(seq),
		.token = job->start_ns,
	};
	struct sockaddr_storage to = *ss;
	((struct sockaddr_in *)&to)->sin_port = 0; /* same offset in sockaddr_in6 */
	prober_job_link(p, job);
	p->echo_seq[seq] = job;
	int fd = family == AF_INET ? p->icmp4_fd : p->icmp6_fd;
	if (sendto(fd, &pkt, sizeof(pkt), 0, (struct sockaddr *)&to, len) < 0) {
		prober_result_t r = { .ok = false,
			              .fail_class = prober_errno_fail_class(errno),
			              .rtt_us = HG_RTT_NONE,
			              .ttfb_us = HG_RTT_NONE };
		prober_job_unlink(p, job);
		prober_icmp_cancel(p, job);
		prober_finish(p, job, &r);
	}
	return HG_EOK;
}

/* The job a packet belongs to, if any. */
static prober_job_t *match(prober_t *p, int family, const echo_t *e, size_t n)
{
	if (n < sizeof(echo_t)) {
		return NULL;
	}
	prober_job_t *job = p->echo_seq[ntohs(e->seq)];
	if (job == NULL || job->icmp_family != family || job->start_ns != e->token) {
		return NULL;
	}
	return job;
}

static void done(prober_t *p, prober_job_t *job, const prober_result_t *r)
{
	prober_job_unlink(p, job);
	prober_icmp_cancel(p, job);
	prober_finish(p, job, r);
}

static void read_errors(prober_t *p, int fd, int family)
{
	for (;;) {
		echo_t e;
		char ctl[512];
		struct iovec iov = { .iov_base = &e, .iov_len = sizeof(e) };
		struct msghdr mh = { .msg_iov = &iov,
			             .msg_iovlen = 1,
			             .msg_control = ctl,
			             .msg_controllen = sizeof(ctl) };
		ssize_t n = recvmsg(fd, &mh, MSG_ERRQUEUE | MSG_DONTWAIT);
		if (n < 0) {
			return;
		}
		prober_job_t *job = match(p, family, &e, (size_t)n);
		if (job == NULL) {
			continue;
		}
		prober_result_t r = { .ok = false,
			              .fail_class = HG_FAIL_UNREACHABLE,
			              .rtt_us = HG_RTT_NONE,
			              .ttfb_us = HG_RTT_NONE };
		done(p, job, &r);
	}
}

void prober_icmp_on_event(prober_t *p, int family, uint32_t events)
{
	int fd = family == AF_INET ? p->icmp4_fd : p->icmp6_fd;
	if (fd < 0) {
		return;
	}
	if (events & EPOLLERR) {
		read_errors(p, fd, family);
	}
	uint8_t want = family == AF_INET ? ICMP_ECHOREPLY : ICMP6_ECHO_REPLY;
	/* Bounded: a flood of replies must not starve the rest of the loop. */
	for (unsigned round = 0; round < 4096; round++) {
		echo_t e;
		struct sockaddr_storage from;
		socklen_t flen = sizeof(from);
		ssize_t n =
		        recvfrom(fd, &e, sizeof(e), MSG_DONTWAIT, (struct sockaddr *)&from, &flen);
		if (n < 0) {
			if (errno == EINTR) {
				continue;
			}
			if (errno != EAGAIN && errno != EWOULDBLOCK) {
				read_errors(p, fd, family);
				continue;
			}
			return;
		}
		uint64_t now = prober_now_ns();
		if (e.type != want) {
			continue;
		}
		prober_job_t *job = match(p, family, &e, (size_t)n);
		if (job == NULL) {
			continue; /* late reply of a probe that already timed out */
		}
		uint64_t us = (now - job->start_ns) / 1000;
		prober_result_t r = { .ok = true,
			              .rtt_us = (uint32_t)(us < HG_RTT_NONE ? us : HG_RTT_NONE - 1),
			              .ttfb_us = HG_RTT_NONE };
		done(p, job, &r);
	}
}
