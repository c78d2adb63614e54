/*  SPDX-License-Identifier: GPL-3.0-or-later */
/*  The apply path's memory: senders and their counters (committed, and
 *  staged by the open batch), the stream position, reason names, and the
 *  rate limit of the rejection logs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "log.h"
#include "syncd_apply.h"
#include "syncd_int.h"

static const char *const own_reasons[] = {
	[SYNCD_R_NO_USER_ID - FEED_R_COUNT_] = "no_user_id",
	[SYNCD_R_USER_MISMATCH - FEED_R_COUNT_] = "user_id_mismatch",
	[SYNCD_R_ROUTING_KEY - FEED_R_COUNT_] = "routing_key_mismatch",
	[SYNCD_R_UNKNOWN_PROBER - FEED_R_COUNT_] = "unknown_prober",
	[SYNCD_R_STALE_EPOCH - FEED_R_COUNT_] = "stale_epoch",
};

const char *syncd_reason_name(unsigned reason)
{
	if (reason > FEED_OK && reason < FEED_R_COUNT_) {
		return feed_reason_name(reason);
	}
	if (reason >= FEED_R_COUNT_ && reason < SYNCD_R_COUNT_) {
		return own_reasons[reason - FEED_R_COUNT_];
	}
	return "unknown";
}

int syncd_senders_init(syncd_apply_t *ap)
{
	ap->senders = calloc(SYNCD_SENDERS_MAX, sizeof(*ap->senders));
	ap->pend = calloc(SYNCD_SENDERS_MAX, sizeof(*ap->pend));
	ap->dirty = calloc(SYNCD_SENDERS_MAX, sizeof(*ap->dirty));
	ap->is_dirty = calloc(SYNCD_SENDERS_MAX, sizeof(*ap->is_dirty));
	if (ap->senders == NULL || ap->pend == NULL || ap->dirty == NULL || ap->is_dirty == NULL) {
		return HG_ENOMEM;
	}
	return HG_EOK;
}

void syncd_senders_free(syncd_apply_t *ap)
{
	free(ap->senders);
	free(ap->pend);
	free(ap->dirty);
	free(ap->is_dirty);
	ap->senders = ap->pend = NULL;
	ap->dirty = NULL;
	ap->is_dirty = NULL;
}

static long sender_find(const syncd_apply_t *ap, const char *id, size_t len)
{
	for (size_t i = 0; i < ap->n_senders; i++) {
		if (strncmp(ap->senders[i].id, id, len) == 0 && ap->senders[i].id[len] == '\0') {
			return (long)i;
		}
	}
	return -1;
}

/* A new sender starts with zero counters: created outside the batch's
 * staging, since an empty entry says nothing the database does not. */
static long sender_add(syncd_apply_t *ap, const char *id, size_t len)
{
	if (ap->n_senders == SYNCD_SENDERS_MAX - 1 && strcmp(id, SYNCD_SENDER_OTHER) != 0) {
		return sender_find(ap, SYNCD_SENDER_OTHER, strlen(SYNCD_SENDER_OTHER));
	}
	syncd_sender_t *s = &ap->senders[ap->n_senders];
	memset(s, 0, sizeof(*s));
	memcpy(s->id, id, len);
	s->id[len] = '\0';
	return (long)ap->n_senders++;
}

syncd_sender_t *syncd_sender_stage(syncd_apply_t *ap, const char *id, size_t len)
{
	if (len == 0 || len > HG_ID_MAX) {
		return NULL;
	}
	if (ap->n_senders == 0) {
		/* The overflow entry first, so it always exists. */
		sender_add(ap, SYNCD_SENDER_OTHER, strlen(SYNCD_SENDER_OTHER));
	}
	long i = sender_find(ap, id, len);
	if (i < 0) {
		i = sender_add(ap, id, len);
	}
	if (!ap->is_dirty[i]) {
		ap->pend[i] = ap->senders[i];
		ap->is_dirty[i] = true;
		ap->dirty[ap->n_dirty++] = (uint32_t)i;
	}
	return &ap->pend[i];
}

void syncd_senders_commit(syncd_apply_t *ap)
{
	for (size_t k = 0; k < ap->n_dirty; k++) {
		uint32_t i = ap->dirty[k];
		ap->senders[i] = ap->pend[i];
		ap->is_dirty[i] = false;
	}
	ap->n_dirty = 0;
}

void syncd_senders_discard(syncd_apply_t *ap)
{
	for (size_t k = 0; k < ap->n_dirty; k++) {
		ap->is_dirty[ap->dirty[k]] = false;
	}
	ap->n_dirty = 0;
}

bool syncd_log_due(syncd_apply_t *ap, unsigned slot, uint64_t now_ms, uint64_t *suppressed)
{
	if (slot >= SYNCD_LOG_SLOTS) {
		return false;
	}
	if (ap->log_last_ms[slot] != 0 && now_ms < ap->log_last_ms[slot] + SYNCD_LOG_EVERY_MS) {
		ap->log_suppressed[slot]++;
		return false;
	}
	*suppressed = ap->log_suppressed[slot];
	ap->log_suppressed[slot] = 0;
	ap->log_last_ms[slot] = now_ms;
	return true;
}

void syncd_apply_set_cluster(syncd_apply_t *ap, const char *cluster)
{
	snprintf(ap->cluster, sizeof(ap->cluster), "%s", cluster != NULL ? cluster : "");
	ap->has_pos = ap->stored_pos &&
	              strncmp(ap->pos.cluster, ap->cluster, sizeof(ap->pos.cluster)) == 0;
	if (ap->stored_pos && !ap->has_pos) {
		hg_notice(
		        "stream position %llu belongs to broker cluster '%.*s', connected to '%s': "
		        "starting by time (duplicates are dropped by sequence number)",
		        (unsigned long long)ap->pos.offset, (int)sizeof(ap->pos.cluster),
		        ap->pos.cluster, ap->cluster);
	}
}

bool syncd_apply_position(const syncd_apply_t *ap, uint64_t *offset)
{
	if (ap->has_pos) {
		*offset = ap->pos.offset;
	}
	return ap->has_pos;
}

void syncd_apply_drop_position(syncd_apply_t *ap)
{
	ap->has_pos = false;
}

uint32_t syncd_apply_restamp_ms(const syncd_apply_t *ap)
{
	return ap->stale_min_ms / SYNCD_RESTAMP_DIV;
}
