/*  SPDX-License-Identifier: GPL-3.0-or-later */
/* Probers, pools and their endpoints. */

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "policy_ctx.h"

static void parse_location(pctx_t *c, pnode_t *node, const char *what, bool *has, double *lat,
                           double *lon)
{
	static const char *const keys[] = { "lat", "lon", NULL };
	pnode_t *v[2];
	bool ok = true;
	if (!pctx_map(c, node, what, keys, v, NULL)) {
		return;
	}
	if (v[0] == NULL) {
		pctx_missing(c, node, "lat", what);
		ok = false;
	} else {
		ok &= pctx_double(c, v[0], "'lat' (latitude)", -90.0, 90.0, lat);
	}
	if (v[1] == NULL) {
		pctx_missing(c, node, "lon", what);
		ok = false;
	} else {
		ok &= pctx_double(c, v[1], "'lon' (longitude)", -180.0, 180.0, lon);
	}
	*has = ok;
}

static void parse_prober(pctx_t *c, pnode_t *node, policy_prober_t *pr)
{
	static const char *const keys[] = { "id", "location", "feed", NULL };
	pnode_t *v[3];
	policy_t *pol = c->pol;
	pr->pos = pctx_pos(node);
	if (!pctx_map(c, node, "prober", keys, v, NULL)) {
		return;
	}
	if (v[0] == NULL) {
		pctx_missing(c, node, "id", "prober");
	} else if (pctx_id(c, v[0], "prober id", pr->id)) {
		c->prober_id_pos[pr - pol->probers] = pctx_pos(v[0]); /* duplicates: pindex */
	}
	bool has = false;
	if (v[1] == NULL) {
		pctx_missing(c, node, "location", "prober");
	} else {
		parse_location(c, v[1], "prober location", &has, &pr->lat, &pr->lon);
	}
	/* Format v1 had DNS nodes pull each prober's feed; the fleet now
	 * replicates through the broker, so the key is accepted and ignored. */
	if (v[2] != NULL) {
		pctx_warn(c, v[2],
		          "'feed' of prober is obsolete and ignored: probers publish to "
		          "the broker (see docs/replication.md)");
	}
}

void pparse_probers(pctx_t *c, pnode_t *node)
{
	plist_t l;
	policy_t *pol = c->pol;
	if (!pctx_list(c, node, "'probers'", false, &l)) {
		return;
	}
	size_t n = plist_len(&l);
	if (n > HG_PROBER_MAX) {
		pctx_err(c, plist_get(&l, HG_PROBER_MAX), "too many probers: %zu (max %d)", n,
		         HG_PROBER_MAX);
		n = HG_PROBER_MAX;
	}
	if (n == 0) {
		return;
	}
	pol->probers = calloc(n, sizeof(*pol->probers));
	c->prober_id_pos = calloc(n, sizeof(*c->prober_id_pos));
	if (pol->probers == NULL || c->prober_id_pos == NULL) {
		c->nomem = true;
		return;
	}
	for (size_t i = 0; i < n && !pctx_stopped(c); i++) {
		pol->n_probers++;
		parse_prober(c, plist_get(&l, i), &pol->probers[i]);
	}
}

