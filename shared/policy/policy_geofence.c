/*  SPDX-License-Identifier: GPL-3.0-or-later */
/* Geofence rules: `match` conditions on the client's location and the
 * endpoints / pools (of the name) a matching client is sent to. */

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "policy_ctx.h"
#include "schema_names.h"

/* The match keys are the names of enum hg_match_kind: key k is kind
 * schema_match_kinds.first + k. */
#define N_MATCH_KINDS (HG_M_PREFIX - HG_M_COUNTRY + 1)

static bool is_alpha(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

static bool is_alnum(char ch)
{
	return is_alpha(ch) || (ch >= '0' && ch <= '9');
}

static char upper(char ch)
{
	return ch >= 'a' && ch <= 'z' ? (char)(ch - 'a' + 'A') : ch;
}

static bool parse_asn(const char *s, uint32_t *asn)
{
	if ((s[0] == 'A' || s[0] == 'a') && (s[1] == 'S' || s[1] == 's')) {
		s += 2;
	}
	uint64_t v = 0;
	if (*s == '\0') {
		return false;
	}
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9' || (v = v * 10 + (uint64_t)(*s - '0')) > UINT32_MAX) {
			return false;
		}
	}
	*asn = (uint32_t)v;
	return v != 0; /* AS0 is reserved and never announced */
}

static bool parse_prefix(const char *s, policy_match_t *m)
{
	char addr[64];
	const char *slash = strchr(s, '/');
	if (slash == NULL || (size_t)(slash - s) >= sizeof(addr) || slash[1] == '\0') {
		return false;
	}
	memcpy(addr, s, (size_t)(slash - s));
	addr[slash - s] = '\0';
	bool v6 = strchr(addr, ':') != NULL;
	unsigned max = v6 ? 128 : 32, len = 0;
	for (const char *p = slash + 1; *p != '\0'; p++) {
		if (*p < '0' || *p > '9' || (len = len * 10 + (unsigned)(*p - '0')) > max) {
			return false;
		}
	}
	if (inet_pton(v6 ? AF_INET6 : AF_INET, addr, m->data) != 1) {
		return false;
	}
	/* Host bits must be zero: "10.0.0.1/8" is almost always a typo. */
	for (unsigned bit = len; bit < max; bit++) {
		if (m->data[bit / 8] & (0x80u >> (bit % 8))) {
			return false;
		}
	}
	m->family = v6 ? 6 : 4;
	m->prefix_len = (uint8_t)len;
	return true;
}

static bool parse_value(pctx_t *c, pnode_t *n, uint8_t kind, policy_match_t *m)
{
	static const char *const continents[] = { "AF", "AN", "AS", "EU", "NA", "OC", "SA", NULL };
	const char *s = pctx_scalar(c, n, "a match value");
	if (s == NULL) {
		return false;
	}
	size_t len = strlen(s);
	memset(m, 0, sizeof(*m));
	m->kind = kind;
	switch (kind) {
	case HG_M_COUNTRY:
	case HG_M_CONTINENT:
		if (len == 2 && is_alpha(s[0]) && is_alpha(s[1])) {
			m->data[0] = (uint8_t)upper(s[0]);
			m->data[1] = (uint8_t)upper(s[1]);
			if (kind == HG_M_COUNTRY) {
				return true;
			}
			for (size_t i = 0; continents[i] != NULL; i++) {
				if (memcmp(continents[i], m->data, 2) == 0) {
					return true;
				}
			}
		}
		pctx_err(c, n,
		         kind == HG_M_COUNTRY
		                 ? "bad country '%s' (expected an ISO 3166-1 code such as DE)"
		                 : "bad continent '%s' (expected AF, AN, AS, EU, NA, OC or SA)",
		         s);
		return false;
	case HG_M_SUBDIVISION:
		if (len >= 4 && len <= 6 && is_alpha(s[0]) && is_alpha(s[1]) && s[2] == '-' &&
		    is_alnum(s[3]) && (len < 5 || is_alnum(s[4])) && (len < 6 || is_alnum(s[5]))) {
			for (size_t i = 0; i < len; i++) {
				m->data[i] = (uint8_t)upper(s[i]);
			}
			return true;
		}
		pctx_err(c, n, "bad subdivision '%s' (expected ISO 3166-2 such as US-CA)", s);
		return false;
	case HG_M_ASN: {
		uint32_t asn;
		if (parse_asn(s, &asn)) {
			memcpy(m->data, &asn, sizeof(asn)); /* little-endian host (schema.h) */
			return true;
		}
		pctx_err(c, n, "bad asn '%s' (expected a number such as 64500 or AS64500)", s);
		return false;
	}
	default:
		if (parse_prefix(s, m)) {
			return true;
		}
		pctx_err(c, n,
		         "bad prefix '%s' (expected e.g. 203.0.113.0/24 or 2001:db8::/32, "
		         "host bits zero)",
		         s);
		return false;
	}
}

