/*  SPDX-License-Identifier: GPL-3.0-or-later */
/* Reconnect backoff: exponential, capped, with equal jitter. */
#include "hg_amqp.h"

uint32_t hg_amqp_backoff_ms(unsigned failed_rounds, uint32_t base_ms, uint32_t max_ms, uint64_t rnd)
{
	if (failed_rounds == 0) {
		return 0;
	}
	if (base_ms == 0) {
		base_ms = 1;
	}
	if (max_ms < base_ms) {
		max_ms = base_ms;
	}
	/* Doubling in 64 bits and stopping at the cap: no shift overflow
	 * however many rounds failed. */
	uint64_t nominal = base_ms;
	for (unsigned i = 1; i < failed_rounds && nominal < max_ms; i++) {
		nominal *= 2;
	}
	if (nominal > max_ms) {
		nominal = max_ms;
	}
	uint64_t half = nominal / 2;
	return (uint32_t)(half + rnd % (nominal - half + 1));
}
