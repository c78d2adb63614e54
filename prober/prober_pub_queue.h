/*  SPDX-License-Identifier: GPL-3.0-or-later */
/*!
 * \file
 * \brief The hand-over from the probe loop to the publisher thread: a
 *        bounded FIFO of committed batches behind one mutex.
 *
 * The loop never waits on the broker: prober_pubq_push() takes the lock
 * for a few pointer moves and, when the queue is full, drops the oldest
 * batch and raises the snapshot flag (the next snapshot carries what the
 * dropped batch said). The publisher pops batches in order, or clears the
 * queue when a snapshot it is about to read from LMDB supersedes them.
 *
 * Pure code (no I/O; the caller wakes the publisher), unit tested in
 * tests/unit/test_prober_pub.c.
 */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "feed.h"

/*! One committed batch: the records that changed, owned by whoever holds it. */
typedef struct {
	feed_rec_t *recs; /*!< malloc'd; free with prober_pub_batch_free() */
	size_t n;
} prober_pub_batch_t;

/*! \brief Free the records of \a b and empty it. */
void prober_pub_batch_free(prober_pub_batch_t *b);

typedef struct {
	pthread_mutex_t lock;
	prober_pub_batch_t *ring; /*!< cap slots */
	size_t cap, head, len;
	bool snapshot_needed; /*!< a batch was dropped since the last snapshot */
	uint64_t dropped;     /*!< batches dropped because the queue was full */
} prober_pubq_t;

/*! \brief An empty queue of \a cap batches (cap >= 1).
 *  \return HG_EOK, HG_EINVAL, HG_ENOMEM. */
int prober_pubq_init(prober_pubq_t *q, size_t cap);

/*! \brief Free the queue and every batch still in it. */
void prober_pubq_free(prober_pubq_t *q);

/*!
 * \brief Append \a b (the queue takes its records; \a b is emptied). When
 *        the queue is full the oldest batch is dropped first, counted, and
 *        the snapshot flag raised.
 * \return true when a batch was dropped.
 */
bool prober_pubq_push(prober_pubq_t *q, prober_pub_batch_t *b);

/*! \brief Take the oldest batch into \a out (the caller owns it then).
 *  \return false when the queue is empty. */
bool prober_pubq_pop(prober_pubq_t *q, prober_pub_batch_t *out);

/*!
 * \brief Drop every queued batch (a snapshot read after this call covers
 *        them) and lower the snapshot flag.
 * \param[out] flag  Whether the snapshot flag was raised (may be NULL).
 * \return The number of batches dropped.
 */
size_t prober_pubq_clear(prober_pubq_t *q, bool *flag);

/*! \brief The snapshot flag, without changing anything. */
bool prober_pubq_snapshot_needed(prober_pubq_t *q);

/*! \brief Batches queued now, and dropped so far. */
void prober_pubq_stats(prober_pubq_t *q, size_t *len, uint64_t *dropped);
