/*  SPDX-License-Identifier: GPL-3.0-or-later */
#include <stdlib.h>
#include <string.h>

#include "module_answer.h"

/* libknot's mm_alloc() is not public; the packet's arena always has an
 * allocator, a bare malloc() is only for a NULL context. */
static void *arena_alloc(knot_mm_t *mm, size_t size)
{
	return (mm != NULL && mm->alloc != NULL) ? mm->alloc(mm->ctx, size) : malloc(size);
}

/* Equal 4- or 16-byte addresses, by word loads (no memcmp() call: an
 * answer of 8 addresses compares 28 pairs). */
static inline bool addr_equal(const uint8_t *a, const uint8_t *b, uint16_t len)
{
	if (len == 4) {
		uint32_t x, y;
		memcpy(&x, a, 4);
		memcpy(&y, b, 4);
		return x == y;
	}
	uint64_t x[2], y[2];
	memcpy(x, a, 16);
	memcpy(y, b, 16);
	return x[0] == y[0] && x[1] == y[1];
}

/* knot_rdataset_add() keeps rdata sorted, which would lose the engine's
 * order; lay the rdata out by hand instead, skipping repeated addresses. */
static int add_in_order(knot_rrset_t *rr, const sel_answer_t *ans, uint16_t len, knot_mm_t *mm)
{
	size_t size = ans->n_addr * knot_rdata_size(len);
	knot_rdata_t *first = arena_alloc(mm, size);
	if (first == NULL) {
		return KNOT_ENOMEM;
	}
	knot_rdata_t *pos = first;
	uint16_t count = 0;
	for (unsigned i = 0; i < ans->n_addr; i++) {
		/* A repeat of any earlier address is a repeat of a kept one. */
		bool dup = false;
		for (unsigned j = 0; j < i && !dup; j++) {
			dup = addr_equal(ans->addr[i], ans->addr[j], len);
		}
		if (dup) {
			continue;
		}
		knot_rdata_init(pos, len, ans->addr[i]);
		pos = knot_rdataset_next(pos);
		count++;
	}
	rr->rrs.count = count;
	rr->rrs.size = (uint32_t)((uint8_t *)pos - (uint8_t *)first);
	rr->rrs.rdata = first;
	return KNOT_EOK;
}

int module_answer_rrset(knot_pkt_t *pkt, const knot_dname_t *owner, const sel_answer_t *ans,
                        uint16_t qtype, bool canonical, knot_rrset_t *rr)
{
	bool cname = (ans->flags & SEL_CNAME) != 0;
	if ((cname && ans->cname_len == 0) || (!cname && ans->n_addr == 0)) {
		return KNOT_EINVAL;
	}
	uint16_t type = cname ? KNOT_RRTYPE_CNAME : qtype;
	/* The query's QNAME as owner: no copy (the packet holds the query for
	 * as long as the answer needs its owner). */
	knot_rrset_init(rr, (knot_dname_t *)owner, type, KNOT_CLASS_IN, ans->ttl);

	if (cname) {
		return knot_rrset_add_rdata(rr, ans->cname, ans->cname_len, &pkt->mm);
	}

	uint16_t len = (qtype == KNOT_RRTYPE_A) ? 4 : 16;
	if (!canonical) {
		return add_in_order(rr, ans, len, &pkt->mm);
	}
	for (unsigned i = 0; i < ans->n_addr; i++) {
		int ret = knot_rrset_add_rdata(rr, ans->addr[i], len, &pkt->mm);
		if (ret != KNOT_EOK) {
			return ret;
		}
	}
	return KNOT_EOK;
}
