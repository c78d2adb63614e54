/*  SPDX-License-Identifier: GPL-3.0-or-later */
/* Small parsers, lookups, error printing and freeing of the policy model. */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "policy_ctx.h"

static bool is_digit(char ch)
{
	return ch >= '0' && ch <= '9';
}

int policy_parse_duration_ms(const char *text, uint32_t *ms)
{
	if (text == NULL || ms == NULL || !is_digit(text[0])) {
		return HG_EINVAL;
	}
	uint64_t v = 0;
	const char *p = text;
	for (; is_digit(*p); p++) {
		v = v * 10 + (uint64_t)(*p - '0');
		if (v > UINT32_MAX) {
			return HG_EINVAL;
		}
	}
	uint64_t mul;
	if (*p == '\0' || strcmp(p, "s") == 0) {
		mul = 1000; /* a bare number is seconds, as for TTLs */
	} else if (strcmp(p, "ms") == 0) {
		mul = 1;
	} else if (strcmp(p, "m") == 0) {
		mul = 60 * 1000;
	} else if (strcmp(p, "h") == 0) {
		mul = 3600 * 1000;
	} else {
		return HG_EINVAL;
	}
	if (v * mul > UINT32_MAX) {
		return HG_EINVAL;
	}
	*ms = (uint32_t)(v * mul);
	return HG_EOK;
}

int policy_parse_scaled(const char *text, uint64_t scale, bool pct_ok, uint64_t *out)
{
	if (text == NULL || out == NULL) {
		return HG_EINVAL;
	}
	/* Integer arithmetic, so "0.02" is exactly 200 bp, not 199.999... */
	uint64_t mant = 0, div = 1;
	size_t n_int = 0, n_frac = 0;
	const char *p = text;
	for (; is_digit(*p); p++, n_int++) {
		if (n_int >= 9) {
			return HG_EINVAL;
		}
		mant = mant * 10 + (uint64_t)(*p - '0');
	}
	if (*p == '.') {
		for (p++; is_digit(*p); p++, n_frac++) {
			if (n_frac < 9) { /* finer than 1e-9 is noise: drop it */
				mant = mant * 10 + (uint64_t)(*p - '0');
				div *= 10;
			}
		}
	}
	if (n_int + n_frac == 0) {
		return HG_EINVAL;
	}
	if (*p == '%' && pct_ok) {
		div *= 100;
		p++;
	}
	if (*p != '\0') {
		return HG_EINVAL;
	}
	unsigned __int128 num = (unsigned __int128)mant * scale;
	*out = (uint64_t)((num + div / 2) / div);
	return HG_EOK;
}

int policy_parse_percent_bp(const char *text, uint32_t *bp)
{
	uint64_t v = 0;
	if (bp == NULL || policy_parse_scaled(text, 10000, true, &v) != HG_EOK || v > 10000) {
		return HG_EINVAL;
	}
	*bp = (uint32_t)v;
	return HG_EOK;
}

static bool dname_char_ok(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || is_digit(ch) || ch == '-' ||
	       ch == '_';
}

int policy_parse_dname(const char *text, uint8_t wire[HG_DNAME_MAX], uint8_t *len)
{
	if (text == NULL || wire == NULL || len == NULL || text[0] == '\0') {
		return HG_EINVAL;
	}
	size_t tlen = strlen(text);
	if (text[tlen - 1] != '.') {
		return HG_EINVAL; /* relative names are ambiguous in a policy */
	}
	if (tlen == 1) {
		wire[0] = 0;
		*len = 1;
		return HG_EOK;
	}
	size_t w = 0;
	const char *p = text;
	while (*p != '\0') {
		const char *dot = strchr(p, '.');
		size_t llen = (size_t)(dot - p);
		if (llen == 0 || llen > 63 || w + 1 + llen + 1 > HG_DNAME_MAX) {
			return HG_EINVAL;
		}
		wire[w++] = (uint8_t)llen;
		for (size_t i = 0; i < llen; i++) {
			char ch = p[i];
			if (!dname_char_ok(ch)) {
				return HG_EINVAL;
			}
			wire[w++] = (uint8_t)(ch >= 'A' && ch <= 'Z' ? ch - 'A' + 'a' : ch);
		}
		p = dot + 1;
	}
	wire[w++] = 0;
	*len = (uint8_t)w;
	return HG_EOK;
}

bool policy_id_valid(const char *id)
{
	size_t n = strlen(id);
	if (n == 0 || n > HG_ID_MAX) {
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		char ch = id[i];
		if (!(dname_char_ok(ch) || ch == '.')) {
			return false;
		}
	}
	return true;
}

void policy_errors_print(const policy_errors_t *errors, const char *path, void *stdio_file)
{
	FILE *f = stdio_file != NULL ? stdio_file : stderr;
	if (errors == NULL) {
		return;
	}
	for (size_t i = 0; i < errors->n_errors; i++) {
		const policy_error_t *e = &errors->errors[i];
		if (e->pos.line == 0) {
			/* file-level problem (unreadable): no position to show */
			fprintf(f, "%s: %s\n", path ? path : "-", e->msg);
		} else {
			fprintf(f, "%s:%u:%u: %s\n", path ? path : "-", e->pos.line, e->pos.col,
			        e->msg);
		}
	}
}

void policy_errors_free(policy_errors_t *errors)
{
	if (errors == NULL) {
		return;
	}
	free(errors->errors);
	errors->errors = NULL;
	errors->n_errors = 0;
}

void policy_free(policy_t *policy)
{
	if (policy == NULL) {
		return;
	}
	for (size_t i = 0; i < policy->n_names; i++) {
		pchain_free(&policy->names[i]);
		free(policy->names[i].chain_text);
	}
	pindex_free(policy->index);
	free(policy->names);
	free(policy->endpoints);
	free(policy->pools);
	free(policy->probers);
	free(policy->source);
	policy_errors_free(&policy->warnings);
	free(policy);
}