static void parse_addresses(pctx_t *c, pnode_t *node, policy_endpoint_t *ep)
{
	plist_t l;
	if (!pctx_list(c, node, "'address'", true, &l)) {
		return;
	}
	if (plist_len(&l) == 0) {
		pctx_err(c, node, "'address' of endpoint '%s' is empty", ep->id);
	}
	for (size_t i = 0; i < plist_len(&l); i++) {
		pnode_t *an = plist_get(&l, i);
		const char *s = pctx_scalar(c, an, "an address");
		uint8_t a[16];
		if (s == NULL) {
			continue;
		}
		bool v6 = strchr(s, ':') != NULL;
		if (inet_pton(v6 ? AF_INET6 : AF_INET, s, a) != 1) {
			pctx_err(c, an, "bad address '%s' (expected IPv4 or IPv6)", s);
			continue;
		}
		const char *why = pvalid_addr(v6 ? AF_INET6 : AF_INET, a);
		if (why != NULL) {
			pctx_err(c, an, "address '%s' of endpoint '%s' cannot be in an answer: %s",
			         s, ep->id, why);
			continue;
		}
		uint8_t *n = v6 ? &ep->n_v6 : &ep->n_v4;
		uint8_t *arr = v6 ? &ep->v6[0][0] : &ep->v4[0][0];
		size_t alen = v6 ? 16 : 4;
		bool dup = false;
		for (size_t j = 0; j < *n; j++) {
			dup |= memcmp(arr + j * alen, a, alen) == 0;
		}
		if (dup) {
			pctx_err(c, an, "duplicate address '%s' in endpoint '%s'", s, ep->id);
		} else if (*n >= HG_ADDR_MAX) {
			pctx_err(c, an, "too many IPv%d addresses in endpoint '%s' (max %d)",
			         v6 ? 6 : 4, ep->id, HG_ADDR_MAX);
		} else {
			memcpy(arr + (*n)++ * alen, a, alen);
		}
	}
}

static void parse_cname(pctx_t *c, pnode_t *node, policy_endpoint_t *ep)
{
	const char *s = pctx_scalar(c, node, "'cname'");
	if (s == NULL) {
		return;
	}
	if (policy_parse_dname(s, ep->cname, &ep->cname_len) != HG_EOK) {
		size_t n = strlen(s);
		if (n > 0 && s[n - 1] != '.') {
			pctx_err(c, node, "cname '%s' is not absolute (add the final dot)", s);
		} else {
			pctx_err(c, node, "bad cname '%s' (not a valid domain name)", s);
		}
		ep->cname_len = 0;
	}
}

enum { E_ID, E_ADDRESS, E_CNAME, E_LOCATION, E_WEIGHT, E_PRIORITY, E_CHECK, E_COUNT };

static void parse_endpoint(pctx_t *c, pnode_t *node, policy_endpoint_t *ep, const pcheck_t *dcheck,
                           const pcheck_t *pcheck)
{
	static const char *const keys[] = { "id",     "address",  "cname", "location",
		                            "weight", "priority", "check", NULL };
	pnode_t *v[E_COUNT];
	policy_t *pol = c->pol;
	pcheck_t echeck = { .set = 0 };

	ep->pos = pctx_pos(node);
	ep->weight = 1;
	if (!pctx_map(c, node, "endpoint", keys, v, NULL)) {
		return;
	}
	if (v[E_ID] == NULL) {
		pctx_missing(c, node, "id", "endpoint");
	} else if (pctx_id(c, v[E_ID], "endpoint id", ep->id)) {
		c->endpoint_id_pos[ep - pol->endpoints] =
		        pctx_pos(v[E_ID]); /* duplicates: pindex */
	}
	if (v[E_ADDRESS] != NULL && v[E_CNAME] != NULL) {
		pctx_err(c, v[E_CNAME],
		         "endpoint '%s' has both 'address' and 'cname' "
		         "(use one)",
		         ep->id);
	} else if (v[E_ADDRESS] == NULL && v[E_CNAME] == NULL) {
		pctx_err(c, node, "endpoint '%s' needs 'address' or 'cname'", ep->id);
	} else if (v[E_ADDRESS] != NULL) {
		parse_addresses(c, v[E_ADDRESS], ep);
	} else {
		parse_cname(c, v[E_CNAME], ep);
	}
	if (v[E_LOCATION] != NULL) {
		parse_location(c, v[E_LOCATION], "endpoint location", &ep->has_location, &ep->lat,
		               &ep->lon);
	}
	long long n;
	if (v[E_WEIGHT] != NULL && pctx_int(c, v[E_WEIGHT], "'weight'", 0, 1000000, &n)) {
		ep->weight = (uint32_t)n;
	}
	if (v[E_PRIORITY] != NULL &&
	    pctx_int(c, v[E_PRIORITY], "'priority'", INT32_MIN, INT32_MAX, &n)) {
		ep->priority = (int32_t)n;
	}
	if (v[E_CHECK] != NULL) {
		pcheck_parse(c, v[E_CHECK], &echeck);
	}
	pcheck_merge(&ep->check, dcheck, pcheck, &echeck);
}

