/*  SPDX-License-Identifier: GPL-3.0-or-later */
/*!
 * \file
 * \brief RRSIGs for the module's synthesized answers, made with the zone's
 *        keys and cached per distinct RRset.
 *
 * knotd's module signing context is not safe for concurrent use, and signing
 * costs far more than answering, so signatures are cached by (owner, type,
 * TTL, rdata) in a fixed-size direct-mapped table. Hits copy the cached
 * RRSIG into the packet arena under a read lock; misses are serialized by a
 * mutex and re-signed when half of the signature's remaining usable validity
 * has passed. knotd's signing context keeps the time of the module load, so
 * its signatures all expire rrsig-lifetime after the load: once they would
 * expire within an answer's TTL, nothing more is signed until a reload.
 */
#pragma once

#include <stdint.h>

#include <knot/module.h>

typedef struct module_sign module_sign_t;

/*!
 * \brief Initialize knotd's DNSSEC context for \a mod, load the zone's keys
 *        and create an empty cache. Call from load only (the context reads
 *        the configuration). Missing keys are not an error: module_sign_get()
 *        then fails and the caller serves the zone's records. knotd frees
 *        the context and keys when the module is reset.
 * \return KNOT_EOK or a KNOT_E* code.
 */
int module_sign_new(knotd_mod_t *mod, module_sign_t **out);

/*! \brief Free the cache and every cached RRSIG. */
void module_sign_free(module_sign_t *sign);

/*!
 * \brief Get the RRSIG set covering \a rr, copied into the packet arena (the
 *        cache keeps its own), ready for knot_pkt_put(.., KNOT_PF_FREE).
 *
 *
 * \param[in] rr   RRset in canonical (sorted) rdata order, lower-case owner.
 * \param[in] now  Unix seconds.
 * \return KNOT_EOK, or a KNOT_E* code (no keys, signing failed, no memory;
 *         KNOT_DNSSEC_ENOSIG: the signing context has expired, logged once).
 */
int module_sign_get(module_sign_t *sign, knotd_mod_t *mod, knot_pkt_t *pkt,
                    const knot_rrset_t *rr, uint32_t now, knot_rrset_t **rrsig);
