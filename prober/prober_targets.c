/*  SPDX-License-Identifier: GPL-3.0-or-later */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "log.h"
#include "prober.h"
#include "prober_source.h"

/* ---- min-heap of targets on due_ns ---- */

static void heap_set(prober_t *p, size_t i, prober_target_t *t)
{
	p->heap[i] = t;
	t->heap_idx = i;
}

static void sift_up(prober_t *p, size_t i)
{
	prober_target_t *t = p->heap[i];
	while (i > 0) {
		size_t parent = (i - 1) / 2;
		if (p->heap[parent]->due_ns <= t->due_ns) {
			break;
		}
		heap_set(p, i, p->heap[parent]);
		i = parent;
	}
	heap_set(p, i, t);
}

static void sift_down(prober_t *p, size_t i)
{
	prober_target_t *t = p->heap[i];
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= p->heap_len) {
			break;
		}
		if (c + 1 < p->heap_len && p->heap[c + 1]->due_ns < p->heap[c]->due_ns) {
			c++;
		}
		if (t->due_ns <= p->heap[c]->due_ns) {
			break;
		}
		heap_set(p, i, p->heap[c]);
		i = c;
	}
	heap_set(p, i, t);
}

/* The heap array has room for every target (allocated with the target array). */
void prober_heap_push(prober_t *p, prober_target_t *t)
{
	heap_set(p, p->heap_len++, t);
	sift_up(p, p->heap_len - 1);
}

prober_target_t *prober_heap_top(prober_t *p)
{
	return p->heap_len ? p->heap[0] : NULL;
}

prober_target_t *prober_heap_pop(prober_t *p)
{
	if (p->heap_len == 0) {
		return NULL;
	}
	prober_target_t *top = p->heap[0];
	p->heap_len--;
	if (p->heap_len > 0) {
		heap_set(p, 0, p->heap[p->heap_len]);
		sift_down(p, 0);
	}
	return top;
}

void prober_heap_rebuild(prober_t *p)
{
	p->heap_len = p->n_targets;
	for (size_t i = 0; i < p->n_targets; i++) {
		heap_set(p, i, p->targets[i]);
	}
	for (size_t i = p->heap_len / 2; i-- > 0;) {
		sift_down(p, i);
	}
}

/* ---- targets ---- */

static void target_free(prober_target_t *t)
{
	prober_state_free(&t->st);
	free(t);
}

void prober_target_release(prober_t *p, prober_target_t *t)
{
	for (size_t i = 0; i < p->n_zombies; i++) {
		if (p->zombies[i] == t) {
			p->zombies[i] = p->zombies[--p->n_zombies];
			break;
		}
	}
	target_free(t);
}

void prober_targets_free(prober_t *p)
{
	for (size_t i = 0; i < p->n_targets; i++) {
		target_free(p->targets[i]);
	}
	for (size_t i = 0; i < p->n_zombies; i++) {
		target_free(p->zombies[i]);
	}
	free(p->targets);
	free(p->heap);
	free(p->zombies);
	p->targets = p->heap = p->zombies = NULL;
	p->n_targets = p->heap_len = p->n_zombies = 0;
}

/* The address probed: the first IPv4 address, else the first IPv6 one; a
 * CNAME endpoint uses its check's probe-address, or is resolved later.
 * Returns false when there is none (port set otherwise). */
static bool probe_address(const hg_rec_endpoint_t *e, struct sockaddr_storage *ss,
                          socklen_t *len)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
	memset(ss, 0, sizeof(*ss));
	if (e->n_v4 > 0) {
		sin->sin_family = AF_INET;
		memcpy(&sin->sin_addr, e->v4[0], 4);
	} else if (e->n_v6 > 0) {
		sin6->sin6_family = AF_INET6;
		memcpy(&sin6->sin6_addr, e->v6[0], 16);
	} else if (e->check.probe_address[0] != '\0') {
		if (inet_pton(AF_INET, e->check.probe_address, &sin->sin_addr) == 1) {
			sin->sin_family = AF_INET;
		} else if (inet_pton(AF_INET6, e->check.probe_address, &sin6->sin6_addr) == 1) {
			sin6->sin6_family = AF_INET6;
		}
	}
	if (ss->ss_family == AF_INET) {
		sin->sin_port = htons(e->check.port);
		*len = sizeof(*sin);
		return true;
	}
	if (ss->ss_family == AF_INET6) {
		sin6->sin6_port = htons(e->check.port);
		*len = sizeof(*sin6);
		return true;
	}
	*len = 0;
	return false;
}

