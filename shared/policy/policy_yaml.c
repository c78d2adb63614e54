/*  SPDX-License-Identifier: GPL-3.0-or-later */
/* Error collection and typed accessors over the policy's YAML tree. */

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "errors.h"
#include "policy_ctx.h"

policy_pos_t pctx_pos(const pnode_t *node)
{
	policy_pos_t pos = { 0, 0 };
	if (node != NULL) {
		pos.line = node->line;
		pos.col = node->col;
	}
	return pos;
}

bool pctx_reserve(pctx_t *c, void **arr, size_t *cap, size_t n, size_t elsize)
{
	if (n <= *cap) {
		return true;
	}
	size_t ncap = *cap ? *cap * 2 : 8;
	while (ncap < n) {
		ncap *= 2;
	}
	void *p = realloc(*arr, ncap * elsize);
	if (p == NULL) {
		c->nomem = true;
		return false;
	}
	memset((char *)p + *cap * elsize, 0, (ncap - *cap) * elsize);
	*arr = p;
	*cap = ncap;
	return true;
}

/* Length of the UTF-8 sequence at \a s (at most \a n bytes) and its code
 * point; 0 when it is not valid UTF-8. */
static size_t utf8_decode(const uint8_t *s, size_t n, uint32_t *cp)
{
	size_t len = s[0] < 0x80             ? 1
	             : (s[0] & 0xe0) == 0xc0 ? 2
	             : (s[0] & 0xf0) == 0xe0 ? 3
	             : (s[0] & 0xf8) == 0xf0 ? 4
	                                     : 0;
	if (len == 0 || len > n) {
		return 0;
	}
	uint32_t v = len == 1 ? s[0] : s[0] & (0x7fu >> len);
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80) {
			return 0;
		}
		v = v << 6 | (s[i] & 0x3fu);
	}
	static const uint32_t min[] = { 0, 0, 0x80, 0x800, 0x10000 };
	if (v < min[len] || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)) {
		return 0;
	}
	*cp = v;
	return len;
}

/* Characters that must not reach a terminal or a log raw: C0 and C1
 * controls, DEL, the Unicode line separators and the bidirectional
 * overrides (which can make a message read differently from its bytes). */
static bool unsafe_char(uint32_t cp)
{
	return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || cp == 0x2028 || cp == 0x2029 ||
	       cp == 0x200e || cp == 0x200f || (cp >= 0x202a && cp <= 0x202e) ||
	       (cp >= 0x2066 && cp <= 0x2069);
}

void pctx_escape(char *dst, size_t size, const char *src)
{
	const uint8_t *s = (const uint8_t *)src;
	size_t n = strlen(src), w = 0;
	for (size_t i = 0; i < n;) {
		uint32_t cp = 0;
		size_t len = utf8_decode(s + i, n - i, &cp);
		char esc[12];
		const char *out = esc;
		size_t olen;
		if (len == 0) {
			olen = (size_t)snprintf(esc, sizeof(esc), "\\x%02x", s[i]); /* not UTF-8 */
			len = 1;
		} else if (unsafe_char(cp)) {
			olen = cp < 0x80 ? (size_t)snprintf(esc, sizeof(esc), "\\x%02x", cp)
			                 : (size_t)snprintf(esc, sizeof(esc), "\\u%04x", cp);
		} else {
			out = src + i;
			olen = len;
		}
		if (w + olen >= size) {
			break; /* never a cut sequence or escape */
		}
		memcpy(dst + w, out, olen);
		w += olen;
		i += len;
	}
	dst[w] = '\0';
}

void pctx_verr_at(pctx_t *c, policy_pos_t pos, const char *fmt, va_list ap)
{
	if (c->n_errs >= PCTX_MAX_ERRORS) {
		c->truncated = true;
		return;
	}
	if (!pctx_reserve(c, (void **)&c->errs, &c->cap_errs, c->n_errs + 1, sizeof(*c->errs))) {
		return;
	}
	char raw[2 * sizeof(c->errs->msg)];
	vsnprintf(raw, sizeof(raw), fmt, ap);
	policy_error_t *e = &c->errs[c->n_errs++];
	e->pos = pos;
	pctx_escape(e->msg, sizeof(e->msg), raw);
}

void pctx_err_at(pctx_t *c, policy_pos_t pos, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	pctx_verr_at(c, pos, fmt, ap);
	va_end(ap);
}

void pctx_err(pctx_t *c, const pnode_t *node, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	pctx_verr_at(c, pctx_pos(node), fmt, ap);
	va_end(ap);
}

void pctx_warn(pctx_t *c, const pnode_t *node, const char *fmt, ...)
{
	policy_errors_t *w = &c->pol->warnings;
	if (w->n_errors >= PCTX_MAX_ERRORS) {
		return;
	}
	if (!pctx_reserve(c, (void **)&w->errors, &c->cap_warns, w->n_errors + 1,
	                  sizeof(*w->errors))) {
		return;
	}
	policy_error_t *e = &w->errors[w->n_errors++];
	e->pos = pctx_pos(node);
	char raw[2 * sizeof(e->msg)];
	int n = snprintf(raw, sizeof(raw), "warning: ");
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(raw + n, sizeof(raw) - (size_t)n, fmt, ap);
	va_end(ap);
	pctx_escape(e->msg, sizeof(e->msg), raw);
}

