/*  SPDX-License-Identifier: GPL-3.0-or-later */
/* HTTP/HTTPS checks on libcurl's multi socket API, driven by our epoll loop
 * (the pattern of curl's docs/examples/ephiperfifo.c). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>

#include "config.h"
#include "errors.h"
#include "log.h"
#include "prober.h"

static void check_multi_info(prober_t *p);

static int sock_cb(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
	prober_t *p = userp;
	prober_csock_t *cs = socketp;
	if (what == CURL_POLL_REMOVE) {
		if (cs != NULL) {
			epoll_ctl(p->epfd, EPOLL_CTL_DEL, s, NULL);
			/* An event for it may still sit in this round's epoll array. */
			cs->dead = true;
			cs->next = p->csock_dead;
			p->csock_dead = cs;
			curl_multi_assign(p->multi, s, NULL);
		}
		return 0;
	}
	struct epoll_event ev = {
		.events = ((what & CURL_POLL_IN) ? EPOLLIN : 0u) |
		          ((what & CURL_POLL_OUT) ? EPOLLOUT : 0u),
	};
	if (cs == NULL) {
		cs = calloc(1, sizeof(*cs));
		if (cs == NULL) {
			return -1;
		}
		cs->ev.kind = PROBER_EV_CURL_SOCK;
		cs->fd = s;
		ev.data.ptr = cs;
		if (epoll_ctl(p->epfd, EPOLL_CTL_ADD, s, &ev) != 0) {
			free(cs);
			return -1;
		}
		curl_multi_assign(p->multi, s, cs);
		return 0;
	}
	ev.data.ptr = cs;
	return epoll_ctl(p->epfd, EPOLL_CTL_MOD, s, &ev) == 0 ? 0 : -1;
}

static int timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	prober_t *p = userp;
	struct itimerspec its = { 0 };
	if (timeout_ms > 0) {
		its.it_value.tv_sec = timeout_ms / 1000;
		its.it_value.tv_nsec = (timeout_ms % 1000) * 1000000;
	} else if (timeout_ms == 0) {
		its.it_value.tv_nsec = 1; /* "now": zero would disarm */
	}
	timerfd_settime(p->curl_tfd, 0, &its, NULL);
	return 0;
}