/* Total match values already used by the name (limit HG_MATCH_MAX). */
static size_t name_matches(const policy_name_t *name, size_t *rules)
{
	size_t n = 0;
	*rules = 0;
	for (size_t i = 0; i < name->n_filters; i++) {
		*rules += name->chain[i].n_rules;
		for (size_t r = 0; r < name->chain[i].n_rules; r++) {
			n += name->chain[i].rules[r].n_matches;
		}
	}
	return n;
}

static void parse_match(pctx_t *c, pnode_t *node, policy_name_t *name, policy_rule_t *rule)
{
	const char *const *match_keys = schema_match_kinds.names;
	pnode_t *v[N_MATCH_KINDS];
	size_t cap = 0, n_rules;
	if (!pctx_map(c, node, "geofence match", match_keys, v, NULL)) {
		return;
	}
	size_t used = name_matches(name, &n_rules);
	bool any = false;
	for (uint8_t k = 0; k < N_MATCH_KINDS; k++) {
		plist_t l;
		if (v[k] == NULL || !pctx_list(c, v[k], match_keys[k], true, &l)) {
			continue;
		}
		any = true;
		for (size_t i = 0; i < plist_len(&l); i++) {
			pnode_t *vn = plist_get(&l, i);
			policy_match_t m;
			if (!parse_value(c, vn, (uint8_t)(schema_match_kinds.first + k), &m)) {
				continue;
			}
			if (used >= HG_MATCH_MAX) {
				pctx_err(c, vn,
				         "name '%s' has too many geofence match values (max %d)",
				         name->text, HG_MATCH_MAX);
				return;
			}
			if (!pctx_reserve(c, (void **)&rule->matches, &cap, rule->n_matches + 1,
			                  sizeof(*rule->matches))) {
				return;
			}
			rule->matches[rule->n_matches++] = m;
			used++;
		}
	}
	/* unknown keys were reported already: "empty" only for a bare {} */
	if (!any && pnode_len(node) == 0) {
		char kinds[80];
		schema_names_join(&schema_match_kinds, kinds, sizeof(kinds));
		pctx_err(c, node, "empty 'match' (use %s)", kinds);
	}
}

static bool pool_in_name(const policy_name_t *name, size_t pool)
{
	for (size_t i = 0; i < name->n_pools; i++) {
		if (name->pools[i] == pool) {
			return true;
		}
	}
	return false;
}

/* Resolve `endpoints:` (is_pool false) or `pools:` ids against the name. */
static void parse_targets(pctx_t *c, pnode_t *node, const policy_name_t *name, bool is_pool,
                          char (**ids)[HG_ID_SIZE], size_t *n_ids)
{
	const policy_t *pol = c->pol;
	const char *what = is_pool ? "pool" : "endpoint";
	plist_t l;
	if (!pctx_list(c, node, is_pool ? "'pools' of rule" : "'endpoints' of rule", true, &l)) {
		return;
	}
	if (plist_len(&l) == 0) {
		pctx_err(c, node, "empty '%ss' in geofence rule", what);
		return;
	}
	*ids = calloc(plist_len(&l), HG_ID_SIZE);
	if (*ids == NULL) {
		c->nomem = true;
		return;
	}
	for (size_t i = 0; i < plist_len(&l); i++) {
		pnode_t *in = plist_get(&l, i);
		const char *id = pctx_scalar(c, in, is_pool ? "a pool id" : "an endpoint id");
		if (id == NULL) {
			continue;
		}
		long idx = is_pool ? policy_find_pool(pol, id) : policy_find_endpoint(pol, id);
		if (idx < 0) {
			pctx_err(c, in, "unknown %s '%s' in geofence rule", what, id);
			continue;
		}
		size_t pool = is_pool ? (size_t)idx : pol->endpoints[idx].pool_index;
		if (!pool_in_name(name, pool)) {
			pctx_err(c, in, "%s '%s' is not in the pools of name '%s'", what, id,
			         name->text);
			continue;
		}
		memcpy((*ids)[(*n_ids)++], id, strlen(id) + 1);
	}
}

