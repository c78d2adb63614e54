/*  SPDX-License-Identifier: GPL-3.0-or-later */
#include <netinet/in.h>
#include <string.h>

#include "errors.h"
#include "module_client.h"

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

int module_client_get(knotd_qdata_t *qdata, sel_client_t *client, bool *force_scope0)
{
	memset(client->addr, 0, sizeof(client->addr));
	client->from_ecs = false;
	*force_scope0 = false;

	const knot_edns_client_subnet_t *ecs = qdata->ecs;
	if (ecs != NULL && ecs->source_len > 0) {
		struct sockaddr_storage ss = { 0 };
		if (knot_edns_client_subnet_get_addr(&ss, ecs) == KNOT_EOK &&
		    from_sockaddr(&ss, client) == HG_EOK) {
			/* get_addr zeroes the bits past the source prefix. */
			unsigned len = ecs->source_len;
			if (ss.ss_family == AF_INET6 && client->family == AF_INET) {
				/* v4-mapped in an IPv6 option: its prefix counts the 96
				 * mapped bits (the caller adds them back to the scope). */
				len = len > 96 ? len - 96 : 0;
			}
			unsigned max = (client->family == AF_INET) ? 32 : 128;
			client->source_len = len > max ? max : len;
			client->from_ecs = true;
			return HG_EOK;
		}
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
