/*  SPDX-License-Identifier: GPL-3.0-or-later */
/* Connecting to one broker of the list: TCP, TLS, EXTERNAL login with our
 * capabilities, channel 1; rounds over the list; clean close and abort. */
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>

#include "config.h"
#include "errors.h"
#include "amqp_int.h"

void amqp_fmt(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, size, fmt, ap);
	va_end(ap);
}

void amqp_set_err(hg_amqp_t *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->err, sizeof(c->err), fmt, ap);
	va_end(ap);
}

static char *dup_or_null(const char *s, bool *failed)
{
	if (s == NULL) {
		return NULL;
	}
	char *d = strdup(s);
	if (d == NULL) {
		*failed = true;
	}
	return d;
}

int hg_amqp_new(const hg_amqp_config_t *cfg, hg_amqp_t **out, char *err, size_t errsize)
{
	if (err != NULL && errsize > 0) {
		err[0] = '\0';
	}
	*out = NULL;
	if (cfg == NULL || cfg->uris == NULL || cfg->uris->n == 0 ||
	    cfg->uris->n > HG_AMQP_URIS_MAX) {
		snprintf(err, err ? errsize : 0, "no broker URI");
		return HG_EINVAL;
	}
	if (cfg->tls_cert == NULL || cfg->tls_key == NULL || cfg->tls_ca == NULL) {
		snprintf(err, err ? errsize : 0,
		         "a TLS client certificate, its key and the CA "
		         "file are all required");
		return HG_EINVAL;
	}
	if (cfg->identity == NULL || cfg->identity[0] == '\0') {
		snprintf(err, err ? errsize : 0,
		         "an empty EXTERNAL identity (librabbitmq refuses it)");
		return HG_EINVAL;
	}
	int ret = amqp_tls_preflight(cfg, err, errsize);
	if (ret != HG_EOK) {
		return ret;
	}
	hg_amqp_t *c = calloc(1, sizeof(*c));
	if (c == NULL) {
		return HG_ENOMEM;
	}
	bool oom = false;
	c->uris = *cfg->uris;
	c->tls_cert = dup_or_null(cfg->tls_cert, &oom);
	c->tls_key = dup_or_null(cfg->tls_key, &oom);
	c->tls_ca = dup_or_null(cfg->tls_ca, &oom);
	c->identity = dup_or_null(cfg->identity, &oom);
	c->conn_name = dup_or_null(cfg->conn_name ? cfg->conn_name : "haltgslb", &oom);
	pthread_mutex_init(&c->fd_lock, NULL);
	c->fd = -1;
	if (oom) {
		hg_amqp_free(c);
		return HG_ENOMEM;
	}
	c->heartbeat_s = cfg->heartbeat_s ? cfg->heartbeat_s : HG_AMQP_HEARTBEAT_DEFAULT_S;
	c->timeout_ms = cfg->connect_timeout_ms ? cfg->connect_timeout_ms
	                                        : HG_AMQP_CONNECT_TIMEOUT_DEFAULT_MS;
	c->backoff_base_ms =
	        cfg->backoff_base_ms ? cfg->backoff_base_ms : HG_AMQP_BACKOFF_BASE_DEFAULT_MS;
	c->backoff_max_ms =
	        cfg->backoff_max_ms ? cfg->backoff_max_ms : HG_AMQP_BACKOFF_MAX_DEFAULT_MS;
	c->cur = c->last_failed = -1;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	c->rng = ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec ^ ((uint64_t)getpid() << 40) ^
	         (uint64_t)(uintptr_t)c;
	*out = c;
	return HG_EOK;
}

/* The connection without any handshake; the fd is hidden from
 * hg_amqp_abort() before librabbitmq closes it. */
static void destroy(hg_amqp_t *c)
{
	pthread_mutex_lock(&c->fd_lock);
	c->fd = -1;
	pthread_mutex_unlock(&c->fd_lock);
	if (c->conn != NULL) {
		amqp_destroy_connection(c->conn);
		c->conn = NULL;
	}
	c->connected = c->lost = c->blocked = false;
	c->blocked_reason[0] = '\0';
}

