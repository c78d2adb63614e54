/*  SPDX-License-Identifier: GPL-3.0-or-later */
/*  Per-thread randomness for weighted choices: splitmix64 is tiny, fast and
 *  passes BigCrush, and its state is one word a worker thread can own. */
#include "sel_internal.h"

void sel_rng_seed(sel_rng_t *rng, uint64_t seed)
{
	rng->state = seed;
	rng->rr = 0;
}

uint64_t sel_rng_next(sel_rng_t *rng)
{
	rng->state += 0x9e3779b97f4a7c15ull;
	return sel_mix64(rng->state);
}

uint64_t sel_rng_below(sel_rng_t *rng, uint64_t bound)
{
	uint64_t r = sel_rng_next(rng);
#ifdef __SIZEOF_INT128__
	/* Multiply-shift instead of a division; the bias is below 2^-26 for the
	 * weight sums seen here (< 2^38). */
	return (uint64_t)(((unsigned __int128)r * bound) >> 64);
#else
	return r % bound;
#endif
}
