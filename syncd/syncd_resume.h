/*  SPDX-License-Identifier: GPL-3.0-or-later */
/*!
 * \file
 * \brief haltgslb-syncd: noticing a stored offset the stream never reaches.
 *
 * A consumer started at an offset beyond the end of the stream (the broker
 * cluster was rebuilt from scratch under the same cluster_name: the new
 * stream counts from 0 again) gets nothing at all: RabbitMQ waits silently
 * until the stream grows to that offset. Probers send a heartbeat every
 * second, so a consumer of a live stream gets a delivery within about a
 * second; one that got none for a whole snapshot interval and a margin
 * started past the end, and restarts by time (one snapshot interval back).
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

/*! Slack over the snapshot interval before a silent consumer is restarted
 *  by time (heartbeats come every second; a slow broker start is not a
 *  rebuilt stream). */
#define SYNCD_STALL_MARGIN_MS 5000u

/*! What the consumer of one connection did so far. */
typedef struct {
	bool from_offset;    /*!< it was started from a stored offset */
	bool delivered;      /*!< a delivery (any) arrived since it started */
	uint64_t started_ms; /*!< monotonic ms it started */
} syncd_resume_watch_t;

/*!
 * \brief Whether the consumer described by \a w should be restarted by time
 *        at \a now_ms: it started from a stored offset, nothing was
 *        delivered since, and \a snapshot_interval_ms + SYNCD_STALL_MARGIN_MS
 *        have passed. Pure: no side effect.
 */
bool syncd_resume_stalled(const syncd_resume_watch_t *w, uint64_t now_ms,
                          uint32_t snapshot_interval_ms);
