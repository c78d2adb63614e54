/*  haltgslb-syncd — applying stream deliveries to the node's LMDB.
 *  SPDX-License-Identifier: GPL-3.0-or-later
 */
/*!
 * \file
 * \brief The apply path of haltgslb-syncd, without any AMQP: a delivery is
 *        (user_id, routing key, body, stream offset, arrival time).
 *
 * Deliveries are applied in batches, one LMDB write transaction each:
 *
 *     syncd_batch_begin(ap);
 *     for each delivery: syncd_batch_add(ap, &d, &verdict);   // staged
 *     syncd_batch_commit(ap);    // records, views, cursors and offset at once
 *     ack the deliveries
 *
 * A delivery's records, the patched views, its prober's cursor and the
 * stream offset it carried are written in the same transaction, so a commit
 * makes all of them visible and a failure none (the batch is then consumed
 * again from the stored offset). The counters follow the same rule: what a
 * batch counted becomes visible at its commit and is discarded with it, so
 * the counters never show work the database does not hold.
 *
 * The checks, in order (the first failing one rejects the whole message,
 * counted per cause): the message carries a user_id (the broker validates
 * one that is present but accepts a message without); it decodes (feed
 * reasons); its prober id equals the user_id and the routing key; that
 * prober is one of the loaded policy; its epoch is not older than the last
 * one applied. A message whose (epoch, seq) was applied already is a
 * duplicate; sequence numbers skipped are counted as gaps. Records of an
 * endpoint the policy does not know are skipped and counted, the rest of
 * the message applies.
 *
 * Freshness follows the node's clock: every record applied is stamped with
 * the delivery's arrival time (ts_ms; the prober's other fields are kept),
 * and any message of a prober re-stamps all of its records and cells when
 * their stamp is older than a quarter of the policy's smallest stale-after
 * (writer_touch_prober()). A snapshot is the prober's whole keyspace: its
 * records that a snapshot does not carry are forgotten.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "feed.h"
#include "store.h"

/*! Syncd's own reasons to reject a message, numbered after the decoder's
 *  (enum feed_reason): one counter array covers both. */
enum syncd_reason {
	SYNCD_R_NO_USER_ID = FEED_R_COUNT_, /*!< no user_id property */
	SYNCD_R_USER_MISMATCH,              /*!< the message's prober id is not its user_id */
	SYNCD_R_ROUTING_KEY,                /*!< the routing key is not the prober id */
	SYNCD_R_UNKNOWN_PROBER,             /*!< not a prober of the loaded policy */
	SYNCD_R_STALE_EPOCH,                /*!< an epoch older than the one applied */
	SYNCD_R_COUNT_                      /*!< number of reasons (not a reason) */
};

/*! \brief Metric label of a rejection reason (feed reasons included), e.g.
 *         "truncated", "no_user_id"; static, "unknown" outside the range. */
const char *syncd_reason_name(unsigned reason);

/*! What became of one delivery. */
enum syncd_outcome {
	SYNCD_APPLIED = 1, /*!< a new message: its records (if any) applied */
	SYNCD_DUPLICATE,   /*!< (epoch, seq) already applied: dropped */
	SYNCD_REJECTED,    /*!< dropped for \a reason */
	SYNCD_CONSUMED,    /*!< offset at or below the stored one: seen before, ignored */
};

typedef struct {
	enum syncd_outcome outcome;
	unsigned reason;    /*!< SYNCD_REJECTED: enum feed_reason / enum syncd_reason */
	uint8_t kind;       /*!< enum feed_kind when it decoded, else 0 */
	uint32_t applied;   /*!< records written */
	uint32_t skipped;   /*!< records of endpoints unknown to the policy */
	uint32_t forgotten; /*!< records dropped because a snapshot lacks them */
	uint64_t gap;       /*!< messages missed just before this one */
	bool restamped;     /*!< the prober's records were re-stamped */
	bool new_epoch;     /*!< first message of a newer epoch */
} syncd_verdict_t;

/*! One delivery from the stream. Strings are not NUL-terminated. */
typedef struct {
	const char *user_id; /*!< AMQP user_id property, NULL when absent */
	size_t user_id_len;
	const char *routing_key;
	size_t routing_key_len;
	const void *body;
	size_t len;
	bool has_offset; /*!< the x-stream-offset header was present */
	uint64_t offset;
	uint64_t arrival_ms; /*!< syncd's clock when it was received (Unix ms) */
} syncd_delivery_t;

/*! Counters of one prober (or of one user_id that is not a prober). */
typedef struct {
	uint64_t messages[FEED_HEARTBEAT + 1]; /*!< applied, by enum feed_kind */
	uint64_t records;                      /*!< records applied */
	uint64_t skipped;                      /*!< records of unknown endpoints */
	uint64_t forgotten;                    /*!< records a snapshot no longer carried */
	uint64_t duplicates;
	uint64_t gaps;     /*!< messages missed */
	uint64_t epochs;   /*!< epoch changes (a restarted prober) */
	uint64_t restamps; /*!< writer_touch_prober() calls */
	uint64_t rejected[SYNCD_R_COUNT_];
} syncd_counts_t;

/*! What syncd knows of one sender. */
typedef struct {
	char id[HG_ID_SIZE];      /*!< user_id, "(none)" or "(other)" */
	syncd_counts_t c;         /*!< since syncd started */
	uint64_t last_arrival_ms; /*!< last message applied (syncd's clock); 0 never */
	uint64_t last_sent_ms;    /*!< its send time (prober's clock) */
	uint64_t touched_ms;      /*!< last re-stamp of its records (0: not since start) */
} syncd_sender_t;

