/*  SPDX-License-Identifier: GPL-3.0-or-later */
/*!
 * \file
 * \brief One RRSIG (RFC 4034 section 3) over an RRset, made with libdnssec
 *        at the time the caller gives: the signature covers the RRSIG
 *        rdata without its signature followed by the RRset in canonical
 *        form (section 6: lower-case names, rdata in canonical order).
 */
#pragma once

#include <stdint.h>

#include <knot/module.h>

#include "module_keys.h"

/*!
 * \brief Sign \a rr with \a key and add the RRSIG rdata to \a rrsig.
 *
 * \param[in] rr          RRset whose rdata is in canonical order (as
 *                        knot_rrset_add_rdata() keeps it), lower-case owner;
 *                        embedded names are lowered here (CNAME target).
 * \param[in] signer      The zone's name (the key's owner), lower-case.
 * \param[in] key         A loaded key (private key and signing context);
 *                        the caller serializes use of its context.
 * \param[in] inception   Unix seconds.
 * \param[in] expiration  Unix seconds.
 * \param[in] mm          Allocator for \a rrsig's rdata (NULL: malloc).
 * \return KNOT_EOK, KNOT_EINVAL (no key), KNOT_ESPACE (a name or rdata too
 *         long), KNOT_ENOMEM, or a DNSSEC_* code from signing.
 */
int module_rrsig_sign(knot_rrset_t *rrsig, const knot_rrset_t *rr, const knot_dname_t *signer,
                      const module_key_t *key, uint32_t inception, uint32_t expiration,
                      knot_mm_t *mm);
