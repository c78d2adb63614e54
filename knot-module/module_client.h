/*  SPDX-License-Identifier: GPL-3.0-or-later */
/*!
 * \file
 * \brief Who the answer is for: the ECS address when the query carries ECS,
 *        else the query's source address.
 */
#pragma once

#include <stdbool.h>

#include <knot/module.h>

#include "sel.h"

/*!
 * \brief Fill \a client (family, address, source prefix, from_ecs) for the
 *        query in \a qdata. client->geo is left untouched.
 *
 * An ECS option with SOURCE PREFIX-LENGTH 0 means the resolver does not want
 * the client's address used (RFC 7871 7.1.2): the source address is used
 * and \a force_scope0 is set, because such a response must carry scope 0.
 *
 * An IPv4-mapped address in an IPv6 option is located as IPv4, with the
 * source prefix in IPv4 bits: scopes computed for it must be reported back
 * in the option's bits (module_client_scope()).
 *
 * \return HG_EOK, or HG_EINVAL when no usable address exists (then the
 *         caller answers client-independently).
 */
int module_client_get(knotd_qdata_t *qdata, sel_client_t *client, bool *force_scope0);

/*!
 * \brief The ECS scope to report for an answer whose scope is \a scope bits of
 *        \a client's address (0 stays 0: client-independent).
 */
static inline uint8_t module_client_scope(const knotd_qdata_t *qdata, const sel_client_t *client,
                                          uint8_t scope)
{
	if (scope > 0 && client->from_ecs && client->family == AF_INET &&
	    qdata->ecs->family == KNOT_ADDR_FAMILY_IPV6) {
		return (uint8_t)(scope + 96);
	}
	return scope;
}
