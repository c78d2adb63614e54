/*  SPDX-License-Identifier: GPL-3.0-or-later */
/*  One decision: family pre-filter, the chain, fallback, answer, TTL, scope.
 *  Runs on every query inside knotd: no allocation, no syscalls, no
 *  recursion; all state is the sel_ctx_t on this stack frame. */
#include <math.h>
#include <string.h>
#include <sys/socket.h>

#include "errors.h"
#include "schema_names.h"
#include "sel_internal.h"

static bool sel_has_family(const sel_ctx_t *c, const hg_view_ep_t *ep)
{
	return (ep->flags & HG_VEP_CNAME) || (c->v6 ? ep->n_v6 : ep->n_v4) > 0;
}

static void sel_step_begin(sel_ctx_t *c, uint8_t *in, uint8_t *n_in)
{
	memcpy(in, c->list, c->n);
	*n_in = c->n;
	for (unsigned i = 0; i < HG_NAME_EP_MAX; i++) {
		c->metric[i] = NAN;
	}
	c->note[0] = '\0';
}

static void sel_step_end(sel_ctx_t *c, const sel_trace_t *trace, int idx, uint8_t type,
                         const uint8_t *in, uint8_t n_in)
{
	sel_trace_step_t st = {
		.filter = idx,
		.type = type,
		.n_in = n_in,
		.n_out = c->n,
		.in = in,
		.out = c->list,
		.reason = c->reason,
		.metric = c->metric,
		.note = c->note,
	};
	trace->step(trace->ctx, &st);
}

/* The set's derived state at now_ms (stored, or computed into c->state).
 * A call taking the context: it also tells cppcheck the context is being
 * set up, which member assignments alone do not. */
static void sel_state_begin(sel_ctx_t *c, uint64_t now_ms)
{
	view_state(c->s, now_ms, &c->state, &c->d, &c->fresh);
}

/* Candidates: endpoints that can answer this qtype; drained ones go here so
 * a drain works whatever the chain. Returns how many had the family. */
static unsigned sel_prefilter(sel_ctx_t *c)
{
	uint64_t fam = c->v6 ? c->d->fam_v6 : c->d->fam_v4;
	uint64_t cand = fam & ~c->d->drained;
	unsigned n = 0;
	for (uint64_t m = cand; m != 0; m &= m - 1) {
		c->list[n++] = (uint8_t)__builtin_ctzll(m);
	}
	c->n = (uint8_t)n;
	c->mask = cand;
	c->asc = true;
	if (c->tracing) {
		for (unsigned e = 0; e < c->s->hdr->n_endpoints; e++) {
			uint64_t bit = 1ull << e;
			c->reason[e] = !(fam & bit)            ? SEL_R_NO_FAMILY
			               : (c->d->drained & bit) ? SEL_R_DRAINED
			                                       : SEL_R_KEPT;
		}
	}
	return (unsigned)__builtin_popcountll(fam);
}

static void sel_run_filter(sel_ctx_t *c, const hg_view_filter_t *f)
{
	switch (f->type) {
	case HG_F_UP: sel_f_up(c); break;
	case HG_F_GEOFENCE: sel_f_geofence(c, f); break;
	case HG_F_NEAREST: sel_f_nearest(c); break;
	case HG_F_LOWEST_LATENCY: sel_f_lowest_latency(c, f); break;
	case HG_F_MAX_LOSS: sel_f_max_loss(c, f); break;
	case HG_F_PRIORITY: sel_f_priority(c); break;
	case HG_F_WEIGHTED:
		if (f->flags & HG_VF_STICKY) {
			sel_f_sticky(c);
		} else {
			sel_f_weighted(c);
		}
		break;
	case HG_F_WEIGHTED_SHUFFLE: sel_f_weighted(c); break;
	case HG_F_ROUND_ROBIN: sel_f_round_robin(c); break;
	case HG_F_FIRST: sel_f_first(c, f); break;
	default: break; /* view_open() rejects unknown types */
	}
	/* Only these keep the list in the prefilter's ascending order. */
	if (f->type != HG_F_UP && f->type != HG_F_GEOFENCE && f->type != HG_F_MAX_LOSS) {
		c->asc = false;
	}
}

/* A strict geofence holds in the fallback too (issue 10): its clients get
 * the rule's own pool or NODATA, never the name's fallback. In the pool,
 * endpoints not down first (a fence whose targets are down should not send
 * clients to a down endpoint of its fallback when an up one is there), else
 * all of them (fail open, inside the fence); drained ones never: a drain is
 * the operator's word, and this answer must not widen anything. */
