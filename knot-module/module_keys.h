/*  SPDX-License-Identifier: GPL-3.0-or-later */
/*!
 * \file
 * \brief The keys that sign the zone right now, as knotd publishes them.
 *
 * knotd 3.2's module DNSSEC API (knotd_mod_dnssec_*) builds its keyset and
 * its clock once, when the module loads: it never sees a key knotd creates
 * or retires later, and its signatures expire rrsig-lifetime after the
 * load. So the module follows the zone itself instead. The keys to sign
 * with are the ones whose RRSIGs cover the zone's SOA now (knotd moves that
 * signature to the new ZSK at the same moment it re-signs the zone with it,
 * and keeps the old key in the DNSKEY RRset as long as signatures made
 * with it may be cached); their DNSKEY records come from the zone's apex
 * and their private halves from knotd's keystore (located from knotd's
 * configuration at load, as knotd locates it), through libdnssec.
 *
 * Nothing here locks: module_sign.c serializes loads and guards the keyset.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <knot/module.h>
#include <libdnssec/key.h>
#include <libdnssec/keystore.h>
#include <libdnssec/sign.h>

/*! Most keys signing a zone at once (an algorithm rollover has two). */
#define MODULE_KEYS_MAX 4

/*! Where the zone's private keys are and how long signatures last. */
typedef struct module_keys_conf module_keys_conf_t;

/*! A signer as the zone names it: key tag and algorithm of an RRSIG. */
typedef struct {
	uint16_t tag;
	uint8_t alg;
} module_key_id_t;

/*! The zone's apex as seen by one query: valid during that query only. */
typedef struct {
	knot_rrset_t dnskey; /*!< apex DNSKEY RRset (points into the zone) */
	unsigned count;      /*!< signers of the SOA */
	module_key_id_t id[MODULE_KEYS_MAX];
} module_zone_keys_t;

/*! One key the module signs with. */
typedef struct {
	module_key_id_t id;
	uint16_t rdata_len;
	uint8_t *rdata;         /*!< its DNSKEY rdata (malloc); NULL: none found */
	dnssec_key_t *key;      /*!< with its private key; NULL if not loaded */
	dnssec_sign_ctx_t *ctx; /*!< not thread-safe: callers serialize */
} module_key_t;

/*! The keys built for one state of the zone's apex. */
typedef struct {
	unsigned count;                    /*!< 0: empty (never matches) */
	bool usable;                       /*!< every key has its private key */
	module_key_t key[MODULE_KEYS_MAX]; /*!< one per signer of the SOA */
} module_keyset_t;

/*!
 * \brief Read, from knotd's configuration, where the zone's keystore is and
 *        the rrsig-lifetime of its policy (as knotd resolves them: the
 *        zone's dnssec-policy, its keystore, paths relative to the KASP
 *        database, itself relative to the storage). Call from load only.
 *        The keystore is opened later, when keys are first needed (on a
 *        first start it does not exist before knotd creates the keys).
 * \param[out] out  Free with module_keys_conf_free().
 * \return KNOT_EOK, KNOT_ENOMEM.
 */
int module_keys_conf_new(knotd_mod_t *mod, module_keys_conf_t **out);

/*! \brief Close the keystore and free \a conf (NULL is fine). */
void module_keys_conf_free(module_keys_conf_t *conf);

/*! \brief rrsig-lifetime of the zone's policy, in seconds. */
uint32_t module_keys_lifetime(const module_keys_conf_t *conf);

/*!
 * \brief The zone's DNSKEY RRset and the signers of its SOA, from the zone
 *        contents \a qdata answers from. No allocation.
 * \return KNOT_EOK; KNOT_ENOENT when the zone's contents are not signed
 *         (no DNSKEY at the apex); KNOT_DNSSEC_ENOKEY when the SOA has no
 *         usable signature; KNOT_ELIMIT with more than MODULE_KEYS_MAX
 *         signers.
 */
int module_zone_keys_get(knotd_qdata_t *qdata, module_zone_keys_t *out);

/*! \brief Whether the contents \a qdata answers from are signed. */
bool module_zone_signed(knotd_qdata_t *qdata);

/*!
 * \brief Whether \a ks was built for the state \a zk describes: the same
 *        signers, and each of its keys still published in the DNSKEY RRset.
 *        Cheap (a few comparisons): meant for every signed answer.
 */
bool module_keyset_matches(const module_keyset_t *ks, const module_zone_keys_t *zk);

/*!
 * \brief Build the keyset for \a zk: find each signer's DNSKEY and load its
 *        private key from the keystore (opening it if needed). File I/O:
 *        call only when module_keyset_matches() fails.
 *
 * On failure \a out still describes \a zk (so it matches, and the caller
 * can wait before trying again) but is not usable.
 *
 * \param[out] out   Emptied first; free with module_keyset_clear().
 * \param[out] err   Reason on failure.
 * \return KNOT_EOK, or a KNOT_E* / DNSSEC_* code.
 */
int module_keyset_load(module_keys_conf_t *conf, const knot_dname_t *zone,
                       const module_zone_keys_t *zk, module_keyset_t *out, char *err,
                       size_t err_len);

/*! \brief Free every key of \a ks and empty it. */
void module_keyset_clear(module_keyset_t *ks);
