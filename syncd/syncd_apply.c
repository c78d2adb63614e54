/*  SPDX-License-Identifier: GPL-3.0-or-later */
/*  One delivery → checks → records, views, cursor and offset in the
 *  batch's write transaction. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "log.h"
#include "schema_records.h"
#include "syncd_apply.h"
#include "syncd_int.h"
#include "writer.h"

/* ---------------------------------------------------------------------- */
/* Stored state */

static int read_position(syncd_apply_t *ap)
{
	store_rtxn_t r = { 0 };
	const void *val;
	size_t len;
	int ret = store_rtxn_begin(ap->store, &r);
	if (ret != HG_EOK) {
		return ret;
	}
	ret = store_get(&r, STORE_CURSORS, ap->stream_key, ap->stream_key_len, &val, &len);
	if (ret == HG_EOK) {
		const hg_rec_stream_cursor_t *p = val;
		if (len == sizeof(*p) && p->layout == HG_REC_LAYOUT) {
			ap->pos = *p;
			ap->stored_pos = true;
		} else {
			hg_warn("cursor %.*s: unknown layout or size (%zu bytes): starting by time",
			        (int)ap->stream_key_len, ap->stream_key, len);
		}
	} else if (ret == HG_ENOENT) {
		ret = HG_EOK;
	}
	store_rtxn_free(&r);
	return ret;
}

/* The prober's cursor in the open txn; false when there is none (or one of
 * a layout this build does not know: treated as none, logged). */
static bool read_cursor(syncd_apply_t *ap, const char *prober, hg_rec_cursor_t *out)
{
	const void *val;
	size_t len;
	if (store_wget(&ap->wtxn, STORE_CURSORS, prober, strlen(prober), &val, &len) != HG_EOK) {
		return false;
	}
	const hg_rec_cursor_t *c = val;
	if (len != sizeof(*c) || c->layout != HG_REC_LAYOUT) {
		hg_warn("cursor %s: unknown layout or size (%zu bytes): replaced", prober, len);
		return false;
	}
	*out = *c;
	return true;
}

static uint64_t meta_u64(store_wtxn_t *w, const char *key)
{
	const void *val;
	size_t len;
	uint64_t v = 0;
	if (store_wget(w, STORE_META, key, strlen(key), &val, &len) == HG_EOK && len == sizeof(v)) {
		memcpy(&v, val, sizeof(v));
	}
	return v;
}

static int min_stale(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
	(void)key;
	(void)klen;
	uint32_t *min = ctx;
	/* A names value is the record and its texts (schema 2): decoded. */
	schema_name_rec_t nr;
	if (schema_name_rec(val, vlen, &nr) != 0) {
		return HG_EOK;
	}
	const hg_rec_name_t *n = nr.rec;
	if (n->stale_after_ms > 0 && (*min == 0 || n->stale_after_ms < *min)) {
		*min = n->stale_after_ms;
	}
	return HG_EOK;
}

/* The smallest stale-after over every name (the policy default when there
 * is no name): the re-stamp interval must keep the strictest name fresh. */
static void refresh_policy(syncd_apply_t *ap)
{
	uint64_t gen = meta_u64(&ap->wtxn, HG_META_POLICY_GEN);
	if (gen == ap->generation) {
		return;
	}
	uint32_t min = 0;
	store_wforeach(&ap->wtxn, STORE_NAMES, NULL, 0, min_stale, &min);
	if (min == 0) {
		const void *val;
		size_t len;
		if (store_wget(&ap->wtxn, STORE_META, HG_META_POLICY_DEFAULTS,
		               strlen(HG_META_POLICY_DEFAULTS), &val, &len) == HG_EOK &&
		    len == sizeof(hg_rec_defaults_t)) {
			min = ((const hg_rec_defaults_t *)val)->stale_after_ms;
		}
	}
	ap->generation = gen;
	ap->stale_min_ms = min;
	if (gen != 0) {
		hg_notice("policy generation %" PRIu64 ": smallest stale-after %u ms, probers' "
		          "records re-stamped every %u ms while their messages arrive",
		          gen, min, min / SYNCD_RESTAMP_DIV);
	}
}

/* ---------------------------------------------------------------------- */
/* Setup and batches */

