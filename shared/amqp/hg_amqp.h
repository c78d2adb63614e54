/*  haltgslb — AMQP 0-9-1 connections to the RabbitMQ brokers of a fleet.
 *  SPDX-License-Identifier: GPL-3.0-or-later
 */
/*!
 * \file
 * \brief One broker connection over librabbitmq 0.11: a list of amqps://
 *        URIs tried in turn, TLS with a client certificate, SASL EXTERNAL,
 *        one channel, readable error texts.
 *
 * Used by the prober (publisher) and haltgslb-syncd (consumer); write side
 * only, the module never links it. The library owns connecting, TLS,
 * login, channel 1, heartbeats and the broker's close/blocked frames; the
 * caller owns what flows on the channel (amqp_basic_publish(),
 * amqp_basic_consume(), amqp_read_message() on hg_amqp_state()).
 *
 *     hg_amqp_uris_t uris;
 *     char why[HG_AMQP_ERR_MAX];
 *     if (hg_amqp_uris_parse(argv_broker, &uris, why, sizeof(why)) != HG_EOK)
 *             die("--broker: %s", why);
 *     hg_amqp_config_t cfg = { .uris = &uris, .tls_cert = cert, .tls_key = key,
 *                              .tls_ca = ca, .identity = id,
 *                              .conn_name = "haltgslb-syncd dns-1" };
 *     hg_amqp_t *c;
 *     if (hg_amqp_new(&cfg, &c, why, sizeof(why)) != HG_EOK)
 *             die("%s", why);                 // unreadable cert, key mismatch...
 *     while (hg_amqp_connect(c) != HG_EOK)     // one round over every URI
 *             sleep_ms(hg_amqp_retry_delay_ms(c));  // log hg_amqp_error(c) on change
 *     ... amqp_basic_consume(hg_amqp_state(c), HG_AMQP_CHANNEL, ...) ...
 *     for (;;) {                               // epoll on hg_amqp_fd(c)
 *             amqp_frame_t f;
 *             int r = hg_amqp_wait_frame(c, 1000, &f);
 *             if (r == HG_ENODATA) continue;   // nothing within 1 s
 *             if (r != HG_EOK) { log(hg_amqp_error(c)); hg_amqp_drop(c); break; }
 *             ... f is a method frame on HG_AMQP_CHANNEL (basic.deliver, basic.ack...)
 *     }
 *     hg_amqp_free(c);                         // clean close if still connected
 *
 * Threads: an hg_amqp_t is used by one thread at a time; only
 * hg_amqp_abort() may be called from another thread. The pure helpers
 * (hg_amqp_uris_parse(), hg_amqp_backoff_ms(), hg_amqp_cert_cn()) are
 * thread-safe.
 *
 * Errors are HG_E* codes (errors.h). Every failure of a connection call
 * leaves a one-line reason in hg_amqp_error() that starts with the URI,
 * e.g. "amqps://10.0.0.1:5671: TLS handshake failed: tlsv1 alert unknown
 * ca (the broker does not trust our certificate)" or "amqps://b1:5671:
 * refused by the broker (403 ACCESS_REFUSED - Login was refused ...)".
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <amqp.h>

/*! At most this many URIs in a broker list. */
#define HG_AMQP_URIS_MAX  16
/*! Longest host name / vhost accepted in a URI. */
#define HG_AMQP_HOST_MAX  253
#define HG_AMQP_VHOST_MAX 255
/*! Size of a buffer that always holds an error text of this library. */
#define HG_AMQP_ERR_MAX   512
/*! The one channel a connection opens. */
#define HG_AMQP_CHANNEL   1

/*! Defaults for the zero fields of hg_amqp_config_t. */
#define HG_AMQP_PORT_DEFAULT               5671
#define HG_AMQP_HEARTBEAT_DEFAULT_S        5
#define HG_AMQP_CONNECT_TIMEOUT_DEFAULT_MS 5000
#define HG_AMQP_BACKOFF_BASE_DEFAULT_MS    500
#define HG_AMQP_BACKOFF_MAX_DEFAULT_MS     30000
#define HG_AMQP_FRAME_MAX                  131072

/* ---------------------------------------------------------------------- */
/* Broker URIs (pure) */

