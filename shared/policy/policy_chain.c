/*  SPDX-License-Identifier: GPL-3.0-or-later */
/* The filter chain of a name: each item is a filter name or a one-key map
 * "filter: argument". Geofence rules live in policy_geofence.c. */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "policy_ctx.h"
#include "schema_names.h"

#define LATENCY_TOLERANCE_DEFAULT_MS 20

static const char *filter_name(uint8_t type)
{
	const char *s = schema_name(&schema_filters, type);
	return s != NULL ? s : "?";
}

static void no_argument(pctx_t *c, pnode_t *arg, uint8_t type)
{
	if (!pctx_is_null(arg)) {
		pctx_err(c, arg, "filter '%s' takes no argument", filter_name(type));
	}
}

static bool need_argument(pctx_t *c, pnode_t *item, pnode_t *arg, uint8_t type, const char *example)
{
	if (pctx_is_null(arg)) {
		pctx_err(c, item, "filter '%s' needs an argument (e.g. '%s')", filter_name(type),
		         example);
		return false;
	}
	return true;
}

static void parse_latency(pctx_t *c, pnode_t *arg, policy_filter_t *f)
{
	static const char *const keys[] = { "tolerance", NULL };
	pnode_t *v[1] = { NULL };
	uint32_t ms = LATENCY_TOLERANCE_DEFAULT_MS;
	if (!pctx_is_null(arg)) {
		/* `lowest-latency: 20ms` is accepted as shorthand for the map form */
		pnode_t *tn = arg;
		if (arg->type != PNODE_SCALAR) {
			if (!pctx_map(c, arg, filter_name(HG_F_LOWEST_LATENCY), keys, v, NULL)) {
				return;
			}
			tn = v[0];
		}
		if (tn != NULL && !pctx_duration(c, tn, "'tolerance' of lowest-latency", &ms)) {
			return;
		}
		if (tn != NULL && ms > UINT32_MAX / 1000) {
			pctx_err(c, tn, "'tolerance' of lowest-latency is too long (max %us)",
			         UINT32_MAX / 1000 / 1000);
			return;
		}
	}
	f->arg = ms * 1000; /* stored in microseconds, like measured RTTs */
}

static void parse_weighted(pctx_t *c, pnode_t *arg, policy_filter_t *f)
{
	static const char *const keys[] = { "sticky", NULL };
	pnode_t *v[1];
	if (pctx_is_null(arg) || !pctx_map(c, arg, filter_name(HG_F_WEIGHTED), keys, v, NULL)) {
		return;
	}
	if (v[0] != NULL) {
		pctx_bool(c, v[0], "'sticky' of weighted", &f->sticky);
	}
}

static void parse_argument(pctx_t *c, pnode_t *item, pnode_t *arg, policy_name_t *name,
                           policy_filter_t *f)
{
	long long n;
	const char *s;
	switch (f->type) {
	case HG_F_FIRST:
		if (need_argument(c, item, arg, f->type, "first: 2") &&
		    pctx_int(c, arg, "the count of 'first'", 1, HG_ANSWER_MAX, &n)) {
			f->arg = (uint32_t)n;
		}
		break;
	case HG_F_MAX_LOSS:
		if (!need_argument(c, item, arg, f->type, "max-loss: 2%") ||
		    (s = pctx_scalar(c, arg, "the loss of 'max-loss'")) == NULL) {
			break;
		}
		if (policy_parse_percent_bp(s, &f->arg) != HG_EOK) {
			pctx_err(c, arg, "bad percentage '%s' for max-loss (use e.g. 2%% or 0.02)",
			         s);
		}
		break;
	case HG_F_LOWEST_LATENCY: parse_latency(c, arg, f); break;
	case HG_F_WEIGHTED: parse_weighted(c, arg, f); break;
	case HG_F_GEOFENCE:
		if (need_argument(c, item, arg, f->type, "geofence: [{match: ..., pools: ...}]")) {
			pparse_geofence(c, arg, name, f);
		}
		break;
	default: no_argument(c, arg, f->type); break;
	}
}