int syncd_apply_init(syncd_apply_t *ap, store_t *store, const char *stream)
{
	memset(ap, 0, sizeof(*ap));
	size_t slen = stream != NULL ? strlen(stream) : 0;
	if (slen == 0 || slen > 255) {
		return HG_EINVAL;
	}
	ap->store = store;
	ap->stream_key_len = (size_t)snprintf(ap->stream_key, sizeof(ap->stream_key), "%s%s",
	                                      HG_CURSOR_STREAM_PREFIX, stream);
	int ret = syncd_senders_init(ap);
	if (ret == HG_EOK) {
		ret = read_position(ap);
	}
	if (ret != HG_EOK) {
		syncd_senders_free(ap);
		return ret;
	}
	/* Until a connection names its cluster, the stored one is assumed. */
	memcpy(ap->cluster, ap->pos.cluster, sizeof(ap->cluster));
	ap->cluster[sizeof(ap->cluster) - 1] = '\0';
	ap->has_pos = ap->stored_pos;
	return HG_EOK;
}

void syncd_apply_free(syncd_apply_t *ap)
{
	syncd_batch_abort(ap);
	syncd_senders_free(ap);
}

int syncd_apply_policy_loaded(syncd_apply_t *ap, bool *loaded)
{
	store_rtxn_t r = { 0 };
	const void *val;
	size_t len;
	int ret = store_rtxn_begin(ap->store, &r);
	if (ret == HG_EOK) {
		ret = store_get(&r, STORE_META, HG_META_POLICY_GEN, strlen(HG_META_POLICY_GEN),
		                &val, &len);
		*loaded = ret == HG_EOK;
		if (ret == HG_ENOENT) {
			ret = HG_EOK;
		}
	}
	store_rtxn_free(&r);
	return ret;
}

int syncd_batch_begin(syncd_apply_t *ap, uint64_t now_ms)
{
	if (ap->open) {
		return HG_EBUSY;
	}
	int ret = store_wtxn_begin(ap->store, &ap->wtxn);
	if (ret != HG_EOK) {
		return ret;
	}
	ap->open = true;
	ap->batch_now_ms = now_ms;
	ap->pend_pos = ap->pos;
	ap->pend_has_pos = ap->has_pos;
	refresh_policy(ap);
	return HG_EOK;
}

int syncd_batch_commit(syncd_apply_t *ap)
{
	if (!ap->open) {
		return HG_EINVAL;
	}
	if (ap->pend_has_pos && ap->pend_pos.deliveries != ap->pos.deliveries) {
		ap->pend_pos.layout = HG_REC_LAYOUT;
		ap->pend_pos.committed_ms = ap->batch_now_ms;
		memcpy(ap->pend_pos.cluster, ap->cluster, sizeof(ap->pend_pos.cluster));
		store_put(&ap->wtxn, STORE_CURSORS, ap->stream_key, ap->stream_key_len,
		          &ap->pend_pos, sizeof(ap->pend_pos));
	}
	int ret = store_wtxn_commit(&ap->wtxn);
	ap->open = false;
	if (ret != HG_EOK) {
		ap->commit_errors++;
		syncd_senders_discard(ap);
		return ret;
	}
	ap->commits++;
	ap->deliveries += ap->pend_pos.deliveries - ap->pos.deliveries;
	ap->pos = ap->pend_pos;
	ap->has_pos = ap->pend_has_pos;
	ap->stored_pos = ap->stored_pos || ap->pend_has_pos;
	syncd_senders_commit(ap);
	return HG_EOK;
}

void syncd_batch_abort(syncd_apply_t *ap)
{
	if (!ap->open) {
		return;
	}
	store_wtxn_abort(&ap->wtxn);
	ap->open = false;
	syncd_senders_discard(ap);
}

/* ---------------------------------------------------------------------- */
/* One delivery */

static bool same_id(const char *a, size_t alen, const char *id)
{
	return a != NULL && alen == strlen(id) && memcmp(a, id, alen) == 0;
}

/* The sender a rejection is counted against: the broker-validated user_id
 * when it is an id, else a shared entry. */
static syncd_sender_t *reject_sender(syncd_apply_t *ap, const syncd_delivery_t *d)
{
	char id[HG_ID_SIZE];
	if (d->user_id == NULL) {
		return syncd_sender_stage(ap, SYNCD_SENDER_NONE, strlen(SYNCD_SENDER_NONE));
	}
	if (d->user_id_len > 0 && d->user_id_len <= HG_ID_MAX &&
	    memchr(d->user_id, '\0', d->user_id_len) == NULL) {
		memcpy(id, d->user_id, d->user_id_len);
		id[d->user_id_len] = '\0';
		if (feed_id_valid(id)) {
			return syncd_sender_stage(ap, id, d->user_id_len);
		}
	}
	return syncd_sender_stage(ap, SYNCD_SENDER_INVALID, strlen(SYNCD_SENDER_INVALID));
}

