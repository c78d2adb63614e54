/*  SPDX-License-Identifier: GPL-3.0-or-later */
/*!
 * \file
 * \brief Messages published and not yet confirmed by the broker (publisher
 *        confirms), kept in publish order so a reconnect republishes them
 *        in that order, with their original sequence numbers, before
 *        anything new.
 *
 * Delivery tags count per channel from 1 in publish order, so tags grow
 * along the list; after a reconnect every message is untagged (tag 0)
 * until it is published again on the new channel. Owned and used by the
 * publisher thread only.
 *
 * Pure code, unit tested in tests/unit/test_prober_pub.c.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*! One encoded feed message. */
typedef struct {
	uint8_t *body; /*!< malloc'd feed message (feed_enc_finish()) */
	size_t len;
	uint64_t seq; /*!< its feed sequence number */
	uint8_t kind; /*!< enum feed_kind */
	uint32_t n_records;
	uint64_t tag;   /*!< delivery tag on the current channel; 0: not on it yet */
	bool confirmed; /*!< acked or nacked, waiting to leave the front */
} prober_pub_msg_t;

typedef struct {
	prober_pub_msg_t *v;
	size_t head, len, cap; /*!< messages are v[head .. head+len) */
	size_t bytes;          /*!< sum of their lengths */
} prober_pub_unacked_t;

/*! \brief An empty list (allocates nothing). */
void prober_unacked_init(prober_pub_unacked_t *u);

/*! \brief Free every message and the list. */
void prober_unacked_free(prober_pub_unacked_t *u);

/*! \brief Append \a m; the list takes its body. \return HG_EOK, HG_ENOMEM
 *         (then the caller still owns the body). */
int prober_unacked_add(prober_pub_unacked_t *u, const prober_pub_msg_t *m);

/*! \brief Messages held. */
size_t prober_unacked_len(const prober_pub_unacked_t *u);

/*! \brief The \a i-th message from the oldest (i < len), owned by the list. */
prober_pub_msg_t *prober_unacked_at(prober_pub_unacked_t *u, size_t i);

/*!
 * \brief The broker answered for \a tag (and every smaller tag when
 *        \a multiple): those messages are done. Messages leave from the
 *        front only, so an out-of-order answer waits for the older ones.
 * \param[out] records  Records in the messages removed (may be NULL).
 * \return Messages removed from the list.
 */
size_t prober_unacked_confirm(prober_pub_unacked_t *u, uint64_t tag, bool multiple,
                              uint64_t *records);

/*! \brief A new channel: every message loses its tag; those not confirmed
 *         yet are to be republished (confirmed ones wait at most for the
 *         older ones to leave). */
void prober_unacked_untag(prober_pub_unacked_t *u);
