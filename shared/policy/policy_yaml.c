/*  SPDX-License-Identifier: GPL-3.0-or-later */
/* Error collection and typed accessors over libyaml document nodes. */

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "errors.h"
#include "policy_ctx.h"

policy_pos_t pctx_pos(const yaml_node_t *node)
{
	policy_pos_t pos = { 0, 0 };
	if (node != NULL) {
		pos.line = (uint32_t)node->start_mark.line + 1;
		pos.col = (uint32_t)node->start_mark.column + 1;
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

static void pctx_verr(pctx_t *c, policy_pos_t pos, const char *fmt, va_list ap)
{
	if (c->n_errs >= PCTX_MAX_ERRORS) {
		c->truncated = true;
		return;
	}
	if (!pctx_reserve(c, (void **)&c->errs, &c->cap_errs, c->n_errs + 1, sizeof(*c->errs))) {
		return;
	}
	policy_error_t *e = &c->errs[c->n_errs++];
	e->pos = pos;
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
}

void pctx_err_at(pctx_t *c, policy_pos_t pos, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	pctx_verr(c, pos, fmt, ap);
	va_end(ap);
}

void pctx_err(pctx_t *c, const yaml_node_t *node, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	pctx_verr(c, pctx_pos(node), fmt, ap);
	va_end(ap);
}

void pctx_warn(pctx_t *c, const yaml_node_t *node, const char *fmt, ...)
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
	int n = snprintf(e->msg, sizeof(e->msg), "warning: ");
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e->msg + n, sizeof(e->msg) - (size_t)n, fmt, ap);
	va_end(ap);
}

void pctx_missing(pctx_t *c, yaml_node_t *map, const char *key, const char *what)
{
	pctx_err(c, map, "missing required key '%s' in %s", key, what);
}

yaml_node_t *pctx_node(pctx_t *c, int id)
{
	return yaml_document_get_node(c->doc, id);
}

static const char *node_kind(const yaml_node_t *node)
{
	switch (node->type) {
	case YAML_SCALAR_NODE:   return pctx_is_null(node) ? "nothing" : "a scalar";
	case YAML_SEQUENCE_NODE: return "a list";
	case YAML_MAPPING_NODE:  return "a map";
	default:                 return "nothing";
	}
}

bool pctx_is_null(const yaml_node_t *node)
{
	if (node == NULL) {
		return true;
	}
	if (node->type != YAML_SCALAR_NODE || node->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) {
		return false;
	}
	/* libyaml does not resolve tags: the YAML 1.1 null forms by hand. */
	const char *s = (const char *)node->data.scalar.value;
	return s[0] == '\0' || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 ||
	       strcmp(s, "Null") == 0 || strcmp(s, "NULL") == 0;
}