/*! Most senders tracked one by one; more share the "(other)" entry. */
#define SYNCD_SENDERS_MAX 256

/*! Re-stamp when the records are this fraction (1/N) of the smallest
 *  stale-after old. */
#define SYNCD_RESTAMP_DIV 4

/*! Log a repeated rejection cause at most once per this many ms. */
#define SYNCD_LOG_EVERY_MS 60000

typedef struct syncd_apply {
	store_t *store;
	char stream_key[sizeof(HG_CURSOR_STREAM_PREFIX) + 256];
	size_t stream_key_len;
	/* The open batch. */
	store_wtxn_t wtxn;
	bool open;
	uint64_t batch_now_ms;
	/* Policy facts, refreshed when the generation changes. */
	uint64_t generation;   /*!< 0: no policy loaded */
	uint32_t stale_min_ms; /*!< smallest stale-after of the policy */
	/* Stream position: committed, and staged by the open batch. */
	hg_rec_stream_cursor_t pos, pend_pos;
	bool stored_pos; /*!< the database holds a position (pos) */
	bool has_pos;    /*!< ... and it belongs to the current cluster */
	bool pend_has_pos;
	char cluster[HG_CLUSTER_SIZE]; /*!< cluster of the current connection */
	uint64_t last_offset_seen;     /*!< newest offset received (maybe uncommitted) */
	/* Senders: committed state, and copies staged by the open batch. */
	syncd_sender_t *senders, *pend;
	size_t n_senders;
	uint32_t *dirty; /*!< indexes of the senders the batch changed */
	size_t n_dirty;
	bool *is_dirty;
	/* Batches. */
	uint64_t commits, commit_errors, deliveries;
	/* Rejections logged at most once per cause per SYNCD_LOG_EVERY_MS. */
	uint64_t log_last_ms[SYNCD_R_COUNT_ + 3];
	uint64_t log_suppressed[SYNCD_R_COUNT_ + 3];
} syncd_apply_t;

/*!
 * \brief Set up the apply path on \a store for stream \a stream and read the
 *        stored stream position.
 * \return HG_EOK, HG_EINVAL (stream name empty or over 255 bytes),
 *         HG_ENOMEM, or a store error.
 */
int syncd_apply_init(syncd_apply_t *ap, store_t *store, const char *stream);

/*! \brief Free what syncd_apply_init() allocated (aborts an open batch). */
void syncd_apply_free(syncd_apply_t *ap);

/*!
 * \brief The broker cluster the next deliveries come from (its
 *        cluster_name, "" unknown). Offsets of another cluster are not
 *        comparable: if the stored position belongs to another one, it is
 *        not used to resume (syncd_apply_position() then says so).
 */
void syncd_apply_set_cluster(syncd_apply_t *ap, const char *cluster);

/*!
 * \brief Where to resume: true and the last committed offset when the
 *        stored position belongs to the current cluster (consume from
 *        *offset + 1), false when the node has none for it (start by time).
 */
bool syncd_apply_position(const syncd_apply_t *ap, uint64_t *offset);

/*!
 * \brief Stop resuming from the stored position on this connection: the
 *        next consumer starts by time, and the deliveries it gets are
 *        applied even at offsets at or below the stored one (a rebuilt
 *        stream counts from 0 again); the first commit replaces the
 *        position. Duplicates are still dropped by (epoch, seq). Undone by
 *        the next syncd_apply_set_cluster() while nothing was committed.
 */
void syncd_apply_drop_position(syncd_apply_t *ap);

/*!
 * \brief Whether a policy is loaded (meta policy_generation present), read
 *        in its own read txn. \return HG_EOK (\a loaded set) or a store error.
 */
int syncd_apply_policy_loaded(syncd_apply_t *ap, bool *loaded);

/*!
 * \brief Begin a batch (one write transaction) at \a now_ms; refreshes the
 *        policy facts when the policy generation changed.
 * \return HG_EOK, HG_EBUSY (a batch is open) or the store's error.
 */
int syncd_batch_begin(syncd_apply_t *ap, uint64_t now_ms);

/*!
 * \brief Stage one delivery in the open batch.
 *
 * \param[out] v  What became of it (valid on HG_EOK).
 * \return HG_EOK when the delivery was staged (applied, duplicate, rejected
 *         or already consumed: all of them advance the stored offset at
 *         commit), HG_EINVAL (no open batch), or the transaction's error:
 *         then the batch can only be aborted.
 */
int syncd_batch_add(syncd_apply_t *ap, const syncd_delivery_t *d, syncd_verdict_t *v);

/*!
 * \brief Write the stream position and commit the batch. On success the
 *        batch's counters become visible; on failure nothing of the batch
 *        remains (database, position or counters).
 * \return HG_EOK, HG_EINVAL (no open batch) or the commit's error.
 */
int syncd_batch_commit(syncd_apply_t *ap);

/*! \brief Abort the open batch (no-op when none): nothing of it remains. */
void syncd_batch_abort(syncd_apply_t *ap);

/*! \brief The smallest stale-after of the loaded policy (ms; 0 none) and the
 *         re-stamp interval derived from it. */
uint32_t syncd_apply_restamp_ms(const syncd_apply_t *ap);
