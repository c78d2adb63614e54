/*  SPDX-License-Identifier: GPL-3.0-or-later */
/*  syncd_resume_stalled(): when a consumer started from a stored offset is
 *  restarted by time (the stream ends below the offset: a rebuilt cluster
 *  under the same cluster_name). */
#include "syncd_resume.h"
#include "tap.h"

int main(void)
{
	const uint32_t snap = 30000; /* --snapshot-interval 30s */
	const uint64_t t0 = 1000000, limit = snap + SYNCD_STALL_MARGIN_MS;
	syncd_resume_watch_t w = { .from_offset = true, .delivered = false, .started_ms = t0 };

	ok(!syncd_resume_stalled(&w, t0, snap), "just started: not stalled");
	ok(!syncd_resume_stalled(&w, t0 + limit - 1, snap),
	   "silent for snapshot interval + margin - 1 ms: still waiting");
	ok(syncd_resume_stalled(&w, t0 + limit, snap),
	   "silent for snapshot interval + margin: restart by time");
	ok(syncd_resume_stalled(&w, t0 + 10 * limit, snap), "and any time later");
	ok(!syncd_resume_stalled(&w, t0 - 1, snap), "a clock before the start: no decision");

	w.delivered = true;
	ok(!syncd_resume_stalled(&w, t0 + 10 * limit, snap),
	   "one delivery (a heartbeat) since the start: never (the stream reaches the offset)");

	w.delivered = false;
	w.from_offset = false;
	ok(!syncd_resume_stalled(&w, t0 + 10 * limit, snap),
	   "a consumer started by time: never (no offset to be past; no loop after the restart)");

	w.from_offset = true;
	ok(!syncd_resume_stalled(&w, t0 + 2000 + SYNCD_STALL_MARGIN_MS - 1, 2000),
	   "--snapshot-interval 2s: waiting until 7 s");
	ok(syncd_resume_stalled(&w, t0 + 2000 + SYNCD_STALL_MARGIN_MS, 2000),
	   "--snapshot-interval 2s: restart at 7 s");
	return done_testing();
}