static void parse_item(pctx_t *c, pnode_t *item, policy_name_t *name)
{
	pnode_t *key = item, *arg = NULL;
	if (item->type == PNODE_MAP) {
		size_t n = pnode_len(item);
		if (n != 1) {
			pctx_err(c, item,
			         "a chain filter is a name or a map with one key "
			         "(got %zu keys)",
			         n);
			return;
		}
		key = pnode_key(c, item, 0);
		arg = pnode_value(c, item, 0);
	}
	const char *s = pctx_scalar(c, key, "a chain filter");
	if (s == NULL) {
		return;
	}
	unsigned type = 0;
	if (schema_value(&schema_filters, s, &type) != HG_EOK) {
		const char *hint = policy_suggest(s, schema_filters.names);
		pctx_err(c, key, "unknown chain filter '%s'%s%s%s", s,
		         hint ? " (did you mean '" : "", hint ? hint : "", hint ? "'?)" : "");
		return;
	}
	if (name->n_filters >= HG_CHAIN_MAX) {
		pctx_err(c, key, "chain of '%s' has too many filters (max %d)", name->text,
		         HG_CHAIN_MAX);
		return;
	}
	policy_filter_t *f = &name->chain[name->n_filters++];
	memset(f, 0, sizeof(*f));
	f->type = (uint8_t)type;
	f->pos = pctx_pos(key);
	parse_argument(c, item, arg, name, f);
}

void pparse_chain(pctx_t *c, pnode_t *node, policy_name_t *name)
{
	plist_t l;
	if (!pctx_list(c, node, "'chain'", false, &l)) {
		return;
	}
	/* room for every filter parse_item() may add */
	size_t room = plist_len(&l) < HG_CHAIN_MAX ? plist_len(&l) : HG_CHAIN_MAX;
	name->chain = room > 0 ? calloc(room, sizeof(*name->chain)) : NULL;
	if (room > 0 && name->chain == NULL) {
		c->nomem = true;
		return;
	}
	for (size_t i = 0; i < plist_len(&l) && !pctx_stopped(c); i++) {
		parse_item(c, plist_get(&l, i), name);
	}
}

/* Append to buf at *off, never past size (the text is for display only). */
static void text_add(char *buf, size_t size, size_t *off, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
static void text_add(char *buf, size_t size, size_t *off, const char *fmt, ...)
{
	if (*off >= size) {
		return;
	}
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf + *off, size - *off, fmt, ap);
	va_end(ap);
	*off = n < 0 ? size : *off + (size_t)n;
}

void pchain_text(const policy_name_t *name, char *buf, size_t size)
{
	size_t off = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < name->n_filters; i++) {
		const policy_filter_t *f = &name->chain[i];
		text_add(buf, size, &off, "%s%s", i ? ", " : "", filter_name(f->type));
		switch (f->type) {
		case HG_F_GEOFENCE:
			text_add(buf, size, &off, "(%zu rule%s)", f->n_rules,
			         f->n_rules == 1 ? "" : "s");
			break;
		case HG_F_MAX_LOSS:
			if (f->arg % 100 == 0) {
				text_add(buf, size, &off, " %u%%", f->arg / 100);
			} else if (f->arg % 10 == 0) {
				text_add(buf, size, &off, " %u.%u%%", f->arg / 100,
				         f->arg % 100 / 10);
			} else {
				text_add(buf, size, &off, " %u.%02u%%", f->arg / 100, f->arg % 100);
			}
			break;
		case HG_F_LOWEST_LATENCY: text_add(buf, size, &off, " %ums", f->arg / 1000); break;
		case HG_F_WEIGHTED:
			text_add(buf, size, &off, "%s", f->sticky ? " sticky" : "");
			break;
		case HG_F_FIRST: text_add(buf, size, &off, " %u", f->arg); break;
		default: break;
		}
	}
}

void pchain_free(policy_name_t *name)
{
	for (size_t i = 0; i < name->n_filters; i++) {
		policy_filter_t *f = &name->chain[i];
		for (size_t r = 0; r < f->n_rules; r++) {
			free(f->rules[r].matches);
			free(f->rules[r].endpoints);
			free(f->rules[r].pools);
		}
		free(f->rules);
		f->rules = NULL;
		f->n_rules = 0;
	}
	free(name->chain);
	name->chain = NULL;
	name->n_filters = 0;
}
