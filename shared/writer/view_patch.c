/*  SPDX-License-Identifier: GPL-3.0-or-later */
/*  In-place updates of a set inside the writer's transaction: a
 *  measurement or an admin change touches one cell or one endpoint, then
 *  the set's derived state is recomputed, so the set is never rebuilt for
 *  them and readers always find the state of the cells they read. */
#include <stdbool.h>
#include <string.h>

#include "errors.h"
#include "view_build.h"

/* view_set_open() works on const bytes; the caller's blob is writable, so
 * the offsets it computed are turned back into writable pointers here. */
static void *vp_writable(uint8_t *blob, const void *p)
{
	return blob + ((const uint8_t *)p - blob);
}

int view_set_refresh(uint8_t *blob, size_t len, uint64_t now_ms)
{
	view_set_t s;
	int ret = view_set_open(blob, len, &s);
	if (ret != HG_EOK) {
		return ret;
	}
	view_state_t st;
	view_derive(&s, now_ms, &st);
	memcpy(vp_writable(blob, s.derived), &st.d, sizeof(st.d));
	memcpy(vp_writable(blob, s.fresh), st.fresh, s.hdr->n_probers * sizeof(hg_u64_t));
	hg_set_hdr_t *h = vp_writable(blob, s.hdr);
	h->updated_ms = now_ms;
	return HG_EOK;
}

int view_set_patch_measure(uint8_t *blob, size_t len, const char *endpoint, const char *prober,
                           const hg_rec_measure_t *m, uint64_t now_ms)
{
	if (blob == NULL || endpoint == NULL || prober == NULL) {
		return HG_EINVAL;
	}
	view_set_t s;
	int ret = view_set_open(blob, len, &s);
	if (ret != HG_EOK) {
		return ret;
	}
	long e = view_find_ep(&s, endpoint), p = view_find_prober(&s, prober);
	if (e < 0 || p < 0) {
		return HG_ENOENT;
	}
	view_cell_from_measure(vp_writable(blob, view_cell(&s, (unsigned)e, (unsigned)p)), m);
	return view_set_refresh(blob, len, now_ms);
}

int view_set_patch_admin(uint8_t *blob, size_t len, const char *endpoint, uint8_t admin,
                         uint64_t now_ms)
{
	if (blob == NULL || endpoint == NULL || admin > HG_ADMIN_FORCE_UP) {
		return HG_EINVAL;
	}
	view_set_t s;
	int ret = view_set_open(blob, len, &s);
	if (ret != HG_EOK) {
		return ret;
	}
	long e = view_find_ep(&s, endpoint);
	if (e < 0) {
		return HG_ENOENT;
	}
	hg_view_ep_t *ep = vp_writable(blob, &s.ep[e]);
	ep->admin = admin;
	return view_set_refresh(blob, len, now_ms);
}

int view_set_touch_prober(uint8_t *blob, size_t len, const char *prober, uint64_t ts_ms,
                          uint64_t now_ms)
{
	if (blob == NULL || prober == NULL) {
		return HG_EINVAL;
	}
	view_set_t s;
	int ret = view_set_open(blob, len, &s);
	if (ret != HG_EOK) {
		return ret;
	}
	long p = view_find_prober(&s, prober);
	if (p < 0) {
		return HG_ENOENT;
	}
	int changed = 0;
	for (unsigned e = 0; e < s.hdr->n_endpoints; e++) {
		hg_view_cell_t *cell = vp_writable(blob, view_cell(&s, e, (unsigned)p));
		if (cell->ts_ms != 0 && cell->ts_ms < ts_ms) {
			cell->ts_ms = ts_ms;
			changed++;
		}
	}
	if (changed > 0) {
		ret = view_set_refresh(blob, len, now_ms);
	}
	return ret == HG_EOK ? changed : ret;
}
