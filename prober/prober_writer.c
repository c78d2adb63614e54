/*  SPDX-License-Identifier: GPL-3.0-or-later */
/* The measurement batches are committed on a thread of their own: LMDB has
 * one writer at a time, and beginning a write transaction waits for the
 * others (haltgslb-ctl load, measure, drain) to commit. A load of a
 * 100k-name policy holds that lock for seconds (3.4 s plain, 10 s with
 * sanitizers, docs/performance.md); done on the loop, the wait stopped
 * every probe for as long (a 1 s interval probe came 5.4 s late,
 * tests/netns/test_prober_reload.py). Now the loop only copies the batch
 * (an id and a measurement per endpoint) and goes on probing; results that
 * finish while the thread waits accumulate (one per endpoint) for the next
 * batch.
 *
 * Hand-over: the loop fills the writer's items only while it is idle, so
 * the items need no lock; the mutex and condition variable carry "a batch
 * is ready" to the thread, the eventfd "it is written" back to the loop,
 * and the mutex orders the thread's result before the loop reads it. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "errors.h"
#include "log.h"
#include "prober.h"

struct prober_writer {
	pthread_t thread;
	bool started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool ready; /*!< (mu) a batch for the thread */
	bool quit;  /*!< (mu) end the thread */
	bool done;  /*!< (mu) the thread wrote it */
	bool busy;  /*!< the loop's: handed over, not finished */
	int efd;    /*!< eventfd: a batch was written */
	prober_ev_t ev;
	store_t *store;
	const char *prober_id;
	prober_batch_item_t *items; /*!< the batch; the thread's while busy */
	prober_target_t **targets;  /*!< the loop's: where each item came from */
	uint64_t epoch;             /*!< p->targets_epoch at the hand-over */
	size_t n_items, cap;
	prober_batch_result_t res; /*!< (mu) the thread's result */
};

static void *writer_main(void *arg)
{
	prober_writer_t *w = arg;
	pthread_mutex_lock(&w->mu);
	for (;;) {
		while (!w->ready && !w->quit) {
			pthread_cond_wait(&w->cv, &w->mu);
		}
		if (!w->ready) {
			break; /* quit, nothing pending */
		}
		w->ready = false;
		pthread_mutex_unlock(&w->mu);
		prober_batch_result_t res;
		prober_batch_write(w->store, w->prober_id, w->items, w->n_items, &res);
		pthread_mutex_lock(&w->mu);
		w->res = res;
		w->done = true;
		pthread_cond_broadcast(&w->cv); /* prober_writer_wait() */
		uint64_t one = 1;
		ssize_t n = write(w->efd, &one, sizeof(one));
		(void)n; /* an eventfd write of 1 cannot fail short of overflow */
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

int prober_writer_init(prober_t *p)
{
	prober_writer_t *w = calloc(1, sizeof(*w));
	if (w == NULL) {
		return HG_ENOMEM;
	}
	w->efd = -1;
	w->ev.kind = PROBER_EV_WRITER;
	w->prober_id = p->id;
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	p->writer = w;
	w->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (w->efd < 0) {
		return hg_err_from_errno(errno);
	}
	int ret = prober_epoll_add(p, w->efd, EPOLLIN, &w->ev);
	if (ret != HG_EOK) {
		return ret;
	}
	/* The thread inherits the blocked signals: they stay the signalfd's. */
	int rc = pthread_create(&w->thread, NULL, writer_main, w);
	if (rc != 0) {
		hg_err("cannot start the measurement writer thread: %s", strerror(rc));
		return hg_err_from_errno(rc);
	}
	w->started = true;
	return HG_EOK;
}

bool prober_writer_busy(const prober_t *p)
{
	return p->writer->busy;
}

int prober_writer_submit(prober_t *p, prober_target_t *const *targets, size_t n)
{
	prober_writer_t *w = p->writer;
	if (w->busy) {
		return HG_EBUSY;
	}
	if (n > w->cap) {
		size_t cap = w->cap ? w->cap : 256;
		while (cap < n) {
			cap *= 2;
		}
		prober_batch_item_t *it = realloc(w->items, cap * sizeof(*it));
		if (it == NULL) {
			return HG_ENOMEM;
		}
		w->items = it;
		prober_target_t **tg = realloc(w->targets, cap * sizeof(*tg));
		if (tg == NULL) {
			return HG_ENOMEM;
		}
		w->targets = tg;
		w->cap = cap;
	}
	for (size_t i = 0; i < n; i++) {
		memcpy(w->items[i].id, targets[i]->id, sizeof(w->items[i].id));
		prober_state_measure(&targets[i]->st, &w->items[i].m);
		w->targets[i] = targets[i];
	}
	w->n_items = n;
	w->epoch = p->targets_epoch;
	w->store = p->store;
	w->busy = true;
	pthread_mutex_lock(&w->mu);
	w->done = false;
	w->ready = true;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
	return HG_EOK;
}

/* The thread's result, once it is done (mu held by the caller or not needed). */
static void take_result(prober_t *p, prober_batch_result_t *res)
{
	prober_writer_t *w = p->writer;
	pthread_mutex_lock(&w->mu);
	*res = w->res;
	w->done = false;
	pthread_mutex_unlock(&w->mu);
	w->busy = false;
}

bool prober_writer_finish(prober_t *p, prober_batch_result_t *res)
{
	prober_writer_t *w = p->writer;
	uint64_t x;
	if (read(w->efd, &x, sizeof(x)) < 0 || !w->busy) {
		return false;
	}
	bool done;
	pthread_mutex_lock(&w->mu);
	done = w->done;
	pthread_mutex_unlock(&w->mu);
	if (!done) {
		return false;
	}
	take_result(p, res);
	return true;
}

const prober_batch_item_t *prober_writer_batch(const prober_t *p, prober_target_t *const **targets,
                                               uint64_t *epoch)
{
	*targets = p->writer->targets;
	*epoch = p->writer->epoch;
	return p->writer->items;
}

bool prober_writer_wait(prober_t *p, prober_batch_result_t *res)
{
	prober_writer_t *w = p->writer;
	if (w == NULL || !w->busy) {
		return false;
	}
	pthread_mutex_lock(&w->mu);
	while (!w->done) {
		pthread_cond_wait(&w->cv, &w->mu);
	}
	pthread_mutex_unlock(&w->mu);
	uint64_t x;
	ssize_t n = read(w->efd, &x, sizeof(x)); /* its wake-up, consumed */
	(void)n;
	take_result(p, res);
	return true;
}

void prober_writer_free(prober_t *p)
{
	prober_writer_t *w = p->writer;
	if (w == NULL) {
		return;
	}
	if (w->started) {
		/* A batch still running is waited for: it holds a write txn of
		 * p->store, which the caller closes next. */
		pthread_mutex_lock(&w->mu);
		w->quit = true;
		pthread_cond_broadcast(&w->cv);
		pthread_mutex_unlock(&w->mu);
		pthread_join(w->thread, NULL);
	}
	if (w->efd >= 0) {
		close(w->efd);
	}
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mu);
	free(w->items);
	free(w->targets);
	free(w);
	p->writer = NULL;
}
