/*  SPDX-License-Identifier: GPL-3.0-or-later */
/* Fuzz target: the module's client and ECS handling (knot-module/
 * module_client.c) on a query parsed by libknot the way knotd 3.2 parses
 * it before any module runs (knot_pkt_parse(), then the ECS option as
 * process_query.c reads it: knot_edns_client_subnet_parse(), scope zeroed,
 * the option reserved in the response OPT), called as module_query.c
 * calls it: the strict RFC 7871 check first (and on FORMERR the response
 * OPT rebuilt without ECS), else the client. A query knotd itself refuses
 * never reaches the module and is dropped here too. module_client.c is
 * compiled in; knotd_qdata_remote_addr(), which knotd provides to modules,
 * is defined here as knotd 3.2 does it without XDP, and qdata->mm is a
 * pool whose free() does nothing, like knotd's per-query mempool.
 *
 * Input (missing bytes read as zero):
 *   byte 0     the query's source: 0 IPv4, 1 IPv6, 2 IPv4-mapped IPv6
 *   bytes 1-16 its address (the first 4 for IPv4)
 *   byte 17    bit 0: the server has `edns-client-subnet: on`
 *   rest       the query, DNS wire format
 *
 * Checked beyond "no crash, no leak, no UB": an option the check accepts
 * is well formed (RFC 7871 section 6: exactly the octets the source prefix
 * needs, no bits past it, scope 0, one option), a rejection names a reason
 * (and "several options" only when there are several), the rebuilt OPT
 * keeps payload, version and DO and has no ECS option; the client is the ECS address
 * (only the source prefix's bits, in the family it names; a v4-mapped one
 * as IPv4) or else the source address, its prefix fits the family; an ECS
 * option that is not used forces scope 0; the scope reported back is 0
 * only for 0 and never exceeds the option's family. */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <libknot/libknot.h>

#include "errors.h"
#include "fuzz.h"
#include "module_client.h"
#include "module_stats.h"

/* ---- a per-query pool, as knotd's mempool: free() is a no-op, all of it
 * goes at the end ---- */

typedef struct pool_blk {
	struct pool_blk *next;
	max_align_t data[];
} pool_blk_t;

static void *pool_alloc(void *ctx, size_t len)
{
	pool_blk_t **head = ctx;
	pool_blk_t *b = malloc(sizeof(*b) + len);
	if (b == NULL) {
		return NULL;
	}
	b->next = *head;
	*head = b;
	return b->data;
}

static void pool_nofree(void *p)
{
	(void)p;
}

static void pool_drop(pool_blk_t *head)
{
	while (head != NULL) {
		pool_blk_t *next = head->next;
		free(head);
		head = next;
	}
}

/* knotd's own (src/knot/nameserver/query_module.c), without XDP. */
const struct sockaddr_storage *knotd_qdata_remote_addr(knotd_qdata_t *qdata)
{
	return qdata != NULL ? qdata->params->remote : NULL;
}

static uint8_t in_byte(const uint8_t *data, size_t size, size_t i)
{
	return i < size ? data[i] : 0;
}

static void remote_from(const uint8_t *data, size_t size, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	uint8_t a[16];
	for (size_t i = 0; i < 16; i++) {
		a[i] = in_byte(data, size, 1 + i);
	}
	switch (in_byte(data, size, 0) % 3) {
	case 0: {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;
		sin->sin_family = AF_INET;
		memcpy(&sin->sin_addr, a, 4);
		break;
	}
	case 1: {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
		sin6->sin6_family = AF_INET6;
		memcpy(&sin6->sin6_addr, a, 16);
		break;
	}
	default: {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
		sin6->sin6_family = AF_INET6;
		memset(sin6->sin6_addr.s6_addr + 10, 0xff, 2);
		memcpy(sin6->sin6_addr.s6_addr + 12, a, 4);
	}
	}
}

static void *mm_alloc_or_abort(knot_mm_t *mm, size_t len)
{
	void *p = mm->alloc(mm->ctx, len);
	if (p == NULL) {
		abort();
	}
	memset(p, 0, len);
	return p;
}

/* What process_query.c does with the query's EDNS before the modules run;
 * false when knotd would answer FORMERR itself (or fail). */
