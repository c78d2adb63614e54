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
static bool probe_address(const hg_rec_endpoint_t *e, struct sockaddr_storage *ss, socklen_t *len)
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
		return NULL; /* sorted may be NULL: bsearch wants a real array */
	}
	prober_target_t key, *kp = &key;
	memcpy(key.id, id, sizeof(key.id));
	prober_target_t **hit = bsearch(&kp, sorted, n, sizeof(*sorted), cmp_target_id);
	return hit ? *hit : NULL;
}

/* Continue from what an earlier run wrote, so a restart does not flip a
 * down endpoint to unknown (treated as up) for fall x interval. */
static void seed_from_db(const char *prober_id, prober_target_t *t, store_rtxn_t *rtxn)
{
	uint8_t key[STORE_MEASURE_KEY_MAX];
	size_t klen = store_measure_key(key, sizeof(key), t->id, prober_id);
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
static uint64_t first_due(uint64_t *rng, const hg_rec_check_t *check, uint64_t now)
{
	*rng = *rng * 6364136223846793005ull + 1442695040888963407ull;
	return now + (*rng >> 11) % interval_ns(check);
}

static prober_target_t *target_new(unsigned window, uint64_t *rng, const hg_rec_endpoint_t *e,
                                   uint64_t now)
{
	prober_target_t *t = calloc(1, sizeof(*t));
	if (t == NULL) {
		return NULL;
	}
	if (prober_state_init(&t->st, window) != HG_EOK) {
		free(t);
		return NULL;
	}
	memcpy(t->id, e->id, sizeof(t->id));
	target_set_probe(t, e);
	t->due_ns = first_due(rng, &t->check, now);
	return t;
}

/* ---- reconciling the targets with the loaded policy ----
 *
 * In two steps, so that reading 10,000 endpoints never stalls the loop:
 * prober_targets_prepare() reads the snapshot and builds every new target
 * (on the reload thread, prober_reload.c), prober_targets_commit() swaps
 * the set in on the loop. While a plan is being prepared the loop changes
 * neither p->targets nor the id, check and address of any target in it
 * (only a commit does), so the reload thread may read those; the loop
 * keeps writing the targets' other fields (state, schedule, job), which
 * the thread never reads. */

/* One endpoint of the policy and the target that will probe it. */
typedef struct {
	prober_target_t *t;
	bool keep;                 /*!< t is a running target */
	hg_rec_endpoint_t *update; /*!< kept, with a changed check: its new
	                                       record (owned); NULL: unchanged */
} plan_entry_t;

/* Everything that can fail (allocation, reading the snapshot) happens in
 * prepare, before the running targets are touched, so a failed reload
 * leaves them exactly as they were. */
struct prober_plan {
	uint64_t rng, now;
	plan_entry_t *e;
	size_t n, cap;
	size_t added, reset;
};

/* A read-only view of the running targets, by id (the thread's own copy
 * of the pointer array: the loop's arrays stay as they are). */
typedef struct {
	const char *prober_id;
	unsigned window;
	store_rtxn_t *rtxn;
	prober_target_t **sorted;
	size_t n_sorted;
	prober_plan_t *plan;
} prepare_t;

static int plan_push(prober_plan_t *pl, prober_target_t *t, bool keep, hg_rec_endpoint_t *update)
{
	if (pl->n == pl->cap) {
		size_t cap = pl->cap ? 2 * pl->cap : 64;
		plan_entry_t *e = realloc(pl->e, cap * sizeof(*e));
		if (e == NULL) {
			return HG_ENOMEM;
		}
		pl->e = e;
		pl->cap = cap;
	}
	pl->e[pl->n++] = (plan_entry_t){ .t = t, .keep = keep, .update = update };
	return HG_EOK;
}

/* A running target that stays: nothing for the loop to do unless its check
 * changed (then the new record goes with the plan). */
static int plan_keep(prober_plan_t *pl, prober_target_t *old, const hg_rec_endpoint_t *e)
{
	hg_rec_endpoint_t *update = NULL;
	if (memcmp(&old->check, &e->check, sizeof(e->check)) != 0) {
		update = malloc(sizeof(*update));
		if (update == NULL) {
			return HG_ENOMEM;
		}
		memcpy(update, e, sizeof(*update));
	}
	int ret = plan_push(pl, old, true, update);
	if (ret != HG_EOK) {
		free(update);
	}
	return ret;
}

/* An endpoint of the policy: keep its running target, or make a new one.
 * A target whose type, port or address changed starts again (its figures
 * meant another probe); the old one is dropped like a removed endpoint. */
static int prepare_visit(void *ctx, const hg_rec_endpoint_t *e)
{
	prepare_t *c = ctx;
	prober_plan_t *pl = c->plan;
	prober_target_t *old = find_old(c->sorted, c->n_sorted, e->id);
	if (old != NULL && same_probe(old, e)) {
		return plan_keep(pl, old, e);
	}
	prober_target_t *t = target_new(c->window, &pl->rng, e, pl->now);
	if (t == NULL) {
		return HG_ENOMEM;
	}
	if (old == NULL) {
		seed_from_db(c->prober_id, t, c->rtxn);
	}
	int ret = plan_push(pl, t, false, NULL);
	if (ret != HG_EOK) {
		target_free(t);
		return ret;
	}
	if (old == NULL) {
		pl->added++;
	} else {
		pl->reset++;
	}
	return HG_EOK;
}

void prober_plan_free(prober_plan_t *pl)
{
	if (pl == NULL) {
		return;
	}
	for (size_t i = 0; i < pl->n; i++) {
		if (!pl->e[i].keep) {
			target_free(pl->e[i].t); /* created for this plan only */
		}
		free(pl->e[i].update);
	}
	free(pl->e);
	free(pl);
}

int prober_targets_prepare(const prober_t *p, store_rtxn_t *rtxn, uint64_t seed,
                           prober_plan_t **out)
{
	*out = NULL;
	prober_plan_t *pl = calloc(1, sizeof(*pl));
	if (pl == NULL) {
		return HG_ENOMEM;
	}
	pl->rng = seed;
	pl->now = prober_now_ns();
	prepare_t c = { .prober_id = p->id,
		        .window = p->window,
		        .rtxn = rtxn,
		        .plan = pl,
		        .n_sorted = p->n_targets };
	int ret = HG_EOK;
	if (c.n_sorted > 0) {
		c.sorted = malloc(c.n_sorted * sizeof(*c.sorted));
		if (c.sorted == NULL) {
			ret = HG_ENOMEM;
		} else {
			memcpy(c.sorted, p->targets, c.n_sorted * sizeof(*c.sorted));
			qsort(c.sorted, c.n_sorted, sizeof(*c.sorted), cmp_target_id);
		}
	}
	size_t skipped = 0;
	if (ret == HG_EOK) {
		ret = prober_source_foreach_endpoint(rtxn, prepare_visit, &c, &skipped);
	}
	free(c.sorted);
	if (ret != HG_EOK) {
		prober_plan_free(pl);
		return ret;
	}
	if (skipped > 0) {
		hg_warn("%zu endpoint records of an unknown layout ignored (a newer haltgslb-ctl "
		        "wrote them?)",
		        skipped);
	}
	*out = pl;
	return HG_EOK;
}

/* A kept target takes its new check. A shorter interval applies now, not
 * after the old (maybe hour-long) wait for the next probe. */
static void keep_update(uint64_t *rng, prober_target_t *t, const hg_rec_endpoint_t *e, uint64_t now)
{
	if (t->due_ns > now + interval_ns(&e->check)) {
		t->due_ns = first_due(rng, &e->check, now);
	}
	target_set_probe(t, e);
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
			t->removed = true; /* freed when its probe ends */
			p->zombies[p->n_zombies++] = t;
		} else {
			target_free(t);
		}
	}
	return dropped;
}

