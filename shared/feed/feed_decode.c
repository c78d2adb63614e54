/*  SPDX-License-Identifier: GPL-3.0-or-later */
/* The strict decoder. One record decoder serves both the validation pass of
 * feed_decode() and the iterator, so what was validated is exactly what is
 * returned. Checks run in wire order: the reason is the first fault. */
#include <assert.h>
#include <string.h>

#include "errors.h"
#include "feed.h"
#include "feed_wire.h"

typedef struct {
	const uint8_t *p;
	size_t len, off;
} rd_t;

static enum feed_reason rd_u8(rd_t *r, uint8_t *v)
{
	if (r->off >= r->len) {
		return FEED_R_TRUNCATED;
	}
	*v = r->p[r->off++];
	return FEED_OK;
}

static enum feed_reason rd_bytes(rd_t *r, size_t n, const uint8_t **out)
{
	if (r->len - r->off < n) {
		return FEED_R_TRUNCATED;
	}
	*out = r->p + r->off;
	r->off += n;
	return FEED_OK;
}

static enum feed_reason rd_varint(rd_t *r, uint64_t *out)
{
	uint64_t v = 0;
	for (unsigned i = 0;; i++) {
		uint8_t b;
		if (rd_u8(r, &b) != FEED_OK) {
			return FEED_R_TRUNCATED;
		}
		/* The 10th byte holds bit 63 only. */
		if (i == FEED_VARINT_MAX - 1 && b > 1) {
			return FEED_R_VARINT;
		}
		v |= (uint64_t)(b & 0x7f) << (7 * i);
		if ((b & 0x80) == 0) {
			if (b == 0 && i > 0) {
				return FEED_R_VARINT; /* a shorter form exists */
			}
			*out = v;
			return FEED_OK;
		}
	}
}

/* A varint that must fit in \a max. */
static enum feed_reason rd_bounded(rd_t *r, uint64_t max, uint64_t *out)
{
	enum feed_reason why = rd_varint(r, out);
	if (why == FEED_OK && *out > max) {
		why = FEED_R_FIELD_RANGE;
	}
	return why;
}

/* base + a zigzag delta, checked to stay within [0, FEED_TIME_MAX]. */
static enum feed_reason rd_time(rd_t *r, uint64_t base, uint64_t *out)
{
	uint64_t z;
	enum feed_reason why = rd_varint(r, &z);
	if (why != FEED_OK) {
		return why;
	}
	int64_t t;
	if (__builtin_add_overflow((int64_t)base, feed_unzigzag(z), &t) || t < 0) {
		return FEED_R_TIME_RANGE;
	}
	*out = (uint64_t)t;
	return FEED_OK;
}

static enum feed_reason rd_rtt(rd_t *r, uint32_t *out)
{
	uint64_t v;
	enum feed_reason why = rd_bounded(r, UINT32_MAX, &v);
	if (why == FEED_OK) {
		*out = v == 0 ? HG_RTT_NONE : (uint32_t)(v - 1);
	}
	return why;
}

static enum feed_reason rd_u16(rd_t *r, uint16_t *out)
{
	uint64_t v;
	enum feed_reason why = rd_bounded(r, UINT16_MAX, &v);
	if (why == FEED_OK) {
		*out = (uint16_t)v;
	}
	return why;
}

/* The endpoint id, front-coded against the previous one (in rec->endpoint,
 * *id_len bytes; 0 before the first record). */
static enum feed_reason rd_endpoint(rd_t *r, feed_rec_t *rec, uint8_t *id_len)
{
	uint8_t shared, n;
	const uint8_t *suffix;
	enum feed_reason why;
	if ((why = rd_u8(r, &shared)) != FEED_OK || (why = rd_u8(r, &n)) != FEED_OK) {
		return why;
	}
	unsigned total = (unsigned)shared + n;
	if (shared > *id_len || total == 0 || total > HG_ID_MAX) {
		return FEED_R_ENDPOINT_ID;
	}
	if ((why = rd_bytes(r, n, &suffix)) != FEED_OK) {
		return why;
	}
	for (unsigned i = 0; i < n; i++) {
		if (!feed_id_char(suffix[i])) {
			return FEED_R_ENDPOINT_ID;
		}
	}
	/* Strictly ascending with the longest shared prefix: the id extends the
	 * previous one, or differs at byte `shared` by a greater byte. */
	if (*id_len > 0) {
		if (shared == *id_len) {
			if (n == 0) {
				return FEED_R_DUPLICATE;
			}
		} else if (n == 0 || suffix[0] <= (uint8_t)rec->endpoint[shared]) {
			return FEED_R_ORDER;
		}
	}
	memcpy(rec->endpoint + shared, suffix, n);
	rec->endpoint[total] = '\0';
	*id_len = (uint8_t)total;
	return FEED_OK;
}

