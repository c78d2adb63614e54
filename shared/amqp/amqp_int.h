/*  SPDX-License-Identifier: GPL-3.0-or-later */
/* libhg_amqp internals: the connection object and what its files share. */
#pragma once

#include <pthread.h>
#include <stdarg.h>

#include <amqp_ssl_socket.h>

#include "hg_amqp.h"

struct hg_amqp {
	hg_amqp_uris_t uris;
	char *tls_cert, *tls_key, *tls_ca, *identity, *conn_name;
	unsigned heartbeat_s, timeout_ms;
	uint32_t backoff_base_ms, backoff_max_ms;
	amqp_connection_state_t conn; /*!< NULL when not connected */
	bool connected;               /*!< channel open */
	bool lost;                    /*!< a fatal error was seen: drop, reconnect */
	int cur;                      /*!< URI connected to / tried last; -1 */
	int last_failed;              /*!< URI that failed last; -1 */
	unsigned failed_rounds;
	uint64_t rng;
	bool blocked;
	char blocked_reason[128];
	char verify_err[HG_AMQP_HOST_MAX + 160]; /*!< set by the verify callback in a handshake */
	char err[HG_AMQP_ERR_MAX];
	pthread_mutex_t fd_lock; /*!< guards fd against hg_amqp_abort() */
	int fd;                  /*!< the socket while connected, else -1 */
};

/* amqp_tls.c */
/*! Check the TLS files of \a cfg (readable, PEM, key matches certificate). */
int amqp_tls_preflight(const hg_amqp_config_t *cfg, char *err, size_t errsize);
/*! Certificate, key, CA, TLS >= 1.2 and peer + name verification on \a sock,
 *  for a connection to \a host. */
int amqp_tls_setup(hg_amqp_t *c, amqp_socket_t *sock, const char *host, char *why, size_t size);
/*! The reason of the TLS failure just seen (verify callback, else OpenSSL's
 *  error queue, which is cleared, else \a saved_errno); *refused when the
 *  broker rejected our certificate. */
void amqp_tls_reason(hg_amqp_t *c, int saved_errno, char *buf, size_t size, bool *refused);

/* amqp_frame.c */
/*! Text of a librabbitmq status, with errno / TLS detail where it helps. */
void amqp_status_text(hg_amqp_t *c, int status, int saved_errno, char *buf, size_t size,
                      bool *refused);
/*! Text and HG code of a server exception (channel.close / connection.close),
 *  answered with close-ok. */
int amqp_server_close(hg_amqp_t *c, const amqp_method_t *m, char *buf, size_t size);

/* amqp_conn.c */
/*! snprintf that may truncate on purpose (texts are bounded, not exact). */
void amqp_fmt(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/*! printf into c->err. */
void amqp_set_err(hg_amqp_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