/*! One broker: amqps://HOST[:PORT][/VHOST]. */
typedef struct {
	char host[HG_AMQP_HOST_MAX + 1];   /*!< name or address; IPv6 without brackets */
	uint16_t port;                     /*!< HG_AMQP_PORT_DEFAULT when not written */
	char vhost[HG_AMQP_VHOST_MAX + 1]; /*!< percent-decoded; "/" when not written */
	char text[HG_AMQP_HOST_MAX + 32];  /*!< "amqps://HOST:PORT" (+ "/VHOST" when not "/"),
	                                         how messages name it */
} hg_amqp_uri_t;

/*! A broker list, in the order given. */
typedef struct {
	size_t n; /*!< 1..HG_AMQP_URIS_MAX after a successful parse */
	hg_amqp_uri_t uri[HG_AMQP_URIS_MAX];
} hg_amqp_uris_t;

/*!
 * \brief Parse a comma-separated list of broker URIs
 *        ("amqps://b1:5671,amqps://b2:5671/fleet").
 *
 * Each item is `amqps://HOST[:PORT][/VHOST]`: HOST a DNS name, an IPv4
 * address or a bracketed IPv6 address; PORT 1-65535 (default 5671); VHOST
 * percent-decoded (`%2F` is "/"), "/" when absent or empty. Only amqps is
 * accepted: plain amqp:// is refused (the fleet authenticates by client
 * certificate), as are credentials (`user:pass@`: EXTERNAL takes the user
 * from the certificate), query strings, empty items and more than
 * HG_AMQP_URIS_MAX items. Spaces around items are ignored.
 *
 * \param[out] out  The list; on failure its content is unspecified.
 * \param[out] err  On failure, what is wrong and in which item (may be NULL).
 * \return HG_EOK, HG_EINVAL (malformed), HG_ERANGE (too many URIs, too long).
 */
int hg_amqp_uris_parse(const char *text, hg_amqp_uris_t *out, char *err, size_t errsize);

/* ---------------------------------------------------------------------- */
/* Backoff (pure) */

/*!
 * \brief Delay before the next connection round after \a failed_rounds
 *        rounds in a row failed (every URI tried once per round).
 *
 * Exponential with "equal jitter": the nominal delay is base * 2^(n-1)
 * capped at \a max_ms, and the result lies in [nominal/2, nominal] chosen
 * by \a rnd, so a fleet that lost its broker does not reconnect in
 * lock-step. 0 when \a failed_rounds is 0.
 *
 * \param[in] rnd  Any random 64-bit value (its low bits pick the jitter).
 */
uint32_t hg_amqp_backoff_ms(unsigned failed_rounds, uint32_t base_ms, uint32_t max_ms,
                            uint64_t rnd);

/* ---------------------------------------------------------------------- */
/* Certificates (pure) */

/*!
 * \brief Read the subject common name of the first certificate in the PEM
 *        file \a path (the broker's user name under EXTERNAL).
 *
 * \param[out] cn   NUL-terminated CN (UTF-8 as in the certificate).
 * \param[out] err  On failure the reason, naming the file (may be NULL).
 * \return HG_EOK, HG_ENOENT / HG_EACCES (cannot open), HG_EINVAL (no PEM
 *         certificate, no CN, or several CNs), HG_ERANGE (CN longer than
 *         \a size - 1).
 */
int hg_amqp_cert_cn(const char *path, char *cn, size_t size, char *err, size_t errsize);

/* ---------------------------------------------------------------------- */
/* Connections */

/*! What a connection needs. Strings are copied by hg_amqp_new(). */
typedef struct {
	const hg_amqp_uris_t *uris; /*!< brokers, tried in this order (copied) */
	const char *tls_cert;       /*!< PEM client certificate (chain) file */
	const char *tls_key;        /*!< PEM private key of tls_cert (no passphrase) */
	const char *tls_ca;         /*!< PEM CA file that signed the brokers' certificates */
	/*! SASL EXTERNAL identity: the user we expect to be (the certificate's
	 *  CN). The broker takes the user from the certificate and ignores it,
	 *  but librabbitmq 0.11 refuses an empty one. */
	const char *identity;
	/*! connection_name client property shown by rabbitmqctl
	 *  list_connections, e.g. "haltgslb-prober eu-fra"; NULL: "haltgslb". */
	const char *conn_name;
	unsigned heartbeat_s; /*!< 0: HG_AMQP_HEARTBEAT_DEFAULT_S */
	/*! Per URI: TCP connect + TLS handshake + AMQP login, and each later
	 *  synchronous request (channel open, confirm.select, close).
	 *  0: HG_AMQP_CONNECT_TIMEOUT_DEFAULT_MS. */
	unsigned connect_timeout_ms;
	uint32_t backoff_base_ms; /*!< 0: HG_AMQP_BACKOFF_BASE_DEFAULT_MS */
	uint32_t backoff_max_ms;  /*!< 0: HG_AMQP_BACKOFF_MAX_DEFAULT_MS */
} hg_amqp_config_t;

