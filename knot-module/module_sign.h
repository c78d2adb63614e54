/*  SPDX-License-Identifier: GPL-3.0-or-later */
/*!
 * \file
 * \brief RRSIGs for the module's synthesized answers, made with the keys
 *        that sign the zone now, stamped with the current time, and cached
 *        per distinct RRset.
 *
 * Each signed answer first compares the zone's apex (the signers of its
 * SOA, its DNSKEY RRset) with the keys the module holds (module_keys.h):
 * when knotd has rolled a key, the keys are reloaded from knotd's keystore
 * and every cached signature is dropped, so no answer carries a signature
 * by a key the zone no longer publishes. Signing costs far more than
 * answering and a key's signing context is not thread-safe, so signatures
 * are cached by (owner, type, TTL, rdata) in a fixed-size direct-mapped
 * table: hits copy the cached RRSIG into the packet arena under a read
 * lock; misses and key reloads are serialized by a mutex. A signature is
 * valid from an hour before it is made to rrsig-lifetime after, and is
 * made again once half of its usable validity (less the answer's TTL) has
 * passed.
 */
#pragma once

#include <stdint.h>

#include <knot/module.h>

typedef struct module_sign module_sign_t;

/*!
 * \brief Create the signer of \a mod's zone: read where knotd keeps the
 *        zone's keys and its rrsig-lifetime (load only: this reads knotd's
 *        configuration). Keys are loaded when the first signed answer
 *        needs them, so a zone whose keys knotd creates at its first load
 *        is signed without a reload.
 * \return KNOT_EOK or KNOT_ENOMEM.
 */
int module_sign_new(knotd_mod_t *mod, module_sign_t **out);

/*! \brief Free the keys, the cache and every cached RRSIG (NULL is fine). */
void module_sign_free(module_sign_t *sign);

/*!
 * \brief Get the RRSIG set covering \a rr, copied into the packet arena (the
 *        cache keeps its own), ready for knot_pkt_put(.., KNOT_PF_FREE).
 *
 * \param[in] qdata  The query: its zone contents name the current keys.
 * \param[in] rr     RRset in canonical (sorted) rdata order, lower-case owner.
 * \param[in] now    Unix seconds.
 * \param[out] rrsig The RRSIGs, or NULL with KNOT_EOK when the zone's
 *                   contents are not signed (nothing to sign with; a
 *                   module listed later, mod-onlinesign, may sign).
 * \return KNOT_EOK, or a KNOT_E* code after which the caller serves the
 *         zone's records: KNOT_DNSSEC_ENOKEY (the zone's keys cannot be
 *         loaded), KNOT_DNSSEC_ENOSIG (rrsig-lifetime not above the TTL),
 *         both logged here once per change; others (no memory, signing
 *         failed) for the caller to log.
 */
int module_sign_get(module_sign_t *sign, knotd_mod_t *mod, knotd_qdata_t *qdata, knot_pkt_t *pkt,
                    const knot_rrset_t *rr, uint32_t now, knot_rrset_t **rrsig);
