/*  SPDX-License-Identifier: GPL-3.0-or-later */
/*!
 * \file
 * \brief What makes a measurement worth a BATCH message: a change of a
 *        field the DNS nodes decide with, against what was last handed to
 *        the publisher for that endpoint.
 *
 * Decision-relevant fields are health state, failure class, loss and the
 * median RTT (the steering latency). Probe times and counters change with
 * every probe and never make a change on their own: the DNS nodes judge a
 * prober's freshness by its heartbeats, and snapshots carry every field.
 * The rule is documented in docs/replication.md ("What the prober
 * publishes").
 *
 * Pure code, unit tested in tests/unit/test_prober_pub.c.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "schema.h"

/*! An RTT change counts when it is at least max(FLOOR, min(ABS, last / REL_DIV)):
 *  below 1 ms of RTT 100 µs, from 1 to 10 ms 10 %, above 10 ms 1 ms. */
#define PROBER_PUB_RTT_FLOOR_US 100u
#define PROBER_PUB_RTT_ABS_US   1000u
#define PROBER_PUB_RTT_REL_DIV  10u

/*! The decision-relevant fields last handed to the publisher. */
typedef struct {
	bool valid; /*!< false: nothing published yet (first result is a change) */
	uint8_t state, fail_class;
	uint16_t loss_bp;
	uint32_t rtt_median_us;
} prober_pub_ref_t;

/*! \brief True when \a m differs from \a ref in a decision-relevant field
 *         (or \a ref holds nothing yet). */
bool prober_pub_changed(const prober_pub_ref_t *ref, const hg_rec_measure_t *m);

/*! \brief Remember \a m's decision-relevant fields as published. */
void prober_pub_ref_set(prober_pub_ref_t *ref, const hg_rec_measure_t *m);
