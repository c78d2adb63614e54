/*  SPDX-License-Identifier: GPL-3.0-or-later */
/* What a check's host, path and CA file, and an address, may be. The prober
 * builds a URL and a libcurl CONNECT_TO entry from host and path as written,
 * so anything outside these rules changes what is probed: "user@name" probes
 * another machine, a space or CR LF makes another request. */

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "policy_ctx.h"

static bool is_alnum(unsigned char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
}

static bool is_hex(unsigned char ch)
{
	return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F');
}

/* The character at \a s as text for a message: the whole UTF-8 sequence
 * (control characters are escaped when the message is stored). */
static void char_text(const char *s, char *buf, size_t size)
{
	size_t n = 1;
	while (s[n] != '\0' && ((unsigned char)s[n] & 0xc0) == 0x80 && n < 4) {
		n++;
	}
	snprintf(buf, size, "%.*s", (int)n, s);
}

bool pvalid_host(const char *s, char *why, size_t size)
{
	size_t len = strlen(s);
	char ch[8];
	if (len == 0) {
		return true; /* "" clears an inherited host */
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (is_alnum(c) || c == '-' || c == '.') {
			continue;
		}
		char_text(s + i, ch, sizeof(ch));
		snprintf(why, size, "'%s' is not allowed%s", ch,
		         c == ':' ? " (the port goes in 'port', an IPv6 address in 'probe-address')"
		         : c == '@' || c == '/' ? " (a host name only: no user, port or path)"
		         : c >= 0x80 ? " (write an internationalized name in its xn-- form)"
		                     : "");
		return false;
	}
	if (len > 253) {
		snprintf(why, size, "longer than 253 characters");
		return false;
	}
	if (s[len - 1] == '.') {
		snprintf(why, size,
		         "it ends with a dot (write the name without it: it is sent as "
		         "the Host header and the TLS server name)");
		return false;
	}
	for (const char *label = s; label != NULL;) {
		const char *dot = strchr(label, '.');
		size_t n = dot != NULL ? (size_t)(dot - label) : strlen(label);
		if (n == 0) {
			snprintf(why, size, "it has an empty label");
			return false;
		}
		if (n > 63) {
			snprintf(why, size, "it has a label longer than 63 characters");
			return false;
		}
		if (label[0] == '-' || label[n - 1] == '-') {
			snprintf(why, size, "a label starts or ends with '-'");
			return false;
		}
		label = dot != NULL ? dot + 1 : NULL;
	}
	return true;
}

/* RFC 3986 pchar and the query's '/' '?': unreserved, sub-delims, ':', '@'. */
static bool path_char(unsigned char c)
{
	return is_alnum(c) || (c != '\0' && strchr("-._~!$&'()*+,;=:@/?", c) != NULL);
}

bool pvalid_path(const char *s, char *why, size_t size)
{
	char ch[8];
	if (s[0] != '/') {
		snprintf(why, size, "it must start with '/'");
		return false;
	}
	for (size_t i = 0; s[i] != '\0'; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '%') {
			if (!is_hex((unsigned char)s[i + 1]) || !is_hex((unsigned char)s[i + 2])) {
				snprintf(why, size,
				         "'%%' at byte %zu is not followed by two hex digits "
				         "(write a '%%' as %%25)",
				         i + 1);
				return false;
			}
			i += 2;
			continue;
		}
		if (path_char(c)) {
			continue;
		}
		if (c == '#') {
			snprintf(why, size,
			         "'#' starts a fragment, which is never sent to the server");
			return false;
		}
		char_text(s + i, ch, sizeof(ch));
		snprintf(why, size,
		         "'%s' at byte %zu is not allowed (RFC 3986: percent-encode it, "
		         "e.g. a space as %%20)",
		         ch, i + 1);
		return false;
	}
	return true;
}

bool pvalid_ca(const char *s, char *why, size_t size)
{
	if (s[0] == '\0') {
		return true; /* the system's CA store */
	}
	if (s[0] != '/') {
		snprintf(why, size,
		         "it must be an absolute path (the prober opens it, from its own "
		         "working directory)");
		return false;
	}
	for (size_t i = 0; s[i] != '\0'; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f) {
			snprintf(why, size, "it holds a control character at byte %zu", i + 1);
			return false;
		}
	}
	return true;
}

static bool in_prefix(const uint8_t *a, const uint8_t *p, unsigned bits)
{
	size_t bytes = bits / 8;
	unsigned rest = bits % 8;
	if (memcmp(a, p, bytes) != 0) {
		return false;
	}
	return rest == 0 || ((a[bytes] ^ p[bytes]) & (0xff << (8 - rest))) == 0;
}

const char *pvalid_addr(int family, const uint8_t *a)
{
	static const struct {
		uint8_t family, bits;
		uint8_t prefix[16];
		const char *why;
	} bad[] = {
		{ 4, 8, { 0 }, "unspecified (0.0.0.0/8)" },
		{ 4, 16, { 169, 254 }, "link-local (169.254.0.0/16)" },
		{ 4, 4, { 224 }, "multicast (224.0.0.0/4)" },
		{ 4, 4, { 240 }, "reserved (240.0.0.0/4, with the broadcast address)" },
		{ 6, 128, { 0 }, "unspecified (::)" },
		{ 6,
		  96,
		  { [10] = 0xff, 0xff },
		  "IPv4-mapped (::ffff:0:0/96: write the IPv4 address)" },
		{ 6, 10, { 0xfe, 0x80 }, "link-local (fe80::/10)" },
		{ 6, 8, { 0xff }, "multicast (ff00::/8)" },
	};
	static const uint8_t loop6[16] = { [15] = 1 };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (bad[i].family == (family == AF_INET6 ? 6 : 4) &&
		    in_prefix(a, bad[i].prefix, bad[i].bits)) {
			return bad[i].why;
		}
	}
	/* ::a.b.c.d: deprecated since RFC 4291, unroutable */
	if (family == AF_INET6 && in_prefix(a, (const uint8_t[16]){ 0 }, 96) &&
	    memcmp(a, loop6, 16) != 0) {
		return "IPv4-compatible (::/96, deprecated: write the IPv4 address)";
	}
	return NULL;
}
