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
		int32_t p = c->v->ep[c->list[i]].priority;
		best = p < best ? p : best;
		if (c->tracing) {
			c->metric[c->list[i]] = p;
		}
	}
	bool keep[HG_NAME_EP_MAX] = { false };
	for (uint8_t i = 0; i < c->n; i++) {
		keep[i] = c->v->ep[c->list[i]].priority == best;
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
		uint32_t w = c->v->ep[e].weight;
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
		uint32_t w = c->v->ep[rest[0]].weight;
		while (r >= w) {
			r -= w;
			w = c->v->ep[rest[++k]].weight;
		}
		c->list[n++] = rest[k];
		total -= w;
		n_rest--;
		for (uint8_t m = k; m < n_rest; m++) {   /* a few bytes: no memmove call */
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

void sel_f_sticky(sel_ctx_t *c)
{
	if (c->n <= 1) {
		return;
	}
	unsigned bits;
	uint64_t key = sel_mix64(sel_client_prefix(c->client, &bits));
	sel_scope_add(c, bits);
	/* Weighted rendezvous hashing: each endpoint scores -w / ln(u) with u
	 * uniform in (0,1) from (client prefix, endpoint id); highest first.
	 * Adding an endpoint only moves the clients it now wins. */
	for (uint8_t i = 0; i < c->n; i++) {
		uint8_t e = c->list[i];
		const hg_view_ep_t *ep = &c->v->ep[e];
		uint64_t h = sel_mix64(key ^ ep->id_hash);
		double u = ((double)(h >> 11) + 0.5) * 0x1.0p-53;
		c->key[e] = ep->weight == 0 ? 0.0 : -(double)ep->weight / log(u);
		if (c->tracing) {
			c->metric[e] = ep->weight;
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
	uint8_t was[HG_NAME_EP_MAX];
	unsigned shift = (unsigned)(c->rng->rr++ % c->n);
	memcpy(was, c->list, c->n);
	for (uint8_t i = 0; i < c->n; i++) {
		c->list[i] = was[(i + shift) % c->n];
	}
	sel_note(c, "rotated by %u", shift);
}

void sel_f_first(sel_ctx_t *c, const hg_view_filter_t *f)
{
	/* first: 0 is meaningless (the compiler rejects it); treat as no limit
	 * rather than always falling back. */
	if (f->arg == 0 || c->n <= f->arg) {
		return;
	}
	for (uint8_t i = (uint8_t)f->arg; i < c->n; i++) {
		c->reason[c->list[i]] = SEL_R_CUT;
	}
	c->n = (uint8_t)f->arg;
}
