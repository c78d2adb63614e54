/*  SPDX-License-Identifier: GPL-3.0-or-later */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libdnssec/binary.h>
#include <libdnssec/error.h>
#include <libdnssec/keytag.h>
#include <libknot/libknot.h>

#include "module_keys.h"

/* knotd's own configuration items (knot/conf/schema.h is not installed):
 * length byte + name, split so the hex escape stays one byte; clang-format
 * would break each literal in two lines. */
/* clang-format off */
#define C_DATABASE       "\x08""database"
#define C_STORAGE        "\x07""storage"
#define C_KASP_DB        "\x07""kasp-db"
#define C_DNSSEC_POLICY  "\x0D""dnssec-policy"
#define C_POLICY         "\x06""policy"
#define C_KEYSTORE       "\x08""keystore"
#define C_BACKEND        "\x07""backend"
#define C_CONFIG         "\x06""config"
#define C_RRSIG_LIFETIME "\x0E""rrsig-lifetime"
/* clang-format on */

/* Defaults of knotd 3.2's schema, used when an item is not set. */
#define KEYSTORE_BACKEND_PKCS11 2 /* 1 is pem */
#define DEFAULT_KASP_DB         "keys"
#define DEFAULT_KEYSTORE_CONFIG "keys"
#define DEFAULT_RRSIG_LIFETIME  (14u * 24 * 3600)

struct module_keys_conf {
	bool pkcs11;              /*!< else a PEM directory */
	char *config;             /*!< PEM directory (absolute) or PKCS #11 URI + module */
	uint32_t lifetime;        /*!< rrsig-lifetime, seconds */
	dnssec_keystore_t *store; /*!< NULL until first opened */
};

/* base/rel, or rel when it is absolute (knotd's rule for every path). */
static char *path_join(const char *base, const char *rel)
{
	if (rel[0] == '/' || base == NULL || base[0] == '\0') {
		return strdup(rel);
	}
	size_t len = strlen(base) + 1 + strlen(rel) + 1;
	char *out = malloc(len);
	if (out != NULL) {
		snprintf(out, len, "%s/%s", base, rel);
	}
	return out;
}

/* For an item that is not set (count 0), knotd still returns its schema
 * default in single.string: that is the value knotd itself uses. */
static const char *conf_str(knotd_conf_t conf, const char *dflt)
{
	return (conf.single.string != NULL && conf.single.string[0] != '\0') ? conf.single.string
	                                                                     : dflt;
}

int module_keys_conf_new(knotd_mod_t *mod, module_keys_conf_t **out)
{
	module_keys_conf_t *conf = calloc(1, sizeof(*conf));
	if (conf == NULL) {
		return KNOT_ENOMEM;
	}
	conf->lifetime = DEFAULT_RRSIG_LIFETIME;
	const char *ks_config = DEFAULT_KEYSTORE_CONFIG;

	/* Unset policy or keystore: knotd uses the built-in defaults. */
	knotd_conf_t policy = knotd_conf_zone(mod, C_DNSSEC_POLICY, knotd_mod_zone(mod));
	if (policy.count > 0) {
		knotd_conf_t val = knotd_conf(mod, C_POLICY, C_RRSIG_LIFETIME, &policy);
		if (val.count > 0 && val.single.integer > 0) {
			conf->lifetime = (uint32_t)val.single.integer;
		}
		knotd_conf_t ks = knotd_conf(mod, C_POLICY, C_KEYSTORE, &policy);
		if (ks.count > 0) {
			val = knotd_conf(mod, C_KEYSTORE, C_BACKEND, &ks);
			conf->pkcs11 =
			        (val.count > 0 && val.single.option == KEYSTORE_BACKEND_PKCS11);
			ks_config = conf_str(knotd_conf(mod, C_KEYSTORE, C_CONFIG, &ks),
			                     DEFAULT_KEYSTORE_CONFIG);
		}
	}

	if (conf->pkcs11) {
		conf->config = strdup(ks_config);
	} else {
		/* storage's default is knotd's build-time path (/var/lib/knot). */
		const char *storage = conf_str(knotd_conf(mod, C_DATABASE, C_STORAGE, NULL), NULL);
		const char *kasp =
		        conf_str(knotd_conf(mod, C_DATABASE, C_KASP_DB, NULL), DEFAULT_KASP_DB);
		char *kasp_dir = path_join(storage, kasp);
		conf->config = (kasp_dir != NULL) ? path_join(kasp_dir, ks_config) : NULL;
		free(kasp_dir);
	}
	if (conf->config == NULL) {
		free(conf);
		return KNOT_ENOMEM;
	}
	*out = conf;
	return KNOT_EOK;
}

