/*  SPDX-License-Identifier: GPL-3.0-or-later */
/* The encoder. Records are kept as added and sorted at finish, because the
 * wire wants ascending ids (front coding; duplicates and order are then
 * checkable by the decoder without a set). Finish measures the exact size
 * in a first pass, so the message is allocated once and to size. */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "feed.h"
#include "feed_wire.h"

void feed_enc_init(feed_enc_t *enc)
{
	memset(enc, 0, sizeof(*enc));
}

void feed_enc_free(feed_enc_t *enc)
{
	if (enc == NULL) {
		return;
	}
	free(enc->recs_);
	memset(enc, 0, sizeof(*enc));
}

int feed_enc_begin(feed_enc_t *enc, enum feed_kind kind, const char *prober, uint64_t epoch,
                   uint64_t seq, uint64_t sent_ms)
{
	if (kind < FEED_BATCH || kind > FEED_HEARTBEAT || !feed_id_valid(prober) || epoch == 0 ||
	    seq == 0) {
		return HG_EINVAL;
	}
	if (sent_ms > FEED_TIME_MAX) {
		return HG_ERANGE;
	}
	enc->kind_ = (uint8_t)kind;
	memset(enc->prober_, 0, sizeof(enc->prober_));
	memcpy(enc->prober_, prober, strlen(prober));
	enc->epoch_ = epoch;
	enc->seq_ = seq;
	enc->sent_ms_ = sent_ms;
	enc->n_ = 0;
	return HG_EOK;
}

int feed_enc_add(feed_enc_t *enc, const char *endpoint, const hg_rec_measure_t *m)
{
	if (enc->kind_ == 0 || enc->kind_ == FEED_HEARTBEAT || !feed_id_valid(endpoint) ||
	    m->state > FEED_STATE_MAX || m->fail_class > FEED_FAIL_MAX) {
		return HG_EINVAL;
	}
	if (m->loss_bp > FEED_LOSS_MAX || m->probes_failed > m->probes_total ||
	    m->ts_ms > FEED_TIME_MAX || m->changed_ms > FEED_TIME_MAX ||
	    enc->n_ >= FEED_MAX_RECORDS) {
		return HG_ERANGE;
	}
	if (enc->n_ == enc->cap_) {
		size_t cap = enc->cap_ ? 2 * enc->cap_ : 64;
		if (cap > FEED_MAX_RECORDS) {
			cap = FEED_MAX_RECORDS;
		}
		feed_rec_t *r = realloc(enc->recs_, cap * sizeof(*r));
		if (r == NULL) {
			return HG_ENOMEM;
		}
		enc->recs_ = r;
		enc->cap_ = cap;
	}
	feed_rec_t *rec = &enc->recs_[enc->n_++];
	memset(rec->endpoint, 0, sizeof(rec->endpoint));
	memcpy(rec->endpoint, endpoint, strlen(endpoint));
	rec->m = *m;
	return HG_EOK;
}

size_t feed_enc_count(const feed_enc_t *enc)
{
	return enc->n_;
}

/* A writer that only counts when p is NULL. */
typedef struct {
	uint8_t *p;
	size_t off;
} wr_t;

static void wr_u8(wr_t *w, uint8_t v)
{
	if (w->p != NULL) {
		w->p[w->off] = v;
	}
	w->off++;
}

static void wr_bytes(wr_t *w, const void *src, size_t n)
{
	if (w->p != NULL && n > 0) {
		memcpy(w->p + w->off, src, n);
	}
	w->off += n;
}

static void wr_varint(wr_t *w, uint64_t v)
{
	w->off += feed_varint_put(w->p != NULL ? w->p + w->off : NULL, v);
}

/* Both times are within [0, FEED_TIME_MAX], so the difference fits. */
static void wr_time(wr_t *w, uint64_t t, uint64_t base)
{
	wr_varint(w, feed_zigzag((int64_t)t - (int64_t)base));
}

static void wr_record(wr_t *w, const feed_rec_t *rec, const char *prev, uint64_t base)
{
	const hg_rec_measure_t *m = &rec->m;
	size_t n = strlen(rec->endpoint), shared = 0;
	while (prev[shared] != '\0' && prev[shared] == rec->endpoint[shared]) {
		shared++;
	}
	wr_u8(w, (uint8_t)shared);
	wr_u8(w, (uint8_t)(n - shared));
	wr_bytes(w, rec->endpoint + shared, n - shared);
	wr_u8(w, (uint8_t)(m->state | m->fail_class << 4));
	wr_time(w, m->ts_ms, base);
	wr_time(w, m->changed_ms, m->ts_ms);
	wr_varint(w, feed_rtt_wire(m->rtt_last_us));
	wr_varint(w, feed_rtt_wire(m->rtt_ewma_us));
	wr_varint(w, feed_rtt_wire(m->rtt_median_us));
	wr_varint(w, feed_rtt_wire(m->ttfb_us));
	wr_varint(w, m->loss_bp);
	wr_varint(w, m->window);
	wr_varint(w, m->consec_ok);
	wr_varint(w, m->consec_fail);
	wr_varint(w, m->probes_total);
	wr_varint(w, m->probes_failed);
}

static size_t wr_message(const feed_enc_t *enc, uint8_t *out)
{
	wr_t w = { .p = out, .off = 0 };
	size_t id_n = strlen(enc->prober_);
	wr_bytes(&w, FEED_MAGIC, FEED_MAGIC_LEN);
	wr_u8(&w, FEED_VERSION);
	wr_u8(&w, enc->kind_);
	wr_u8(&w, (uint8_t)id_n);
	wr_bytes(&w, enc->prober_, id_n);
	for (unsigned i = 0; i < 8; i++) {
		wr_u8(&w, (uint8_t)(enc->epoch_ >> (8 * i)));
	}
	wr_varint(&w, enc->seq_);
	wr_varint(&w, enc->sent_ms_);
	wr_varint(&w, enc->n_);
	const char *prev = "";
	for (size_t i = 0; i < enc->n_; i++) {
		wr_record(&w, &enc->recs_[i], prev, enc->sent_ms_);
		prev = enc->recs_[i].endpoint;
	}
	return w.off;
}

static int rec_cmp(const void *a, const void *b)
{
	return strcmp(((const feed_rec_t *)a)->endpoint, ((const feed_rec_t *)b)->endpoint);
}

int feed_enc_finish(feed_enc_t *enc, uint8_t **msg, size_t *len)
{
	if (enc->kind_ == 0) {
		return HG_EINVAL;
	}
	if (enc->n_ > 1) {
		qsort(enc->recs_, enc->n_, sizeof(*enc->recs_), rec_cmp);
	}
	for (size_t i = 1; i < enc->n_; i++) {
		if (strcmp(enc->recs_[i - 1].endpoint, enc->recs_[i].endpoint) == 0) {
			return HG_EEXIST;
		}
	}
	size_t size = wr_message(enc, NULL);
	uint8_t *buf = malloc(size);
	if (buf == NULL) {
		return HG_ENOMEM;
	}
	size_t written = wr_message(enc, buf);
	assert(written == size);
	(void)written; /* NDEBUG */
	*msg = buf;
	*len = size;
	return HG_EOK;
}