void hg_amqp_free(hg_amqp_t *c)
{
	if (c == NULL) {
		return;
	}
	hg_amqp_close(c);
	destroy(c);
	pthread_mutex_destroy(&c->fd_lock);
	free(c->tls_cert);
	free(c->tls_key);
	free(c->tls_ca);
	free(c->identity);
	free(c->conn_name);
	free(c);
}

static amqp_table_entry_t bool_entry(const char *key)
{
	amqp_table_entry_t e;
	e.key = amqp_cstring_bytes(key);
	e.value.kind = AMQP_FIELD_KIND_BOOLEAN;
	e.value.value.boolean = 1;
	return e;
}

static amqp_table_entry_t text_entry(const char *key, const char *val)
{
	amqp_table_entry_t e;
	e.key = amqp_cstring_bytes(key);
	e.value.kind = AMQP_FIELD_KIND_UTF8;
	e.value.value.bytes = amqp_cstring_bytes(val);
	return e;
}

/* Login with the client properties RabbitMQ reads: without the
 * capabilities it neither notifies a cancelled consumer (a deleted stream
 * would silently stop syncd) nor a blocked connection (publishing would
 * block with no word why); authentication_failure_close makes a refused
 * login a connection.close with a reason instead of a bare EOF. */
static amqp_rpc_reply_t login(hg_amqp_t *c, const hg_amqp_uri_t *u)
{
	amqp_table_entry_t caps[] = {
		bool_entry("consumer_cancel_notify"),
		bool_entry("connection.blocked"),
		bool_entry("publisher_confirms"),
		bool_entry("basic.nack"),
		bool_entry("authentication_failure_close"),
		bool_entry("exchange_exchange_bindings"),
		bool_entry("per_consumer_qos"),
	};
	amqp_table_entry_t props[] = {
		text_entry("product", "haltgslb"),
		text_entry("version", PACKAGE_VERSION),
		text_entry("platform", "C11 / librabbitmq"),
		text_entry("connection_name", c->conn_name),
		{ .key = amqp_cstring_bytes("capabilities"),
		  .value = { .kind = AMQP_FIELD_KIND_TABLE,
		             .value.table = { sizeof(caps) / sizeof(caps[0]), caps } } },
	};
	amqp_table_t table = { sizeof(props) / sizeof(props[0]), props };
	return amqp_login_with_properties(c->conn, u->vhost, 0, HG_AMQP_FRAME_MAX,
	                                  (int)c->heartbeat_s, &table, AMQP_SASL_METHOD_EXTERNAL,
	                                  c->identity);
}

/* Why a login failed; HG_EACCES when the broker refused us. */
static int login_failed(hg_amqp_t *c, amqp_rpc_reply_t r, char *why, size_t size)
{
	bool refused = false;
	if (r.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION) {
		char t[400];
		int ret = amqp_server_close(c, &r.reply, t, sizeof(t));
		amqp_fmt(why, size, "login refused: %s", t);
		return ret == HG_EIO ? HG_EACCES : ret; /* any close at login is a refusal */
	}
	if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION) {
		char t[300];
		if (r.library_error == AMQP_STATUS_CONNECTION_CLOSED ||
		    r.library_error == AMQP_STATUS_SOCKET_CLOSED) {
			snprintf(why, size,
			         "the broker closed the connection during login (EXTERNAL "
			         "not enabled, or vhost or user unknown?)");
			return HG_EACCES;
		}
		amqp_status_text(c, r.library_error, errno, t, sizeof(t), &refused);
		if (r.library_error == AMQP_STATUS_SSL_ERROR && !refused) {
			/* Our side accepted the broker in the handshake; with TLS 1.3 the
			 * broker judges our certificate after it, so a session it ends
			 * at the first read is its refusal. */
			amqp_fmt(why, size,
			         "login failed: %s at the first read after the handshake: "
			         "does the broker accept our client certificate?",
			         t);
			return HG_EACCES;
		}
		amqp_fmt(why, size, "login failed: %s", t);
		return refused ? HG_EACCES : HG_EIO;
	}
	snprintf(why, size, "login failed: no reply");
	return HG_EIO;
}

