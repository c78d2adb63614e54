/*  SPDX-License-Identifier: GPL-3.0-or-later */
#include <netinet/in.h>
#include <string.h>

#include "errors.h"
#include "module_client.h"
#include "module_stats.h"

static int from_sockaddr(const struct sockaddr_storage *ss, sel_client_t *client)
{
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;
		client->family = AF_INET;
		memcpy(client->addr, &sin->sin_addr, 4);
		client->source_len = 32;
		return HG_EOK;
	}
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;
		/* A dual-stack socket reports IPv4 clients as v4-mapped; geo and
		 * geofence prefixes are written for the IPv4 address. */
		if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
			client->family = AF_INET;
			memcpy(client->addr, &sin6->sin6_addr.s6_addr[12], 4);
			client->source_len = 32;
		} else {
			client->family = AF_INET6;
			memcpy(client->addr, &sin6->sin6_addr, 16);
			client->source_len = 128;
		}
		return HG_EOK;
	}
	return HG_EINVAL;
}

/* The ECS option's address as knot_edns_client_subnet_get_addr() and
 * from_sockaddr() would make it, read from the parsed option directly (the
 * sockaddr round trip was a tenth of the module's cost per query): bits
 * past the source prefix zeroed, a v4-mapped IPv6 address as IPv4. */
static int from_ecs(const knot_edns_client_subnet_t *ecs, sel_client_t *client)
{
	unsigned len = ecs->source_len;
	if (ecs->family == KNOT_ADDR_FAMILY_IPV4 && len <= 32) {
		client->family = AF_INET;
	} else if (ecs->family == KNOT_ADDR_FAMILY_IPV6 && len <= 128) {
		client->family = AF_INET6;
	} else {
		return HG_EINVAL;
	}
	uint8_t a[16] = { 0 };
	memcpy(a, ecs->address, (len + 7) / 8);
	if (len % 8) {
		a[len / 8] &= (uint8_t)(0xff00u >> (len % 8));
	}
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	if (client->family == AF_INET6 && memcmp(a, mapped, 12) == 0) {
		/* v4-mapped in an IPv6 option: its prefix counts the 96 mapped
		 * bits (the caller adds them back to the scope). */
		client->family = AF_INET;
		memmove(a, a + 12, 4);
		memset(a + 4, 0, 12);
		len = len > 96 ? len - 96 : 0;
	}
	memcpy(client->addr, a, sizeof(client->addr));
	client->source_len = (uint8_t)len;
	return HG_EOK;
}

int module_client_get(knotd_qdata_t *qdata, sel_client_t *client, bool *force_scope0)
{
	memset(client->addr, 0, sizeof(client->addr));
	client->from_ecs = false;
	*force_scope0 = false;

	const knot_edns_client_subnet_t *ecs = qdata->ecs;
	if (ecs != NULL && ecs->source_len > 0 && from_ecs(ecs, client) == HG_EOK) {
		client->from_ecs = true;
		return HG_EOK;
	}
	if (ecs != NULL) {
		*force_scope0 = true;
	}

	const struct sockaddr_storage *remote = knotd_qdata_remote_addr(qdata);
	if (remote == NULL) {
		return HG_EINVAL;
	}
	return from_sockaddr(remote, client);
}

/* One ECS option's data (family, source, scope, address): the reason it
 * is malformed, or MODULE_FORMERR_COUNT when it is well formed. */
static unsigned ecs_malformed(const uint8_t *data, uint16_t len)
{
	if (len < 4) {
		return MODULE_FORMERR_ECS_ADDRESS;
	}
	uint16_t family = (uint16_t)(data[0] << 8 | data[1]);
	unsigned source = data[2], scope = data[3];
	unsigned max = (family == KNOT_ADDR_FAMILY_IPV4)   ? 32
	               : (family == KNOT_ADDR_FAMILY_IPV6) ? 128
	                                                   : 0;
	if (max == 0 || source > max) {
		return MODULE_FORMERR_ECS_ADDRESS; /* knotd rejects these first */
	}
	if (scope != 0) {
		return MODULE_FORMERR_ECS_SCOPE;
	}
	unsigned octets = (source + 7) / 8;
	if (len - 4u != octets) {
		return MODULE_FORMERR_ECS_ADDRESS;
	}
	if (source % 8 != 0 && (data[4 + octets - 1] & (0xffu >> (source % 8))) != 0) {
		return MODULE_FORMERR_ECS_BITS;
	}
	return MODULE_FORMERR_COUNT;
}

int module_client_ecs_check(const knotd_qdata_t *qdata, unsigned *why)
{
	if (qdata->ecs == NULL || qdata->query->opt_rr == NULL ||
	    qdata->query->opt_rr->rrs.count == 0) {
		return HG_EOK;
	}
	/* One pass over the options (code | length | data): every ECS query
	 * comes here, and knot_edns_get_option() would walk them twice. */
	const knot_rdata_t *rd = qdata->query->opt_rr->rrs.rdata;
	const uint8_t *ecs = NULL;
	uint16_t ecs_len = 0;
	for (uint32_t pos = 0; pos + 4 <= rd->len;) {
		uint16_t code = (uint16_t)(rd->data[pos] << 8 | rd->data[pos + 1]);
		uint16_t len = (uint16_t)(rd->data[pos + 2] << 8 | rd->data[pos + 3]);
		if (code == KNOT_EDNS_OPTION_CLIENT_SUBNET) {
			if (ecs != NULL) {
				*why = MODULE_FORMERR_ECS_MULTIPLE;
				return HG_EINVAL;
			}
			ecs = rd->data + pos + 4;
			ecs_len = len;
		}
		pos += 4u + len;
	}
	if (ecs == NULL || ecs + ecs_len > rd->data + rd->len) {
		return HG_EOK; /* knotd's parser would not have accepted it */
	}
	*why = ecs_malformed(ecs, ecs_len);
	return (*why == MODULE_FORMERR_COUNT) ? HG_EOK : HG_EINVAL;
}

void module_client_ecs_drop(knotd_qdata_t *qdata)
{
	qdata->ecs = NULL;
	knot_rrset_t *opt = &qdata->opt_rr;
	if (knot_rrset_empty(opt)) {
		return;
	}
	knot_rrset_t fresh;
	if (knot_edns_init(&fresh, knot_edns_get_payload(opt), 0, knot_edns_get_version(opt),
	                   qdata->mm) != KNOT_EOK) {
		return;
	}
	if (knot_edns_do(opt)) {
		knot_edns_set_do(&fresh);
	}
	/* Options as code | length | data; knotd wrote them, still bounded. */
	const knot_rdata_t *rd = opt->rrs.rdata;
	for (uint16_t pos = 0; pos + 4u <= rd->len;) {
		uint16_t code = (uint16_t)(rd->data[pos] << 8 | rd->data[pos + 1]);
		uint16_t len = (uint16_t)(rd->data[pos + 2] << 8 | rd->data[pos + 3]);
		if (pos + 4u + len > rd->len) {
			break;
		}
		if (code != KNOT_EDNS_OPTION_CLIENT_SUBNET &&
		    knot_edns_add_option(&fresh, code, len, rd->data + pos + 4, qdata->mm) !=
		            KNOT_EOK) {
			return;
		}
		pos = (uint16_t)(pos + 4u + len);
	}
	*opt = fresh; /* the old rdata belongs to qdata->mm too */
}