/* Print at most 63 bytes of a peer-supplied string, non-printables as '?'. */
static const char *printable(const char *s, size_t len, char buf[HG_ID_SIZE])
{
	size_t n = 0;
	for (; s != NULL && n < len && n < HG_ID_MAX; n++) {
		buf[n] = s[n] >= 0x20 && s[n] < 0x7f ? s[n] : '?';
	}
	buf[n] = '\0';
	return s == NULL ? "(none)" : buf;
}

static int reject(syncd_apply_t *ap, const syncd_delivery_t *d, unsigned reason,
                  const feed_msg_t *msg, syncd_verdict_t *v)
{
	v->outcome = SYNCD_REJECTED;
	v->reason = reason;
	reject_sender(ap, d)->c.rejected[reason]++;
	uint64_t more;
	if (syncd_log_due(ap, reason, d->arrival_ms, &more)) {
		char u[HG_ID_SIZE], k[HG_ID_SIZE];
		hg_warn("dropped message at offset %" PRIu64
		        " from user_id '%s' (routing key '%s', "
		        "prober '%s'): %s%s%s (%" PRIu64
		        " more of this cause since the last report)",
		        d->offset, printable(d->user_id, d->user_id_len, u),
		        printable(d->routing_key, d->routing_key_len, k),
		        msg != NULL ? msg->prober : "?", syncd_reason_name(reason),
		        reason < FEED_R_COUNT_ ? ": " : "",
		        reason < FEED_R_COUNT_ ? feed_reason_str(reason) : "", more);
	}
	return HG_EOK;
}

static int cmp_id(const void *a, const void *b)
{
	return strcmp(a, b);
}

typedef struct {
	syncd_apply_t *ap;
	const char *prober;
	const char (*kept)[HG_ID_SIZE];
	size_t n_kept;
	char (*gone)[HG_ID_SIZE];
	size_t n_gone, cap;
} forget_ctx_t;

/* Endpoints of the policy absent from the snapshot that still hold a record
 * of this prober. */
static int find_gone(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
	(void)val;
	(void)vlen;
	forget_ctx_t *f = ctx;
	char id[HG_ID_SIZE];
	if (klen == 0 || klen > HG_ID_MAX) {
		return HG_EOK;
	}
	memcpy(id, key, klen);
	id[klen] = '\0';
	/* An empty snapshot (a prober that has measured nothing yet, e.g. the
	 * one it publishes on connecting) keeps nothing, and bsearch() must
	 * not see its NULL array. */
	if (f->n_kept > 0 && bsearch(id, f->kept, f->n_kept, sizeof(*f->kept), cmp_id) != NULL) {
		return HG_EOK;
	}
	uint8_t mkey[STORE_MEASURE_KEY_MAX];
	size_t mlen = store_measure_key(mkey, sizeof(mkey), id, f->prober);
	const void *m;
	size_t len;
	if (mlen == 0 ||
	    store_wget(&f->ap->wtxn, STORE_MEASUREMENTS, mkey, mlen, &m, &len) != HG_EOK) {
		return HG_EOK;
	}
	if (f->n_gone == f->cap) {
		size_t cap = f->cap ? f->cap * 2 : 16;
		char(*grown)[HG_ID_SIZE] = realloc(f->gone, cap * sizeof(*grown));
		if (grown == NULL) {
			return HG_ENOMEM;
		}
		f->gone = grown;
		f->cap = cap;
	}
	memcpy(f->gone[f->n_gone++], id, sizeof(id));
	return HG_EOK;
}

