/*  SPDX-License-Identifier: GPL-3.0-or-later */
/* Reading frames, and turning librabbitmq's statuses and the broker's
 * close methods into HG codes and sentences. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "errors.h"
#include "amqp_int.h"

void amqp_status_text(hg_amqp_t *c, int status, int saved_errno, char *buf, size_t size,
                      bool *refused)
{
	char tls[240];
	if (refused != NULL) {
		*refused = false;
	}
	switch (status) {
	case AMQP_STATUS_SOCKET_ERROR:
	case AMQP_STATUS_TCP_ERROR:
		snprintf(buf, size, "%s%s%s", amqp_error_string2(status), saved_errno ? ": " : "",
		         saved_errno ? strerror(saved_errno) : "");
		break;
	case AMQP_STATUS_SSL_ERROR:
	case AMQP_STATUS_SSL_CONNECTION_FAILED:
	case AMQP_STATUS_SSL_PEER_VERIFY_FAILED:
	case AMQP_STATUS_SSL_HOSTNAME_VERIFY_FAILED:
		amqp_tls_reason(c, saved_errno, tls, sizeof(tls), refused);
		snprintf(buf, size, "TLS %s: %s",
		         status == AMQP_STATUS_SSL_ERROR ? "error" : "handshake failed", tls);
		break;
	case AMQP_STATUS_HEARTBEAT_TIMEOUT:
		snprintf(buf, size, "no heartbeat from the broker for %u s", 2 * c->heartbeat_s);
		break;
	case AMQP_STATUS_TIMEOUT:
		snprintf(buf, size, "no answer within %u ms", c->timeout_ms);
		break;
	case AMQP_STATUS_CONNECTION_CLOSED:
	case AMQP_STATUS_SOCKET_CLOSED:
		snprintf(buf, size, "the broker closed the connection");
		break;
	default: snprintf(buf, size, "%s", amqp_error_string2(status)); break;
	}
}

/* "ACCESS_REFUSED - ..." is how RabbitMQ starts its texts already. */
int amqp_server_close(hg_amqp_t *c, const amqp_method_t *m, char *buf, size_t size)
{
	uint16_t code = 0;
	amqp_bytes_t text = { 0, NULL };
	if (m->id == AMQP_CHANNEL_CLOSE_METHOD) {
		const amqp_channel_close_t *cc = m->decoded;
		code = cc->reply_code;
		text = cc->reply_text;
		amqp_channel_close_ok_t ok = { 0 };
		amqp_send_method(c->conn, HG_AMQP_CHANNEL, AMQP_CHANNEL_CLOSE_OK_METHOD, &ok);
	} else if (m->id == AMQP_CONNECTION_CLOSE_METHOD) {
		const amqp_connection_close_t *cc = m->decoded;
		code = cc->reply_code;
		text = cc->reply_text;
		amqp_connection_close_ok_t ok = { 0 };
		amqp_send_method(c->conn, 0, AMQP_CONNECTION_CLOSE_OK_METHOD, &ok);
	}
	snprintf(buf, size, "%s closed by the broker (%u %.*s)",
	         m->id == AMQP_CHANNEL_CLOSE_METHOD ? "channel" : "connection", code,
	         (int)(text.len > 300 ? 300 : text.len),
	         text.bytes ? (const char *)text.bytes : "");
	c->lost = true;
	return code == AMQP_ACCESS_REFUSED || code == AMQP_NOT_ALLOWED ? HG_EACCES : HG_EIO;
}

int hg_amqp_check(hg_amqp_t *c, int status, const char *what)
{
	char why[300];
	int saved = errno;
	switch (status) {
	case AMQP_STATUS_OK: return HG_EOK;
	case AMQP_STATUS_TIMEOUT: return HG_ENODATA;
	case AMQP_STATUS_NO_MEMORY:
		amqp_set_err(c, "%s: %s: out of memory", hg_amqp_uri(c), what);
		return HG_ENOMEM;
	case AMQP_STATUS_UNEXPECTED_STATE:
		/* amqp_consume_message() met another frame: not an error. */
		amqp_set_err(c,
		             "%s: %s: a frame other than a delivery arrived (read it with "
		             "hg_amqp_wait_frame)",
		             hg_amqp_uri(c), what);
		return HG_EBUSY;
	default:
		amqp_status_text(c, status, saved, why, sizeof(why), NULL);
		amqp_set_err(c, "%s: %s: %s", hg_amqp_uri(c), what, why);
		c->lost = true;
		return HG_EIO;
	}
}

