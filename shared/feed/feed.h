/*  haltgslb — the feed codec: what a prober publishes to the DNS nodes.
 *  SPDX-License-Identifier: GPL-3.0-or-later
 */
/*!
 * \file
 * \brief Encoding and strict decoding of feed messages (format version 1).
 *
 * A prober publishes three kinds of messages: a BATCH (the records that
 * changed in one committed batch), a SNAPSHOT (every record of its
 * keyspace) and a HEARTBEAT (no records, every second). The byte layout is
 * a contract between probers and haltgslb-syncd of possibly different
 * releases; it is documented field by field in docs/replication.md ("Feed
 * format"). It is never LMDB pages: explicit little-endian fields and
 * LEB128 varints, times as deltas, endpoint ids front-coded in ascending
 * order.
 *
 * Decoding is strict: a message that is truncated, too big, or in any way
 * inconsistent is rejected whole with one enum feed_reason (each with a
 * static text and a metric label), and nothing of it is returned. A message
 * that decodes has exactly one encoding: re-encoding the decoded header and
 * records gives the same bytes.
 *
 * Decoding allocates nothing: feed_decode() validates the whole message in
 * place and keeps pointers into the caller's bytes; feed_iter_next() then
 * walks the records again without any possible error.
 *
 *     feed_msg_t msg;
 *     enum feed_reason why;
 *     if (feed_decode(body, len, &msg, &why) != HG_EOK) {
 *             count_rejected(feed_reason_name(why));   // whole message dropped
 *             return;
 *     }
 *     feed_iter_t it;
 *     feed_iter_init(&it, &msg);
 *     for (const feed_rec_t *r; (r = feed_iter_next(&it)) != NULL; )
 *             writer_apply_measure(w, r->endpoint, msg.prober, &r->m);
 *
 * Encoding (the prober): feed_enc_begin(), feed_enc_add() per record in any
 * order, feed_enc_finish() hands over a malloc'd message.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "schema.h"

/*! Format version written in every message and the only one accepted. */
#define FEED_VERSION 1u

/*! A message longer than this is rejected before it is parsed. Any message
 *  the encoder can produce (FEED_MAX_RECORDS records of the largest
 *  encoding) is shorter. */
#define FEED_MAX_MSG_BYTES (16u * 1024u * 1024u)

/*! Most records one message may carry (header count checked first). A
 *  10,000-endpoint snapshot is well inside it. */
#define FEED_MAX_RECORDS 65536u

/*! Times (Unix ms of the prober's clock) must lie in [0, FEED_TIME_MAX]. */
#define FEED_TIME_MAX ((uint64_t)INT64_MAX)

/*! Message kinds (header byte 4). */
enum feed_kind {
	FEED_BATCH = 1,     /*!< records that changed in one committed batch */
	FEED_SNAPSHOT = 2,  /*!< every record of the prober's keyspace */
	FEED_HEARTBEAT = 3, /*!< no records: the prober is alive */
};

/*!
 * Why a message was rejected. Values are stable within a format version
 * (syncd exports them as metric labels); FEED_R_COUNT_ is the number of
 * reasons, for arrays of counters indexed by reason.
 */
enum feed_reason {
	FEED_OK = 0,
	FEED_R_TRUNCATED,         /*!< the bytes end inside a field */
	FEED_R_TOO_BIG,           /*!< longer than FEED_MAX_MSG_BYTES */
	FEED_R_MAGIC,             /*!< does not start with "HGF" */
	FEED_R_VERSION,           /*!< format version other than FEED_VERSION */
	FEED_R_KIND,              /*!< not one of enum feed_kind */
	FEED_R_PROBER_ID,         /*!< prober id not 1-63 of A-Z a-z 0-9 . _ - */
	FEED_R_EPOCH,             /*!< epoch 0 */
	FEED_R_SEQ,               /*!< sequence number 0 */
	FEED_R_VARINT,            /*!< overlong (non-canonical) or over-64-bit varint */
	FEED_R_TOO_MANY,          /*!< record count over FEED_MAX_RECORDS */
	FEED_R_HEARTBEAT_RECORDS, /*!< heartbeat with a record count other than 0 */
	FEED_R_COUNT,             /*!< bytes end at a record boundary before count records */
	FEED_R_TRAILING,          /*!< bytes left after the last record */
	FEED_R_ENDPOINT_ID,       /*!< endpoint id malformed or not 1-63 valid characters */
	FEED_R_ORDER,             /*!< ids not strictly ascending / prefix not the longest shared */
	FEED_R_DUPLICATE,         /*!< the same endpoint twice in one message */
	FEED_R_STATE,             /*!< state not an enum hg_health */
	FEED_R_FAIL_CLASS,        /*!< fail class not an enum hg_fail_class */
	FEED_R_FIELD_RANGE,       /*!< a field over its type's range or inconsistent */
	FEED_R_TIME_RANGE,        /*!< a time outside [0, FEED_TIME_MAX] */
	FEED_R_COUNT_             /*!< number of reasons (not a reason) */
};

/*! \brief One sentence saying what \a reason means (static string, never NULL). */
const char *feed_reason_str(enum feed_reason reason);

/*! \brief Short lower-case label for \a reason, e.g. "truncated", for metric
 *         labels (static string; "unknown" outside the enum). */
const char *feed_reason_name(enum feed_reason reason);

/*! \brief "batch", "snapshot", "heartbeat" (static string; "unknown" else). */
const char *feed_kind_name(unsigned kind);

/*! \brief True if \a id is a valid prober/endpoint id: 1 to HG_ID_MAX
 *         characters of A-Z a-z 0-9 . _ - (the policy's id rule). */
bool feed_id_valid(const char *id);

/* ---------------------------------------------------------------------- */
/* Decoding */

