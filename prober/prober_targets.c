/*  SPDX-License-Identifier: GPL-3.0-or-later */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "log.h"
#include "prober.h"

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
 * CNAME endpoint uses its check's probe-address, or is resolved later. */
static void target_address(prober_target_t *t, const policy_endpoint_t *e)
{
	memset(&t->addr, 0, sizeof(t->addr));
	t->has_addr = false;
	t->addr_text[0] = '\0';
	uint16_t port = htons(t->check.port);
	struct sockaddr_in *sin = (struct sockaddr_in *)&t->addr;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&t->addr;
	if (e->n_v4 > 0) {
		sin->sin_family = AF_INET;
		memcpy(&sin->sin_addr, e->v4[0], 4);
	} else if (e->n_v6 > 0) {
		sin6->sin6_family = AF_INET6;
		memcpy(&sin6->sin6_addr, e->v6[0], 16);
	} else if (t->check.probe_address[0] != '\0') {
		if (inet_pton(AF_INET, t->check.probe_address, &sin->sin_addr) == 1) {
			sin->sin_family = AF_INET;
		} else if (inet_pton(AF_INET6, t->check.probe_address, &sin6->sin6_addr) == 1) {
			sin6->sin6_family = AF_INET6;
		}
	}
	if (t->addr.ss_family == AF_INET) {
		sin->sin_port = port;
		t->addrlen = sizeof(*sin);
		inet_ntop(AF_INET, &sin->sin_addr, t->addr_text, sizeof(t->addr_text));
		t->has_addr = true;
	} else if (t->addr.ss_family == AF_INET6) {
		sin6->sin6_port = port;
		t->addrlen = sizeof(*sin6);
		inet_ntop(AF_INET6, &sin6->sin6_addr, t->addr_text, sizeof(t->addr_text));
		t->has_addr = true;
	}
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

static bool same_probe(const prober_target_t *t, const hg_rec_check_t *c,
                       const struct sockaddr_storage *addr, bool has_addr)
{
	return t->check.type == c->type && t->check.port == c->port && t->has_addr == has_addr &&
	       memcmp(&t->addr, addr, sizeof(*addr)) == 0;
}

/* Continue from what an earlier run wrote, so a restart does not flip a
 * down endpoint to unknown (treated as up) for fall x interval. */
static void seed_from_db(prober_t *p, prober_target_t *t, store_rtxn_t *rtxn)
{
	uint8_t key[2 * HG_ID_SIZE];
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

/* Spread first probes over one interval: 10,000 endpoints loaded at once
 * must not fire together. */
static uint64_t first_due(prober_t *p, const hg_rec_check_t *check, uint64_t now)
{
	uint64_t iv = (uint64_t)(check->interval_ms ? check->interval_ms : 1000) * 1000000ull;
	p->rng = p->rng * 6364136223846793005ull + 1442695040888963407ull;
	return now + (p->rng >> 11) % iv;
}

static prober_target_t *target_new(prober_t *p, const policy_endpoint_t *e, uint64_t now)
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
	t->check = e->check;
	target_address(t, e);
	t->due_ns = first_due(p, &t->check, now);
	return t;
}

int prober_targets_apply(prober_t *p, const policy_t *policy)
{
	int ret = HG_ENOMEM;
	size_t n = policy->n_endpoints;
	uint64_t now = prober_now_ns();
	prober_target_t **sorted = NULL, **targets = calloc(n ? n : 1, sizeof(*targets));
	prober_target_t **heap = calloc(n ? n : 1, sizeof(*heap));
	prober_target_t **zombies = NULL;
	store_rtxn_t rtxn = { 0 };
	bool have_rtxn = false;
	size_t added = 0, changed = 0, removed = 0;
	if (targets == NULL || heap == NULL) {
		goto cleanup;
	}
	if (p->n_targets > 0) {
		sorted = malloc(p->n_targets * sizeof(*sorted));
		zombies = realloc(p->zombies, (p->n_zombies + p->n_targets) * sizeof(*zombies));
		if (sorted == NULL || zombies == NULL) {
			goto cleanup;
		}
		p->zombies = zombies;
		memcpy(sorted, p->targets, p->n_targets * sizeof(*sorted));
		qsort(sorted, p->n_targets, sizeof(*sorted), cmp_target_id);
	}
	if (p->store != NULL && store_rtxn_begin(p->store, &rtxn) == HG_EOK) {
		have_rtxn = true;
	}
	size_t made = 0;
	for (size_t i = 0; i < n; i++) {
		const policy_endpoint_t *e = &policy->endpoints[i];
		prober_target_t *old = find_old(sorted, p->n_targets, e->id);
		if (old != NULL) {
			/* Same endpoint: keep its history; if what is probed changed
			 * (type, port, address) the old figures mean nothing. */
			prober_target_t probe = { .check = e->check };
			target_address(&probe, e);
			if (!same_probe(old, &e->check, &probe.addr, probe.has_addr)) {
				prober_state_free(&old->st);
				if (prober_state_init(&old->st, p->window) != HG_EOK) {
					goto cleanup_partial;
				}
				changed++;
			}
			/* A shorter interval applies now, not after the old (maybe
			 * hour-long) wait for the next probe. */
			uint64_t iv = (uint64_t)(e->check.interval_ms ? e->check.interval_ms : 1000) *
			              1000000ull;
			if (old->due_ns > now + iv) {
				old->due_ns = first_due(p, &e->check, now);
			}
			old->check = e->check;
			old->addr = probe.addr;
			old->addrlen = probe.addrlen;
			old->has_addr = probe.has_addr;
			memcpy(old->addr_text, probe.addr_text, sizeof(old->addr_text));
			targets[made++] = old;
			old->kept = true;
			continue;
		}
		prober_target_t *t = target_new(p, e, now);
		if (t == NULL) {
			goto cleanup_partial;
		}
		if (have_rtxn) {
			seed_from_db(p, t, &rtxn);
		}
		targets[made++] = t;
		added++;
	}
	for (size_t k = 0; k < p->n_targets; k++) {
		prober_target_t *t = p->targets[k];
		if (t->kept) {
			t->kept = false;
			continue;
		}
		removed++;
		prober_batch_drop(p, t);
		if (t->job != NULL) {
			t->removed = true;   /* freed when its probe ends */
			p->zombies[p->n_zombies++] = t;
		} else {
			target_free(t);
		}
	}
	free(p->targets);
	free(p->heap);
	p->targets = targets;
	p->heap = heap;
	p->n_targets = made;
	targets = heap = NULL;
	prober_heap_rebuild(p);
	hg_info("targets: %zu (added %zu, reset %zu, removed %zu)", p->n_targets, added, changed,
	        removed);
	ret = HG_EOK;
	goto cleanup;

cleanup_partial:
	/* Free only what this call created; kept targets still belong to p. */
	for (size_t i = 0; i < made; i++) {
		if (targets[i]->kept) {
			targets[i]->kept = false;
		} else {
			target_free(targets[i]);
		}
	}
cleanup:
	if (have_rtxn) {
		store_rtxn_end(&rtxn);
		store_rtxn_free(&rtxn);
	}
	free(sorted);
	free(targets);
	free(heap);
	return ret;
}