static void target_set_probe(prober_target_t *t, const hg_rec_endpoint_t *e)
{
	t->check = e->check;
	t->has_addr = probe_address(e, &t->addr, &t->addrlen);
	t->addr_text[0] = '\0';
	if (t->addr.ss_family == AF_INET) {
		inet_ntop(AF_INET, &((struct sockaddr_in *)&t->addr)->sin_addr, t->addr_text,
		          sizeof(t->addr_text));
	} else if (t->addr.ss_family == AF_INET6) {
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&t->addr)->sin6_addr, t->addr_text,
		          sizeof(t->addr_text));
	}
}

/* Same type, port and address: the figures gathered so far still hold. */
static bool same_probe(const prober_target_t *t, const hg_rec_endpoint_t *e)
{
	struct sockaddr_storage ss;
	socklen_t len;
	bool has_addr = probe_address(e, &ss, &len);
	return t->check.type == e->check.type && t->check.port == e->check.port &&
	       t->has_addr == has_addr && memcmp(&t->addr, &ss, sizeof(ss)) == 0;
}

static int cmp_target_id(const void *a, const void *b)
{
	const prober_target_t *x = *(prober_target_t *const *)a;
	const prober_target_t *y = *(prober_target_t *const *)b;
	return strcmp(x->id, y->id);
}

static prober_target_t *find_old(prober_target_t **sorted, size_t n, const char *id)
{
	if (n == 0) {
		return NULL;   /* sorted may be NULL: bsearch wants a real array */
	}
	prober_target_t key, *kp = &key;
	memcpy(key.id, id, sizeof(key.id));
	prober_target_t **hit = bsearch(&kp, sorted, n, sizeof(*sorted), cmp_target_id);
	return hit ? *hit : NULL;
}

/* Continue from what an earlier run wrote, so a restart does not flip a
 * down endpoint to unknown (treated as up) for fall x interval. */
static void seed_from_db(prober_t *p, prober_target_t *t, store_rtxn_t *rtxn)
{
	uint8_t key[STORE_MEASURE_KEY_MAX];
	size_t klen = store_measure_key(key, sizeof(key), t->id, p->id);
	const void *val;
	size_t vlen;
	if (klen > 0 && store_get(rtxn, STORE_MEASUREMENTS, key, klen, &val, &vlen) == HG_EOK &&
	    vlen == sizeof(hg_rec_measure_t)) {
		hg_rec_measure_t m;
		memcpy(&m, val, sizeof(m));
		if (m.layout == HG_REC_LAYOUT) {
			prober_state_seed(&t->st, &m);
		}
	}
}

static uint64_t interval_ns(const hg_rec_check_t *check)
{
	return (uint64_t)(check->interval_ms ? check->interval_ms : 1000) * 1000000ull;
}

/* Spread first probes over one interval: 10,000 endpoints loaded at once
 * must not fire together. */
static uint64_t first_due(prober_t *p, const hg_rec_check_t *check, uint64_t now)
{
	p->rng = p->rng * 6364136223846793005ull + 1442695040888963407ull;
	return now + (p->rng >> 11) % interval_ns(check);
}

static prober_target_t *target_new(prober_t *p, const hg_rec_endpoint_t *e, uint64_t now)
{
	prober_target_t *t = calloc(1, sizeof(*t));
	if (t == NULL) {
		return NULL;
	}
	if (prober_state_init(&t->st, p->window) != HG_EOK) {
		free(t);
		return NULL;
	}
	memcpy(t->id, e->id, sizeof(t->id));
	target_set_probe(t, e);
	t->due_ns = first_due(p, &t->check, now);
	return t;
}

/* ---- reconciling the targets with the loaded policy ---- */

/* One endpoint of the policy and the target that will probe it. */
typedef struct {
	prober_target_t *t;
	const hg_rec_endpoint_t *keep;   /*!< running target kept: its new record
	                                      (in the snapshot); NULL: t is new */
} plan_entry_t;

/* A reconcile in progress. Everything that can fail (allocation, reading the
 * snapshot) happens before the running targets are touched, so a failed
 * reload leaves them exactly as they were. */
typedef struct {
	prober_t *p;
	store_rtxn_t *rtxn;
	uint64_t now;
	prober_target_t **sorted;        /*!< the running targets by id */
	plan_entry_t *plan;
	size_t n, cap;
	size_t added, reset;
} reconcile_t;

static int reconcile_begin(reconcile_t *r)
{
	prober_t *p = r->p;
	if (p->n_targets == 0) {
		return HG_EOK;
	}
	r->sorted = malloc(p->n_targets * sizeof(*r->sorted));
	/* Room for every running target to become a zombie: dropping then
	 * cannot fail. */
	prober_target_t **z = realloc(p->zombies, (p->n_zombies + p->n_targets) * sizeof(*z));
	if (z != NULL) {
		p->zombies = z;
	}
	if (r->sorted == NULL || z == NULL) {
		return HG_ENOMEM;
	}
	memcpy(r->sorted, p->targets, p->n_targets * sizeof(*r->sorted));
	qsort(r->sorted, p->n_targets, sizeof(*r->sorted), cmp_target_id);
	return HG_EOK;
}