void module_keys_conf_free(module_keys_conf_t *conf)
{
	if (conf == NULL) {
		return;
	}
	if (conf->store != NULL) {
		dnssec_keystore_close(conf->store);
		dnssec_keystore_deinit(conf->store);
	}
	free(conf->config);
	free(conf);
}

uint32_t module_keys_lifetime(const module_keys_conf_t *conf)
{
	return conf->lifetime;
}

bool module_zone_signed(knotd_qdata_t *qdata)
{
	knot_rrset_t dnskey = knotd_qdata_zone_apex_rrset(qdata, KNOT_RRTYPE_DNSKEY);
	return !knot_rrset_empty(&dnskey);
}

static bool id_in(const module_key_id_t *ids, unsigned count, module_key_id_t id)
{
	for (unsigned i = 0; i < count; i++) {
		if (ids[i].tag == id.tag && ids[i].alg == id.alg) {
			return true;
		}
	}
	return false;
}

int module_zone_keys_get(knotd_qdata_t *qdata, module_zone_keys_t *out)
{
	out->count = 0;
	out->dnskey = knotd_qdata_zone_apex_rrset(qdata, KNOT_RRTYPE_DNSKEY);
	if (knot_rrset_empty(&out->dnskey)) {
		return KNOT_ENOENT;
	}
	knot_rrset_t sigs = knotd_qdata_zone_apex_rrset(qdata, KNOT_RRTYPE_RRSIG);
	knot_rdata_t *rd = sigs.rrs.rdata;
	for (uint16_t i = 0; i < sigs.rrs.count; i++, rd = knot_rdataset_next(rd)) {
		if (rd->len < 18 || knot_rrsig_type_covered(rd) != KNOT_RRTYPE_SOA) {
			continue;
		}
		module_key_id_t id = { .tag = knot_rrsig_key_tag(rd), .alg = knot_rrsig_alg(rd) };
		if (id_in(out->id, out->count, id)) {
			continue;
		}
		if (out->count == MODULE_KEYS_MAX) {
			return KNOT_ELIMIT;
		}
		out->id[out->count++] = id;
	}
	return out->count > 0 ? KNOT_EOK : KNOT_DNSSEC_ENOKEY;
}

static bool rdata_in(const knot_rdataset_t *rrs, const uint8_t *data, uint16_t len)
{
	const knot_rdata_t *rd = rrs->rdata;
	for (uint16_t i = 0; i < rrs->count; i++, rd = knot_rdataset_next((knot_rdata_t *)rd)) {
		if (rd->len == len && memcmp(rd->data, data, len) == 0) {
			return true;
		}
	}
	return false;
}

bool module_keyset_matches(const module_keyset_t *ks, const module_zone_keys_t *zk)
{
	if (ks->count == 0 || ks->count != zk->count) {
		return false;
	}
	for (unsigned i = 0; i < ks->count; i++) {
		const module_key_t *k = &ks->key[i];
		if (!id_in(zk->id, zk->count, k->id)) {
			return false;
		}
		/* Same tag, other key (a collision after a rollover) or removed. */
		if (k->rdata != NULL && !rdata_in(&zk->dnskey.rrs, k->rdata, k->rdata_len)) {
			return false;
		}
	}
	return true;
}

static void key_clear(module_key_t *k)
{
	dnssec_sign_free(k->ctx);
	dnssec_key_free(k->key);
	free(k->rdata);
	memset(k, 0, sizeof(*k));
}

void module_keyset_clear(module_keyset_t *ks)
{
	for (unsigned i = 0; i < MODULE_KEYS_MAX; i++) {
		key_clear(&ks->key[i]);
	}
	ks->count = 0;
	ks->usable = false;
}