static enum feed_reason rd_record(rd_t *r, uint64_t base, feed_rec_t *rec, uint8_t *id_len)
{
	/* Locals, not the packed struct's members: no unaligned pointers. */
	uint8_t sf;
	uint64_t ts, changed, loss, total, failed;
	uint32_t rtt_last, rtt_ewma, rtt_median, ttfb;
	uint16_t window, consec_ok, consec_fail;
	enum feed_reason why;
	if ((why = rd_endpoint(r, rec, id_len)) != FEED_OK || (why = rd_u8(r, &sf)) != FEED_OK) {
		return why;
	}
	if ((sf & 0x0f) > FEED_STATE_MAX) {
		return FEED_R_STATE;
	}
	if ((sf >> 4) > FEED_FAIL_MAX) {
		return FEED_R_FAIL_CLASS;
	}
	if ((why = rd_time(r, base, &ts)) != FEED_OK ||
	    (why = rd_time(r, ts, &changed)) != FEED_OK ||
	    (why = rd_rtt(r, &rtt_last)) != FEED_OK || (why = rd_rtt(r, &rtt_ewma)) != FEED_OK ||
	    (why = rd_rtt(r, &rtt_median)) != FEED_OK || (why = rd_rtt(r, &ttfb)) != FEED_OK ||
	    (why = rd_bounded(r, FEED_LOSS_MAX, &loss)) != FEED_OK ||
	    (why = rd_u16(r, &window)) != FEED_OK || (why = rd_u16(r, &consec_ok)) != FEED_OK ||
	    (why = rd_u16(r, &consec_fail)) != FEED_OK || (why = rd_varint(r, &total)) != FEED_OK ||
	    (why = rd_bounded(r, total, &failed)) != FEED_OK) {
		return why;
	}
	hg_rec_measure_t *m = &rec->m;
	m->state = sf & 0x0f;
	m->fail_class = sf >> 4;
	m->ts_ms = ts;
	m->changed_ms = changed;
	m->rtt_last_us = rtt_last;
	m->rtt_ewma_us = rtt_ewma;
	m->rtt_median_us = rtt_median;
	m->ttfb_us = ttfb;
	m->loss_bp = (uint16_t)loss;
	m->window = window;
	m->consec_ok = consec_ok;
	m->consec_fail = consec_fail;
	m->probes_total = total;
	m->probes_failed = failed;
	return FEED_OK;
}

