/*  SPDX-License-Identifier: GPL-3.0-or-later */
/*!
 * \file
 * \brief Helpers shared by the files of the apply path (syncd_apply.c,
 *        syncd_state.c). Private to libhg_syncd.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "syncd_apply.h"

/*! The sender entry shared by user_ids beyond SYNCD_SENDERS_MAX, by
 *  messages without a user_id and by user_ids that are not ids ("(" is not
 *  an id character: never a prober's). */
#define SYNCD_SENDER_OTHER   "(other)"
#define SYNCD_SENDER_NONE    "(none)"
#define SYNCD_SENDER_INVALID "(invalid)"

/*! Log rate-limit slots: one per rejection reason, then these events. */
enum { SYNCD_LOG_GAP = SYNCD_R_COUNT_, SYNCD_LOG_SKIPPED, SYNCD_LOG_DUPLICATE, SYNCD_LOG_SLOTS };

/*! \brief Allocate / free the sender tables. */
int syncd_senders_init(syncd_apply_t *ap);
void syncd_senders_free(syncd_apply_t *ap);

/*!
 * \brief The staged copy of sender \a id (created with zero counters when
 *        new; the "(other)" entry when the table is full) for the open
 *        batch to change. NULL when \a len is 0 or over HG_ID_MAX.
 */
syncd_sender_t *syncd_sender_stage(syncd_apply_t *ap, const char *id, size_t len);

/*! \brief The batch committed: its staged senders become the state. */
void syncd_senders_commit(syncd_apply_t *ap);

/*! \brief The batch failed: forget what it staged. */
void syncd_senders_discard(syncd_apply_t *ap);

/*!
 * \brief Whether a message of log slot \a slot may be logged at \a now_ms
 *        (the first one, then one per SYNCD_LOG_EVERY_MS); \a suppressed
 *        receives how many were not logged since the last one.
 */
bool syncd_log_due(syncd_apply_t *ap, unsigned slot, uint64_t now_ms, uint64_t *suppressed);

_Static_assert(sizeof(((syncd_apply_t *)0)->log_last_ms) / sizeof(uint64_t) == SYNCD_LOG_SLOTS,
               "syncd_apply_t has one log slot per reason and event");