enum { P_ID, P_PRIORITY, P_CHECK, P_ENDPOINTS, P_COUNT };

static void parse_pool(pctx_t *c, pnode_t *node, size_t index, size_t *cap_ep,
                       const pcheck_t *dcheck)
{
	static const char *const keys[] = { "id", "priority", "check", "endpoints", NULL };
	pnode_t *v[P_COUNT];
	policy_t *pol = c->pol;
	policy_pool_t *pool = &pol->pools[index];
	pcheck_t pcheck = { .set = 0 };
	plist_t l;

	pool->pos = pctx_pos(node);
	pool->first_endpoint = pol->n_endpoints;
	if (!pctx_map(c, node, "pool", keys, v, NULL)) {
		return;
	}
	if (v[P_ID] == NULL) {
		pctx_missing(c, node, "id", "pool");
	} else if (pctx_id(c, v[P_ID], "pool id", pool->id)) {
		c->pool_id_pos[index] = pctx_pos(v[P_ID]); /* duplicates: pindex */
	}
	long long n;
	if (v[P_PRIORITY] != NULL &&
	    pctx_int(c, v[P_PRIORITY], "'priority'", INT32_MIN, INT32_MAX, &n)) {
		pool->priority = (int32_t)n;
	}
	if (v[P_CHECK] != NULL) {
		pool->has_check = true;
		pcheck_parse(c, v[P_CHECK], &pcheck);
	}
	if (v[P_ENDPOINTS] == NULL) {
		pctx_missing(c, node, "endpoints", "pool");
		return;
	}
	if (!pctx_list(c, v[P_ENDPOINTS], "'endpoints' of pool", false, &l)) {
		return;
	}
	if (plist_len(&l) == 0) {
		pctx_err(c, v[P_ENDPOINTS], "pool '%s' has no endpoints", pool->id);
		return;
	}
	for (size_t i = 0; i < plist_len(&l) && !pctx_stopped(c); i++) {
		if (!pctx_reserve(c, (void **)&pol->endpoints, cap_ep, pol->n_endpoints + 1,
		                  sizeof(*pol->endpoints)) ||
		    !pctx_reserve(c, (void **)&c->endpoint_id_pos, &c->cap_endpoint_id_pos,
		                  pol->n_endpoints + 1, sizeof(*c->endpoint_id_pos))) {
			return;
		}
		policy_endpoint_t *ep = &pol->endpoints[pol->n_endpoints++];
		pool->n_endpoints++;
		ep->pool_index = index;
		memcpy(ep->pool, pool->id, sizeof(ep->pool));
		ep->priority = pool->priority;
		parse_endpoint(c, plist_get(&l, i), ep, dcheck, &pcheck);
	}
}

void pparse_pools(pctx_t *c, pnode_t *node, const pcheck_t *dcheck)
{
	plist_t l;
	policy_t *pol = c->pol;
	size_t cap_ep = 0;
	if (!pctx_list(c, node, "'pools'", false, &l) || plist_len(&l) == 0) {
		return;
	}
	pol->pools = calloc(plist_len(&l), sizeof(*pol->pools));
	c->pool_id_pos = calloc(plist_len(&l), sizeof(*c->pool_id_pos));
	if (pol->pools == NULL || c->pool_id_pos == NULL) {
		c->nomem = true;
		return;
	}
	for (size_t i = 0; i < plist_len(&l) && !pctx_stopped(c); i++) {
		pol->n_pools++;
		parse_pool(c, plist_get(&l, i), i, &cap_ep, dcheck);
	}
}
