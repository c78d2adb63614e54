/*  SPDX-License-Identifier: GPL-3.0-or-later */
/* Health checks: parse one level (defaults / pool / endpoint) and merge the
 * levels field by field into the effective check of an endpoint. */

#include <arpa/inet.h>
#include <string.h>

#include "errors.h"
#include "policy_ctx.h"
#include "schema_names.h"

void pcheck_builtin(hg_rec_check_t *chk)
{
	memset(chk, 0, sizeof(*chk));
	chk->type = HG_CHECK_HTTP;
	chk->port = 80;
	strcpy(chk->path, "/");
	chk->n_expect = 1;
	chk->expect[0] = 200;
	chk->interval_ms = 5000;
	chk->timeout_ms = 2000;
	chk->rise = 2;
	chk->fall = 3;
	chk->tls_verify = 1;
	chk->down_loss_bp = 5000;
}

static const char *const check_keys[] = { "type",   "port",          "path",      "host",
	                                  "expect", "body",          "interval",  "timeout",
	                                  "rise",   "fall",          "http2",     "tls-verify",
	                                  "ca",     "probe-address", "down-loss", NULL };
enum {
	K_TYPE,
	K_PORT,
	K_PATH,
	K_HOST,
	K_EXPECT,
	K_BODY,
	K_INTERVAL,
	K_TIMEOUT,
	K_RISE,
	K_FALL,
	K_HTTP2,
	K_TLS_VERIFY,
	K_CA,
	K_PROBE_ADDRESS,
	K_DOWN_LOSS,
	K_COUNT
};

/* `down-loss: 50%` (or 0.5): the failed share of a full window that marks
 * the endpoint down; 0 turns the threshold off (rise/fall only). */
static void parse_down_loss(pctx_t *c, pnode_t *n, pcheck_t *out)
{
	const char *s = pctx_scalar(c, n, "'down-loss' in check");
	uint32_t bp;
	if (s == NULL) {
		return;
	}
	if (policy_parse_percent_bp(s, &bp) != HG_EOK) {
		pctx_err(c, n,
		         "bad percentage '%s' for 'down-loss' in check (use e.g. 50%% or 0.5; "
		         "0 turns it off)",
		         s);
		return;
	}
	out->v.down_loss_bp = (uint16_t)bp;
	out->set |= PCHECK_DOWN_LOSS;
}

static void parse_type(pctx_t *c, pnode_t *n, pcheck_t *out)
{
	const char *s = pctx_scalar(c, n, "'type' in check");
	unsigned type;
	if (s == NULL) {
		return;
	}
	if (schema_value(&schema_check_types, s, &type) == HG_EOK) {
		out->v.type = (uint8_t)type;
		out->set |= PCHECK_TYPE;
		return;
	}
	char expected[64];
	schema_names_join(&schema_check_types, expected, sizeof(expected));
	pctx_err(c, n, "unknown check type '%s' (expected %s)", s, expected);
}

static void parse_expect(pctx_t *c, pnode_t *n, pcheck_t *out)
{
	plist_t l;
	if (!pctx_list(c, n, "'expect' in check", true, &l)) {
		return;
	}
	size_t len = plist_len(&l);
	if (len == 0 || len > HG_EXPECT_MAX) {
		pctx_err(c, n, "'expect' needs 1 to %d status codes (got %zu)", HG_EXPECT_MAX, len);
		return;
	}
	bool ok = true;
	for (size_t i = 0; i < len; i++) {
		long long v;
		if (pctx_int(c, plist_get(&l, i), "HTTP status in 'expect'", 100, 599, &v)) {
			out->v.expect[i] = (uint16_t)v;
		} else {
			ok = false;
		}
	}
	if (ok) {
		out->v.n_expect = (uint8_t)len;
		out->set |= PCHECK_EXPECT;
	}
}

