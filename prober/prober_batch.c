/*  SPDX-License-Identifier: GPL-3.0-or-later */
/* Results reach LMDB in batches: one write transaction per 100 ms or 256
 * results, whichever comes first, committed by the writer thread
 * (prober_writer.c) so that waiting for LMDB's write lock never stops the
 * loop. A target that finished several probes within one batch (or while
 * the previous batch was being written) is written once, with its latest
 * state. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "log.h"
#include "writer.h"
#include "prober.h"

void prober_batch_mark(prober_t *p, prober_target_t *t)
{
	p->batch_results++;
	if (p->batch_deadline_ns == 0) {
		p->batch_deadline_ns = prober_now_ns() + PROBER_BATCH_NS;
	}
	if (t->dirty) {
		return;
	}
	if (p->n_dirty == p->dirty_cap) {
		size_t cap = p->dirty_cap ? 2 * p->dirty_cap : 256;
		prober_target_t **d = realloc(p->dirty, cap * sizeof(*d));
		if (d == NULL) {
			hg_err("out of memory: dropping a measurement of %s", t->id);
			return;
		}
		p->dirty = d;
		p->dirty_cap = cap;
	}
	t->dirty = true;
	p->dirty[p->n_dirty++] = t;
}

void prober_batch_drop(prober_t *p, prober_target_t *t)
{
	if (!t->dirty) {
		return;
	}
	for (size_t i = 0; i < p->n_dirty; i++) {
		if (p->dirty[i] == t) {
			p->dirty[i] = p->dirty[--p->n_dirty];
			break;
		}
	}
	t->dirty = false;
}

/* The policy generation as this write txn sees it; 0 when unreadable. */
static uint64_t wtxn_generation(store_wtxn_t *w)
{
	const void *val = NULL;
	size_t len = 0;
	uint64_t gen = 0;
	if (store_wget(w, STORE_META, HG_META_POLICY_GEN, strlen(HG_META_POLICY_GEN), &val, &len) ==
	            HG_EOK &&
	    len == sizeof(gen)) {
		memcpy(&gen, val, sizeof(gen));
	}
	return gen;
}

/* Measurements the DB's policy has no place for. Right after a load that
 * dropped endpoints that is expected: reload now (prober_watch_policy()
 * would within a second). Otherwise (this generation was read and refused,
 * or the DB was changed behind the writer API) say so when it starts and
 * when it stops, not per endpoint or batch. */
static void on_skipped(prober_t *p, uint64_t gen, size_t skipped, const char *first, size_t written)
{
	if (skipped > 0 && gen != p->policy_seen) {
		hg_info("%zu measurements not stored (endpoint %s first): policy generation %llu "
		        "replaced %llu, reloading",
		        skipped, first, (unsigned long long)gen, (unsigned long long)p->policy_gen);
		p->reload = true;
	} else if (skipped > 0 && !p->skip_logged) {
		hg_warn("%zu measurements not stored (endpoint %s first): endpoint or prober %s "
		        "not "
		        "in the policy of %s (generation %llu)",
		        skipped, first, p->id, p->db_dir, (unsigned long long)gen);
		p->skip_logged = true;
	} else if (skipped == 0 && written > 0 && p->skip_logged) {
		hg_notice("measurements are stored again");
		p->skip_logged = false;
	}
}

typedef struct {
	const char *prober_id;
	prober_batch_item_t *items;
	size_t n;
	prober_batch_result_t *res;
} batch_write_t;

/* One run of the batch's transaction; store_write() runs it again, from
 * the start, after growing a full map. */
static int write_body(store_wtxn_t *w, void *ctx)
{
	batch_write_t *b = ctx;
	prober_batch_result_t *res = b->res;
	res->began = true;
	res->written = res->skipped = 0;
	for (size_t i = 0; i < b->n; i++) {
		b->items[i].written = false;
	}
	/* Refused ids are skipped, they do not poison the txn: a load since
	 * the prober's last read dropped them. */
	int ret = HG_EOK;
	for (size_t i = 0; i < b->n && ret == HG_EOK; i++) {
		int r = writer_apply_measure(w, b->items[i].id, b->prober_id, &b->items[i].m);
		if (r == HG_ENOENT) {
			if (res->skipped++ == 0) {
				memcpy(res->first, b->items[i].id, sizeof(res->first));
				res->gen = wtxn_generation(w);
			}
		} else if (r != HG_EOK) {
			ret = r;
		} else {
			b->items[i].written = true;
			res->written++;
		}
	}
	return ret;
}

int prober_batch_write(store_t *store, const char *prober_id, prober_batch_item_t *items, size_t n,
                       prober_batch_result_t *res)
{
	memset(res, 0, sizeof(*res));
	res->n = n;
	for (size_t i = 0; i < n; i++) {
		items[i].written = false;
	}
	/* store_write(): on a full map the batch is run again on a grown one;
	 * only a map at its ceiling loses it (logged and counted by the loop,
	 * with the reason, which is this thread's store_last_error()). */
	batch_write_t b = { .prober_id = prober_id, .items = items, .n = n, .res = res };
	int ret = store_write(store, write_body, &b);
	if (ret != HG_EOK) {
		for (size_t i = 0; i < n; i++) {
			items[i].written = false; /* nothing of a failed txn is in LMDB */
		}
		res->written = 0;
		if (ret == HG_EMAPFULL) {
			snprintf(res->why, sizeof(res->why), "%s", store_last_error());
		}
	}
	res->ret = ret;
	return ret;
}