int prober_targets_commit(prober_t *p, prober_plan_t *pl)
{
	size_t n = pl->n;
	prober_target_t **targets = calloc(n ? n : 1, sizeof(*targets));
	prober_target_t **heap = calloc(n ? n : 1, sizeof(*heap));
	/* Room for every running target to become a zombie: dropping then
	 * cannot fail. */
	prober_target_t **z = realloc(p->zombies, (p->n_zombies + p->n_targets + 1) * sizeof(*z));
	if (z != NULL) {
		p->zombies = z;
	}
	if (targets == NULL || heap == NULL || z == NULL) {
		free(targets);
		free(heap);
		prober_plan_free(pl);
		return HG_ENOMEM;
	}
	uint64_t now = prober_now_ns();
	for (size_t i = 0; i < n; i++) {
		plan_entry_t *e = &pl->e[i];
		targets[i] = e->t;
		if (e->keep) {
			if (e->update != NULL) {
				keep_update(&p->rng, e->t, e->update, now);
			}
			e->t->kept = true;
		}
	}
	/* Targets are freed here: batch items handed to the writer thread
	 * before this point find theirs again by id (prober_batch.c). */
	p->targets_epoch++;
	size_t removed = drop_unkept(p) - pl->reset;
	free(p->targets);
	free(p->heap);
	p->targets = targets;
	p->heap = heap;
	p->n_targets = n;
	prober_heap_rebuild(p);
	hg_info("targets: %zu (added %zu, reset %zu, removed %zu)", p->n_targets, pl->added,
	        pl->reset, removed);
	/* The targets are p's now: only the plan's own memory goes. */
	for (size_t i = 0; i < n; i++) {
		free(pl->e[i].update);
	}
	free(pl->e);
	free(pl);
	return HG_EOK;
}