/* librabbitmq 0.11 drops the SO_ERROR of a failed non-blocking connect
 * (errno stays EINPROGRESS), so "socket error" would be all an operator
 * learns. After such a failure, which is immediate (a refusal or an ICMP
 * error, not a timeout), one more connect finds the reason. */
static void tcp_diagnose(const char *host, uint16_t port, char *buf, size_t size)
{
	struct addrinfo hint = { .ai_socktype = SOCK_STREAM, .ai_protocol = IPPROTO_TCP };
	struct addrinfo *ai = NULL;
	char service[8];
	snprintf(service, sizeof(service), "%u", port);
	snprintf(buf, size, "TCP connection failed");
	if (getaddrinfo(host, service, &hint, &ai) != 0 || ai == NULL) {
		snprintf(buf, size, "cannot resolve %s", host);
		return;
	}
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd >= 0) {
		int err = 0;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
			err = errno;
			if (err == EINPROGRESS) {
				struct pollfd pfd = { .fd = fd, .events = POLLOUT };
				socklen_t len = sizeof(err);
				err = poll(&pfd, 1, 250) == 1 &&
				                      getsockopt(fd, SOL_SOCKET, SO_ERROR, &err,
				                                 &len) == 0
				              ? err
				              : ETIMEDOUT;
			}
		}
		if (err != 0) {
			snprintf(buf, size, "TCP connection failed: %s", strerror(err));
		}
		close(fd);
	}
	freeaddrinfo(ai);
}

/* One URI, start to open channel; on failure \a why says what and the
 * connection is gone. */
static int try_uri(hg_amqp_t *c, int idx, char *why, size_t size)
{
	const hg_amqp_uri_t *u = &c->uris.uri[idx];
	struct timeval tv = { .tv_sec = c->timeout_ms / 1000,
		              .tv_usec = (suseconds_t)(c->timeout_ms % 1000) * 1000 };
	int ret;
	bool refused = false;
	c->cur = idx;
	c->verify_err[0] = '\0';
	c->conn = amqp_new_connection();
	amqp_socket_t *sock = c->conn ? amqp_ssl_socket_new(c->conn) : NULL;
	if (sock == NULL) {
		snprintf(why, size, "cannot create a TLS socket");
		ret = HG_ENOMEM;
		goto fail;
	}
	ret = amqp_tls_setup(c, sock, u->host, why, size);
	if (ret != HG_EOK) {
		goto fail;
	}
	ERR_clear_error();
	errno = 0;
	int st = amqp_socket_open_noblock(sock, u->host, u->port, &tv);
	if (st != AMQP_STATUS_OK) {
		char t[300];
		if (st == AMQP_STATUS_SOCKET_ERROR) {
			tcp_diagnose(u->host, u->port, t, sizeof(t));
		} else if (st == AMQP_STATUS_TIMEOUT) {
			snprintf(t, sizeof(t), "no TCP connection or TLS handshake within %u ms",
			         c->timeout_ms);
		} else {
			amqp_status_text(c, st, errno, t, sizeof(t), &refused);
		}
		amqp_fmt(why, size, "%s", t);
		ret = refused ? HG_EACCES : HG_EIO;
		goto fail;
	}
	amqp_set_handshake_timeout(c->conn, &tv);
	amqp_set_rpc_timeout(c->conn, &tv);
	amqp_rpc_reply_t r = login(c, u);
	if (r.reply_type != AMQP_RESPONSE_NORMAL) {
		ret = login_failed(c, r, why, size);
		goto fail;
	}
	/* Before the channel: hg_amqp_check_reply() needs "connected" state. */
	c->connected = true;
	amqp_channel_open(c->conn, HG_AMQP_CHANNEL);
	ret = hg_amqp_check_reply(c, amqp_get_rpc_reply(c->conn), "opening the channel");
	if (ret != HG_EOK) {
		/* c->err is "URI: opening the channel: reason": keep the reason part. */
		const char *p = strstr(c->err, ": ");
		amqp_fmt(why, size, "%s", p ? p + 2 : c->err);
		goto fail;
	}
	pthread_mutex_lock(&c->fd_lock);
	c->fd = amqp_get_sockfd(c->conn);
	pthread_mutex_unlock(&c->fd_lock);
	return HG_EOK;
fail:
	destroy(c);
	return ret;
}

