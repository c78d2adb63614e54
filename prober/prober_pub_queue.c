/*  SPDX-License-Identifier: GPL-3.0-or-later */
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "prober_pub_queue.h"

void prober_pub_batch_free(prober_pub_batch_t *b)
{
	free(b->recs);
	b->recs = NULL;
	b->n = 0;
}

int prober_pubq_init(prober_pubq_t *q, size_t cap)
{
	memset(q, 0, sizeof(*q));
	if (cap == 0) {
		return HG_EINVAL;
	}
	q->ring = calloc(cap, sizeof(*q->ring));
	if (q->ring == NULL) {
		return HG_ENOMEM;
	}
	q->cap = cap;
	pthread_mutex_init(&q->lock, NULL);
	return HG_EOK;
}

void prober_pubq_free(prober_pubq_t *q)
{
	if (q->ring == NULL) {
		return;
	}
	prober_pubq_clear(q, NULL);
	pthread_mutex_destroy(&q->lock);
	free(q->ring);
	q->ring = NULL;
}

bool prober_pubq_push(prober_pubq_t *q, prober_pub_batch_t *b)
{
	prober_pub_batch_t old = { 0 };
	bool dropped = false;
	pthread_mutex_lock(&q->lock);
	if (q->len == q->cap) {
		old = q->ring[q->head];
		q->head = (q->head + 1) % q->cap;
		q->len--;
		q->dropped++;
		q->snapshot_needed = true;
		dropped = true;
	}
	q->ring[(q->head + q->len) % q->cap] = *b;
	q->len++;
	pthread_mutex_unlock(&q->lock);
	prober_pub_batch_free(&old); /* outside the lock */
	b->recs = NULL;
	b->n = 0;
	return dropped;
}

bool prober_pubq_pop(prober_pubq_t *q, prober_pub_batch_t *out)
{
	bool got = false;
	pthread_mutex_lock(&q->lock);
	if (q->len > 0) {
		*out = q->ring[q->head];
		q->ring[q->head] = (prober_pub_batch_t){ 0 };
		q->head = (q->head + 1) % q->cap;
		q->len--;
		got = true;
	}
	pthread_mutex_unlock(&q->lock);
	return got;
}

size_t prober_pubq_clear(prober_pubq_t *q, bool *flag)
{
	pthread_mutex_lock(&q->lock);
	/* Move the batches out under the lock, free them after it. */
	size_t n = q->len, head = q->head, cap = q->cap;
	prober_pub_batch_t *taken = n ? malloc(n * sizeof(*taken)) : NULL;
	for (size_t i = 0; i < n; i++) {
		prober_pub_batch_t *slot = &q->ring[(head + i) % cap];
		if (taken != NULL) {
			taken[i] = *slot;
		} else {
			prober_pub_batch_free(slot); /* no memory: free under the lock */
		}
		*slot = (prober_pub_batch_t){ 0 };
	}
	q->len = 0;
	q->head = 0;
	if (flag != NULL) {
		*flag = q->snapshot_needed;
	}
	q->snapshot_needed = false;
	pthread_mutex_unlock(&q->lock);
	for (size_t i = 0; taken != NULL && i < n; i++) {
		prober_pub_batch_free(&taken[i]);
	}
	free(taken);
	return n;
}

bool prober_pubq_snapshot_needed(prober_pubq_t *q)
{
	pthread_mutex_lock(&q->lock);
	bool v = q->snapshot_needed;
	pthread_mutex_unlock(&q->lock);
	return v;
}

void prober_pubq_stats(prober_pubq_t *q, size_t *len, uint64_t *dropped)
{
	pthread_mutex_lock(&q->lock);
	*len = q->len;
	*dropped = q->dropped;
	pthread_mutex_unlock(&q->lock);
}