/* A snapshot is the prober's whole keyspace: forget what it no longer has. */
static int forget_absent(syncd_apply_t *ap, const feed_msg_t *msg, uint32_t *forgotten)
{
	forget_ctx_t f = { .ap = ap, .prober = msg->prober };
	char(*kept)[HG_ID_SIZE] = NULL;
	if (msg->n_records > 0) {
		kept = malloc(msg->n_records * sizeof(*kept));
		if (kept == NULL) {
			return HG_ENOMEM;
		}
	}
	feed_iter_t it;
	feed_iter_init(&it, msg);
	for (const feed_rec_t *r; (r = feed_iter_next(&it)) != NULL;) {
		memcpy(kept[f.n_kept++], r->endpoint, HG_ID_SIZE); /* ascending: bsearch-able */
	}
	f.kept = (const char(*)[HG_ID_SIZE])kept;
	int ret = store_wforeach(&ap->wtxn, STORE_ENDPOINTS, NULL, 0, find_gone, &f);
	for (size_t i = 0; i < f.n_gone && ret == HG_EOK; i++) {
		ret = writer_forget_measure(&ap->wtxn, f.gone[i], msg->prober);
		*forgotten += ret == HG_EOK;
	}
	free(kept);
	free(f.gone);
	return ret;
}

static int apply_records(syncd_apply_t *ap, const feed_msg_t *msg, uint64_t arrival,
                         syncd_verdict_t *v)
{
	feed_iter_t it;
	feed_iter_init(&it, msg);
	for (const feed_rec_t *r; (r = feed_iter_next(&it)) != NULL;) {
		hg_rec_measure_t m = r->m;
		m.ts_ms = arrival; /* freshness by the node's clock */
		int ret = writer_apply_measure(&ap->wtxn, r->endpoint, msg->prober, &m);
		if (ret == HG_EOK) {
			v->applied++;
		} else if (ret == HG_ENOENT) {
			v->skipped++;
		} else {
			return ret;
		}
	}
	if (v->skipped > 0) {
		uint64_t more;
		if (syncd_log_due(ap, SYNCD_LOG_SKIPPED, arrival, &more)) {
			hg_notice("prober %s: %u records of endpoints not in the loaded policy "
			          "skipped "
			          "(%" PRIu64
			          " more messages with such records since the last report)",
			          msg->prober, v->skipped, more);
		}
	}
	return msg->kind == FEED_SNAPSHOT ? forget_absent(ap, msg, &v->forgotten) : HG_EOK;
}

/* Duplicate / stale / gap by the prober's own (epoch, seq). Returns true
 * when the message is new. */
static bool sequence_check(syncd_apply_t *ap, const feed_msg_t *msg, const hg_rec_cursor_t *cur,
                           bool have, uint64_t arrival, syncd_verdict_t *v)
{
	if (!have) {
		hg_info("prober %s: first message here (epoch %" PRIu64 ", seq %" PRIu64 ")",
		        msg->prober, msg->epoch, msg->seq);
		return true;
	}
	if (msg->epoch < cur->epoch) {
		v->outcome = SYNCD_REJECTED;
		v->reason = SYNCD_R_STALE_EPOCH;
		return false;
	}
	if (msg->epoch == cur->epoch && msg->seq <= cur->seq) {
		v->outcome = SYNCD_DUPLICATE;
		return false;
	}
	if (msg->epoch == cur->epoch) {
		v->gap = msg->seq - cur->seq - 1;
	} else {
		v->new_epoch = true;
		v->gap = msg->seq - 1;
		hg_notice("prober %s: new epoch %" PRIu64 " (was %" PRIu64 ", last seq %" PRIu64
		          "): "
		          "the prober restarted",
		          msg->prober, msg->epoch, cur->epoch, cur->seq);
	}
	uint64_t more;
	if (v->gap > 0 && syncd_log_due(ap, SYNCD_LOG_GAP, arrival, &more)) {
		hg_warn("prober %s: %" PRIu64 " messages missed before epoch %" PRIu64
		        " seq %" PRIu64 " (%" PRIu64 " more gaps since the last report)",
		        msg->prober, v->gap, msg->epoch, msg->seq, more);
	}
	return true;
}

static void put_cursor(syncd_apply_t *ap, const char *prober, const hg_rec_cursor_t *c)
{
	store_put(&ap->wtxn, STORE_CURSORS, prober, strlen(prober), c, sizeof(*c));
}