static int plan_push(reconcile_t *r, prober_target_t *t, const hg_rec_endpoint_t *keep)
{
	if (r->n == r->cap) {
		size_t cap = r->cap ? 2 * r->cap : 64;
		plan_entry_t *pl = realloc(r->plan, cap * sizeof(*pl));
		if (pl == NULL) {
			return HG_ENOMEM;
		}
		r->plan = pl;
		r->cap = cap;
	}
	r->plan[r->n++] = (plan_entry_t){ .t = t, .keep = keep };
	return HG_EOK;
}

/* An endpoint of the policy: keep its running target, or make a new one.
 * A target whose type, port or address changed starts again (its figures
 * meant another probe); the old one is dropped like a removed endpoint. */
static int reconcile_visit(void *ctx, const hg_rec_endpoint_t *e)
{
	reconcile_t *r = ctx;
	prober_target_t *old = find_old(r->sorted, r->p->n_targets, e->id);
	if (old != NULL && same_probe(old, e)) {
		return plan_push(r, old, e);
	}
	prober_target_t *t = target_new(r->p, e, r->now);
	if (t == NULL) {
		return HG_ENOMEM;
	}
	if (old == NULL) {
		seed_from_db(r->p, t, r->rtxn);
	}
	int ret = plan_push(r, t, NULL);
	if (ret != HG_EOK) {
		target_free(t);
		return ret;
	}
	if (old == NULL) {
		r->added++;
	} else {
		r->reset++;
	}
	return HG_EOK;
}

/* A kept target takes its new check. A shorter interval applies now, not
 * after the old (maybe hour-long) wait for the next probe. */
static void keep_update(prober_t *p, prober_target_t *t, const hg_rec_endpoint_t *e,
                        uint64_t now)
{
	if (t->due_ns > now + interval_ns(&e->check)) {
		t->due_ns = first_due(p, &e->check, now);
	}
	target_set_probe(t, e);
	t->kept = true;
}

/* Running targets that no plan entry kept: stop them (a probe in flight
 * finishes first). Returns how many. */
static size_t drop_unkept(prober_t *p)
{
	size_t dropped = 0;
	for (size_t k = 0; k < p->n_targets; k++) {
		prober_target_t *t = p->targets[k];
		if (t->kept) {
			t->kept = false;
			continue;
		}
		dropped++;
		prober_batch_drop(p, t);
		if (t->job != NULL) {
			t->removed = true;   /* freed when its probe ends */
			p->zombies[p->n_zombies++] = t;
		} else {
			target_free(t);
		}
	}
	return dropped;
}

static int reconcile_commit(reconcile_t *r)
{
	prober_t *p = r->p;
	prober_target_t **targets = calloc(r->n ? r->n : 1, sizeof(*targets));
	prober_target_t **heap = calloc(r->n ? r->n : 1, sizeof(*heap));
	if (targets == NULL || heap == NULL) {
		free(targets);
		free(heap);
		return HG_ENOMEM;
	}
	for (size_t i = 0; i < r->n; i++) {
		targets[i] = r->plan[i].t;
		if (r->plan[i].keep != NULL) {
			keep_update(p, r->plan[i].t, r->plan[i].keep, r->now);
		}
	}
	size_t removed = drop_unkept(p) - r->reset;
	free(p->targets);
	free(p->heap);
	p->targets = targets;
	p->heap = heap;
	p->n_targets = r->n;
	prober_heap_rebuild(p);
	hg_info("targets: %zu (added %zu, reset %zu, removed %zu)", p->n_targets, r->added,
	        r->reset, removed);
	return HG_EOK;
}

/* Free only the targets this reconcile created; kept ones belong to p. */
static void reconcile_undo(reconcile_t *r)
{
	for (size_t i = 0; i < r->n; i++) {
		if (r->plan[i].keep == NULL) {
			target_free(r->plan[i].t);
		}
	}
}

int prober_targets_apply(prober_t *p, store_rtxn_t *rtxn)
{
	reconcile_t r = { .p = p, .rtxn = rtxn, .now = prober_now_ns() };
	size_t skipped = 0;
	int ret = reconcile_begin(&r);
	if (ret == HG_EOK) {
		ret = prober_source_foreach_endpoint(rtxn, reconcile_visit, &r, &skipped);
	}
	if (ret == HG_EOK) {
		ret = reconcile_commit(&r);
	}
	if (ret != HG_EOK) {
		reconcile_undo(&r);
	} else if (skipped > 0) {
		hg_warn("%zu endpoint records of an unknown layout ignored (a newer haltgslb-ctl "
		        "wrote them?)", skipped);
	}
	free(r.sorted);
	free(r.plan);
	return ret;
}