static bool knotd_edns(knotd_qdata_t *qdata, bool srv_ecs)
{
	const knot_pkt_t *query = qdata->query;
	if (query->opt_rr == NULL) {
		return true;
	}
	if (knot_edns_init(&qdata->opt_rr, 1232, 0, KNOT_EDNS_VERSION, qdata->mm) != KNOT_EOK) {
		return false;
	}
	if (knot_pkt_has_dnssec(query)) {
		knot_edns_set_do(&qdata->opt_rr);
	}
	if (!srv_ecs) {
		return true;
	}
	uint8_t *ecs_opt = knot_pkt_edns_option(query, KNOT_EDNS_OPTION_CLIENT_SUBNET);
	if (ecs_opt == NULL) {
		return true;
	}
	qdata->ecs = mm_alloc_or_abort(qdata->mm, sizeof(*qdata->ecs));
	const uint8_t *ecs_data = knot_edns_opt_get_data(ecs_opt);
	uint16_t ecs_len = knot_edns_opt_get_length(ecs_opt);
	if (knot_edns_client_subnet_parse(qdata->ecs, ecs_data, ecs_len) != KNOT_EOK) {
		return false;
	}
	qdata->ecs->scope_len = 0;
	return knot_edns_reserve_option(&qdata->opt_rr, KNOT_EDNS_OPTION_CLIENT_SUBNET, ecs_len,
	                                NULL, qdata->mm) == KNOT_EOK;
}

/* Bits of addr past len are zero. */
static bool zero_past(const uint8_t *addr, unsigned bytes, unsigned len)
{
	for (unsigned bit = len; bit < bytes * 8; bit++) {
		if (addr[bit / 8] & (0x80u >> (bit % 8))) {
			return false;
		}
	}
	return true;
}

/* The query's ECS options, read here independently of the module: how
 * many, and whether the first is well formed by RFC 7871 section 6. */
static void ecs_oracle(const knot_pkt_t *query, unsigned *count, bool *well_formed)
{
	*count = 0;
	*well_formed = false;
	if (query->opt_rr == NULL || query->opt_rr->rrs.count == 0) {
		return;
	}
	const knot_rdata_t *rd = query->opt_rr->rrs.rdata;
	for (size_t pos = 0; pos + 4 <= rd->len;) {
		unsigned code = (unsigned)rd->data[pos] << 8 | rd->data[pos + 1];
		size_t len = (size_t)rd->data[pos + 2] << 8 | rd->data[pos + 3];
		if (pos + 4 + len > rd->len) {
			break;
		}
		if (code == KNOT_EDNS_OPTION_CLIENT_SUBNET && (*count)++ == 0 && len >= 4) {
			const uint8_t *d = rd->data + pos + 4;
			unsigned family = (unsigned)d[0] << 8 | d[1], source = d[2], scope = d[3];
			unsigned max = family == 1 ? 32 : family == 2 ? 128 : 0;
			*well_formed = max != 0 && source <= max && scope == 0 &&
			               len - 4 == (source + 7) / 8 &&
			               zero_past(d + 4, (unsigned)(len - 4), source);
		}
		pos += 4 + len;
	}
}

/* module_query.c: the ECS check first; on FORMERR the OPT without ECS. */
static bool check_ecs(knotd_qdata_t *qdata)
{
	unsigned why = MODULE_FORMERR_COUNT, count;
	bool well_formed;
	ecs_oracle(qdata->query, &count, &well_formed);
	int ret = module_client_ecs_check(qdata, &why);
	if (ret == HG_EOK) {
		if (qdata->ecs != NULL && (count != 1 || !well_formed)) {
			abort(); /* accepted an option RFC 7871 calls malformed */
		}
		return true;
	}
	if (ret != HG_EINVAL || why >= MODULE_FORMERR_COUNT || qdata->ecs == NULL ||
	    (why == MODULE_FORMERR_ECS_MULTIPLE) != (count > 1) || (count == 1 && well_formed)) {
		abort();
	}
	bool had_opt = !knot_rrset_empty(&qdata->opt_rr);
	uint16_t payload = had_opt ? knot_edns_get_payload(&qdata->opt_rr) : 0;
	uint8_t version = had_opt ? knot_edns_get_version(&qdata->opt_rr) : 0;
	bool dnssec = had_opt && knot_edns_do(&qdata->opt_rr);
	module_client_ecs_drop(qdata);
	if (qdata->ecs != NULL || knot_rrset_empty(&qdata->opt_rr) != !had_opt) {
		abort();
	}
	if (had_opt &&
	    (knot_edns_get_option(&qdata->opt_rr, KNOT_EDNS_OPTION_CLIENT_SUBNET, NULL) != NULL ||
	     knot_edns_get_payload(&qdata->opt_rr) != payload ||
	     knot_edns_get_version(&qdata->opt_rr) != version ||
	     knot_edns_do(&qdata->opt_rr) != dnssec)) {
		abort();
	}
	return false;
}

