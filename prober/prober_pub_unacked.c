/*  SPDX-License-Identifier: GPL-3.0-or-later */
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "prober_pub_unacked.h"

void prober_unacked_init(prober_pub_unacked_t *u)
{
	memset(u, 0, sizeof(*u));
}

void prober_unacked_free(prober_pub_unacked_t *u)
{
	for (size_t i = 0; i < u->len; i++) {
		free(u->v[u->head + i].body);
	}
	free(u->v);
	memset(u, 0, sizeof(*u));
}

int prober_unacked_add(prober_pub_unacked_t *u, const prober_pub_msg_t *m)
{
	if (u->head > 0 && u->head + u->len == u->cap) {
		/* Room at the front from confirmed messages: slide back. */
		memmove(u->v, u->v + u->head, u->len * sizeof(*u->v));
		u->head = 0;
	}
	if (u->head + u->len == u->cap) {
		size_t cap = u->cap ? 2 * u->cap : 64;
		prober_pub_msg_t *v = realloc(u->v, cap * sizeof(*v));
		if (v == NULL) {
			return HG_ENOMEM;
		}
		u->v = v;
		u->cap = cap;
	}
	u->v[u->head + u->len++] = *m;
	u->bytes += m->len;
	return HG_EOK;
}

size_t prober_unacked_len(const prober_pub_unacked_t *u)
{
	return u->len;
}

prober_pub_msg_t *prober_unacked_at(prober_pub_unacked_t *u, size_t i)
{
	return i < u->len ? &u->v[u->head + i] : NULL;
}

size_t prober_unacked_confirm(prober_pub_unacked_t *u, uint64_t tag, bool multiple,
                              uint64_t *records)
{
	for (size_t i = 0; i < u->len; i++) {
		prober_pub_msg_t *m = &u->v[u->head + i];
		if (m->confirmed) {
			continue;
		}
		if (m->tag == 0 || m->tag > tag) {
			break; /* tags grow along the list; untagged ones come last */
		}
		if (multiple || m->tag == tag) {
			m->confirmed = true;
		}
	}
	size_t removed = 0;
	uint64_t recs = 0;
	while (u->len > 0 && u->v[u->head].confirmed) {
		prober_pub_msg_t *m = &u->v[u->head];
		recs += m->n_records;
		u->bytes -= m->len;
		free(m->body);
		u->head++;
		u->len--;
		removed++;
	}
	if (u->len == 0) {
		u->head = 0;
	}
	if (records != NULL) {
		*records = recs;
	}
	return removed;
}

void prober_unacked_untag(prober_pub_unacked_t *u)
{
	for (size_t i = 0; i < u->len; i++) {
		u->v[u->head + i].tag = 0; /* a confirmed one stays confirmed: not resent */
	}
}