int hg_amqp_check_reply(hg_amqp_t *c, amqp_rpc_reply_t reply, const char *what)
{
	char why[400];
	switch (reply.reply_type) {
	case AMQP_RESPONSE_NORMAL: return HG_EOK;
	case AMQP_RESPONSE_LIBRARY_EXCEPTION: return hg_amqp_check(c, reply.library_error, what);
	case AMQP_RESPONSE_SERVER_EXCEPTION: {
		int ret = amqp_server_close(c, &reply.reply, why, sizeof(why));
		amqp_set_err(c, "%s: %s: %s", hg_amqp_uri(c), what, why);
		return ret;
	}
	default:
		amqp_set_err(c, "%s: %s: no reply", hg_amqp_uri(c), what);
		c->lost = true;
		return HG_EIO;
	}
}

static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* A method the library handles itself; true when consumed. */
static bool handle_method(hg_amqp_t *c, const amqp_frame_t *f, int *ret)
{
	char why[400];
	if (f->frame_type != AMQP_FRAME_METHOD) {
		return false;
	}
	switch (f->payload.method.id) {
	case AMQP_CONNECTION_BLOCKED_METHOD: {
		const amqp_connection_blocked_t *b = f->payload.method.decoded;
		c->blocked = true;
		snprintf(c->blocked_reason, sizeof(c->blocked_reason), "%.*s",
		         (int)(b->reason.len > 120 ? 120 : b->reason.len),
		         b->reason.bytes ? (const char *)b->reason.bytes : "");
		return true;
	}
	case AMQP_CONNECTION_UNBLOCKED_METHOD:
		c->blocked = false;
		c->blocked_reason[0] = '\0';
		return true;
	case AMQP_CHANNEL_CLOSE_METHOD:
	case AMQP_CONNECTION_CLOSE_METHOD:
		*ret = amqp_server_close(c, &f->payload.method, why, sizeof(why));
		amqp_set_err(c, "%s: %s", hg_amqp_uri(c), why);
		return true;
	default: return false;
	}
}

int hg_amqp_wait_frame(hg_amqp_t *c, int timeout_ms, amqp_frame_t *frame)
{
	if (c == NULL || !c->connected || c->lost) {
		return HG_EINVAL;
	}
	uint64_t deadline = timeout_ms >= 0 ? mono_ms() + (uint64_t)timeout_ms : 0;
	for (;;) {
		struct timeval tv, *tvp = NULL;
		if (timeout_ms >= 0) {
			uint64_t now = mono_ms(), left = deadline > now ? deadline - now : 0;
			tv.tv_sec = (time_t)(left / 1000);
			tv.tv_usec = (suseconds_t)(left % 1000) * 1000;
			tvp = &tv;
		}
		int st = amqp_simple_wait_frame_noblock(c->conn, frame, tvp);
		if (st == AMQP_STATUS_TIMEOUT) {
			return HG_ENODATA;
		}
		if (st != AMQP_STATUS_OK) {
			return hg_amqp_check(c, st, "reading from the broker");
		}
		int ret = HG_EOK;
		if (!handle_method(c, frame, &ret)) {
			return HG_EOK;
		}
		if (ret != HG_EOK) {
			return ret;
		}
	}
}

bool hg_amqp_pending(hg_amqp_t *c)
{
	return c != NULL && c->conn != NULL &&
	       (amqp_frames_enqueued(c->conn) || amqp_data_in_buffer(c->conn));
}

bool hg_amqp_blocked(const hg_amqp_t *c, const char **reason)
{
	if (reason != NULL) {
		*reason = c->blocked_reason;
	}
	return c->connected && c->blocked;
}
