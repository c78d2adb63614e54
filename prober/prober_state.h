/*  SPDX-License-Identifier: GPL-3.0-or-later */
/*!
 * \file
 * \brief Per-(endpoint, prober) measurement state: RTT (last, EWMA, median
 *        over a window), loss over the last N probes, rise/fall hysteresis.
 *
 * Pure code: no I/O, no clock (the caller passes the time), so it is unit
 * tested on its own (tests/unit/test_prober_state.c).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "schema.h"

#define PROBER_WINDOW_DEFAULT 20   /*!< Loss/median window when not configured. */
#define PROBER_WINDOW_MAX     4096 /*!< Largest window accepted (uint16_t in the record). */

/*! Outcome of one probe. */
typedef struct {
	bool ok;
	uint8_t fail_class; /*!< enum hg_fail_class; HG_FAIL_NONE when ok */
	uint32_t rtt_us;    /*!< network RTT; HG_RTT_NONE when not measured */
	uint32_t ttfb_us;   /*!< server response time; HG_RTT_NONE when n/a */
} prober_result_t;

/*! Measurement state. Owns its two rings (prober_state_free()). */
typedef struct {
	uint16_t window; /*!< N */
	uint16_t n_loss, loss_pos, lost, failed;
	uint8_t *loss_ring; /*!< window entries: bit 0 lost, bit 1 failed; owned */
	uint16_t n_rtt, rtt_pos;
	uint32_t *rtt_ring; /*!< last N successful RTTs; owned */
	uint32_t *scratch;  /*!< window entries for the median; owned */
	uint32_t rtt_last, rtt_ewma, rtt_median, ttfb;
	uint8_t state, fail_class;
	uint16_t consec_ok, consec_fail;
	uint64_t ts_ms, changed_ms, probes_total, probes_failed;
} prober_state_t;

/*!
 * \brief Initialize \a st with a window of \a window probes (0 → default).
 * \return HG_EOK, HG_ERANGE (window > PROBER_WINDOW_MAX), HG_ENOMEM.
 */
int prober_state_init(prober_state_t *st, unsigned window);

/*! \brief Free the rings; \a st may then be initialized again. */
void prober_state_free(prober_state_t *st);

/*!
 * \brief Continue from a record written earlier (daemon restart): health,
 *        change time, consecutive counters, totals, last RTT values (none
 *        when the record is DOWN). Windows start empty.
 */
void prober_state_seed(prober_state_t *st, const hg_rec_measure_t *m);

/*!
 * \brief Account one probe result at Unix time \a now_ms.
 *
 * Health starts UNKNOWN and becomes UP after \a rise consecutive successes
 * and DOWN after \a fall consecutive failures (0 is treated as 1), from any
 * state. It also becomes DOWN when, the window being full, the failed
 * share of its probes reaches \a down_loss_bp (basis points; 0: off): an
 * endpoint failing 2 of every 3 probes never has `fall` failures in a row
 * but goes down; it comes up again only after `rise` consecutive successes
 * (docs/prober.md, "Health": the state machine). Only failures where no answer came back (timeout, unreachable)
 * count as loss: a refused connection or a wrong HTTP status proves the
 * network delivered the probe.
 *
 * RTT figures (last, EWMA, median, TTFB) describe the successful probes of
 * the current up period only: they are forgotten when the state becomes
 * DOWN and on every failure while DOWN, so when the endpoint comes up they
 * hold the `rise` successes that brought it up and what follows; a DOWN
 * record carries none (prober_state_measure()).
 *
 * \param[out] from  Previous health (may be NULL).
 * \return true when the health state changed.
 */
bool prober_state_record(prober_state_t *st, const prober_result_t *r, uint16_t rise, uint16_t fall,
                         uint16_t down_loss_bp, uint64_t now_ms, uint8_t *from);

/*! \brief Fill the on-disk record (seq = 0: written locally). */
void prober_state_measure(const prober_state_t *st, hg_rec_measure_t *out);

/*! \brief True for failure classes that count as packet loss. */
bool prober_fail_is_loss(uint8_t fail_class);

/*! \brief Median of \a v[0..n) (mean of the two middle values when n is even);
 *         reorders \a v. HG_RTT_NONE when n == 0. */
uint32_t prober_median_u32(uint32_t *v, size_t n);

/*! \brief The schema's names (schema_names.h: "timeout", "http-status", ... /
 *         "unknown", "up", "down"); "other" / "unknown" for values out of range. */
const char *prober_fail_name(uint8_t fail_class);
const char *prober_health_name(uint8_t state);