static void parse_probe_address(pctx_t *c, pnode_t *n, pcheck_t *out)
{
	const char *s = pctx_scalar(c, n, "'probe-address' in check");
	uint8_t buf[16];
	if (s == NULL) {
		return;
	}
	int af = strchr(s, ':') != NULL ? AF_INET6 : AF_INET;
	if (inet_pton(af, s, buf) != 1) {
		pctx_err(c, n, "bad address '%s' for 'probe-address' (expected IPv4 or IPv6)", s);
		return;
	}
	const char *why = pvalid_addr(af, buf);
	if (why != NULL) {
		pctx_err(c, n, "'probe-address' '%s' in check is not a unicast address: %s", s,
		         why);
		return;
	}
	/* store the canonical text so every reader sees one spelling */
	inet_ntop(af, buf, out->v.probe_address, sizeof(out->v.probe_address));
	out->set |= PCHECK_PROBE_ADDRESS;
}

/* hg_rec_check_t is packed: its members cannot be passed by address, so the
 * helpers hand values back and the caller assigns. */
static bool parse_u16(pctx_t *c, pnode_t *n, const char *what, long long min, uint16_t *out)
{
	long long v;
	if (!pctx_int(c, n, what, min, 65535, &v)) {
		return false;
	}
	*out = (uint16_t)v;
	return true;
}

static bool parse_flag(pctx_t *c, pnode_t *n, const char *what, uint8_t *out)
{
	bool b;
	if (!pctx_bool(c, n, what, &b)) {
		return false;
	}
	*out = b ? 1 : 0;
	return true;
}

/* A text field; \a valid (may be NULL) says whether its value is allowed. */
static void parse_text(pctx_t *c, pnode_t *n, const char *what, char *dst,
                       bool (*valid)(const char *, char *, size_t), uint32_t bit, uint32_t *set)
{
	char why[160];
	if (!pctx_str(c, n, what, dst, HG_PATH_SIZE)) {
		return;
	}
	if (valid != NULL && !valid(dst, why, sizeof(why))) {
		pctx_err(c, n, "bad %s '%s': %s", what, dst, why);
		return;
	}
	*set |= bit;
}

static bool parse_ms(pctx_t *c, pnode_t *n, const char *what, uint32_t *out)
{
	uint32_t ms;
	if (!pctx_duration(c, n, what, &ms)) {
		return false;
	}
	if (ms == 0) {
		pctx_err(c, n, "%s must be longer than 0", what);
		return false;
	}
	*out = ms;
	return true;
}

void pcheck_parse(pctx_t *c, pnode_t *node, pcheck_t *out)
{
	pnode_t *v[K_COUNT];
	memset(out, 0, sizeof(*out));
	if (!pctx_map(c, node, "check", check_keys, v, NULL)) {
		return;
	}
	uint32_t *set = &out->set;
	uint16_t u16;
	uint32_t u32;
	uint8_t u8;
	if (v[K_TYPE])
		parse_type(c, v[K_TYPE], out);
	if (v[K_PORT] && parse_u16(c, v[K_PORT], "'port' in check", 1, &u16)) {
		out->v.port = u16;
		*set |= PCHECK_PORT;
	}
	if (v[K_PATH]) {
		parse_text(c, v[K_PATH], "'path' in check", out->v.path, pvalid_path, PCHECK_PATH,
		           set);
	}
	if (v[K_HOST]) {
		parse_text(c, v[K_HOST], "'host' in check", out->v.host, pvalid_host, PCHECK_HOST,
		           set);
	}
	if (v[K_EXPECT])
		parse_expect(c, v[K_EXPECT], out);
	/* body is only searched for, byte for byte: any text but NUL */
	if (v[K_BODY])
		parse_text(c, v[K_BODY], "'body' in check", out->v.body, NULL, PCHECK_BODY, set);
	if (v[K_INTERVAL] && parse_ms(c, v[K_INTERVAL], "'interval' in check", &u32)) {
		out->v.interval_ms = u32;
		*set |= PCHECK_INTERVAL;
	}
	if (v[K_TIMEOUT] && parse_ms(c, v[K_TIMEOUT], "'timeout' in check", &u32)) {
		out->v.timeout_ms = u32;
		*set |= PCHECK_TIMEOUT;
	}
	if (v[K_RISE] && parse_u16(c, v[K_RISE], "'rise' in check", 1, &u16)) {
		out->v.rise = u16;
		*set |= PCHECK_RISE;
	}
	if (v[K_FALL] && parse_u16(c, v[K_FALL], "'fall' in check", 1, &u16)) {
		out->v.fall = u16;
		*set |= PCHECK_FALL;
	}
	if (v[K_HTTP2] && parse_flag(c, v[K_HTTP2], "'http2' in check", &u8)) {
		out->v.http2 = u8;
		*set |= PCHECK_HTTP2;
	}
	if (v[K_TLS_VERIFY] && parse_flag(c, v[K_TLS_VERIFY], "'tls-verify' in check", &u8)) {
		out->v.tls_verify = u8;
		*set |= PCHECK_TLS_VERIFY;
	}
	if (v[K_CA])
		parse_text(c, v[K_CA], "'ca' in check", out->v.ca, pvalid_ca, PCHECK_CA, set);
	if (v[K_PROBE_ADDRESS])
		parse_probe_address(c, v[K_PROBE_ADDRESS], out);
	if (v[K_DOWN_LOSS])
		parse_down_loss(c, v[K_DOWN_LOSS], out);
}

