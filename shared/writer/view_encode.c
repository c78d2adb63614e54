/*  SPDX-License-Identifier: GPL-3.0-or-later */
/*  Small encoders shared by view_build() and the view patchers. */
#include <string.h>

#include "view_build.h"

uint64_t view_id_hash(const char *id, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < len; i++) {
		h ^= (uint8_t)id[i];
		h *= 0x100000001b3ull;
	}
	/* FNV alone mixes the last bytes poorly; the murmur3 finalizer spreads
	 * them over all 64 bits for rendezvous hashing. */
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 33;
	return h;
}

void view_cell_from_measure(hg_view_cell_t *cell, const hg_rec_measure_t *m)
{
	memset(cell, 0, sizeof(*cell));
	cell->rtt_us = HG_RTT_NONE;
	if (m == NULL) {
		return;
	}
	cell->ts_ms = m->ts_ms;
	cell->rtt_us = m->rtt_median_us;
	cell->loss_bp = m->loss_bp > 10000 ? 10000 : m->loss_bp;
	cell->state = m->state <= HG_HEALTH_DOWN ? m->state : HG_HEALTH_UNKNOWN;
}