int prober_http_init(prober_t *p)
{
	p->multi = curl_multi_init();
	if (p->multi == NULL) {
		return HG_ENOMEM;
	}
	curl_multi_setopt(p->multi, CURLMOPT_SOCKETFUNCTION, sock_cb);
	curl_multi_setopt(p->multi, CURLMOPT_SOCKETDATA, p);
	curl_multi_setopt(p->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
	curl_multi_setopt(p->multi, CURLMOPT_TIMERDATA, p);
	return HG_EOK;
}

static void job_free(prober_t *p, prober_job_t *job)
{
	if (job->easy != NULL) {
		curl_multi_remove_handle(p->multi, job->easy);
		curl_easy_cleanup(job->easy);
		job->easy = NULL;
	}
	curl_slist_free_all(job->connect_to);
	job->connect_to = NULL;
	free(job->body);
	job->body = NULL;
}

void prober_http_reap(prober_t *p)
{
	while (p->csock_dead != NULL) {
		prober_csock_t *cs = p->csock_dead;
		p->csock_dead = cs->next;
		free(cs);
	}
}

void prober_http_free(prober_t *p)
{
	if (p->multi == NULL) {
		return;
	}
	/* Abandon transfers in flight (shutdown). */
	for (size_t i = 0; i < p->n_targets; i++) {
		prober_job_t *job = p->targets[i]->job;
		if (job != NULL && job->easy != NULL) {
			job_free(p, job);
			job->target->job = NULL;
			p->inflight--;
			free(job);
		}
	}
	for (size_t i = 0; i < p->n_zombies; i++) {
		prober_job_t *job = p->zombies[i]->job;
		if (job != NULL && job->easy != NULL) {
			job_free(p, job);
			job->target->job = NULL;
			p->inflight--;
			free(job);
		}
	}
	curl_multi_cleanup(p->multi);
	p->multi = NULL;
	prober_http_reap(p);
}

static int sockopt_cb(void *userp, curl_socket_t fd, curlsocktype purpose)
{
	prober_sock_nolinger(fd);
	return CURL_SOCKOPT_OK;
}

static size_t write_cb(char *data, size_t size, size_t nmemb, void *userp)
{
	prober_job_t *job = userp;
	const char *needle = job->target->check.body;
	size_t n = size * nmemb;
	if (needle[0] == '\0') {
		/* Nothing to look for: the status is known, stop here. */
		job->body_capped = true;
		return 0;
	}
	if (job->body == NULL) {
		job->body = malloc(PROBER_BODY_CAP);
		if (job->body == NULL) {
			return 0;
		}
	}
	size_t nlen = strlen(needle);
	size_t old = job->body_len;
	size_t take = n < PROBER_BODY_CAP - old ? n : PROBER_BODY_CAP - old;
	memcpy(job->body + old, data, take);
	job->body_len += take;
	/* Search only where a new match can be: the tail of the old bytes on. */
	size_t from = old >= nlen ? old - nlen + 1 : 0;
	if (memmem(job->body + from, job->body_len - from, needle, nlen) != NULL) {
		job->body_found = true;
		job->body_capped = true;
		return 0;
	}
	if (job->body_len >= PROBER_BODY_CAP) {
		job->body_capped = true; /* the cap: later bytes are not searched */
		return 0;
	}
	return n;
}

/* libcurl (7.88) reports success for a response cut off inside its header
 * block: a status line, some headers, then the connection closed. Only the
 * blank line ends the block; a 1xx response has its own, so each status line
 * starts over. HTTP/2 responses come through here in the same form. */
static size_t header_cb(char *data, size_t size, size_t nmemb, void *userp)
{
	prober_job_t *job = userp;
	size_t n = size * nmemb;
	if (n >= 5 && memcmp(data, "HTTP/", 5) == 0) {
		job->headers_done = false;
	} else if ((n == 2 && data[0] == '\r' && data[1] == '\n') || (n == 1 && data[0] == '\n')) {
		job->headers_done = true;
	}
	return n;
}

static void literal(const struct sockaddr_storage *ss, char *buf, size_t size)
{
	const void *a = ss->ss_family == AF_INET6
	                        ? (const void *)&((const struct sockaddr_in6 *)ss)->sin6_addr
	                        : (const void *)&((const struct sockaddr_in *)ss)->sin_addr;
	if (inet_ntop(ss->ss_family, a, buf, (socklen_t)size) == NULL) {
		buf[0] = '\0';
	}
}

int prober_http_start(prober_t *p, prober_job_t *job, const struct sockaddr_storage *ss,
                      socklen_t len)
{
	prober_target_t *t = job->target;
	const hg_rec_check_t *c = &t->check;
	bool tls = c->type == HG_CHECK_HTTPS;
	bool v6 = ss->ss_family == AF_INET6;
	char addr[INET6_ADDRSTRLEN], host[HG_PATH_SIZE + 4], url[2 * HG_PATH_SIZE + 64];
	(void)len;
	literal(ss, addr, sizeof(addr));
	if (addr[0] == '\0') {
		return HG_EINVAL;
	}
	/* The host part of the URL: the check's host (Host header and SNI),
	 * else the address literal. */
	if (c->host[0] != '\0') {
		snprintf(host, sizeof(host), "%s", c->host);
	} else {
		snprintf(host, sizeof(host), v6 ? "[%s]" : "%s", addr);
	}
	snprintf(url, sizeof(url), "%s://%s:%u%s%s", tls ? "https" : "http", host, c->port,
	         c->path[0] == '/' ? "" : "/", c->path);

	job->easy = curl_easy_init();
	if (job->easy == NULL) {
		return HG_ENOMEM;
	}
	if (c->host[0] != '\0') {
		/* Connect to the endpoint's address (or the one its name resolved
		 * to, prober_resolve.c) whatever curl would resolve the name to:
		 * per handle, unlike CURLOPT_RESOLVE which fills the shared cache,
		 * and curl never runs a lookup of its own. */
		char map[HG_PATH_SIZE + 128];
		snprintf(map, sizeof(map), "%s:%u:%s%s%s:%u", c->host, c->port, v6 ? "[" : "", addr,
		         v6 ? "]" : "", c->port);
		job->connect_to = curl_slist_append(NULL, map);
		if (job->connect_to == NULL) {
			job_free(p, job);
			return HG_ENOMEM;
		}
		curl_easy_setopt(job->easy, CURLOPT_CONNECT_TO, job->connect_to);
	}
	/* The probe's whole budget, of which resolving the name may have
	 * used a part. */
	uint64_t now = prober_now_ns();
	long timeout = job->deadline_ns > now ? (long)((job->deadline_ns - now) / 1000000ull) : 0;
	if (timeout < 1) {
		timeout = 1;
	}
	CURL *e = job->easy;
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_PRIVATE, job);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, timeout);
	/* Each probe measures a handshake: never reuse a connection. */
	curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);
	curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "haltgslb-prober/" PACKAGE_VERSION);
	curl_easy_setopt(e, CURLOPT_SOCKOPTFUNCTION, sockopt_cb);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, job);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, header_cb);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, job);
	curl_easy_setopt(e, CURLOPT_HTTP_VERSION,
	                 !c->http2 ? CURL_HTTP_VERSION_1_1
	                 : tls     ? CURL_HTTP_VERSION_2TLS
	                           : CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE);
	if (tls) {
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, c->tls_verify ? 1L : 0L);
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, c->tls_verify ? 2L : 0L);
		if (c->ca[0] != '\0') {
			curl_easy_setopt(e, CURLOPT_CAINFO, c->ca);
		}
	}
	if (curl_multi_add_handle(p->multi, e) != CURLM_OK) {
		job_free(p, job);
		return HG_ENOMEM;
	}
	return HG_EOK;
}

