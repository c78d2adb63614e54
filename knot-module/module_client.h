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

/*!
 * \brief Check the query's ECS options as RFC 7871 asks of a server, where
 *        knotd's parser is lenient: it reads the first option only, ignores
 *        ADDRESS octets past those SOURCE PREFIX-LENGTH needs, clears the
 *        bits past the prefix and zeroes a query's SCOPE PREFIX-LENGTH.
 *
 * Rejected (section 6: "too many ADDRESS octets, or ... non-zero ADDRESS
 * bits set beyond SOURCE PREFIX-LENGTH, SHOULD return FORMERR"; section
 * 7.1.2: a wrongly formatted option MUST get FORMERR): address octets
 * other than ceil(source / 8), non-zero bits past the prefix, a non-zero
 * SCOPE PREFIX-LENGTH (section 6: "In queries, it MUST be set to 0"), a
 * second ECS option, and (as knotd already does) a FAMILY other than 1
 * or 2 or a source prefix longer than the family's address.
 *
 * Only when knotd handles ECS (qdata->ecs set: `edns-client-subnet: on`);
 * otherwise the option is ignored, as RFC 7871 asks of a server that has
 * not enabled ECS.
 *
 * \param[out] why  On rejection: enum module_formerr.
 * \return HG_EOK (acceptable, or no ECS), HG_EINVAL (answer FORMERR).
 */
int module_client_ecs_check(const knotd_qdata_t *qdata, unsigned *why);

/*!
 * \brief Prepare the FORMERR for a query module_client_ecs_check() rejected:
 *        rebuild the response's OPT without the ECS option (knotd reserved
 *        it with the query's option length and would echo the malformed
 *        option) and clear qdata->ecs. The new OPT keeps the payload size,
 *        version, DO bit and every other option; it lives in qdata->mm.
 *        On allocation failure the OPT is left as it was.
 */
void module_client_ecs_drop(knotd_qdata_t *qdata);
