/*  SPDX-License-Identifier: GPL-3.0-or-later */
/*  Filters that only order or trim: priority, weighted (random or sticky),
 *  round-robin, first. */
#include <math.h>
#include <string.h>
#include <sys/socket.h>

#include "sel_internal.h"

void sel_f_priority(sel_ctx_t *c)
{
	int32_t best = INT32_MAX;
	for (uint8_t i = 0; i < c->n; i++) {
		int32_t p = c->s->ep[c->list[i]].priority;
		best = p < best ? p : best;
		if (c->tracing) {
			c->metric[c->list[i]] = p;
		}
	}
	bool keep[HG_NAME_EP_MAX] = { false };
	for (uint8_t i = 0; i < c->n; i++) {
		keep[i] = c->s->ep[c->list[i]].priority == best;
	}
	sel_compact(c, keep, SEL_R_LOWER_PRIORITY);
	sel_note(c, "priority %d", (int)best);
}

void sel_f_weighted(sel_ctx_t *c)
{
	/* Sampling without replacement, proportional to weight, in integers:
	 * exact for any weights and no logarithms on the query path. Weight-0
	 * endpoints are never drawn and stay last in their order. */
	uint8_t rest[HG_NAME_EP_MAX], n_rest = 0, zero[HG_NAME_EP_MAX], n_zero = 0;
	uint64_t total = 0;
	for (uint8_t i = 0; i < c->n; i++) {
		uint8_t e = c->list[i];
		uint32_t w = c->s->ep[e].weight;
		if (c->tracing) {
			c->metric[e] = w;
		}
		if (w == 0) {
			zero[n_zero++] = e;
		} else {
			rest[n_rest++] = e;
			total += w;
		}
	}
	uint8_t n = 0;
	while (n_rest > 0) {
		uint64_t r = sel_rng_below(c->rng, total);
		uint8_t k = 0;
		uint32_t w = c->s->ep[rest[0]].weight;
		while (r >= w) {
			r -= w;
			w = c->s->ep[rest[++k]].weight;
		}
		c->list[n++] = rest[k];
		total -= w;
		n_rest--;
		for (uint8_t m = k; m < n_rest; m++) { /* a few bytes: no memmove call */
			rest[m] = rest[m + 1];
		}
	}
	for (uint8_t i = 0; i < n_zero; i++) {
		c->list[n + i] = zero[i];
	}
}

/* The client's stickiness key: its /24 (IPv4) or /56 (IPv6). */
static uint64_t sel_client_prefix(const sel_client_t *cl, unsigned *bits)
{
	uint64_t k = 0;
	unsigned bytes = cl->family == AF_INET ? 3 : 7;
	for (unsigned i = 0; i < bytes; i++) {
		k = (k << 8) | cl->addr[i];
	}
	*bits = bytes * 8;
	return k | ((uint64_t)(cl->family == AF_INET ? 4 : 6) << 56);
}

/* The uniform draw in (0,1) of endpoint \a ep for the client \a key
 * (from client prefix and endpoint id); its weighted rendezvous score is
 * -w / ln(u). */
static double sel_sticky_u(uint64_t key, const hg_view_ep_t *ep)
{
	uint64_t h = sel_mix64(key ^ ep->id_hash);
	return ((double)(h >> 11) + 0.5) * 0x1.0p-53;
}

/* The pruned form of the scoring when only the first k (1..4) of the
 * order matter (sort_limit): -ln(u) > 1 - u on (0,1), so w / (1 - u) bounds
 * the score from above, and an endpoint whose bound is below the k-th best
 * score seen so far cannot be among the first k whatever comes later; its
 * logarithm is skipped and its key set below every score. The bound is
 * only trusted while 1 - u > 2^-30, where it exceeds the score by far more
 * than the rounding of either.
 *
 * The k best are kept with their endpoints as they come (a later equal
 * score goes after an earlier one), so when k endpoints scored, the order
 * is built directly: those k, then the others in their order — what
 * sel_select_desc() makes of the same keys (earliest largest first, the
 * rest keep their order). Returns false when fewer than k scored (weight-0
 * endpoints then count): the caller sorts the keys set here. */