typedef struct hg_amqp hg_amqp_t;

/*!
 * \brief A connection object for \a cfg, not connected yet.
 *
 * Checks the TLS files now so a daemon fails at startup with a clear
 * reason: each is readable, the certificate and key are PEM and belong
 * together, the CA file holds a certificate. The files are read again at
 * every connect (a renewed certificate is used from the next reconnect).
 *
 * \param[out] out  The object; release it with hg_amqp_free().
 * \param[out] err  On failure the reason, naming the file (may be NULL).
 * \return HG_EOK, HG_EINVAL (no URI, a file missing from \a cfg, an empty
 *         identity, a file that is not what it should be), HG_ENOENT /
 *         HG_EACCES (a file cannot be read), HG_ENOMEM.
 */
int hg_amqp_new(const hg_amqp_config_t *cfg, hg_amqp_t **out, char *err, size_t errsize);

/*! \brief Close cleanly (hg_amqp_close()) if connected, then free. NULL is a no-op. */
void hg_amqp_free(hg_amqp_t *c);

/*!
 * \brief One connection round: try each URI once, in list order, starting
 *        with the one after the URI that failed last (the first URI when
 *        none failed yet), until one gives an open channel.
 *
 * Per URI: TCP connect, TLS handshake (TLS >= 1.2, the broker's
 * certificate verified against tls_ca and its name or address against the
 * URI's host), SASL EXTERNAL login with client properties announcing
 * consumer_cancel_notify, connection.blocked, publisher_confirms,
 * basic.nack and authentication_failure_close, heartbeat negotiation, then
 * channel HG_AMQP_CHANNEL opened. Blocks at most about n_uris *
 * connect_timeout_ms. Already connected: returns HG_EOK at once.
 *
 * \return HG_EOK (connected to hg_amqp_uri()), HG_EACCES (every broker
 *         reached refused us: login, vhost access), HG_EIO (none reachable
 *         or a TLS/protocol failure), HG_ENOMEM. hg_amqp_error() then
 *         holds each URI's reason ("URI: reason; URI: reason").
 */
int hg_amqp_connect(hg_amqp_t *c);

/*!
 * \brief How long to wait before the next hg_amqp_connect() after a failed
 *        round: hg_amqp_backoff_ms() of the failed rounds in a row, jittered
 *        per call. 0 before any failure; rounds reset on success.
 */
uint32_t hg_amqp_retry_delay_ms(hg_amqp_t *c);

/*! \brief True between a successful hg_amqp_connect() and the next
 *         hg_amqp_close() / hg_amqp_drop() or fatal error. */
bool hg_amqp_connected(const hg_amqp_t *c);

/*! \brief The URI connected to, or tried last ("" before any attempt).
 *         Owned by \a c, valid until the next connect. */
const char *hg_amqp_uri(const hg_amqp_t *c);

/*! \brief Index in the URI list of hg_amqp_uri(); -1 before any attempt. */
int hg_amqp_uri_index(const hg_amqp_t *c);

/*! \brief The reason of the last failure ("" when none). Owned by \a c,
 *         valid until the next call on \a c. */
const char *hg_amqp_error(const hg_amqp_t *c);

/*!
 * \brief The librabbitmq connection, for the calls the caller makes on
 *        channel HG_AMQP_CHANNEL. Owned by \a c; NULL when not connected;
 *        invalid after hg_amqp_close() / hg_amqp_drop(). Check results with
 *        hg_amqp_check() / hg_amqp_check_reply().
 */
amqp_connection_state_t hg_amqp_state(hg_amqp_t *c);

/*! \brief The socket to wait on (epoll/poll, readable), -1 when not
 *         connected. Owned by \a c: never close it. Before sleeping on it
 *         call hg_amqp_pending(): librabbitmq may hold frames already read. */
int hg_amqp_fd(const hg_amqp_t *c);

/*! \brief True when frames or bytes are buffered inside librabbitmq: call
 *         hg_amqp_wait_frame(c, 0, ...) until false before polling the fd,
 *         or those frames wait for the next byte from the broker. */