/* The live target of a batch item: its pointer from the hand-over while
 * no reload has changed the target set since (targets are only freed by a
 * reload's commit), else looked up by id (once per reload; a target the
 * reload removed is not found). */
static prober_target_t *item_target(prober_t *p, prober_target_t *t, uint64_t epoch, const char *id)
{
	if (epoch == p->targets_epoch) {
		return t;
	}
	for (size_t k = 0; k < p->n_targets; k++) {
		if (strcmp(p->targets[k]->id, id) == 0) {
			return p->targets[k];
		}
	}
	return NULL;
}

/* A written (or failed) batch, on the loop: the publisher (only what is
 * in LMDB is published), counters and logs. */
static void account(prober_t *p, const prober_batch_result_t *res, const prober_batch_item_t *items,
                    prober_target_t *const *targets, uint64_t epoch)
{
	if (res->ret != HG_EOK) {
		prober_pub_abort(p);
		p->batch_errors++;
		if (!res->began) {
			hg_err("cannot begin a write transaction: %s", hg_strerror(res->ret));
		}
		hg_err("measurement batch (%zu endpoints) not stored: %s", res->n,
		       res->why[0] != '\0' ? res->why : hg_strerror(res->ret));
		return;
	}
	if (p->pub != NULL) {
		for (size_t i = 0; i < res->n; i++) {
			prober_target_t *t =
			        items[i].written ? item_target(p, targets[i], epoch, items[i].id)
			                         : NULL;
			if (t != NULL) {
				prober_pub_collect(p, t, &items[i].m);
			}
		}
		prober_pub_commit(p); /* published only once in LMDB */
	}
	p->batches++;
	on_skipped(p, res->gen, res->skipped, res->first, res->written);
	hg_debug("batch: %zu measurements committed", res->written);
}

/* Clear the pending set once it was handed over (or dropped). */
static void clear_dirty(prober_t *p)
{
	for (size_t i = 0; i < p->n_dirty; i++) {
		p->dirty[i]->dirty = false;
	}
	p->n_dirty = 0;
}

int prober_batch_flush(prober_t *p)
{
	p->batch_deadline_ns = 0;
	p->batch_results = 0;
	if (p->n_dirty == 0) {
		return HG_EOK;
	}
	if (prober_writer_busy(p)) {
		/* Still writing the last batch (waiting for another writer's
		 * transaction, say): these results go with the next one, as soon
		 * as it is written (prober_batch_written()). */
		p->batch_waiting = true;
		return HG_EOK;
	}
	p->batch_waiting = false;
	int ret = prober_writer_submit(p, p->dirty, p->n_dirty);
	if (ret != HG_EOK) {
		/* Soft state: a batch that cannot be copied is dropped, the next
		 * probes rewrite it. */
		p->batch_errors++;
		hg_err("measurement batch (%zu endpoints) not stored: %s", p->n_dirty,
		       hg_strerror(ret));
	}
	clear_dirty(p);
	return ret;
}

void prober_batch_written(prober_t *p)
{
	prober_batch_result_t res;
	if (!prober_writer_finish(p, &res)) {
		return;
	}
	prober_target_t *const *targets;
	uint64_t epoch;
	const prober_batch_item_t *items = prober_writer_batch(p, &targets, &epoch);
	account(p, &res, items, targets, epoch);
	if (p->batch_waiting) {
		prober_batch_flush(p);
	}
}

int prober_batch_final(prober_t *p)
{
	prober_batch_result_t res;
	if (prober_writer_wait(p, &res)) {
		prober_target_t *const *targets;
		uint64_t epoch;
		const prober_batch_item_t *items = prober_writer_batch(p, &targets, &epoch);
		account(p, &res, items, targets, epoch);
	}
	p->batch_deadline_ns = 0;
	p->batch_results = 0;
	p->batch_waiting = false;
	if (p->n_dirty == 0) {
		return HG_EOK;
	}
	/* The writer thread is idle: write the rest here, then exit. */
	prober_batch_item_t *items = calloc(p->n_dirty, sizeof(*items));
	int ret = HG_ENOMEM;
	if (items != NULL) {
		for (size_t i = 0; i < p->n_dirty; i++) {
			memcpy(items[i].id, p->dirty[i]->id, sizeof(items[i].id));
			prober_state_measure(&p->dirty[i]->st, &items[i].m);
		}
		ret = prober_batch_write(p->store, p->id, items, p->n_dirty, &res);
		account(p, &res, items, p->dirty, p->targets_epoch);
		free(items);
	} else {
		p->batch_errors++;
		hg_err("measurement batch (%zu endpoints) not stored: %s", p->n_dirty,
		       hg_strerror(ret));
	}
	clear_dirty(p);
	return ret;
}