static void apply(hg_rec_check_t *d, const pcheck_t *p)
{
	if (p == NULL) {
		return;
	}
	const hg_rec_check_t *s = &p->v;
	if (p->set & PCHECK_TYPE)
		d->type = s->type;
	if (p->set & PCHECK_PORT)
		d->port = s->port;
	if (p->set & PCHECK_PATH)
		memcpy(d->path, s->path, sizeof(d->path));
	if (p->set & PCHECK_HOST)
		memcpy(d->host, s->host, sizeof(d->host));
	if (p->set & PCHECK_EXPECT) {
		d->n_expect = s->n_expect;
		memcpy(d->expect, s->expect, sizeof(d->expect));
	}
	if (p->set & PCHECK_BODY)
		memcpy(d->body, s->body, sizeof(d->body));
	if (p->set & PCHECK_INTERVAL)
		d->interval_ms = s->interval_ms;
	if (p->set & PCHECK_TIMEOUT)
		d->timeout_ms = s->timeout_ms;
	if (p->set & PCHECK_RISE)
		d->rise = s->rise;
	if (p->set & PCHECK_FALL)
		d->fall = s->fall;
	if (p->set & PCHECK_HTTP2)
		d->http2 = s->http2;
	if (p->set & PCHECK_TLS_VERIFY)
		d->tls_verify = s->tls_verify;
	if (p->set & PCHECK_CA)
		memcpy(d->ca, s->ca, sizeof(d->ca));
	if (p->set & PCHECK_PROBE_ADDRESS) {
		memcpy(d->probe_address, s->probe_address, sizeof(d->probe_address));
	}
	if (p->set & PCHECK_DOWN_LOSS)
		d->down_loss_bp = s->down_loss_bp;
}

void pcheck_merge(hg_rec_check_t *chk, const pcheck_t *base, const pcheck_t *pool,
                  const pcheck_t *ep)
{
	pcheck_builtin(chk);
	apply(chk, base);
	apply(chk, pool);
	apply(chk, ep);
	/* Port choice: an explicit port at any level is inherited as is, even when
	 * a lower level changes the type (so `port: 8443` in defaults stays 8443 for
	 * `{type: https}`). Only when no level named a port is the built-in port
	 * derived from the effective type: 443 for https, 80 otherwise. */
	uint32_t any = (base ? base->set : 0) | (pool ? pool->set : 0) | (ep ? ep->set : 0);
	if (!(any & PCHECK_PORT) && chk->type == HG_CHECK_HTTPS) {
		chk->port = 443;
	}
}
