/*  SPDX-License-Identifier: GPL-3.0-or-later */
/* Results reach LMDB in batches: one write transaction per 100 ms or 256
 * results, whichever comes first. A target that finished several probes
 * within one batch is written once, with its latest state. */
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
	    HG_EOK && len == sizeof(gen)) {
		memcpy(&gen, val, sizeof(gen));
	}
	return gen;
}

/* Measurements the DB's policy has no place for. Right after a load that
 * dropped endpoints that is expected: reload now (prober_watch_policy()
 * would within a second). Otherwise (this generation was read and refused,
 * or the DB was changed behind the writer API) say so when it starts and
 * when it stops, not per endpoint or batch. */
static void on_skipped(prober_t *p, uint64_t gen, size_t skipped, const char *first,
                       size_t written)
{
	if (skipped > 0 && gen != p->policy_seen) {
		hg_info("%zu measurements not stored (endpoint %s first): policy generation %llu "
		        "replaced %llu, reloading", skipped, first, (unsigned long long)gen,
		        (unsigned long long)p->policy_gen);
		p->reload = true;
	} else if (skipped > 0 && !p->skip_logged) {
		hg_warn("%zu measurements not stored (endpoint %s first): endpoint or prober %s not "
		        "in the policy of %s (generation %llu)", skipped, first, p->id, p->db_dir,
		        (unsigned long long)gen);
		p->skip_logged = true;
	} else if (skipped == 0 && written > 0 && p->skip_logged) {
		hg_notice("measurements are stored again");
		p->skip_logged = false;
	}
}

/* Every dirty target's measurement into \a w. Refused ids are skipped,
 * they do not poison the txn: a load since our last read dropped them. */
typedef struct {
	size_t written, skipped;
	char first[HG_ID_SIZE];          /*!< first endpoint skipped */
	uint64_t gen;                    /*!< the txn's policy generation, when skipped */
} batch_count_t;

static int put_dirty(prober_t *p, store_wtxn_t *w, batch_count_t *c)
{
	for (size_t i = 0; i < p->n_dirty; i++) {
		prober_target_t *t = p->dirty[i];
		hg_rec_measure_t m;
		prober_state_measure(&t->st, &m);
		int r = writer_apply_measure(w, t->id, p->id, &m);
		if (r == HG_ENOENT) {
			if (c->skipped++ == 0) {
				memcpy(c->first, t->id, sizeof(c->first));
				c->gen = wtxn_generation(w);
			}
		} else if (r != HG_EOK) {
			return r;
		} else {
			c->written++;
			prober_pub_collect(p, t, &m);
		}
	}
	return HG_EOK;
}

typedef struct {
	prober_t *p;
	batch_count_t c;                 /*!< of the last run (the one committed) */
} batch_flush_t;

static int flush_body(store_wtxn_t *w, void *ctx)
{
	batch_flush_t *f = ctx;
	/* A run again on a grown map counts anew, and collects for the
	 * publisher anew (the discarded run's records were never stored). */
	memset(&f->c, 0, sizeof(f->c));
	prober_pub_abort(f->p);
	return put_dirty(f->p, w, &f->c);
}

int prober_batch_flush(prober_t *p)
{
	batch_flush_t f = { .p = p };
	p->batch_deadline_ns = 0;
	p->batch_results = 0;
	if (p->n_dirty == 0) {
		return HG_EOK;
	}
	/* store_write(): on a full map the batch is run again on a grown one;
	 * only a map at its ceiling loses it (logged and counted below). */
	int ret = store_write(p->store, flush_body, &f);
	batch_count_t c = f.c;
	if (ret == HG_EOK) {
		prober_pub_commit(p);   /* published only once in LMDB */
	} else {
		prober_pub_abort(p);
	}
	if (ret != HG_EOK) {
		p->batch_errors++;
		hg_err("measurement batch (%zu endpoints) not stored: %s", p->n_dirty,
		       ret == HG_EMAPFULL ? store_last_error() : hg_strerror(ret));
	} else {
		p->batches++;
		on_skipped(p, c.gen, c.skipped, c.first, c.written);
		hg_debug("batch: %zu measurements committed", c.written);
	}
	/* Soft state: a failed batch is dropped, the next probes rewrite it. */
	for (size_t i = 0; i < p->n_dirty; i++) {
		p->dirty[i]->dirty = false;
	}
	p->n_dirty = 0;
	return ret;
}
