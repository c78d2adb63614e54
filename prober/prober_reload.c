/*  SPDX-License-Identifier: GPL-3.0-or-later */
/* The targets come from the policy loaded into the LMDB environment (the
 * one haltgslb-ctl load validated), read at start, on SIGHUP, and when a
 * new policy generation shows up (checked once a second: one read txn
 * renewed and one meta lookup: about 150 ns measured).
 *
 * Reading 10,000 endpoints and building their targets takes 15-35 ms
 * (measured, docs/prober.md): at 2,000 probes a second the loop must not
 * stand still that long (probes would start late and the RTTs of those in
 * flight would grow by the stall). So a reload reads the snapshot on a
 * thread of its own and the loop only swaps the result in (about 1 ms). */
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
#include "prober_source.h"

/* One reload: filled by reload_read() (on the thread), applied by the loop. */
typedef struct prober_reload_work {
	prober_t *p;
	pthread_t thread;
	uint64_t seed;
	uint64_t t0_ns, read_ns; /* started, read done */
	int ret;
	uint64_t gen;
	prober_plan_t *plan;
} reload_work_t;

/* The generation and our place in it, or why the DB cannot be used. */
static int read_policy_head(const prober_t *p, store_rtxn_t *rtxn, uint64_t *gen)
{
	int ret = prober_source_generation(rtxn, gen);
	if (ret == HG_ENOENT) {
		hg_err("database %s holds no policy: load one first (haltgslb-ctl load FILE --db "
		       "%s)",
		       p->db_dir, p->db_dir);
		return ret;
	} else if (ret != HG_EOK) {
		hg_err("database %s: cannot read the policy generation: %s", p->db_dir,
		       hg_strerror(ret));
		return ret;
	}
	char known[512];
	ret = prober_source_find_prober(rtxn, p->id, known, sizeof(known));
	if (ret == HG_ENOENT) {
		hg_err("prober '%s' is not a prober of the policy in %s (generation %llu; its "
		       "probers: %s): use one of those as --id, or add '%s' under probers: and "
		       "load the policy again",
		       p->id, p->db_dir, (unsigned long long)*gen, known[0] ? known : "none",
		       p->id);
	} else if (ret != HG_EOK) {
		hg_err("database %s: cannot read prober '%s': %s", p->db_dir, p->id,
		       hg_strerror(ret));
	}
	return ret;
}

/* The reading half: one read snapshot, the plan built from it. Touches
 * only what prober_targets_prepare() allows (and logs). */
static void reload_read(reload_work_t *w)
{
	const prober_t *p = w->p;
	store_rtxn_t rtxn = { 0 };
	int ret = store_rtxn_begin(p->store, &rtxn);
	if (ret != HG_EOK) {
		hg_err("database %s: cannot begin a read transaction: %s", p->db_dir,
		       hg_strerror(ret));
	} else {
		ret = read_policy_head(p, &rtxn, &w->gen);
	}
	if (ret == HG_EOK) {
		ret = prober_targets_prepare(p, &rtxn, w->seed, &w->plan);
		if (ret != HG_EOK) {
			hg_err("policy generation %llu: cannot apply it: %s",
			       (unsigned long long)w->gen, hg_strerror(ret));
		}
	}
	store_rtxn_free(&rtxn);
	w->ret = ret;
	w->read_ns = prober_now_ns();
}

/* The applying half, on the loop. */
static int reload_apply(prober_t *p, reload_work_t *w)
{
	int ret = w->ret;
	if (ret == HG_EOK) {
		ret = prober_targets_commit(p, w->plan);
		w->plan = NULL;
		if (ret != HG_EOK) {
			hg_err("policy generation %llu: cannot apply it: %s",
			       (unsigned long long)w->gen, hg_strerror(ret));
		}
	}
	/* Seen even when refused, so a bad generation is reported once, not
	 * every second; the next load (or SIGHUP) tries again. */
	p->policy_seen = w->gen;
	if (ret == HG_EOK) {
		uint64_t now = prober_now_ns();
		double read_ms = (double)(w->read_ns - w->t0_ns) / 1e6;
		double apply_ms = (double)(now - w->read_ns) / 1e6;
		if (p->policy_gen != 0) { /* at startup main() says it */
			hg_notice("policy generation %llu: %zu endpoints (read in %.1f ms, applied "
			          "in "
			          "%.1f ms)",
			          (unsigned long long)w->gen, p->n_targets, read_ms, apply_ms);
		} else {
			hg_info("policy generation %llu read in %.1f ms, applied in %.1f ms",
			        (unsigned long long)w->gen, read_ms, apply_ms);
		}
		p->policy_gen = w->gen;
	} else if (p->policy_gen != 0) {
		hg_err("probing goes on with policy generation %llu",
		       (unsigned long long)p->policy_gen);
	}
	return ret;
}

