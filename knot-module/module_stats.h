/*  SPDX-License-Identifier: GPL-3.0-or-later */
/*!
 * \file
 * \brief mod-haltgslb counters, read with `knotc zone-stats ZONE mod-haltgslb`.
 */
#pragma once

#include <knot/module.h>

/*! Counter ids, in registration order (knotd_mod_stats_incr wants them so). */
enum module_ctr {
	MODULE_CTR_ANSWER = 0,  /*!< answered from the database; idx: enum module_fam */
	MODULE_CTR_CNAME,       /*!< of those, answered with a CNAME */
	MODULE_CTR_DEGRADED,    /*!< of those, degraded (health removed endpoints / unknown) */
	MODULE_CTR_FALLBACK,    /*!< of those, the name's fallback was used */
	MODULE_CTR_NODATA,      /*!< of those, NODATA (fallback none or no address of the family) */
	MODULE_CTR_PASSTHROUGH, /*!< GSLB query served from the zone; idx: enum module_pass */
	MODULE_CTR_FORMERR,     /*!< query rejected with FORMERR; idx: enum module_formerr */
	MODULE_CTR_COUNT
};

/*! Address family of an answer (idx of MODULE_CTR_ANSWER). */
enum module_fam { MODULE_FAM_A = 0, MODULE_FAM_AAAA, MODULE_FAM_COUNT };

/*! Why a query was passed through (idx of MODULE_CTR_PASSTHROUGH). */
enum module_pass {
	MODULE_PASS_NO_DB = 0, /*!< database missing, unreadable or unknown schema */
	MODULE_PASS_NO_VIEW,   /*!< the name is in the policy but its view is missing */
	MODULE_PASS_BAD_VIEW,  /*!< the view failed its checks */
	MODULE_PASS_ERROR,     /*!< read, selection or signing error */
	MODULE_PASS_FAULT,     /*!< a read of a mapped file faulted (truncated database) */
	MODULE_PASS_DNSSEC,    /*!< DNSSEC query the module cannot sign (no usable key...) */
	MODULE_PASS_REMAP,     /*!< the data grew beyond knotd's map; remapped when idle */
	MODULE_PASS_COUNT
};

/*! Why a query got FORMERR (idx of MODULE_CTR_FORMERR): its ECS option. */
enum module_formerr {
	MODULE_FORMERR_ECS_ADDRESS = 0, /*!< address octets not those the source prefix needs */
	MODULE_FORMERR_ECS_BITS,        /*!< non-zero address bits past the source prefix */
	MODULE_FORMERR_ECS_SCOPE,       /*!< non-zero SCOPE PREFIX-LENGTH in a query */
	MODULE_FORMERR_ECS_MULTIPLE,    /*!< more than one ECS option */
	MODULE_FORMERR_COUNT
};

/*! \brief Register every counter. \return KNOT_EOK or a KNOT_E* code. */
int module_stats_init(knotd_mod_t *mod);

/*! \brief Increment counter \a ctr (sub-counter \a idx) on this thread's slot. */
static inline void module_stats_incr(knotd_mod_t *mod, knotd_qdata_t *qdata, enum module_ctr ctr,
                                     uint32_t idx)
{
	knotd_mod_stats_incr(mod, qdata->params->thread_id, ctr, idx, 1);
}