static void sel_fence_fallback(sel_ctx_t *c)
{
	const hg_view_rule_t *r = c->fence;
	const char *name_fb = schema_name(&schema_fallbacks, c->v->hdr->fallback);
	if (!(r->flags & HG_VR_FALLBACK_POOL)) {
		sel_note(c,
		         "strict geofence rule %u: its fallback none: NODATA (not the name's "
		         "fallback %s)",
		         (unsigned)c->fence_rule, name_fb);
		return;
	}
	unsigned n_up = 0;
	for (int pass = 0; pass < 2 && c->n == 0; pass++) {
		for (uint8_t e = 0; e < c->s->hdr->n_endpoints; e++) {
			const hg_view_ep_t *ep = &c->s->ep[e];
			uint64_t bit = 1ull << e;
			/* A fallback_pool outside the set's pools matches nothing:
			 * NODATA, the fence's safe side (SCHEMA.md). */
			if (ep->pool != r->fallback_pool || !sel_has_family(c, ep) ||
			    (c->d->drained & bit) || (pass == 0 && (c->d->down & bit))) {
				continue;
			}
			c->list[c->n++] = e;
			c->reason[e] = SEL_R_KEPT;
		}
		n_up = pass == 0 ? c->n : 0;
	}
	sel_note(c, "strict geofence rule %u: its fallback pool #%u%s (not the name's fallback %s)",
	         (unsigned)c->fence_rule, (unsigned)r->fallback_pool,
	         c->n == 0   ? ": nothing of this family, NODATA"
	         : n_up == 0 ? ", all down: fail open in the pool"
	                     : "",
	         name_fb);
}

/* Fail open: health and drains are ignored, only the family matters. The
 * chain filters from \a f_stop on did not run (nothing was left): a strict
 * geofence among them still holds for its clients (`up` before `geofence`,
 * every endpoint down, must not answer the whole name to a fenced client). */
static void sel_fallback(sel_ctx_t *c, unsigned f_stop)
{
	const hg_view_hdr_t *h = c->v->hdr;
	c->flags |= SEL_FALLBACK | SEL_DEGRADED;
	c->n = 0;
	for (unsigned f = f_stop; f < h->n_filters && c->fence == NULL; f++) {
		if (c->v->filter[f].type == HG_F_GEOFENCE) {
			sel_fence_probe(c, &c->v->filter[f]);
		}
	}
	if (c->fence != NULL) {
		sel_fence_fallback(c);
		return;
	}
	const char *kind = schema_name(&schema_fallbacks, h->fallback);
	if (h->fallback == HG_FALLBACK_NONE) {
		sel_note(c, "fallback %s: NODATA", kind);
		return;
	}
	for (uint8_t e = 0; e < c->s->hdr->n_endpoints; e++) {
		const hg_view_ep_t *ep = &c->s->ep[e];
		if (sel_has_family(c, ep) &&
		    (h->fallback == HG_FALLBACK_ALL || ep->pool == h->fallback_pool)) {
			c->list[c->n++] = e;
			c->reason[e] = SEL_R_KEPT;
		}
	}
	if (h->fallback == HG_FALLBACK_ALL) {
		sel_note(c, "fallback %s", kind);
	} else {
		sel_note(c, "fallback %s #%u", kind, (unsigned)h->fallback_pool);
	}
}

static void sel_answer(const sel_ctx_t *c, sel_answer_t *out)
{
	const view_set_t *v = c->s;
	if (c->n > 0 && (v->ep[c->list[0]].flags & HG_VEP_CNAME)) {
		const hg_view_ep_t *ep = &v->ep[c->list[0]];
		out->flags |= SEL_CNAME;
		out->cname = v->strings + ep->cname_off;
		out->cname_len = ep->cname_len;
		out->endpoints[out->n_endpoints++] = c->list[0];
		return;
	}
	for (uint8_t i = 0; i < c->n && out->n_addr < HG_ANSWER_MAX; i++) {
		const hg_view_ep_t *ep = &v->ep[c->list[i]];
		if (ep->flags & HG_VEP_CNAME) {
			continue; /* a CNAME cannot share an RRset with addresses */
		}
		unsigned n = c->v6 ? ep->n_v6 : ep->n_v4;
		if (n == 0) {
			continue;
		}
		out->endpoints[out->n_endpoints++] = c->list[i];
		for (unsigned k = 0; k < n && out->n_addr < HG_ANSWER_MAX; k++) {
			out->addr[out->n_addr++] =
			        c->v6 ? v->v6[ep->first_v6 + k] : v->v4[ep->first_v4 + k];
		}
	}
	if (out->n_addr == 0) {
		out->flags |= SEL_NODATA;
	}
}

