/*  SPDX-License-Identifier: GPL-3.0-or-later */
/*  In-place updates of a view blob inside the writer's transaction: a
 *  measurement or an admin change touches one cell or one endpoint, so the
 *  view is never rebuilt for them. */
#include <stdbool.h>
#include <string.h>

#include "errors.h"
#include "view_build.h"

/* view_open() works on const bytes; the caller's blob is writable, so the
 * offsets it computed are turned back into writable pointers here. */
static void *vp_writable(uint8_t *blob, const void *p)
{
	return blob + ((const uint8_t *)p - blob);
}

int view_patch_measure(uint8_t *blob, size_t len, const char *endpoint, const char *prober,
                       const hg_rec_measure_t *m, uint64_t now_ms)
{
	if (blob == NULL || endpoint == NULL || prober == NULL) {
		return HG_EINVAL;
	}
	view_t v;
	int ret = view_open(blob, len, &v);
	if (ret != HG_EOK) {
		return ret;
	}
	long e = view_find_ep(&v, endpoint), p = view_find_prober(&v, prober);
	if (e < 0 || p < 0) {
		return HG_ENOENT;
	}
	hg_view_cell_t *cell = vp_writable(blob, view_cell(&v, (unsigned)e, (unsigned)p));
	view_cell_from_measure(cell, m);
	hg_view_hdr_t *h = vp_writable(blob, v.hdr);
	h->updated_ms = now_ms;
	return HG_EOK;
}

int view_touch_prober(uint8_t *blob, size_t len, const char *prober, uint64_t now_ms)
{
	if (blob == NULL || prober == NULL) {
		return HG_EINVAL;
	}
	view_t v;
	int ret = view_open(blob, len, &v);
	if (ret != HG_EOK) {
		return ret;
	}
	long p = view_find_prober(&v, prober);
	if (p < 0) {
		return HG_ENOENT;
	}
	int changed = 0;
	for (unsigned e = 0; e < v.hdr->n_endpoints; e++) {
		hg_view_cell_t *cell = vp_writable(blob, view_cell(&v, e, (unsigned)p));
		if (cell->ts_ms != 0 && cell->ts_ms < now_ms) {
			cell->ts_ms = now_ms;
			changed++;
		}
	}
	if (changed > 0) {
		hg_view_hdr_t *h = vp_writable(blob, v.hdr);
		h->updated_ms = now_ms;
	}
	return changed;
}

int view_patch_admin(uint8_t *blob, size_t len, const char *endpoint, uint8_t admin,
                     uint64_t now_ms)
{
	if (blob == NULL || endpoint == NULL || admin > HG_ADMIN_FORCE_UP) {
		return HG_EINVAL;
	}
	view_t v;
	int ret = view_open(blob, len, &v);
	if (ret != HG_EOK) {
		return ret;
	}
	long e = view_find_ep(&v, endpoint);
	if (e < 0) {
		return HG_ENOENT;
	}
	hg_view_ep_t *ep = vp_writable(blob, &v.ep[e]);
	ep->admin = admin;
	hg_view_hdr_t *h = vp_writable(blob, v.hdr);
	h->updated_ms = now_ms;
	return HG_EOK;
}
