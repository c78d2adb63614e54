/*  SPDX-License-Identifier: GPL-3.0-or-later */
/*  The decision memo: one slot per (view, qtype); a slot answers a client
 *  whose address shares the answer's client_bits with the one it was
 *  computed for (sel_memo.h says why that is the same answer). */
#include <string.h>
#include <sys/socket.h>

#include "sel_memo.h"

static sel_memo_slot_t *memo_slot(sel_memo_t *memo, const void *view, uint16_t qtype)
{
	uint64_t k = (uint64_t)(uintptr_t)view ^ ((uint64_t)qtype << 48);
	k *= 0x9e3779b97f4a7c15ull;
	return &memo->slot[(k >> 40) & (SEL_MEMO_SLOTS - 1)];
}

/* The first `bits` bits of addr into net, the rest zero. */
static void memo_mask(const uint8_t *addr, unsigned bits, uint8_t net[16])
{
	memset(net, 0, 16);
	memcpy(net, addr, (bits + 7) / 8);
	if (bits % 8) {
		net[bits / 8] &= (uint8_t)(0xff00u >> (bits % 8));
	}
}

static bool memo_same_net(const uint8_t *net, const uint8_t *addr, unsigned bits)
{
	unsigned full = bits / 8, rest = bits % 8;
	if (memcmp(net, addr, full) != 0) {
		return false;
	}
	return rest == 0 || ((net[full] ^ addr[full]) & (uint8_t)(0xff00u >> rest)) == 0;
}

bool sel_memo_find(sel_memo_t *memo, const void *store, size_t txnid, const view_t *view,
                   const sel_client_t *client, uint16_t qtype, uint64_t now_ms, sel_answer_t *out)
{
	sel_memo_slot_t *s = memo_slot(memo, view->hdr, qtype);
	const sel_answer_t *a = &s->answer;
	if (s->view != view->hdr || s->txnid != txnid || s->store != store || s->qtype != qtype ||
	    s->family != client->family || now_ms < a->valid_from || now_ms >= a->valid_until ||
	    !memo_same_net(s->net, client->addr, a->client_bits)) {
		memo->misses++;
		return false;
	}
	memcpy(out, a, offsetof(sel_answer_t, addr));
	memcpy(out->addr, a->addr, a->n_addr * sizeof(a->addr[0]));
	out->cname = a->cname;
	out->cname_len = a->cname_len;
	out->ttl = a->ttl;
	out->scope = a->client_bits < client->source_len ? a->client_bits : client->source_len;
	out->client_bits = a->client_bits;
	out->flags = a->flags;
	out->vantage = a->vantage;
	out->valid_from = a->valid_from;
	out->valid_until = a->valid_until;
	memo->hits++;
	return true;
}

void sel_memo_store(sel_memo_t *memo, const void *store, size_t txnid, const view_t *view,
                    const sel_client_t *client, uint16_t qtype, const sel_answer_t *answer)
{
	sel_memo_slot_t *s = memo_slot(memo, view->hdr, qtype);
	unsigned max = client->family == AF_INET ? 32 : 128;
	if (answer->client_bits > max) {
		s->view =
		        NULL; /* cannot happen (scopes are prefixes of the family); never serve it */
		return;
	}
	s->view = view->hdr;
	s->store = store;
	s->txnid = txnid;
	s->qtype = qtype;
	s->family = (uint8_t)client->family;
	memo_mask(client->addr, answer->client_bits, s->net);
	memcpy(&s->answer, answer, offsetof(sel_answer_t, addr));
	memcpy(s->answer.addr, answer->addr, answer->n_addr * sizeof(answer->addr[0]));
	s->answer.cname = answer->cname;
	s->answer.cname_len = answer->cname_len;
	s->answer.ttl = answer->ttl;
	s->answer.scope = answer->scope;
	s->answer.client_bits = answer->client_bits;
	s->answer.flags = answer->flags;
	s->answer.vantage = answer->vantage;
	s->answer.valid_from = answer->valid_from;
	s->answer.valid_until = answer->valid_until;
}