static void check_client(knotd_qdata_t *qdata, const struct sockaddr_storage *remote)
{
	sel_client_t client;
	memset(&client, 0xa5, sizeof(client)); /* what it leaves alone stays visible */
	bool force0 = true;
	int ret = module_client_get(qdata, &client, &force0);
	const knot_edns_client_subnet_t *ecs = qdata->ecs;
	if (ret != HG_EOK) {
		abort(); /* a UDP/TCP query always has a source address */
	}
	unsigned max = client.family == AF_INET ? 32 : client.family == AF_INET6 ? 128 : 0;
	if (max == 0 || client.source_len > max) {
		abort();
	}
	if (client.from_ecs) {
		if (ecs == NULL || ecs->source_len == 0 || force0 ||
		    !zero_past(client.addr, max / 8, client.source_len)) {
			abort();
		}
		/* The option's family, except a v4-mapped IPv6 prefix (IPv4). */
		if (ecs->family == KNOT_ADDR_FAMILY_IPV4 && client.family != AF_INET) {
			abort();
		}
	} else {
		if (force0 != (ecs != NULL)) {
			abort(); /* an ECS option not used must force scope 0 */
		}
		uint8_t want[16] = { 0 };
		int fam = remote->ss_family;
		const uint8_t *a6 = ((const struct sockaddr_in6 *)remote)->sin6_addr.s6_addr;
		if (fam == AF_INET) {
			memcpy(want, &((const struct sockaddr_in *)remote)->sin_addr, 4);
		} else if (IN6_IS_ADDR_V4MAPPED((const struct in6_addr *)a6)) {
			fam = AF_INET;
			memcpy(want, a6 + 12, 4);
		} else {
			memcpy(want, a6, 16);
		}
		if (client.family != fam || client.source_len != max ||
		    memcmp(client.addr, want, max / 8) != 0) {
			abort();
		}
	}
	for (unsigned scope = 0; scope <= max; scope++) {
		uint8_t s = module_client_scope(qdata, &client, (uint8_t)scope);
		unsigned cap = (ecs != NULL && ecs->family == KNOT_ADDR_FAMILY_IPV6) ? 128 : max;
		if ((s == 0) != (scope == 0) || s > cap || s < scope) {
			abort();
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const size_t hdr = 18;
	if (size <= hdr || size - hdr > UINT16_MAX) {
		return 0;
	}
	struct sockaddr_storage remote;
	remote_from(data, size, &remote);
	bool srv_ecs = in_byte(data, size, 17) & 1;
	size_t len = size - hdr;
	uint8_t *wire = malloc(len); /* exactly the query: a read past it is an ASan error */
	if (wire == NULL) {
		abort();
	}
	memcpy(wire, data + hdr, len);
	knot_pkt_t *pkt = knot_pkt_new(wire, (uint16_t)len, NULL);
	if (pkt == NULL) {
		abort();
	}
	knotd_qdata_params_t params = { .proto = KNOTD_QUERY_PROTO_UDP, .remote = &remote };
	pool_blk_t *pool = NULL;
	knot_mm_t mm = { .ctx = &pool, .alloc = pool_alloc, .free = pool_nofree };
	knotd_qdata_t qdata;
	memset(&qdata, 0, sizeof(qdata));
	qdata.query = pkt;
	qdata.params = &params;
	qdata.mm = &mm;
	if (knot_pkt_parse(pkt, 0) == KNOT_EOK && knotd_edns(&qdata, srv_ecs) &&
	    check_ecs(&qdata)) {
		check_client(&qdata, &remote);
	}
	pool_drop(pool);
	knot_pkt_free(pkt);
	free(wire);
	return 0;
}