int sel_decide(const view_t *view, const sel_client_t *client, uint16_t qtype, uint64_t now_ms,
               sel_rng_t *rng, sel_answer_t *out, const sel_trace_t *trace)
{
	if (view == NULL || view->hdr == NULL || view->s.hdr == NULL || client == NULL ||
	    rng == NULL || out == NULL || (qtype != 1 && qtype != 28) ||
	    (client->family != AF_INET && client->family != AF_INET6) ||
	    (trace != NULL && trace->step == NULL)) {
		return HG_EINVAL;
	}
	sel_ctx_t c;
	c.v = view;
	c.s = &view->s;
	c.client = client;
	c.now_ms = now_ms;
	sel_state_begin(&c, now_ms);
	c.rng = rng;
	c.v6 = qtype == 28;
	c.tracing = trace != NULL;
	if (c.tracing) {
		/* Only explain's vote counts read the cells' window. */
		uint64_t hi;
		view_window(now_ms, c.s->hdr->stale_after_ms, &c.fresh_lo, &hi);
		c.fresh_any = c.fresh_lo <= hi;
		c.fresh_span = hi - c.fresh_lo;
	}
	c.fence = NULL;
	c.fence_rule = 0;
	c.scope = 0;
	c.client_used = false;
	c.flags = 0;
	c.loc_done = c.vant_done = c.vant_sorted = false;
	c.n_vant = 0;

	uint8_t in[HG_NAME_EP_MAX], n_in = 0;
	if (c.tracing) {
		for (uint8_t e = 0; e < view->s.hdr->n_endpoints; e++) {
			in[e] = e;
		}
		n_in = view->s.hdr->n_endpoints;
		for (unsigned i = 0; i < HG_NAME_EP_MAX; i++) {
			c.metric[i] = NAN;
		}
		c.note[0] = '\0';
	}
	unsigned n_family = sel_prefilter(&c);
	if (c.tracing) {
		sel_step_end(&c, trace, -1, 0, in, n_in);
	}

	unsigned n_filters = view->hdr->n_filters, f_stop = 0;
	for (unsigned f = 0; f < n_filters && c.n > 0; f++, f_stop = f) {
		const hg_view_filter_t *flt = &view->filter[f];
		const hg_view_filter_t *next = f + 1 < n_filters ? &view->filter[f + 1] : NULL;
		c.sort_limit = !c.tracing && next != NULL && next->type == HG_F_FIRST &&
		                               next->arg > 0 && next->arg < HG_NAME_EP_MAX
		                       ? (uint8_t)next->arg
		                       : 0;
		if (c.tracing) {
			sel_step_begin(&c, in, &n_in);
		}
		sel_run_filter(&c, flt);
		if (c.tracing) {
			sel_step_end(&c, trace, (int)f, flt->type, in, n_in);
		}
	}
	/* A name with nothing of this family (AAAA for a v4-only name) is a
	 * plain NODATA, not a failure worth a degraded TTL. */
	if (c.n == 0 && n_family > 0) {
		if (c.tracing) {
			sel_step_begin(&c, in, &n_in);
		}
		sel_fallback(&c, f_stop);
		if (c.tracing) {
			sel_step_end(&c, trace, -2, 0, in, n_in);
		}
	}

	memset(out, 0, offsetof(sel_answer_t, addr));
	out->cname = NULL;
	out->cname_len = 0;
	out->flags = c.flags;
	sel_answer(&c, out);
	out->ttl = (out->flags & SEL_DEGRADED) ? view->hdr->degraded_ttl : view->hdr->ttl;
	out->scope = c.scope < client->source_len ? c.scope : client->source_len;
	out->client_bits = c.scope;
	out->valid_from = c.d->valid_from;
	out->valid_until = c.d->valid_until;
	if (c.client_used) {
		out->flags |= SEL_CLIENT_USED;
	}
	out->vantage = c.n_vant > 0 ? c.vant[0] : -1;
	return HG_EOK;
}