const char *pctx_scalar(pctx_t *c, yaml_node_t *node, const char *what)
{
	if (node->type != YAML_SCALAR_NODE || pctx_is_null(node)) {
		pctx_err(c, node, "expected a scalar for %s, got %s", what, node_kind(node));
		return NULL;
	}
	const char *s = (const char *)node->data.scalar.value;
	/* "\0" in a quoted scalar would silently cut the text every C reader sees */
	if (strlen(s) != node->data.scalar.length) {
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

bool pctx_map(pctx_t *c, yaml_node_t *node, const char *what, const char *const keys[],
              yaml_node_t *vals[], yaml_node_t *knodes[])
{
	size_t n_keys = 0;
	while (keys[n_keys] != NULL) {
		vals[n_keys] = NULL;
		if (knodes != NULL) {
			knodes[n_keys] = NULL;
		}
		n_keys++;
	}
	if (node->type != YAML_MAPPING_NODE) {
		pctx_err(c, node, "expected a map for %s, got %s", what, node_kind(node));
		return false;
	}
	for (yaml_node_pair_t *p = node->data.mapping.pairs.start;
	     p < node->data.mapping.pairs.top; p++) {
		yaml_node_t *k = pctx_node(c, p->key), *v = pctx_node(c, p->value);
		if (k->type != YAML_SCALAR_NODE) {
			pctx_err(c, k, "expected a scalar key in %s, got %s", what, node_kind(k));
			continue;
		}
		const char *key = (const char *)k->data.scalar.value;
		size_t i = 0;
		while (i < n_keys && strcmp(keys[i], key) != 0) {
			i++;
		}
		/* Duplicates are checked over all keys, known or not. */
		yaml_node_pair_t *q = node->data.mapping.pairs.start;
		for (; q < p; q++) {
			yaml_node_t *kq = pctx_node(c, q->key);
			if (kq->type == YAML_SCALAR_NODE &&
			    strcmp((const char *)kq->data.scalar.value, key) == 0) {
				break;
			}
		}
		if (q < p) {
			pctx_err(c, k, "duplicate key '%s' in %s (first at line %u)", key, what,
			         pctx_pos(pctx_node(c, q->key)).line);
			continue;
		}
		if (i == n_keys) {
			const char *s = policy_suggest(key, keys);
			if (s != NULL) {
				pctx_err(c, k, "unknown key '%s' in %s (did you mean '%s'?)", key, what, s);
			} else {
				pctx_err(c, k, "unknown key '%s' in %s", key, what);
			}
			continue;
		}
		vals[i] = v;
		if (knodes != NULL) {
			knodes[i] = k;
		}
	}
	return true;
}

bool pctx_list(pctx_t *c, yaml_node_t *node, const char *what, bool allow_scalar, plist_t *out)
{
	memset(out, 0, sizeof(*out));
	out->doc = c->doc;
	if (node->type == YAML_SEQUENCE_NODE) {
		out->start = node->data.sequence.items.start;
		out->end = node->data.sequence.items.top;
		return true;
	}
	if (allow_scalar && node->type == YAML_SCALAR_NODE && !pctx_is_null(node)) {
		out->single = node;
		return true;
	}
	pctx_err(c, node, "expected a list for %s, got %s", what, node_kind(node));
	return false;
}

size_t plist_len(const plist_t *l)
{
	return l->single != NULL ? 1 : (size_t)(l->end - l->start);
}

yaml_node_t *plist_get(const plist_t *l, size_t i)
{
	return l->single != NULL ? l->single : yaml_document_get_node(l->doc, l->start[i]);
}

bool pctx_int(pctx_t *c, yaml_node_t *node, const char *what, long long min, long long max,
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

bool pctx_bool(pctx_t *c, yaml_node_t *node, const char *what, bool *out)
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

bool pctx_double(pctx_t *c, yaml_node_t *node, const char *what, double min, double max,
                 double *out)
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

bool pctx_str(pctx_t *c, yaml_node_t *node, const char *what, char *buf, size_t size)
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

bool pctx_duration(pctx_t *c, yaml_node_t *node, const char *what, uint32_t *ms)
{
	const char *s = pctx_scalar(c, node, what);
	if (s == NULL) {
		return false;
	}
	if (policy_parse_duration_ms(s, ms) != HG_EOK) {
		pctx_err(c, node, "bad duration '%s' for %s (use e.g. 500ms, 5s, 2m, 1h, "
		         "or a number of seconds)", s, what);
		return false;
	}
	return true;
}

bool pctx_id(pctx_t *c, yaml_node_t *node, const char *what, char id[HG_ID_SIZE])
{
	const char *s = pctx_scalar(c, node, what);
	if (s == NULL) {
		return false;
	}
	if (!policy_id_valid(s)) {
		pctx_err(c, node, "invalid %s '%.64s' (1-%d characters of A-Z a-z 0-9 . _ -)",
		         what, s, HG_ID_MAX);
		return false;
	}
	memcpy(id, s, strlen(s) + 1);
	return true;
}
