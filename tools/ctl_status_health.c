/*  SPDX-License-Identifier: GPL-3.0-or-later */
/*  status: an endpoint's verdict per name, from each name's view through
 *  sel_health(). No rule of its own: quorum, stale-after, warm-up and
 *  overrides are the engine's, with each name's settings. */
#include <stdlib.h>
#include <string.h>

#include "ctl_status.h"
#include "errors.h"
#include "view.h"

typedef struct {
	store_rtxn_t *rtxn;
	const char *id;
	uint64_t now_ms;
	status_ep_t *ep;
} collect_ctx_t;

/* Best RTT and worst loss among the probers that voted: the figures the
 * verdict rests on. */
static void voter_figures(const view_t *v, unsigned e, status_verdict_t *out)
{
	out->best_rtt_us = HG_RTT_NONE;
	out->worst_loss_bp = 0;
	for (unsigned j = 0; j < v->hdr->n_probers; j++) {
		if (!(out->h.voters & (1u << j))) {
			continue;
		}
		const hg_view_cell_t *cell = view_cell(v, e, j);
		if (cell->rtt_us < out->best_rtt_us) {   /* HG_RTT_NONE is the maximum */
			out->best_rtt_us = cell->rtt_us;
		}
		if (cell->loss_bp > out->worst_loss_bp) {
			out->worst_loss_bp = cell->loss_bp;
		}
	}
}

static void verdict_of(collect_ctx_t *x, status_verdict_t *out)
{
	const void *blob;
	size_t len;
	view_t v;
	out->err = store_get(x->rtxn, STORE_VIEWS, out->owner, out->owner_len, &blob, &len);
	if (out->err == HG_EOK) {
		out->err = view_open(blob, len, &v);
	}
	if (out->err != HG_EOK) {
		return;
	}
	long e = view_find_ep(&v, x->id);
	if (e < 0) {
		out->err = HG_ECORRUPT;   /* epnames lists the name, its view lacks the endpoint */
		return;
	}
	out->err = sel_health(&v, (unsigned)e, x->now_ms, &out->h);
	if (out->err == HG_EOK) {
		voter_figures(&v, (unsigned)e, out);
	}
}

static int visit_owner(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
	collect_ctx_t *x = ctx;
	status_ep_t *ep = x->ep;
	if (vlen == 0 || vlen > HG_DNAME_MAX) {
		return HG_EOK;   /* not a wire name: nothing to look up */
	}
	if (ep->n == ep->cap) {
		size_t cap = ep->cap ? 2 * ep->cap : 4;
		status_verdict_t *nv = realloc(ep->v, cap * sizeof(*nv));
		if (nv == NULL) {
			return HG_ENOMEM;
		}
		ep->v = nv;
		ep->cap = cap;
	}
	status_verdict_t *out = &ep->v[ep->n++];
	memset(out, 0, sizeof(*out));
	memcpy(out->owner, val, vlen);
	out->owner_len = (uint8_t)vlen;
	verdict_of(x, out);
	return HG_EOK;
}

static bool same_verdict(const status_verdict_t *a, const status_verdict_t *b)
{
	if (a->err != HG_EOK || b->err != HG_EOK) {
		return a->err == b->err;
	}
	return a->h.verdict == b->h.verdict;
}

static bool same_votes(const status_verdict_t *a, const status_verdict_t *b)
{
	if (a->err != HG_EOK || b->err != HG_EOK) {
		return a->err == b->err;
	}
	return a->h.n_up == b->h.n_up && a->h.n_voters == b->h.n_voters;
}

int status_ep_collect(store_rtxn_t *rtxn, const char *id, uint64_t now_ms, status_ep_t *out)
{
	memset(out, 0, sizeof(*out));
	out->best_rtt_us = HG_RTT_NONE;
	collect_ctx_t x = { .rtxn = rtxn, .id = id, .now_ms = now_ms, .ep = out };
	int ret = store_foreach_dup(rtxn, STORE_EPNAMES, id, strlen(id), visit_owner, &x);
	if (ret != HG_EOK) {
		return ret;
	}
	out->agree = out->same_votes = true;
	for (size_t i = 0; i < out->n; i++) {
		const status_verdict_t *v = &out->v[i];
		out->agree &= same_verdict(v, &out->v[0]);
		out->same_votes &= same_votes(v, &out->v[0]);
		if (v->err != HG_EOK) {
			continue;
		}
		if (v->best_rtt_us < out->best_rtt_us) {
			out->best_rtt_us = v->best_rtt_us;
		}
		if (v->worst_loss_bp > out->worst_loss_bp) {
			out->worst_loss_bp = v->worst_loss_bp;
		}
	}
	return HG_EOK;
}

void status_ep_free(status_ep_t *ep)
{
	free(ep->v);
	memset(ep, 0, sizeof(*ep));
}

const char *status_verdict_word(const status_verdict_t *v)
{
	return v->err == HG_EOK ? sel_health_name(v->h.verdict) : "no-view";
}