static bool sel_sticky_pruned(sel_ctx_t *c, uint64_t key, unsigned k)
{
	double top[4];    /* the k best scores so far, descending */
	uint8_t top_e[4]; /* and their endpoints */
	unsigned n_top = 0;
	for (uint8_t i = 0; i < c->n; i++) {
		uint8_t e = c->list[i];
		const hg_view_ep_t *ep = &c->s->ep[e];
		if (ep->weight == 0) {
			c->key[e] = 0.0;
			continue;
		}
		double u = sel_sticky_u(key, ep);
		double gap = 1.0 - u;
		if (n_top == k && gap > 0x1.0p-30 && (double)ep->weight / gap < top[k - 1]) {
			c->key[e] = -HUGE_VAL;
			continue;
		}
		double score = -(double)ep->weight / log(u);
		c->key[e] = score;
		unsigned at = n_top < k ? n_top++ : k;
		while (at > 0 && top[at - 1] < score) {
			if (at < k) {
				top[at] = top[at - 1];
				top_e[at] = top_e[at - 1];
			}
			at--;
		}
		if (at < k) {
			top[at] = score;
			top_e[at] = e;
		}
	}
	if (n_top < k) {
		return false;
	}
	uint64_t taken = 0;
	uint8_t out[HG_NAME_EP_MAX];
	for (unsigned i = 0; i < k; i++) {
		taken |= 1ull << top_e[i];
		out[i] = top_e[i];
	}
	uint8_t n = (uint8_t)k;
	for (uint8_t i = 0; i < c->n; i++) { /* the rest, in order, behind the k */
		uint8_t e = c->list[i];
		if (!((taken >> e) & 1)) {
			out[n++] = e;
		}
	}
	memcpy(c->list, out, c->n);
	return true;
}

void sel_f_sticky(sel_ctx_t *c)
{
	if (c->n <= 1) {
		return;
	}
	unsigned bits;
	uint64_t key = sel_mix64(sel_client_prefix(c->client, &bits));
	sel_scope_add(c, bits);
	/* Weighted rendezvous hashing, highest score first. Adding an endpoint
	 * only moves the clients it now wins. */
	if (c->sort_limit > 0 && c->sort_limit < c->n && c->sort_limit <= 4) {
		if (sel_sticky_pruned(c, key, c->sort_limit)) {
			sel_note(c, "sticky per /%u", bits);
			return;
		}
	} else {
		for (uint8_t i = 0; i < c->n; i++) {
			uint8_t e = c->list[i];
			const hg_view_ep_t *ep = &c->s->ep[e];
			c->key[e] = ep->weight == 0
			                    ? 0.0
			                    : -(double)ep->weight / log(sel_sticky_u(key, ep));
			if (c->tracing) {
				c->metric[e] = ep->weight;
			}
		}
	}
	sel_sort_desc(c);
	sel_note(c, "sticky per /%u", bits);
}

void sel_f_round_robin(sel_ctx_t *c)
{
	if (c->n <= 1) {
		c->rng->rr++;
		return;
	}
	uint8_t tmp[HG_NAME_EP_MAX];
	unsigned shift = (unsigned)(c->rng->rr++ % c->n), n = c->n, i = 0;
	/* Two runs instead of a division per entry. */
	for (; i < n - shift; i++) {
		tmp[i] = c->list[shift + i];
	}
	for (; i < n; i++) {
		tmp[i] = c->list[i - (n - shift)];
	}
	memcpy(c->list, tmp, n);
	sel_note(c, "rotated by %u", shift);
}

void sel_f_first(sel_ctx_t *c, const hg_view_filter_t *f)
{
	/* first: 0 is meaningless (the compiler rejects it); treat as no limit
	 * rather than always falling back. */
	if (f->arg == 0 || c->n <= f->arg) {
		return;
	}
	if (c->tracing) { /* reasons are for the trace only */
		for (uint8_t i = (uint8_t)f->arg; i < c->n; i++) {
			c->reason[c->list[i]] = SEL_R_CUT;
		}
	}
	c->n = (uint8_t)f->arg;
}
