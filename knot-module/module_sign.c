/*  SPDX-License-Identifier: GPL-3.0-or-later */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "module_keys.h"
#include "module_rrsig.h"
#include "module_sign.h"

#define SIGN_SLOTS    1024u /* power of two */
/* Resolvers whose clocks lag still accept a fresh signature (knotd
 * back-dates its own by 90 minutes for the same reason). */
#define INCEPT_BEFORE 3600u
/* After a failed key load, how long the same zone state is served from
 * the zone before the keystore is read again. */
#define RETRY_AFTER   5u

typedef struct {
	uint64_t hash;
	uint8_t *key; /*!< owner | type | ttl | rdataset bytes */
	size_t key_len;
	knot_rrset_t *rrsig; /*!< malloc()ed (mm NULL) */
	uint32_t refresh_at; /*!< Unix seconds: re-sign from then on */
} sign_entry_t;

struct module_sign {
	pthread_rwlock_t table_lock; /*!< guards slots and keys.(count, id, rdata) */
	pthread_mutex_t sign_lock;   /*!< serializes signing and key loads */
	knot_dname_t *zone;          /*!< signer name (lower-case copy) */
	module_keys_conf_t *conf;    /*!< keystore location, rrsig-lifetime */
	module_keyset_t keys;        /*!< built for the zone state it matches */
	uint32_t retry_at;           /*!< !keys.usable: next load attempt (table_lock) */
	atomic_bool short_lifetime;  /*!< lifetime <= some answer's TTL, logged */
	atomic_bool apex_unclear;    /*!< signers of the zone unknown, logged */
	sign_entry_t slots[SIGN_SLOTS];
};

static void entry_clear(sign_entry_t *e)
{
	free(e->key);
	knot_rrset_free(e->rrsig, NULL);
	memset(e, 0, sizeof(*e));
}

int module_sign_new(knotd_mod_t *mod, module_sign_t **out)
{
	module_sign_t *sign = calloc(1, sizeof(*sign));
	if (sign == NULL) {
		return KNOT_ENOMEM;
	}
	sign->zone = knot_dname_copy(knotd_mod_zone(mod), NULL);
	int ret = (sign->zone != NULL) ? module_keys_conf_new(mod, &sign->conf) : KNOT_ENOMEM;
	if (ret != KNOT_EOK) {
		knot_dname_free(sign->zone, NULL);
		free(sign);
		return ret;
	}
	knot_dname_to_lower(sign->zone);
	pthread_rwlock_init(&sign->table_lock, NULL);
	pthread_mutex_init(&sign->sign_lock, NULL);
	atomic_init(&sign->short_lifetime, false);
	atomic_init(&sign->apex_unclear, false);
	*out = sign;
	return KNOT_EOK;
}

void module_sign_free(module_sign_t *sign)
{
	if (sign == NULL) {
		return;
	}
	for (unsigned i = 0; i < SIGN_SLOTS; i++) {
		entry_clear(&sign->slots[i]);
	}
	module_keyset_clear(&sign->keys);
	module_keys_conf_free(sign->conf);
	knot_dname_free(sign->zone, NULL);
	pthread_rwlock_destroy(&sign->table_lock);
	pthread_mutex_destroy(&sign->sign_lock);
	free(sign);
}

