/*  SPDX-License-Identifier: GPL-3.0-or-later */
/* Broker URI lists: "amqps://HOST[:PORT][/VHOST][,...]". Written here
 * rather than with amqp_parse_url(), which accepts plain amqp://, user and
 * password, and says nothing about what is wrong. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "errors.h"
#include "hg_amqp.h"

#define SCHEME "amqps://"

static int fail(char *err, size_t errsize, int code, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t errsize, int code, const char *fmt, ...)
{
	if (err != NULL && errsize > 0) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errsize, fmt, ap);
		va_end(ap);
	}
	return code;
}

static bool host_char(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       ch == '-' || ch == '.' || ch == '_';
}

static int hex_val(char ch)
{
	if (ch >= '0' && ch <= '9') {
		return ch - '0';
	}
	if (ch >= 'a' && ch <= 'f') {
		return ch - 'a' + 10;
	}
	if (ch >= 'A' && ch <= 'F') {
		return ch - 'A' + 10;
	}
	return -1;
}

/* The vhost part (after the '/'), percent-decoded into u->vhost. */
static int parse_vhost(const char *s, size_t len, hg_amqp_uri_t *u, const char *item, char *err,
                       size_t errsize)
{
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		char ch = s[i];
		if (ch == '%') {
			int hi = i + 1 < len ? hex_val(s[i + 1]) : -1;
			int lo = i + 2 < len ? hex_val(s[i + 2]) : -1;
			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
				return fail(err, errsize, HG_EINVAL,
				            "'%s': bad percent escape in the vhost", item);
			}
			ch = (char)(hi * 16 + lo);
			i += 2;
		} else if (ch == '/' || ch == '?' || ch == '#' || ch == '@' ||
		           (unsigned char)ch <= ' ') {
			return fail(err, errsize, HG_EINVAL,
			            "'%s': '%c' in the vhost (write %%2F for '/'; no query or "
			            "fragment)",
			            item, ch > ' ' ? ch : '?');
		}
		if (o >= HG_AMQP_VHOST_MAX) {
			return fail(err, errsize, HG_ERANGE, "'%s': vhost longer than %d bytes",
			            item, HG_AMQP_VHOST_MAX);
		}
		u->vhost[o++] = ch;
	}
	u->vhost[o] = '\0';
	if (o == 0) {
		strcpy(u->vhost, "/");
	}
	return HG_EOK;
}

static int parse_port(const char *s, size_t len, hg_amqp_uri_t *u, const char *item, char *err,
                      size_t errsize)
{
	unsigned long v = 0;
	if (len == 0 || len > 5) {
		return fail(err, errsize, HG_EINVAL, "'%s': port must be 1-65535", item);
	}
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9') {
			return fail(err, errsize, HG_EINVAL, "'%s': port must be 1-65535", item);
		}
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v == 0 || v > 65535) {
		return fail(err, errsize, HG_EINVAL, "'%s': port must be 1-65535", item);
	}
	u->port = (uint16_t)v;
	return HG_EOK;
}

/* HOST, or [IPv6]; *end is set after it. */
static int parse_host(const char *s, size_t len, hg_amqp_uri_t *u, size_t *end, const char *item,
                      char *err, size_t errsize)
{
	size_t i = 0, start, stop;
	if (len > 0 && s[0] == '[') {
		const char *close = memchr(s, ']', len);
		if (close == NULL) {
			return fail(err, errsize, HG_EINVAL, "'%s': '[' without ']'", item);
		}
		start = 1;
		stop = (size_t)(close - s);
		for (i = start; i < stop; i++) {
			if (hex_val(s[i]) < 0 && s[i] != ':' && s[i] != '.') {
				return fail(err, errsize, HG_EINVAL,
				            "'%s': not an IPv6 address in []", item);
			}
		}
		i = stop + 1;
	} else {
		start = 0;
		while (i < len && host_char(s[i])) {
			i++;
		}
		stop = i;
	}
	if (stop == start) {
		return fail(err, errsize, HG_EINVAL, "'%s': no host", item);
	}
	if (stop - start > HG_AMQP_HOST_MAX) {
		return fail(err, errsize, HG_ERANGE, "'%s': host longer than %d bytes", item,
		            HG_AMQP_HOST_MAX);
	}
	memcpy(u->host, s + start, stop - start);
	u->host[stop - start] = '\0';
	*end = i;
	return HG_EOK;
}