/* A strict rule's own fallback: "pool:ID" (a pool of the name) or "none".
 * "all" would widen the fence to every endpoint of the name (issue 10). */
static void parse_rule_fallback(pctx_t *c, pnode_t *node, const policy_name_t *name,
                                policy_rule_t *rule)
{
	const char *s = pctx_scalar(c, node, "'fallback' of geofence rule");
	if (s == NULL) {
		return;
	}
	if (!rule->strict) {
		pctx_err(c, node,
		         "'fallback' of a geofence rule needs 'strict: true' (a loose rule "
		         "falls through to the name's chain and fallback)");
		return;
	}
	if (strcmp(s, "none") == 0) {
		return;
	}
	if (strncmp(s, "pool:", 5) != 0) {
		pctx_err(c, node,
		         "bad fallback '%s' of a strict geofence rule (expected pool:ID or "
		         "none; 'all' would answer endpoints outside the fence)",
		         s);
		return;
	}
	const char *id = s + 5 + strspn(s + 5, " ");
	long idx = policy_find_pool(c->pol, id);
	if (idx < 0) {
		pctx_err(c, node, "unknown pool '%s' in the fallback of a geofence rule", id);
	} else if (!pool_in_name(name, (size_t)idx)) {
		pctx_err(c, node,
		         "fallback pool '%s' of a geofence rule is not in the pools of name '%s'",
		         id, name->text);
	} else {
		rule->has_fallback_pool = true;
		rule->fallback_pool = (size_t)idx;
	}
}

static void parse_rule(pctx_t *c, pnode_t *node, policy_name_t *name, policy_rule_t *rule)
{
	static const char *const keys[] = { "match",  "endpoints", "pools",
		                            "strict", "fallback",  NULL };
	pnode_t *v[5];
	rule->pos = pctx_pos(node);
	if (!pctx_map(c, node, "geofence rule", keys, v, NULL)) {
		return;
	}
	if (v[0] == NULL) {
		pctx_missing(c, node, "match", "geofence rule");
	} else {
		parse_match(c, v[0], name, rule);
	}
	if (v[1] == NULL && v[2] == NULL) {
		pctx_err(c, node, "geofence rule needs 'endpoints' or 'pools'");
	}
	if (v[1] != NULL) {
		parse_targets(c, v[1], name, false, &rule->endpoints, &rule->n_endpoints);
	}
	if (v[2] != NULL) {
		parse_targets(c, v[2], name, true, &rule->pools, &rule->n_pools);
	}
	if (v[3] != NULL) {
		pctx_bool(c, v[3], "'strict' of geofence rule", &rule->strict);
	}
	if (v[4] != NULL) {
		parse_rule_fallback(c, v[4], name, rule);
	}
}

void pparse_geofence(pctx_t *c, pnode_t *node, policy_name_t *name, policy_filter_t *f)
{
	plist_t l;
	size_t n_rules;
	if (!pctx_list(c, node, "'geofence'", false, &l)) {
		return;
	}
	if (plist_len(&l) == 0) {
		pctx_err(c, node, "geofence needs at least one rule");
		return;
	}
	f->rules = calloc(plist_len(&l), sizeof(*f->rules));
	if (f->rules == NULL) {
		c->nomem = true;
		return;
	}
	for (size_t i = 0; i < plist_len(&l) && !pctx_stopped(c); i++) {
		pnode_t *rn = plist_get(&l, i);
		name_matches(name, &n_rules);
		if (n_rules >= HG_RULES_MAX) {
			pctx_err(c, rn, "name '%s' has too many geofence rules (max %d)",
			         name->text, HG_RULES_MAX);
			return;
		}
		parse_rule(c, rn, name, &f->rules[f->n_rules++]);
	}
}