void pctx_missing(pctx_t *c, pnode_t *map, const char *key, const char *what)
{
	pctx_err(c, map, "missing required key '%s' in %s", key, what);
}

static const char *node_kind(const pctx_t *c, const pnode_t *node)
{
	switch (node->type) {
	case PNODE_SCALAR: return pctx_is_null(node) ? "nothing" : "a scalar";
	case PNODE_SEQ: return "a list";
	case PNODE_MAP: return "a map";
	default: return "nothing";
	}
}

bool pctx_is_null(const pnode_t *node)
{
	return node == NULL || (node->type == PNODE_SCALAR && node->null);
}

const char *pctx_scalar(pctx_t *c, pnode_t *node, const char *what)
{
	if (node->type != PNODE_SCALAR || pctx_is_null(node)) {
		pctx_err(c, node, "expected a scalar for %s, got %s", what, node_kind(c, node));
		return NULL;
	}
	const char *s = pnode_text(c, node);
	/* "\0" in a quoted scalar would silently cut the text every C reader sees */
	if (strlen(s) != node->len) {
		pctx_err(c, node, "%s contains a NUL byte", what);
		return NULL;
	}
	return s;
}

/* Levenshtein distance, capped: keys are short, so the O(n*m) table is tiny. */
static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la > 63 || lb > 63) {
		return SIZE_MAX;
	}
	size_t prev[64], cur[64];
	for (size_t j = 0; j <= lb; j++) {
		prev[j] = j;
	}
	for (size_t i = 1; i <= la; i++) {
		cur[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
			size_t del = prev[j] + 1, ins = cur[j - 1] + 1;
			cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
		}
		memcpy(prev, cur, (lb + 1) * sizeof(prev[0]));
	}
	return prev[lb];
}

const char *policy_suggest(const char *word, const char *const cands[])
{
	const char *best = NULL;
	size_t best_d = 3;
	for (size_t i = 0; cands[i] != NULL; i++) {
		size_t d = edit_distance(word, cands[i]);
		if (d < best_d) {
			best_d = d;
			best = cands[i];
		}
	}
	return best;
}

/* Report \a k (the \a i-th key of \a map) if an earlier key has its text.
 * Only unknown keys come here, and each one is an error: past
 * PCTX_MAX_ERRORS the compiler stops, so this scan stays short. */
static bool unknown_dup(pctx_t *c, const pnode_t *map, size_t i, const pnode_t *k, const char *what)
{
	const char *key = pnode_text(c, k);
	for (size_t j = 0; j < i; j++) {
		const pnode_t *kj = pnode_key(c, map, j);
		if (kj->type == PNODE_SCALAR && strcmp(pnode_text(c, kj), key) == 0) {
			pctx_err(c, k, "duplicate key '%s' in %s (first at line %u)", key, what,
			         kj->line);
			return true;
		}
	}
	return false;
}

bool pctx_map(pctx_t *c, pnode_t *node, const char *what, const char *const keys[], pnode_t *vals[],
              pnode_t *knodes[])
{
	pnode_t *first[PCTX_MAP_KEYS_MAX];
	size_t n_keys = 0;
	while (keys[n_keys] != NULL) {
		assert(n_keys < PCTX_MAP_KEYS_MAX);
		vals[n_keys] = NULL;
		first[n_keys] = NULL;
		if (knodes != NULL) {
			knodes[n_keys] = NULL;
		}
		n_keys++;
	}
	if (node->type != PNODE_MAP) {
		pctx_err(c, node, "expected a map for %s, got %s", what, node_kind(c, node));
		return false;
	}
	/* Linear: a key is one of at most PCTX_MAP_KEYS_MAX known ones, whose
	 * first occurrence is remembered; anything else is an error. */
	for (size_t p = 0; p < pnode_len(node) && !pctx_stopped(c); p++) {
		pnode_t *k = pnode_key(c, node, p), *v = pnode_value(c, node, p);
		if (k->type != PNODE_SCALAR) {
			pctx_err(c, k, "expected a scalar key in %s, got %s", what,
			         node_kind(c, k));
			continue;
		}
		const char *key = pnode_text(c, k);
		size_t i = 0;
		while (i < n_keys && strcmp(keys[i], key) != 0) {
			i++;
		}
		if (i < n_keys && first[i] != NULL) {
			pctx_err(c, k, "duplicate key '%s' in %s (first at line %u)", key, what,
			         first[i]->line);
			continue;
		}
		if (i == n_keys) {
			if (unknown_dup(c, node, p, k, what)) {
				continue;
			}
			const char *s = policy_suggest(key, keys);
			if (s != NULL) {
				pctx_err(c, k, "unknown key '%s' in %s (did you mean '%s'?)", key,
				         what, s);
			} else {
				pctx_err(c, k, "unknown key '%s' in %s", key, what);
			}
			continue;
		}
		first[i] = k;
		vals[i] = v;
		if (knodes != NULL) {
			knodes[i] = k;
		}
	}
	return true;
}

