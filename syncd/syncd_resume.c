/*  SPDX-License-Identifier: GPL-3.0-or-later */
/*  The decision of syncd_resume.h, apart from the consumer so that a unit
 *  test can drive it with made-up clocks. */
#include "syncd_resume.h"

bool syncd_resume_stalled(const syncd_resume_watch_t *w, uint64_t now_ms,
                          uint32_t snapshot_interval_ms)
{
	if (!w->from_offset || w->delivered || now_ms < w->started_ms) {
		return false;
	}
	return now_ms - w->started_ms >= (uint64_t)snapshot_interval_ms + SYNCD_STALL_MARGIN_MS;
}