static uint64_t fnv1a(const uint8_t *data, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < len; i++) {
		h ^= data[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

/* The key includes the TTL because an RRSIG carries the original TTL. */
static size_t make_key(const knot_rrset_t *rr, uint8_t *buf, size_t size)
{
	size_t owner_len = knot_dname_size(rr->owner);
	size_t len = owner_len + 2 + 4 + rr->rrs.size;
	if (len > size) {
		return 0;
	}
	uint8_t *p = buf;
	memcpy(p, rr->owner, owner_len);
	p += owner_len;
	memcpy(p, &rr->type, 2);
	p += 2;
	memcpy(p, &rr->ttl, 4);
	p += 4;
	memcpy(p, rr->rrs.rdata, rr->rrs.size);
	return len;
}

/* Serial arithmetic (RFC 1982) for RRSIG times. */
static bool time_before(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) < 0;
}

/* Copy a fresh cached RRSIG into the packet; false when absent or stale.
 * Caller holds table_lock. */
static bool cache_get(module_sign_t *sign, const uint8_t *key, size_t key_len, uint64_t hash,
                      uint32_t now, knot_mm_t *mm, knot_rrset_t **copy)
{
	const sign_entry_t *e = &sign->slots[hash & (SIGN_SLOTS - 1)];
	if (e->rrsig != NULL && e->hash == hash && e->key_len == key_len &&
	    time_before(now, e->refresh_at) && memcmp(e->key, key, key_len) == 0) {
		*copy = knot_rrset_copy(e->rrsig, mm);
		return *copy != NULL;
	}
	return false;
}

static void keys_log(knotd_mod_t *mod, const module_keyset_t *ks, int prio, const char *what)
{
	char ids[MODULE_KEYS_MAX * 12 + 1] = "";
	size_t len = 0;
	for (unsigned i = 0; i < ks->count && len < sizeof(ids); i++) {
		int n = snprintf(ids + len, sizeof(ids) - len, "%s%u/%u", i > 0 ? " " : "",
		                 ks->key[i].id.tag, ks->key[i].id.alg);
		len += (n > 0) ? (size_t)n : 0;
	}
	knotd_mod_log(mod, prio, "DNSSEC, %s key(s) %s (tag/algorithm)", what, ids);
}

/* Make the keyset match the zone's state \a zk; sign_lock held. Loads at
 * most once per RETRY_AFTER for one state, and logs once per change. */
static void keys_follow(module_sign_t *sign, knotd_mod_t *mod, const module_zone_keys_t *zk,
                        uint32_t now)
{
	bool matches = module_keyset_matches(&sign->keys, zk);
	if (matches && (sign->keys.usable || time_before(now, sign->retry_at))) {
		return;
	}
	bool was_failing = matches && !sign->keys.usable;
	module_keyset_t fresh = { 0 };
	char err[512] = "";
	int ret = module_keyset_load(sign->conf, sign->zone, zk, &fresh, err, sizeof(err));

	/* Swap, and drop every signature made with the keys being replaced. */
	module_keyset_t old;
	pthread_rwlock_wrlock(&sign->table_lock);
	old = sign->keys;
	sign->keys = fresh;
	sign->retry_at = now + RETRY_AFTER; /* read by fast_path() */
	for (unsigned i = 0; i < SIGN_SLOTS; i++) {
		entry_clear(&sign->slots[i]);
	}
	pthread_rwlock_unlock(&sign->table_lock);
	module_keyset_clear(&old);

	if (ret == KNOT_EOK) {
		keys_log(mod, &sign->keys, LOG_INFO, "signing GSLB answers with");
	} else {
		if (!was_failing) {
			knotd_mod_log(mod, LOG_ERR,
			              "DNSSEC, cannot load the zone's signing keys (%s), "
			              "serving zone records to DNSSEC queries for GSLB names",
			              err);
		}
	}
}

/* When to stop serving \a rrsig: half-way through the time it may still
 * be relied on (its expiration less the TTL a resolver caches it for). */
static uint32_t refresh_time(uint32_t now, uint32_t expiration, uint32_t ttl)
{
	uint32_t usable = expiration - ttl - now;
	return now + (usable / 2 > 0 ? usable / 2 : 1);
}

/* sign_lock held, keys usable. */
static int sign_and_store(module_sign_t *sign, const knot_rrset_t *rr, const uint8_t *key,
                          size_t key_len, uint64_t hash, uint32_t now)
{
	int ret = KNOT_ENOMEM;
	uint32_t expiration = now + module_keys_lifetime(sign->conf);
	sign_entry_t fresh = { .hash = hash, .key_len = key_len };
	fresh.key = malloc(key_len);
	fresh.rrsig = knot_rrset_new(rr->owner, KNOT_RRTYPE_RRSIG, KNOT_CLASS_IN, rr->ttl, NULL);
	if (fresh.key == NULL || fresh.rrsig == NULL) {
		goto cleanup;
	}
	memcpy(fresh.key, key, key_len);
	for (unsigned i = 0; i < sign->keys.count; i++) {
		ret = module_rrsig_sign(fresh.rrsig, rr, sign->zone, &sign->keys.key[i],
		                        now - INCEPT_BEFORE, expiration, NULL);
		if (ret != KNOT_EOK) {
			goto cleanup;
		}
	}
	fresh.refresh_at = refresh_time(now, expiration, rr->ttl);

	pthread_rwlock_wrlock(&sign->table_lock);
	sign_entry_t *slot = &sign->slots[hash & (SIGN_SLOTS - 1)];
	entry_clear(slot);
	*slot = fresh;
	pthread_rwlock_unlock(&sign->table_lock);
	fresh.key = NULL;
	fresh.rrsig = NULL;
cleanup:
	free(fresh.key);
	knot_rrset_free(fresh.rrsig, NULL);
	return ret;
}

/* Under table_lock (read): the cached signature when the keys still match
 * the zone; KNOT_EAGAIN when the caller must take the slow path. */
static int fast_path(module_sign_t *sign, const module_zone_keys_t *zk, const uint8_t *key,
                     size_t key_len, uint64_t hash, uint32_t now, knot_mm_t *mm,
                     knot_rrset_t **copy)
{
	int ret = KNOT_EAGAIN;
	pthread_rwlock_rdlock(&sign->table_lock);
	if (module_keyset_matches(&sign->keys, zk)) {
		if (!sign->keys.usable && time_before(now, sign->retry_at)) {
			ret = KNOT_DNSSEC_ENOKEY; /* logged when it failed */
		} else if (sign->keys.usable &&
		           cache_get(sign, key, key_len, hash, now, mm, copy)) {
			ret = KNOT_EOK;
		}
	}
	pthread_rwlock_unlock(&sign->table_lock);
	return ret;
}

int module_sign_get(module_sign_t *sign, knotd_mod_t *mod, knotd_qdata_t *qdata, knot_pkt_t *pkt,
                    const knot_rrset_t *rr, uint32_t now, knot_rrset_t **rrsig)
{
	*rrsig = NULL;
	uint32_t lifetime = module_keys_lifetime(sign->conf);
	if (lifetime <= rr->ttl) {
		/* Such a signature would expire while resolvers cache the answer. */
		if (!atomic_exchange(&sign->short_lifetime, true)) {
			knotd_mod_log(mod, LOG_ERR,
			              "DNSSEC, signatures of rrsig-lifetime %u s would "
			              "expire within the answer TTL %u s, serving zone records to "
			              "DNSSEC queries for such answers",
			              lifetime, rr->ttl);
		}
		return KNOT_DNSSEC_ENOSIG;
	}

	module_zone_keys_t zk;
	int ret = module_zone_keys_get(qdata, &zk);
	if (ret == KNOT_ENOENT) {
		return KNOT_EOK; /* unsigned contents */
	} else if (ret != KNOT_EOK) {
		/* Signed, but which keys sign it cannot be told. */
		if (!atomic_exchange(&sign->apex_unclear, true)) {
			knotd_mod_log(mod, LOG_ERR,
			              "DNSSEC, the zone's SOA has %s, serving zone "
			              "records to DNSSEC queries for GSLB names",
			              ret == KNOT_ELIMIT ? "too many signers" : "no signature");
		}
		return KNOT_DNSSEC_ENOKEY;
	}

	uint8_t key[KNOT_DNAME_MAXLEN + 6 + 4096];
	size_t key_len = make_key(rr, key, sizeof(key));
	if (key_len == 0) {
		return KNOT_ESPACE;
	}
	uint64_t hash = fnv1a(key, key_len);
	knot_rrset_t *copy = NULL;
	ret = fast_path(sign, &zk, key, key_len, hash, now, &pkt->mm, &copy);
	if (ret == KNOT_EAGAIN) {
		pthread_mutex_lock(&sign->sign_lock);
		keys_follow(sign, mod, &zk, now);
		/* Another worker may have signed it while we waited. */
		ret = fast_path(sign, &zk, key, key_len, hash, now, &pkt->mm, &copy);
		if (ret == KNOT_EAGAIN) {
			ret = sign->keys.usable ? sign_and_store(sign, rr, key, key_len, hash, now)
			                        : KNOT_DNSSEC_ENOKEY;
			if (ret == KNOT_EOK) {
				ret = fast_path(sign, &zk, key, key_len, hash, now, &pkt->mm,
				                &copy);
				if (ret == KNOT_EAGAIN) {
					ret = KNOT_ENOMEM;
				}
			}
		}
		pthread_mutex_unlock(&sign->sign_lock);
	}
	if (ret != KNOT_EOK) {
		return ret;
	}
	*rrsig = copy;
	return KNOT_EOK;
}
