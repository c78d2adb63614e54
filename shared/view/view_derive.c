/*  SPDX-License-Identifier: GPL-3.0-or-later */
/*  What a set's cells mean at one time, and for how long that holds. The
 *  writers store it in the set (one computation per write instead of one
 *  per query); the query path recomputes it with this same code whenever
 *  the clock has left the stored window. */
#include <string.h>

#include "view.h"
#include "view_health.h"

/* A cell stamped ts (>= 1) is fresh at `now` exactly when
 * ts - stale <= now <= ts + stale (both sides saturating): view_window()'s
 * lo <= ts <= hi solved for now. Returns the interval [*a, *b]. */
static void fresh_interval(uint64_t ts, uint64_t stale, uint64_t *a, uint64_t *b)
{
	*a = ts > stale ? ts - stale : 0;
	*b = ts > UINT64_MAX - stale ? UINT64_MAX : ts + stale;
}

/* Narrow [*from, *until) to the instants at which this cell has the same
 * freshness as at `now`. */
static void narrow_window(uint64_t ts, uint64_t stale, uint64_t now, uint64_t *from,
                          uint64_t *until)
{
	if (ts == 0) {
		return; /* no data: never fresh */
	}
	uint64_t a, b;
	fresh_interval(ts, stale, &a, &b);
	if (now < a) {
		*until = a < *until ? a : *until;
	} else if (now <= b) {
		*from = a > *from ? a : *from;
		if (b != UINT64_MAX && b + 1 < *until) {
			*until = b + 1;
		}
	} else {
		*from = b + 1 > *from ? b + 1 : *from; /* now > b: b + 1 cannot overflow */
	}
}

void view_derive(const view_set_t *s, uint64_t now_ms, view_state_t *out)
{
	const hg_set_hdr_t *h = s->hdr;
	unsigned n_ep = h->n_endpoints, n_pr = h->n_probers;
	uint64_t stale = h->stale_after_ms, lo, hi;
	memset(out, 0, sizeof(*out));
	view_window(now_ms, stale, &lo, &hi);
	bool any = lo <= hi;
	uint64_t span = hi - lo, from = 0, until = UINT64_MAX;
	hg_set_derived_t *d = &out->d;

	for (unsigned e = 0; e < n_ep; e++) {
		const hg_view_ep_t *ep = &s->ep[e];
		const hg_view_cell_t *row = view_cell(s, e, 0);
		uint64_t bit = 1ull << e;
		for (unsigned j = 0; j < n_pr; j++) {
			if (any && row[j].ts_ms - lo <= span) {
				out->fresh[j].v |= bit;
			}
			narrow_window(row[j].ts_ms, stale, now_ms, &from, &until);
		}
		unsigned n_voters = 0, n_up = 0;
		if (ep->admin != HG_ADMIN_FORCE_UP) { /* forced up needs no votes */
			view_votes(row, any ? n_pr : 0, lo, span, &n_voters, &n_up, NULL, NULL);
		}
		uint8_t verdict = view_verdict(ep->admin, h->quorum_ppm, n_up, n_voters);
		d->down |= verdict == VIEW_HEALTH_DOWN ? bit : 0;
		d->unknown |= verdict == VIEW_HEALTH_UNKNOWN ? bit : 0;
		d->drained |= ep->admin == HG_ADMIN_DRAIN ? bit : 0;
		d->forced |= ep->admin == HG_ADMIN_FORCE_UP ? bit : 0;
		bool cname = (ep->flags & HG_VEP_CNAME) != 0;
		d->fam_v4 |= (cname || ep->n_v4 > 0) ? bit : 0;
		d->fam_v6 |= (cname || ep->n_v6 > 0) ? bit : 0;
	}
	for (unsigned j = 0; j < n_pr; j++) {
		d->fresh_probers |= out->fresh[j].v != 0 ? 1u << j : 0;
	}
	d->valid_from = from;
	d->valid_until = until;
	d->computed_ms = now_ms;
}

bool view_state(const view_set_t *s, uint64_t now_ms, view_state_t *scratch,
                const hg_set_derived_t **d, const hg_u64_t **fresh)
{
	const hg_set_derived_t *stored = s->derived;
	if (now_ms >= stored->valid_from && now_ms < stored->valid_until) {
		*d = stored;
		*fresh = s->fresh;
		return true;
	}
	view_derive(s, now_ms, scratch);
	*d = &scratch->d;
	*fresh = scratch->fresh;
	return false;
}