static int keystore_open(module_keys_conf_t *conf)
{
	if (conf->store != NULL) {
		return DNSSEC_EOK;
	}
	dnssec_keystore_t *store = NULL;
	int ret = conf->pkcs11 ? dnssec_keystore_init_pkcs11(&store)
	                       : dnssec_keystore_init_pkcs8(&store);
	if (ret != DNSSEC_EOK) {
		return ret;
	}
	/* Open, never init: init would create the directory (or token). */
	ret = dnssec_keystore_open(store, conf->config);
	if (ret != DNSSEC_EOK) {
		dnssec_keystore_deinit(store);
		return ret;
	}
	conf->store = store;
	return DNSSEC_EOK;
}

/* The public key from the zone, the private one from the keystore by its
 * key id (a hash of the public key, as knotd names keys there). */
static int key_load(module_keys_conf_t *conf, const knot_dname_t *zone, const knot_rdata_t *rd,
                    module_key_t *out)
{
	char *keyid = NULL;
	dnssec_key_t *key = NULL;
	dnssec_sign_ctx_t *ctx = NULL;
	dnssec_binary_t bin = { .size = rd->len, .data = (uint8_t *)rd->data };

	int ret = dnssec_key_new(&key);
	if (ret == DNSSEC_EOK) {
		ret = dnssec_key_set_dname(key, zone);
	}
	if (ret == DNSSEC_EOK) {
		ret = dnssec_key_set_rdata(key, &bin);
	}
	if (ret == DNSSEC_EOK) {
		ret = dnssec_key_get_keyid(key, &keyid);
	}
	if (ret == DNSSEC_EOK) {
		ret = dnssec_keystore_get_private(conf->store, keyid, key);
	}
	if (ret == DNSSEC_EOK) {
		ret = dnssec_sign_new(&ctx, key);
	}
	free(keyid);
	if (ret != DNSSEC_EOK) {
		dnssec_key_free(key);
		return ret;
	}
	out->key = key;
	out->ctx = ctx;
	return DNSSEC_EOK;
}

/* Load the signer \a id: the first DNSKEY of that tag and algorithm that
 * may sign zone data and whose private key the keystore has. */
static int signer_load(module_keys_conf_t *conf, const knot_dname_t *zone,
                       const knot_rrset_t *dnskey, module_key_t *out, char *err, size_t err_len)
{
	int ret = KNOT_DNSSEC_ENOKEY;
	snprintf(err, err_len, "key %u/%u is not in the DNSKEY RRset", out->id.tag, out->id.alg);
	knot_rdata_t *rd = dnskey->rrs.rdata;
	for (uint16_t i = 0; i < dnskey->rrs.count; i++, rd = knot_rdataset_next(rd)) {
		uint16_t tag = 0;
		dnssec_binary_t bin = { .size = rd->len, .data = rd->data };
		if (rd->len < 4 || knot_dnskey_alg(rd) != out->id.alg ||
		    !(knot_dnskey_flags(rd) & KNOT_DNSKEY_FLAG_ZONE) ||
		    (knot_dnskey_flags(rd) & KNOT_DNSKEY_FLAG_REVOKE) ||
		    dnssec_keytag(&bin, &tag) != DNSSEC_EOK || tag != out->id.tag) {
			continue;
		}
		free(out->rdata);
		out->rdata = malloc(rd->len);
		if (out->rdata == NULL) {
			return KNOT_ENOMEM;
		}
		memcpy(out->rdata, rd->data, rd->len);
		out->rdata_len = rd->len;
		ret = keystore_open(conf);
		if (ret != DNSSEC_EOK) {
			snprintf(err, err_len, "keystore '%s': %s", conf->config,
			         knot_strerror(ret));
			return ret;
		}
		ret = key_load(conf, zone, rd, out);
		if (ret == DNSSEC_EOK) {
			return KNOT_EOK;
		}
		snprintf(err, err_len, "private key of %u/%u in '%s': %s", out->id.tag, out->id.alg,
		         conf->config, knot_strerror(ret));
	}
	return ret;
}

int module_keyset_load(module_keys_conf_t *conf, const knot_dname_t *zone,
                       const module_zone_keys_t *zk, module_keyset_t *out, char *err,
                       size_t err_len)
{
	module_keyset_clear(out);
	out->count = zk->count;
	for (unsigned i = 0; i < zk->count; i++) {
		out->key[i].id = zk->id[i];
	}
	for (unsigned i = 0; i < zk->count; i++) {
		int ret = signer_load(conf, zone, &zk->dnskey, &out->key[i], err, err_len);
		if (ret != KNOT_EOK) {
			return ret;
		}
	}
	out->usable = true;
	return KNOT_EOK;
}