/* The message passed every check: apply it and move the prober's cursor. */
static int apply_message(syncd_apply_t *ap, const syncd_delivery_t *d, const feed_msg_t *msg,
                         syncd_verdict_t *v)
{
	hg_rec_cursor_t cur = { 0 };
	bool have = read_cursor(ap, msg->prober, &cur);
	syncd_sender_t *s = syncd_sender_stage(ap, msg->prober, strlen(msg->prober));
	if (!sequence_check(ap, msg, &cur, have, d->arrival_ms, v)) {
		if (v->outcome == SYNCD_REJECTED) {
			return reject(ap, d, v->reason, msg, v);
		}
		s->c.duplicates++;
		cur.duplicates++;
		put_cursor(ap, msg->prober, &cur);
		uint64_t more;
		if (syncd_log_due(ap, SYNCD_LOG_DUPLICATE, d->arrival_ms, &more)) {
			hg_info("prober %s: duplicate epoch %" PRIu64 " seq %" PRIu64
			        " dropped (applied up "
			        "to seq %" PRIu64 "; %" PRIu64 " more since the last report)",
			        msg->prober, msg->epoch, msg->seq, cur.seq, more);
		}
		return ap->wtxn.err;
	}
	v->outcome = SYNCD_APPLIED;
	int ret = apply_records(ap, msg, d->arrival_ms, v);
	if (ret != HG_EOK) {
		store_wtxn_fail(&ap->wtxn, ret);
		return ret;
	}
	/* Records of a snapshot are all stamped now; otherwise re-stamp the
	 * prober's other records once they are a fraction of stale-after old. */
	uint32_t every = syncd_apply_restamp_ms(ap);
	if (msg->kind == FEED_SNAPSHOT) {
		s->touched_ms = d->arrival_ms;
	} else if (every > 0 && (s->touched_ms == 0 || d->arrival_ms >= s->touched_ms + every)) {
		ret = writer_touch_prober(&ap->wtxn, msg->prober, d->arrival_ms);
		if (ret != HG_EOK) {
			store_wtxn_fail(&ap->wtxn, ret);
			return ret;
		}
		s->touched_ms = d->arrival_ms;
		s->c.restamps++;
		v->restamped = true;
	}
	cur.layout = HG_REC_LAYOUT;
	cur.epoch = msg->epoch;
	cur.seq = msg->seq;
	cur.last_arrival_ms = d->arrival_ms;
	cur.last_sent_ms = msg->sent_ms;
	cur.messages++;
	cur.records += v->applied;
	cur.gaps += v->gap;
	put_cursor(ap, msg->prober, &cur);

	s->c.messages[msg->kind]++;
	s->c.records += v->applied;
	s->c.skipped += v->skipped;
	s->c.forgotten += v->forgotten;
	s->c.gaps += v->gap;
	s->c.epochs += v->new_epoch;
	s->last_arrival_ms = d->arrival_ms;
	s->last_sent_ms = msg->sent_ms;
	return ap->wtxn.err;
}

int syncd_batch_add(syncd_apply_t *ap, const syncd_delivery_t *d, syncd_verdict_t *v)
{
	memset(v, 0, sizeof(*v));
	if (!ap->open) {
		return HG_EINVAL;
	}
	if (ap->wtxn.err != HG_EOK) {
		return ap->wtxn.err;
	}
	if (d->has_offset) {
		if (d->offset > ap->last_offset_seen) {
			ap->last_offset_seen = d->offset;
		}
		/* The broker may start a consumer at the chunk holding the offset
		 * asked for: what lies at or below the stored offset was consumed. */
		if (ap->pend_has_pos && d->offset <= ap->pend_pos.offset) {
			v->outcome = SYNCD_CONSUMED;
			return HG_EOK;
		}
		ap->pend_pos.offset = d->offset;
		ap->pend_has_pos = true;
	}
	ap->pend_pos.deliveries++;

	if (d->user_id == NULL) {
		return reject(ap, d, SYNCD_R_NO_USER_ID, NULL, v);
	}
	feed_msg_t msg;
	enum feed_reason why;
	if (feed_decode(d->body, d->len, &msg, &why) != HG_EOK) {
		return reject(ap, d, why, NULL, v);
	}
	v->kind = msg.kind;
	if (!same_id(d->user_id, d->user_id_len, msg.prober)) {
		return reject(ap, d, SYNCD_R_USER_MISMATCH, &msg, v);
	}
	if (!same_id(d->routing_key, d->routing_key_len, msg.prober)) {
		return reject(ap, d, SYNCD_R_ROUTING_KEY, &msg, v);
	}
	const void *val;
	size_t len;
	int ret = store_wget(&ap->wtxn, STORE_PROBERS, msg.prober, strlen(msg.prober), &val, &len);
	if (ret == HG_ENOENT) {
		return reject(ap, d, SYNCD_R_UNKNOWN_PROBER, &msg, v);
	} else if (ret != HG_EOK) {
		store_wtxn_fail(&ap->wtxn, ret);
		return ret;
	}
	return apply_message(ap, d, &msg, v);
}