/*! A decoded message header. Filled by feed_decode(); read-only. */
typedef struct {
	uint8_t version;         /*!< FEED_VERSION */
	uint8_t kind;            /*!< enum feed_kind */
	char prober[HG_ID_SIZE]; /*!< NUL-terminated copy of the prober id */
	uint64_t epoch;          /*!< the prober's run; never 0 */
	uint64_t seq;            /*!< the message's sequence in the epoch; never 0 */
	uint64_t sent_ms;        /*!< prober's send time, Unix ms (informational) */
	uint32_t n_records;      /*!< 0 for a heartbeat */
	/* private: the records section, inside the caller's buffer */
	const uint8_t *body_;
	size_t body_len_;
} feed_msg_t;

/*!
 * \brief Validate the whole message at \a buf and decode its header.
 *
 * Every record is decoded and checked before this returns, so a message is
 * accepted or rejected whole: on success every later feed_iter_next() on it
 * succeeds. Nothing is allocated. \a msg points into \a buf: it is valid
 * only as long as the caller keeps \a buf unchanged.
 *
 * \param[in]  buf     The message bytes (may be NULL when \a len is 0).
 * \param[in]  len     Their length.
 * \param[out] msg     On success the header; on rejection zeroed.
 * \param[out] reason  FEED_OK, or why the message was rejected (may be NULL).
 * \return HG_EOK, or HG_EINVAL when the message is rejected.
 */
int feed_decode(const void *buf, size_t len, feed_msg_t *msg, enum feed_reason *reason);

/*! A decoded record: the endpoint and its measurement. */
typedef struct {
	char endpoint[HG_ID_SIZE]; /*!< NUL-terminated endpoint id */
	/*! The measurement as the store keeps it: layout HG_REC_LAYOUT, seq =
	 *  the message's sequence number, every other field from the wire. */
	hg_rec_measure_t m;
} feed_rec_t;

/*! Walks the records of a decoded message (ascending endpoint order). */
typedef struct {
	/* private */
	const feed_msg_t *msg_;
	size_t off_;
	uint32_t left_;
	uint8_t id_len_;
	feed_rec_t rec_;
} feed_iter_t;

/*! \brief Start walking the records of \a msg (a message feed_decode()
 *         accepted; it must outlive the iterator). */
void feed_iter_init(feed_iter_t *it, const feed_msg_t *msg);

/*!
 * \brief The next record, or NULL after the last.
 *
 * The record is owned by the iterator and overwritten by the next call:
 * copy what you keep. Cannot fail on a message feed_decode() accepted.
 */
const feed_rec_t *feed_iter_next(feed_iter_t *it);

/* ---------------------------------------------------------------------- */
/* Encoding */

/*! A message being built. Fields are private: use the functions below. */
typedef struct {
	uint8_t kind_;
	char prober_[HG_ID_SIZE];
	uint64_t epoch_, seq_, sent_ms_;
	feed_rec_t *recs_; /*!< records added, sorted by feed_enc_finish() */
	size_t n_, cap_;
} feed_enc_t;

/*! \brief Initialise an empty encoder (allocates nothing). */
void feed_enc_init(feed_enc_t *enc);

/*!
 * \brief Start a new message, dropping the records of any previous one
 *        (their memory is kept for reuse).
 *
 * \param[in] kind     enum feed_kind.
 * \param[in] prober   The prober id (copied); it must match the AMQP
 *                     user_id the message is published with.
 * \param[in] epoch    This run of the prober, not 0 (e.g. its start time in
 *                     ms, or a random 64-bit value).
 * \param[in] seq      This message's sequence number, not 0, strictly
 *                     increasing within the epoch.
 * \param[in] sent_ms  Send time, Unix ms, at most FEED_TIME_MAX; also the
 *                     base the records' times are encoded against.
 * \return HG_EOK, HG_EINVAL (unknown kind, invalid prober id, epoch or seq
 *         0), HG_ERANGE (sent_ms over FEED_TIME_MAX).
 */
int feed_enc_begin(feed_enc_t *enc, enum feed_kind kind, const char *prober, uint64_t epoch,
                   uint64_t seq, uint64_t sent_ms);

/*!
 * \brief Add the record of \a endpoint (both arguments are copied).
 *
 * Records may be added in any order; the layout and seq fields of \a m are
 * ignored (the decoder sets them). A failed add leaves the message as it
 * was, so the caller may log and skip that record.
 *
 * \return HG_EOK, HG_EINVAL (heartbeat, invalid endpoint id, state or fail
 *         class out of range), HG_ERANGE (loss over 10000 bp, probes_failed
 *         over probes_total, a time over FEED_TIME_MAX, or already
 *         FEED_MAX_RECORDS records), HG_ENOMEM.
 */
int feed_enc_add(feed_enc_t *enc, const char *endpoint, const hg_rec_measure_t *m);

/*! \brief Records added since feed_enc_begin(). */
size_t feed_enc_count(const feed_enc_t *enc);

/*!
 * \brief Encode the message: records sorted by endpoint id.
 *
 * \param[out] msg  On success a malloc'd buffer owned by the caller (free()
 *                  it); suits a publisher that keeps unconfirmed messages.
 * \param[out] len  Its length, at most FEED_MAX_MSG_BYTES.
 * \return HG_EOK, HG_EINVAL (feed_enc_begin() not called), HG_EEXIST (an
 *         endpoint was added twice), HG_ENOMEM. The encoder keeps its
 *         records either way: begin the next message or free it.
 */
int feed_enc_finish(feed_enc_t *enc, uint8_t **msg, size_t *len);

/*! \brief Release the encoder's memory (it may be initialised again). */
void feed_enc_free(feed_enc_t *enc);