uint8_t prober_http_fail_class(CURLcode rc, long os_errno)
{
	switch (rc) {
	case CURLE_OK: return HG_FAIL_NONE;
	case CURLE_OPERATION_TIMEDOUT: return HG_FAIL_TIMEOUT;
	case CURLE_COULDNT_RESOLVE_HOST: return HG_FAIL_RESOLVE;
	case CURLE_COULDNT_CONNECT:
		return os_errno != 0 ? prober_errno_fail_class((int)os_errno) : HG_FAIL_REFUSED;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_SSL_SHUTDOWN_FAILED:
	case CURLE_USE_SSL_FAILED: return HG_FAIL_TLS;
	default: return HG_FAIL_OTHER;
	}
}

static uint32_t span_us(CURL *e, CURLINFO from, CURLINFO to)
{
	curl_off_t a = 0, b = 0;
	if (curl_easy_getinfo(e, from, &a) != CURLE_OK ||
	    curl_easy_getinfo(e, to, &b) != CURLE_OK || b < a || b == 0) {
		return HG_RTT_NONE;
	}
	return (uint32_t)(b - a);
}

static bool status_expected(const hg_rec_check_t *c, long status)
{
	if (c->n_expect == 0) {
		return status >= 200 && status < 400;
	}
	for (unsigned i = 0; i < c->n_expect && i < HG_EXPECT_MAX; i++) {
		if (c->expect[i] == status) {
			return true;
		}
	}
	return false;
}

static void finish_transfer(prober_t *p, CURL *easy, CURLcode rc)
{
	prober_job_t *job = NULL;
	curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&job);
	if (job == NULL) {
		return;
	}
	const hg_rec_check_t *c = &job->target->check;
	prober_result_t r = { .ok = false, .rtt_us = HG_RTT_NONE, .ttfb_us = HG_RTT_NONE };
	if (rc == CURLE_WRITE_ERROR && job->body_capped) {
		rc = CURLE_OK; /* we stopped reading on purpose */
	}
	/* Network RTT = TCP handshake: connect done minus name lookup done. */
	r.rtt_us = span_us(easy, CURLINFO_NAMELOOKUP_TIME_T, CURLINFO_CONNECT_TIME_T);
	if (rc == CURLE_OK && !job->headers_done) {
		/* not an HTTP response, whatever its status line said */
		r.fail_class = HG_FAIL_OTHER;
		hg_debug("endpoint %s: response cut off inside its headers", job->target->id);
	} else if (rc == CURLE_OK) {
		long status = 0;
		curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
		r.ttfb_us =
		        span_us(easy, CURLINFO_PRETRANSFER_TIME_T, CURLINFO_STARTTRANSFER_TIME_T);
		if (!status_expected(c, status)) {
			r.fail_class = HG_FAIL_HTTP_STATUS;
			hg_debug("endpoint %s: HTTP status %ld", job->target->id, status);
		} else if (c->body[0] != '\0' && !job->body_found) {
			r.fail_class = HG_FAIL_BODY;
		} else {
			r.ok = true;
		}
	} else {
		long os_errno = 0;
		curl_easy_getinfo(easy, CURLINFO_OS_ERRNO, &os_errno);
		r.fail_class = prober_http_fail_class(rc, os_errno);
		hg_debug("endpoint %s: %s", job->target->id, curl_easy_strerror(rc));
	}
	job_free(p, job);
	prober_finish(p, job, &r);
}

static void check_multi_info(prober_t *p)
{
	CURLMsg *msg;
	int left;
	while ((msg = curl_multi_info_read(p->multi, &left)) != NULL) {
		if (msg->msg == CURLMSG_DONE) {
			finish_transfer(p, msg->easy_handle, msg->data.result);
		}
	}
}

void prober_http_on_timer(prober_t *p)
{
	int running;
	curl_multi_socket_action(p->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	check_multi_info(p);
}

void prober_http_on_socket(prober_t *p, prober_csock_t *cs, uint32_t events)
{
	if (cs->dead) {
		return;
	}
	int action = ((events & EPOLLIN) ? CURL_CSELECT_IN : 0) |
	             ((events & EPOLLOUT) ? CURL_CSELECT_OUT : 0) |
	             ((events & (EPOLLERR | EPOLLHUP)) ? CURL_CSELECT_ERR : 0);
	int running;
	curl_multi_socket_action(p->multi, cs->fd, action, &running);
	check_multi_info(p);
}
