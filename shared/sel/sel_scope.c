/*  SPDX-License-Identifier: GPL-3.0-or-later */
/*  ECS scope bookkeeping and the small list helpers every filter shares. */
#include <stdarg.h>
#include <stdio.h>
#include <sys/socket.h>

#include "sel_internal.h"

void sel_scope_add(sel_ctx_t *c, unsigned len)
{
	/* The answer is valid for the most specific network any filter looked
	 * at; the cap to the ECS source prefix happens once, at the end. */
	c->client_used = true;
	if (len > c->scope) {
		c->scope = (uint8_t)len;
	}
}

/* Leading bits equal in a and b, at most max. */
static unsigned sel_common_bits(const uint8_t *a, const uint8_t *b, unsigned max)
{
	unsigned bits = 0;
	for (unsigned i = 0; bits < max; i++) {
		uint8_t x = a[i] ^ b[i];
		if (x == 0) {
			bits += 8;
			continue;
		}
		while (!(x & 0x80)) {
			x <<= 1;
			bits++;
		}
		break;
	}
	return bits < max ? bits : max;
}

bool sel_prefix_match(const sel_client_t *cl, const hg_view_match_t *m, unsigned *scope)
{
	int fam = m->family == 4 ? AF_INET : AF_INET6;
	if (fam != cl->family) {
		/* The family alone proves non-membership: no bits needed. */
		*scope = 0;
		return false;
	}
	unsigned common = sel_common_bits(cl->addr, m->data, m->prefix_len);
	if (common >= m->prefix_len) {
		*scope = m->prefix_len;
		return true;
	}
	/* The shortest prefix of the client that excludes the rule's network. */
	*scope = common + 1;
	return false;
}

void sel_compact(sel_ctx_t *c, const bool *keep, uint8_t reason)
{
	uint8_t n = 0;
	for (uint8_t i = 0; i < c->n; i++) {
		uint8_t e = c->list[i];
		if (keep[i]) {
			c->list[n++] = e;
		} else {
			c->reason[e] = reason;
			c->mask &= ~(1ull << e);
		}
	}
	c->n = n;
}

void sel_keep_mask(sel_ctx_t *c, uint64_t keep, uint8_t reason)
{
	uint64_t gone = c->mask & ~keep;
	if (gone == 0) {
		return;
	}
	for (uint64_t m = gone; m != 0; m &= m - 1) {
		c->reason[__builtin_ctzll(m)] = reason;
	}
	c->mask &= keep;
	uint8_t n = 0;
	for (uint64_t m = c->mask; m != 0; m &= m - 1) {
		c->list[n++] = (uint8_t)__builtin_ctzll(m);
	}
	c->n = n;
}

/* The first k of a stable descending sort: each pass takes the earliest
 * largest key of the rest to the front, keeping the others' order, so
 * ties resolve as the insertion sort resolves them. O(k n). */
static void sel_select_desc(sel_ctx_t *c, unsigned k)
{
	for (unsigned i = 0; i < k; i++) {
		unsigned best = i;
		for (unsigned j = i + 1; j < c->n; j++) {
			if (c->key[c->list[j]] > c->key[c->list[best]]) {
				best = j;
			}
		}
		uint8_t e = c->list[best];
		for (unsigned j = best; j > i; j--) {
			c->list[j] = c->list[j - 1];
		}
		c->list[i] = e;
	}
}

void sel_sort_desc(sel_ctx_t *c)
{
	if (c->sort_limit > 0 && c->sort_limit < c->n && c->sort_limit <= 4) {
		sel_select_desc(c, c->sort_limit);
		return;
	}
	/* Insertion sort: n <= 64, usually ~10, stable, no recursion. */
	for (uint8_t i = 1; i < c->n; i++) {
		uint8_t e = c->list[i];
		double k = c->key[e];
		uint8_t j = i;
		while (j > 0 && c->key[c->list[j - 1]] < k) {
			c->list[j] = c->list[j - 1];
			j--;
		}
		c->list[j] = e;
	}
}

void sel_note(sel_ctx_t *c, const char *fmt, ...)
{
	if (!c->tracing) {
		return;
	}
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->note, sizeof(c->note), fmt, ap);
	va_end(ap);
}