int hg_amqp_connect(hg_amqp_t *c)
{
	if (c->connected && !c->lost) {
		return HG_EOK;
	}
	hg_amqp_drop(c); /* a connection lost and not dropped yet */
	size_t n = c->uris.n, start;
	if (c->last_failed >= 0) {
		start = ((size_t)c->last_failed + 1) % n;
	} else {
		start = c->cur >= 0 ? (size_t)c->cur : 0;
	}
	char all[HG_AMQP_ERR_MAX] = "";
	size_t used = 0;
	bool any_refused = false;
	int ret = HG_EIO;
	for (size_t k = 0; k < n; k++) {
		int idx = (int)((start + k) % n);
		char why[300];
		ret = try_uri(c, idx, why, sizeof(why));
		if (ret == HG_EOK) {
			c->failed_rounds = 0;
			c->last_failed = -1;
			c->err[0] = '\0';
			return HG_EOK;
		}
		c->last_failed = idx;
		any_refused |= ret == HG_EACCES;
		int w = snprintf(all + used, sizeof(all) - used, "%s%s: %s", used ? "; " : "",
		                 c->uris.uri[idx].text, why);
		if (w > 0) {
			used += (size_t)w < sizeof(all) - used ? (size_t)w : sizeof(all) - used - 1;
		}
		if (ret == HG_ENOMEM) {
			break;
		}
	}
	c->failed_rounds++;
	snprintf(c->err, sizeof(c->err), "%s", all);
	if (ret == HG_ENOMEM) {
		return ret;
	}
	return any_refused ? HG_EACCES : HG_EIO;
}

uint32_t hg_amqp_retry_delay_ms(hg_amqp_t *c)
{
	/* xorshift64*: only spreads reconnects, no quality needed beyond that */
	c->rng ^= c->rng >> 12;
	c->rng ^= c->rng << 25;
	c->rng ^= c->rng >> 27;
	return hg_amqp_backoff_ms(c->failed_rounds, c->backoff_base_ms, c->backoff_max_ms,
	                          c->rng * 2685821657736338717ull);
}

bool hg_amqp_connected(const hg_amqp_t *c)
{
	return c != NULL && c->connected && !c->lost;
}

const char *hg_amqp_uri(const hg_amqp_t *c)
{
	return c->cur >= 0 ? c->uris.uri[c->cur].text : "";
}

int hg_amqp_uri_index(const hg_amqp_t *c)
{
	return c->cur;
}

const char *hg_amqp_error(const hg_amqp_t *c)
{
	return c->err;
}

amqp_connection_state_t hg_amqp_state(hg_amqp_t *c)
{
	return c->connected ? c->conn : NULL;
}

int hg_amqp_fd(const hg_amqp_t *c)
{
	return c->connected && c->conn ? amqp_get_sockfd(c->conn) : -1;
}

void hg_amqp_close(hg_amqp_t *c)
{
	if (c == NULL || c->conn == NULL) {
		return;
	}
	if (c->connected && !c->lost) {
		/* Each waits at most the RPC timeout set at connect. */
		amqp_rpc_reply_t r =
		        amqp_channel_close(c->conn, HG_AMQP_CHANNEL, AMQP_REPLY_SUCCESS);
		if (r.reply_type == AMQP_RESPONSE_NORMAL) {
			amqp_connection_close(c->conn, AMQP_REPLY_SUCCESS);
		}
	}
	destroy(c);
}

void hg_amqp_drop(hg_amqp_t *c)
{
	if (c == NULL || c->conn == NULL) {
		return;
	}
	c->last_failed = c->cur;
	destroy(c);
}

void hg_amqp_abort(hg_amqp_t *c)
{
	pthread_mutex_lock(&c->fd_lock);
	if (c->fd >= 0) {
		shutdown(c->fd, SHUT_RDWR);
	}
	pthread_mutex_unlock(&c->fd_lock);
}