/* One item, already trimmed; \a item is its text for messages. */
static int parse_one(const char *s, size_t len, hg_amqp_uri_t *u, const char *item, char *err,
                     size_t errsize)
{
	size_t sl = strlen(SCHEME);
	if (len >= 7 && strncasecmp(s, "amqp://", 7) == 0) {
		return fail(err, errsize, HG_EINVAL,
		            "'%s': plain amqp:// is refused: use amqps:// (TLS with a client "
		            "certificate)",
		            item);
	}
	if (len < sl || strncasecmp(s, SCHEME, sl) != 0) {
		return fail(err, errsize, HG_EINVAL, "'%s': expected amqps://HOST[:PORT][/VHOST]",
		            item);
	}
	s += sl;
	len -= sl;
	const char *slash = memchr(s, '/', len);
	size_t auth_len = slash ? (size_t)(slash - s) : len;
	if (memchr(s, '@', auth_len) != NULL) {
		return fail(err, errsize, HG_EINVAL,
		            "'%s': no user or password in the URI: the broker takes the user from "
		            "the client certificate (EXTERNAL)",
		            item);
	}
	if (memchr(s, '?', len) != NULL || memchr(s, '#', len) != NULL) {
		return fail(err, errsize, HG_EINVAL, "'%s': no query or fragment in the URI", item);
	}
	size_t i = 0;
	int ret = parse_host(s, auth_len, u, &i, item, err, errsize);
	if (ret != HG_EOK) {
		return ret;
	}
	u->port = HG_AMQP_PORT_DEFAULT;
	if (i < auth_len && s[i] == ':') {
		ret = parse_port(s + i + 1, auth_len - i - 1, u, item, err, errsize);
		if (ret != HG_EOK) {
			return ret;
		}
	} else if (i != auth_len) {
		return fail(err, errsize, HG_EINVAL, "'%s': unexpected '%c' after the host", item,
		            s[i]);
	}
	strcpy(u->vhost, "/");
	if (slash != NULL) {
		ret = parse_vhost(slash + 1, len - auth_len - 1, u, item, err, errsize);
		if (ret != HG_EOK) {
			return ret;
		}
	}
	/* Built in a local buffer: host and text live in the same struct. */
	bool v6 = strchr(u->host, ':') != NULL;
	char text[sizeof(u->text)];
	int n;
	if (strcmp(u->vhost, "/") == 0) {
		n = snprintf(text, sizeof(text), SCHEME "%s%s%s:%u", v6 ? "[" : "", u->host,
		             v6 ? "]" : "", u->port);
	} else {
		/* The vhost as written (it may hold escapes), for messages only. */
		n = snprintf(text, sizeof(text), SCHEME "%s%s%s:%u/%.*s", v6 ? "[" : "", u->host,
		             v6 ? "]" : "", u->port, (int)(len - auth_len - 1), slash + 1);
	}
	if (n < 0 || (size_t)n >= sizeof(u->text)) {
		return fail(err, errsize, HG_ERANGE, "'%s': URI too long", item);
	}
	memcpy(u->text, text, (size_t)n + 1);
	return HG_EOK;
}

int hg_amqp_uris_parse(const char *text, hg_amqp_uris_t *out, char *err, size_t errsize)
{
	if (err != NULL && errsize > 0) {
		err[0] = '\0';
	}
	if (text == NULL || out == NULL) {
		return fail(err, errsize, HG_EINVAL, "no broker URI");
	}
	memset(out, 0, sizeof(*out));
	const char *p = text;
	for (;;) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		while (len > 0 && (*p == ' ' || *p == '\t')) {
			p++;
			len--;
		}
		while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t')) {
			len--;
		}
		char item[HG_AMQP_HOST_MAX + HG_AMQP_VHOST_MAX + 64];
		snprintf(item, sizeof(item), "%.*s", (int)len, p);
		if (len == 0) {
			return fail(
			        err, errsize, HG_EINVAL,
			        "empty URI in the list (expected amqps://HOST:PORT[,amqps://...])");
		}
		if (out->n == HG_AMQP_URIS_MAX) {
			return fail(err, errsize, HG_ERANGE, "more than %d broker URIs",
			            HG_AMQP_URIS_MAX);
		}
		int ret = parse_one(p, len, &out->uri[out->n], item, err, errsize);
		if (ret != HG_EOK) {
			return ret;
		}
		out->n++;
		if (comma == NULL) {
			break;
		}
		p = comma + 1;
	}
	return HG_EOK;
}