int prober_reload(prober_t *p)
{
	reload_work_t w = { .p = p, .seed = p->rng, .t0_ns = prober_now_ns() };
	p->rng = p->rng * 6364136223846793005ull + 1442695040888963407ull;
	reload_read(&w);
	return reload_apply(p, &w);
}

int prober_reload_init(prober_t *p)
{
	p->reload_ev.kind = PROBER_EV_RELOAD;
	p->reload_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (p->reload_efd < 0) {
		return hg_err_from_errno(errno);
	}
	return prober_epoll_add(p, p->reload_efd, EPOLLIN, &p->reload_ev);
}

static void *reload_thread(void *arg)
{
	reload_work_t *w = arg;
	reload_read(w);
	uint64_t one = 1;
	ssize_t n = write(w->p->reload_efd, &one, sizeof(one));
	(void)n; /* an eventfd write of 1 cannot fail short of overflow */
	return NULL;
}

void prober_reload_start(prober_t *p)
{
	if (p->reload_work != NULL) {
		p->reload = true; /* after the one running */
		return;
	}
	reload_work_t *w = calloc(1, sizeof(*w));
	if (w == NULL) {
		hg_err("policy reload: out of memory; probing goes on with generation %llu",
		       (unsigned long long)p->policy_gen);
		return;
	}
	w->p = p;
	w->seed = p->rng;
	p->rng = p->rng * 6364136223846793005ull + 1442695040888963407ull;
	w->t0_ns = prober_now_ns();
	/* The thread inherits the blocked signals: they stay the signalfd's. */
	int rc = pthread_create(&w->thread, NULL, reload_thread, w);
	if (rc != 0) {
		/* No thread to be had: read here, the loop stalls this once. */
		hg_warn("policy reload: cannot start a thread (%s): reading on the loop",
		        strerror(rc));
		w->t0_ns = prober_now_ns();
		reload_read(w);
		reload_apply(p, w);
		free(w);
		return;
	}
	p->reload_work = w;
}

void prober_reload_finish(prober_t *p)
{
	uint64_t x;
	if (read(p->reload_efd, &x, sizeof(x)) < 0 || p->reload_work == NULL) {
		return;
	}
	reload_work_t *w = p->reload_work;
	pthread_join(w->thread, NULL); /* it has written the fd: it is ending */
	p->reload_work = NULL;
	reload_apply(p, w);
	free(w);
}

void prober_reload_free(prober_t *p)
{
	reload_work_t *w = p->reload_work;
	if (w != NULL) {
		/* Bounded: reading LMDB, no network. */
		pthread_join(w->thread, NULL);
		prober_plan_free(w->plan);
		free(w);
		p->reload_work = NULL;
	}
	if (p->reload_efd >= 0) {
		close(p->reload_efd);
		p->reload_efd = -1;
	}
}

void prober_watch_policy(prober_t *p, uint64_t now)
{
	if (now < p->policy_check_ns || p->reload_work != NULL) {
		return; /* looked at again as soon as the running reload is applied */
	}
	p->policy_check_ns = now + PROBER_POLICY_CHECK_NS;
	uint64_t gen = 0;
	if (store_rtxn_begin(p->store, &p->watch_rtxn) == HG_EOK) {
		if (prober_source_generation(&p->watch_rtxn, &gen) == HG_EOK &&
		    gen != p->policy_seen) {
			hg_notice("policy generation %llu loaded into %s: reloading",
			          (unsigned long long)gen, p->db_dir);
			p->reload = true;
		}
		store_rtxn_end(&p->watch_rtxn);
	}
}