static enum feed_reason rd_header(rd_t *r, feed_msg_t *msg)
{
	uint8_t b, id_n;
	const uint8_t *id;
	uint64_t count;
	enum feed_reason why;
	for (unsigned i = 0; i < FEED_MAGIC_LEN; i++) {
		if ((why = rd_u8(r, &b)) != FEED_OK) {
			return why;
		}
		if (b != (uint8_t)FEED_MAGIC[i]) {
			return FEED_R_MAGIC;
		}
	}
	if ((why = rd_u8(r, &msg->version)) != FEED_OK) {
		return why;
	}
	if (msg->version != FEED_VERSION) {
		return FEED_R_VERSION;
	}
	if ((why = rd_u8(r, &msg->kind)) != FEED_OK) {
		return why;
	}
	if (msg->kind < FEED_BATCH || msg->kind > FEED_HEARTBEAT) {
		return FEED_R_KIND;
	}
	if ((why = rd_u8(r, &id_n)) != FEED_OK) {
		return why;
	}
	if (id_n == 0 || id_n > HG_ID_MAX) {
		return FEED_R_PROBER_ID;
	}
	if ((why = rd_bytes(r, id_n, &id)) != FEED_OK) {
		return why;
	}
	for (unsigned i = 0; i < id_n; i++) {
		if (!feed_id_char(id[i])) {
			return FEED_R_PROBER_ID;
		}
	}
	memcpy(msg->prober, id, id_n);
	msg->prober[id_n] = '\0';
	const uint8_t *e;
	if ((why = rd_bytes(r, 8, &e)) != FEED_OK) {
		return why;
	}
	msg->epoch = 0;
	for (unsigned i = 0; i < 8; i++) {
		msg->epoch |= (uint64_t)e[i] << (8 * i);
	}
	if (msg->epoch == 0) {
		return FEED_R_EPOCH;
	}
	if ((why = rd_varint(r, &msg->seq)) != FEED_OK) {
		return why;
	}
	if (msg->seq == 0) {
		return FEED_R_SEQ;
	}
	if ((why = rd_varint(r, &msg->sent_ms)) != FEED_OK) {
		return why;
	}
	if (msg->sent_ms > FEED_TIME_MAX) {
		return FEED_R_TIME_RANGE;
	}
	if ((why = rd_varint(r, &count)) != FEED_OK) {
		return why;
	}
	if (count > FEED_MAX_RECORDS) {
		return FEED_R_TOO_MANY;
	}
	if (msg->kind == FEED_HEARTBEAT && count != 0) {
		return FEED_R_HEARTBEAT_RECORDS;
	}
	msg->n_records = (uint32_t)count;
	return FEED_OK;
}

static enum feed_reason decode(const uint8_t *buf, size_t len, feed_msg_t *msg)
{
	if (len > FEED_MAX_MSG_BYTES) {
		return FEED_R_TOO_BIG;
	}
	rd_t r = { .p = buf, .len = len, .off = 0 };
	enum feed_reason why = rd_header(&r, msg);
	if (why != FEED_OK) {
		return why;
	}
	msg->body_ = buf + r.off;
	msg->body_len_ = len - r.off;
	feed_rec_t scratch;
	uint8_t id_len = 0;
	for (uint32_t i = 0; i < msg->n_records; i++) {
		if (r.off == r.len) {
			return FEED_R_COUNT;
		}
		if ((why = rd_record(&r, msg->sent_ms, &scratch, &id_len)) != FEED_OK) {
			return why;
		}
	}
	return r.off == r.len ? FEED_OK : FEED_R_TRAILING;
}

int feed_decode(const void *buf, size_t len, feed_msg_t *msg, enum feed_reason *reason)
{
	assert(msg != NULL);
	memset(msg, 0, sizeof(*msg));
	enum feed_reason why = (buf == NULL && len > 0) ? FEED_R_TRUNCATED : decode(buf, len, msg);
	if (reason != NULL) {
		*reason = why;
	}
	if (why != FEED_OK) {
		memset(msg, 0, sizeof(*msg));
		return HG_EINVAL;
	}
	return HG_EOK;
}

void feed_iter_init(feed_iter_t *it, const feed_msg_t *msg)
{
	assert(it != NULL && msg != NULL);
	memset(it, 0, sizeof(*it));
	it->msg_ = msg;
	it->left_ = msg->n_records;
}

const feed_rec_t *feed_iter_next(feed_iter_t *it)
{
	assert(it != NULL);
	if (it->left_ == 0) {
		return NULL;
	}
	const feed_msg_t *msg = it->msg_;
	rd_t r = { .p = msg->body_, .len = msg->body_len_, .off = it->off_ };
	enum feed_reason why = rd_record(&r, msg->sent_ms, &it->rec_, &it->id_len_);
	/* feed_decode() validated these very bytes. */
	assert(why == FEED_OK);
	if (why != FEED_OK) {
		it->left_ = 0;
		return NULL;
	}
	it->off_ = r.off;
	it->left_--;
	it->rec_.m.layout = HG_REC_LAYOUT;
	it->rec_.m.seq = msg->seq;
	return &it->rec_;
}
