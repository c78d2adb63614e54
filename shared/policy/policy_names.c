/*  SPDX-License-Identifier: GPL-3.0-or-later */
/* GSLB names: owner, pools, per-name settings, chain and fallback. */

#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "policy_ctx.h"
#include "schema_names.h"

enum { N_NAME, N_POOLS, N_TTL, N_DTTL, N_QUORUM, N_STALE, N_CHAIN, N_FALLBACK, N_COUNT };

static void parse_owner(pctx_t *c, pnode_t *node, policy_name_t *name, size_t index)
{
	const char *s = pctx_scalar(c, node, "'name'");
	if (s == NULL) {
		return;
	}
	size_t n = strlen(s);
	if (n > 0 && s[n - 1] != '.') {
		pctx_err(c, node, "name '%s' is not absolute (add the final dot)", s);
		return;
	}
	if (policy_parse_dname(s, name->owner, &name->owner_len) != HG_EOK) {
		pctx_err(c, node,
		         "bad name '%s' (labels of 1-63 characters of A-Z a-z 0-9 - _, "
		         "255 bytes in all)",
		         s);
		name->owner_len = 0;
		return;
	}
	for (size_t i = 0; i < n && i + 1 < sizeof(name->text); i++) {
		char ch = s[i];
		name->text[i] = (char)(ch >= 'A' && ch <= 'Z' ? ch - 'A' + 'a' : ch);
	}
	c->name_pos[index] = pctx_pos(node); /* duplicates: pindex_name_dups() */
}

/* Resolve the name's pool list; returns the number of endpoints it covers. */
static size_t parse_name_pools(pctx_t *c, pnode_t *node, policy_name_t *name)
{
	const policy_t *pol = c->pol;
	size_t n_ep = 0;
	plist_t l;
	if (!pctx_list(c, node, "'pools' of name", true, &l)) {
		return 0;
	}
	if (plist_len(&l) == 0) {
		pctx_err(c, node, "name '%s' lists no pools", name->text);
	}
	for (size_t i = 0; i < plist_len(&l); i++) {
		pnode_t *pn = plist_get(&l, i);
		const char *id = pctx_scalar(c, pn, "a pool id");
		if (id == NULL) {
			continue;
		}
		long idx = policy_find_pool(pol, id);
		if (idx < 0) {
			pctx_err(c, pn, "unknown pool '%s'", id);
			continue;
		}
		bool dup = false;
		for (size_t j = 0; j < name->n_pools; j++) {
			dup |= name->pools[j] == (size_t)idx;
		}
		if (dup) {
			pctx_err(c, pn, "pool '%s' listed twice", id);
		} else if (name->n_pools >= HG_NAME_POOLS_MAX) {
			pctx_err(c, pn, "name '%s' has too many pools (max %d)", name->text,
			         HG_NAME_POOLS_MAX);
		} else {
			name->pools[name->n_pools++] = (size_t)idx;
			n_ep += pol->pools[idx].n_endpoints;
		}
	}
	return n_ep;
}

static void parse_fallback(pctx_t *c, pnode_t *node, policy_name_t *name)
{
	const policy_t *pol = c->pol;
	const char *s = pctx_scalar(c, node, "'fallback'");
	if (s == NULL) {
		return;
	}
	unsigned kind;
	/* "all" and "none" are their table names; the pool kind is written
	 * "pool:ID", never bare. */
	if (schema_value(&schema_fallbacks, s, &kind) == HG_EOK && kind != HG_FALLBACK_POOL) {
		name->fallback = (uint8_t)kind;
	} else if (strncmp(s, "pool:", 5) == 0) {
		const char *id = s + 5 + strspn(s + 5, " ");
		long idx = policy_find_pool(pol, id);
		bool mine = false;
		for (size_t j = 0; idx >= 0 && j < name->n_pools; j++) {
			mine |= name->pools[j] == (size_t)idx;
		}
		if (idx < 0) {
			pctx_err(c, node, "unknown pool '%s' in fallback", id);
		} else if (!mine) {
			pctx_err(c, node, "fallback pool '%s' is not one of the name's pools", id);
		} else {
			name->fallback = HG_FALLBACK_POOL;
			name->fallback_pool = (size_t)idx;
		}
	} else {
		pctx_err(c, node, "bad fallback '%s' (expected all, none or pool:ID)", s);
	}
}

static void parse_name(pctx_t *c, pnode_t *node, size_t index)
{
	static const char *const keys[] = { "name",         "pools",    "ttl",
		                            "degraded-ttl", "quorum",   "stale-after",
		                            "chain",        "fallback", NULL };
	pnode_t *v[N_COUNT];
	policy_t *pol = c->pol;
	policy_name_t *name = &pol->names[index];

	name->pos = pctx_pos(node);
	name->ttl = pol->ttl;
	name->degraded_ttl = pol->degraded_ttl;
	name->quorum_ppm = pol->quorum_ppm;
	name->stale_after_ms = pol->stale_after_ms;
	name->fallback = HG_FALLBACK_ALL;
	if (!pctx_map(c, node, "name", keys, v, NULL)) {
		return;
	}
	if (v[N_NAME] == NULL) {
		pctx_missing(c, node, "name", "name");
	} else {
		parse_owner(c, v[N_NAME], name, index);
	}
	if (v[N_POOLS] == NULL) {
		pctx_missing(c, node, "pools", "name");
	} else {
		size_t n_ep = parse_name_pools(c, v[N_POOLS], name);
		if (n_ep > HG_NAME_EP_MAX) {
			pctx_err(c, v[N_POOLS], "name '%s' has %zu endpoints (max %d)", name->text,
			         n_ep, HG_NAME_EP_MAX);
		}
	}
	if (v[N_TTL])
		pparse_ttl(c, v[N_TTL], "'ttl'", &name->ttl);
	if (v[N_DTTL])
		pparse_ttl(c, v[N_DTTL], "'degraded-ttl'", &name->degraded_ttl);
	if (v[N_QUORUM])
		pparse_quorum(c, v[N_QUORUM], "'quorum'", &name->quorum_ppm);
	if (v[N_STALE])
		pparse_stale(c, v[N_STALE], "'stale-after'", &name->stale_after_ms);
	if (v[N_CHAIN] == NULL) {
		pctx_missing(c, node, "chain", "name");
	} else {
		pparse_chain(c, v[N_CHAIN], name);
	}
	char text[HG_CHAIN_TEXT_MAX + 1];
	pchain_text(name, text, sizeof(text));
	name->chain_text = strdup(text);
	if (name->chain_text == NULL) {
		c->nomem = true;
	}
	if (v[N_FALLBACK] != NULL) {
		parse_fallback(c, v[N_FALLBACK], name);
	}
}

void pparse_names(pctx_t *c, pnode_t *node)
{
	plist_t l;
	policy_t *pol = c->pol;
	if (!pctx_list(c, node, "'names'", false, &l) || plist_len(&l) == 0) {
		return;
	}
	pol->names = calloc(plist_len(&l), sizeof(*pol->names));
	c->name_pos = calloc(plist_len(&l), sizeof(*c->name_pos));
	if (pol->names == NULL || c->name_pos == NULL) {
		c->nomem = true;
		return;
	}
	for (size_t i = 0; i < plist_len(&l) && !pctx_stopped(c); i++) {
		pol->n_names++;
		parse_name(c, plist_get(&l, i), i);
	}
}
