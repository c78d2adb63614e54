/*  SPDX-License-Identifier: GPL-3.0-or-later */
/*  status: an endpoint's verdict per name, from the endpoint set of each
 *  name's view through sel_health(). No rule of its own: quorum,
 *  stale-after, warm-up and overrides are the engine's, with each set's
 *  settings; names sharing a set share its verdict, computed once. */
#include <stdlib.h>
#include <string.h>

#include "ctl_status.h"
#include "errors.h"
#include "schema_records.h"
#include "view.h"
#include "view_lookup.h"

static int names_visit(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
	status_names_t *l = ctx;
	schema_name_rec_t nr;
	if (klen == 0 || klen > HG_DNAME_MAX || schema_name_rec(val, vlen, &nr) != 0) {
		return HG_EOK; /* not a record status can place */
	}
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 64;
		struct status_name *nv = realloc(l->v, cap * sizeof(*nv));
		if (nv == NULL) {
			return HG_ENOMEM;
		}
		l->v = nv;
		l->cap = cap;
	}
	struct status_name *n = &l->v[l->n++];
	memcpy(n->owner, key, klen);
	n->owner_len = (uint8_t)klen;
	n->set_id = nr.rec->set_id;
	return HG_EOK;
}

int status_names_load(store_rtxn_t *rtxn, status_names_t *out)
{
	memset(out, 0, sizeof(*out));
	return store_foreach(rtxn, STORE_NAMES, NULL, 0, names_visit, out);
}

void status_names_free(status_names_t *names)
{
	free(names->v);
	memset(names, 0, sizeof(*names));
}

/* Best RTT and worst loss among the probers that voted: the figures the
 * verdict rests on. */
static void voter_figures(const view_set_t *s, unsigned e, status_verdict_t *out)
{
	out->best_rtt_us = HG_RTT_NONE;
	out->worst_loss_bp = 0;
	for (unsigned j = 0; j < s->hdr->n_probers; j++) {
		if (!(out->h.voters & (1u << j))) {
			continue;
		}
		const hg_view_cell_t *cell = view_cell(s, e, j);
		if (cell->rtt_us < out->best_rtt_us) { /* HG_RTT_NONE is the maximum */
			out->best_rtt_us = cell->rtt_us;
		}
		if (cell->loss_bp > out->worst_loss_bp) {
			out->worst_loss_bp = cell->loss_bp;
		}
	}
}

/* The verdict of one set on the endpoint. */
static void set_verdict(store_rtxn_t *rtxn, uint32_t set_id, const char *id, uint64_t now,
                        status_verdict_t *out)
{
	view_set_t s;
	out->err = view_lookup_set(NULL, rtxn, set_id, &s);
	if (out->err != HG_EOK) {
		return;
	}
	long e = view_find_ep(&s, id);
	if (e < 0) {
		out->err = HG_ECORRUPT; /* epsets lists the set, the set lacks the endpoint */
		return;
	}
	out->err = sel_health(&s, (unsigned)e, now, &out->h);
	if (out->err == HG_EOK) {
		voter_figures(&s, (unsigned)e, out);
	}
}

typedef struct {
	uint32_t *ids;
	size_t n, cap;
} set_ids_t;

static int visit_epset(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
	(void)key;
	(void)klen;
	set_ids_t *l = ctx;
	if (vlen != 4) {
		return HG_EOK;
	}
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 8;
		uint32_t *nv = realloc(l->ids, cap * sizeof(*nv));
		if (nv == NULL) {
			return HG_ENOMEM;
		}
		l->ids = nv;
		l->cap = cap;
	}
	const uint8_t *b = val;
	l->ids[l->n++] = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
	return HG_EOK;
}

static int push_verdict(status_ep_t *ep, const struct status_name *n, const status_verdict_t *v)
{
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
	*out = *v;
	memcpy(out->owner, n->owner, n->owner_len);
	out->owner_len = n->owner_len;
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

static void summarize(status_ep_t *out)
{
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
}

int status_ep_collect(store_rtxn_t *rtxn, const status_names_t *names, const char *id,
                      uint64_t now_ms, status_ep_t *out)
{
	memset(out, 0, sizeof(*out));
	out->best_rtt_us = HG_RTT_NONE;
	set_ids_t sets = { 0 };
	int ret = store_foreach_dup(rtxn, STORE_EPSETS, id, strlen(id), visit_epset, &sets);
	status_verdict_t *per_set = calloc(sets.n > 0 ? sets.n : 1, sizeof(*per_set));
	if (per_set == NULL) {
		ret = HG_ENOMEM;
	}
	for (size_t k = 0; k < sets.n && ret == HG_EOK; k++) {
		set_verdict(rtxn, sets.ids[k], id, now_ms, &per_set[k]);
	}
	for (size_t i = 0; ret == HG_EOK && i < names->n; i++) {
		for (size_t k = 0; k < sets.n; k++) {
			if (names->v[i].set_id == sets.ids[k]) {
				ret = push_verdict(out, &names->v[i], &per_set[k]);
				break;
			}
		}
	}
	free(per_set);
	free(sets.ids);
	if (ret == HG_EOK) {
		summarize(out);
	}
	return ret;
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