bool hg_amqp_pending(hg_amqp_t *c);

/*!
 * \brief Next frame for the caller, waiting at most \a timeout_ms (0: only
 *        what is buffered or readable now; < 0: no limit).
 *
 * Also services heartbeats: librabbitmq sends them only from inside its
 * calls, so call this at least every heartbeat/2 seconds while connected.
 * Handled here and not returned: heartbeats, connection.blocked /
 * unblocked (see hg_amqp_blocked()). A channel.close or connection.close
 * from the broker is answered (close-ok), its code and text go to
 * hg_amqp_error(), and the connection is marked lost: the caller then
 * calls hg_amqp_drop() and reconnects (the next round starts after this
 * URI). Every other frame (basic.deliver, basic.ack, basic.nack,
 * basic.cancel, content frames...) is returned; its payload is owned by
 * librabbitmq and valid until the next call on \a c (use
 * amqp_maybe_release_buffers() as librabbitmq says).
 *
 * \return HG_EOK (a frame in \a frame), HG_ENODATA (none within the time),
 *         HG_EACCES (the broker closed the channel or connection with 403
 *         ACCESS_REFUSED or 530 NOT_ALLOWED), HG_EIO (any other loss: socket, TLS, missed
 *         heartbeats, other close codes), HG_EINVAL (not connected).
 */
int hg_amqp_wait_frame(hg_amqp_t *c, int timeout_ms, amqp_frame_t *frame);

/*!
 * \brief True while the broker says it blocks publishers
 *        (connection.blocked, e.g. a memory or disk alarm), until
 *        connection.unblocked. Publishing then blocks inside librabbitmq:
 *        a publisher must hold its messages.
 * \param[out] reason  The broker's reason while blocked (may be NULL);
 *                     owned by \a c.
 */
bool hg_amqp_blocked(const hg_amqp_t *c, const char **reason);

/*!
 * \brief Turn a librabbitmq status (amqp_status_enum) into an HG code;
 *        a failure also sets hg_amqp_error() to "URI: WHAT: reason" and,
 *        for a socket/TLS/heartbeat/closed status, marks the connection
 *        lost.
 * \return HG_EOK for AMQP_STATUS_OK, HG_ENODATA for AMQP_STATUS_TIMEOUT,
 *         HG_EBUSY for AMQP_STATUS_UNEXPECTED_STATE (amqp_consume_message()
 *         met a frame that is not a delivery: not an error, read that frame
 *         with hg_amqp_wait_frame(c, 0, ...), which handles a close or a
 *         blocked notice), HG_ENOMEM, HG_EIO (connection lost).
 */
int hg_amqp_check(hg_amqp_t *c, int status, const char *what);

/*!
 * \brief As hg_amqp_check() for an RPC reply (amqp_get_rpc_reply(),
 *        amqp_read_message(), amqp_consume_message()...). A server
 *        exception (channel.close / connection.close) is answered with
 *        close-ok, its text recorded ("URI: WHAT: refused by the broker
 *        (403 ACCESS_REFUSED - ...)") and the connection marked lost.
 * \return HG_EOK, HG_ENODATA (timeout), HG_EBUSY (as hg_amqp_check()),
 *         HG_EACCES (code 403 ACCESS_REFUSED or 530 NOT_ALLOWED), HG_EIO,
 *         HG_ENOMEM.
 */
int hg_amqp_check_reply(hg_amqp_t *c, amqp_rpc_reply_t reply, const char *what);

/*!
 * \brief Close cleanly: channel.close and connection.close, each waiting
 *        at most connect_timeout_ms for the broker's answer, then free the
 *        socket. Not a failure: the next round starts at the same URI.
 *        No-op when not connected.
 */
void hg_amqp_close(hg_amqp_t *c);

/*!
 * \brief Forget a connection that failed (no handshake: the socket is
 *        closed) and remember its URI as the last failed one, so the next
 *        round starts with the next URI. No-op when not connected.
 */
void hg_amqp_drop(hg_amqp_t *c);

/*!
 * \brief From any thread: shut the socket down, so a librabbitmq call
 *        blocked in the owner thread (a publish during an alarm, a wait)
 *        returns an error at once. The owner still calls hg_amqp_drop().
 *        A connect in progress is not interrupted (bounded by
 *        connect_timeout_ms).
 */
void hg_amqp_abort(hg_amqp_t *c);