bool pctx_list(pctx_t *c, pnode_t *node, const char *what, bool allow_scalar, plist_t *out)
{
	memset(out, 0, sizeof(*out));
	out->c = c;
	if (node->type == PNODE_SEQ) {
		out->seq = node;
		return true;
	}
	if (allow_scalar && node->type == PNODE_SCALAR && !pctx_is_null(node)) {
		out->single = node;
		return true;
	}
	pctx_err(c, node, "expected a list for %s, got %s", what, node_kind(c, node));
	return false;
}

size_t plist_len(const plist_t *l)
{
	return l->single != NULL ? 1 : l->seq != NULL ? pnode_len(l->seq) : 0;
}

pnode_t *plist_get(const plist_t *l, size_t i)
{
	return l->single != NULL ? l->single : pnode_item(l->c, l->seq, i);
}

bool pctx_int(pctx_t *c, pnode_t *node, const char *what, long long min, long long max,
              long long *out)
{
	const char *s = pctx_scalar(c, node, what);
	if (s == NULL) {
		return false;
	}
	char *end = NULL;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	/* Only plain decimal: no leading blanks, '+', hex or trailing junk. */
	bool digits = (s[0] >= '0' && s[0] <= '9') || (s[0] == '-' && s[1] >= '0' && s[1] <= '9');
	if (!digits || *end != '\0' || errno == ERANGE) {
		pctx_err(c, node, "expected an integer for %s, got '%s'", what, s);
		return false;
	}
	if (v < min || v > max) {
		pctx_err(c, node, "%s must be between %lld and %lld (got %lld)", what, min, max, v);
		return false;
	}
	*out = v;
	return true;
}

bool pctx_bool(pctx_t *c, pnode_t *node, const char *what, bool *out)
{
	const char *s = pctx_scalar(c, node, what);
	if (s == NULL) {
		return false;
	}
	static const char *const yes[] = { "true", "yes", "on", NULL };
	static const char *const no[] = { "false", "no", "off", NULL };
	for (size_t i = 0; yes[i] != NULL; i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = true;
			return true;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = false;
			return true;
		}
	}
	pctx_err(c, node, "expected a boolean (true/false) for %s, got '%s'", what, s);
	return false;
}

bool pctx_double(pctx_t *c, pnode_t *node, const char *what, double min, double max, double *out)
{
	const char *s = pctx_scalar(c, node, what);
	if (s == NULL) {
		return false;
	}
	char *end = NULL;
	errno = 0;
	double v = strtod(s, &end);
	/* strtod also takes hex, "inf" and "nan": allow plain decimal only. */
	bool start_ok = ((s[0] >= '0' && s[0] <= '9') || s[0] == '-' || s[0] == '.') &&
	                s[strspn(s, "0123456789.-+eE")] == '\0';
	if (!start_ok || *end != '\0' || errno == ERANGE || !isfinite(v)) {
		pctx_err(c, node, "expected a number for %s, got '%s'", what, s);
		return false;
	}
	if (v < min || v > max) {
		pctx_err(c, node, "%s must be between %g and %g (got %s)", what, min, max, s);
		return false;
	}
	*out = v;
	return true;
}

bool pctx_str(pctx_t *c, pnode_t *node, const char *what, char *buf, size_t size)
{
	const char *s = pctx_scalar(c, node, what);
	if (s == NULL) {
		return false;
	}
	size_t len = strlen(s);
	if (len >= size) {
		pctx_err(c, node, "%s is too long (%zu bytes, max %zu)", what, len, size - 1);
		return false;
	}
	memcpy(buf, s, len + 1);
	return true;
}

bool pctx_duration(pctx_t *c, pnode_t *node, const char *what, uint32_t *ms)
{
	const char *s = pctx_scalar(c, node, what);
	if (s == NULL) {
		return false;
	}
	if (policy_parse_duration_ms(s, ms) != HG_EOK) {
		pctx_err(c, node,
		         "bad duration '%s' for %s (use e.g. 500ms, 5s, 2m, 1h, "
		         "or a number of seconds)",
		         s, what);
		return false;
	}
	return true;
}

bool pctx_id(pctx_t *c, pnode_t *node, const char *what, char id[HG_ID_SIZE])
{
	const char *s = pctx_scalar(c, node, what);
	if (s == NULL) {
		return false;
	}
	if (!policy_id_valid(s)) {
		pctx_err(c, node, "invalid %s '%.64s' (1-%d characters of A-Z a-z 0-9 . _ -)", what,
		         s, HG_ID_MAX);
		return false;
	}
	memcpy(id, s, strlen(s) + 1);
	return true;
}
