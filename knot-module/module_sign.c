/*  SPDX-License-Identifier: GPL-3.0-or-later */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "module_sign.h"

#define SIGN_SLOTS   1024u               /* power of two */

typedef struct {
	uint64_t hash;
	uint8_t *key;                  /*!< owner | type | ttl | rdataset bytes */
	size_t key_len;
	knot_rrset_t *rrsig;           /*!< malloc()ed (mm NULL) */
	uint32_t refresh_at;           /*!< Unix seconds: re-sign from then on */
} sign_entry_t;

struct module_sign {
	pthread_rwlock_t table_lock;   /*!< guards slots */
	pthread_mutex_t sign_lock;     /*!< serializes knotd_mod_dnssec_sign_rrset */
	bool keys_loaded;              /*!< set in load only */
	atomic_bool expired;           /*!< signing context too old: nothing usable to sign */
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
	/* knotd's DNSSEC context reads the configuration: only possible here. */
	int ret = knotd_mod_dnssec_init(mod);
	if (ret != KNOT_EOK) {
		return ret;
	}
	module_sign_t *sign = calloc(1, sizeof(*sign));
	if (sign == NULL) {
		return KNOT_ENOMEM;
	}
	pthread_rwlock_init(&sign->table_lock, NULL);
	pthread_mutex_init(&sign->sign_lock, NULL);
	atomic_init(&sign->expired, false);
	ret = knotd_mod_dnssec_load_keyset(mod, false);
	if (ret == KNOT_EOK) {
		sign->keys_loaded = true;
	} else {
		/* Not fatal: the context holds the keys known at its creation, so
		 * the module's answers fall back to the zone's signed records until
		 * a `knotc reload` reloads the module with the keys. */
		knotd_mod_log(mod, LOG_WARNING, "no DNSSEC keys (%s), serving zone records "
		              "to DNSSEC queries until 'knotc reload'", knot_strerror(ret));
	}
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

/* Copy a fresh cached RRSIG into the packet; false when absent or stale. */
static bool cache_get(module_sign_t *sign, const uint8_t *key, size_t key_len, uint64_t hash,
                      uint32_t now, knot_mm_t *mm, knot_rrset_t **copy)
{
	bool hit = false;
	pthread_rwlock_rdlock(&sign->table_lock);
	const sign_entry_t *e = &sign->slots[hash & (SIGN_SLOTS - 1)];
	if (e->rrsig != NULL && e->hash == hash && e->key_len == key_len &&
	    time_before(now, e->refresh_at) && memcmp(e->key, key, key_len) == 0) {
		*copy = knot_rrset_copy(e->rrsig, mm);
		hit = (*copy != NULL);
	}
	pthread_rwlock_unlock(&sign->table_lock);
	return hit;
}

/* When to stop serving \a rrsig, or 0 when it must not be served at all.
 *
 * knotd stamps module signatures with the time its signing context was
 * created (the module load), not with the time of signing: re-signing later
 * gives the same expiration. So the refresh point is half of what is left
 * *now* of the validity a resolver may rely on (expiration minus the TTL it
 * may cache the answer for), not half of inception..expiration, which with
 * the 90-minute back-dated inception may already have passed. */
static uint32_t refresh_time(const knot_rrset_t *rrsig, uint32_t ttl, uint32_t now)
{
	uint32_t usable_until = 0;
	knot_rdata_t *rd = rrsig->rrs.rdata;
	for (uint16_t i = 0; i < rrsig->rrs.count; i++) {
		uint32_t until = knot_rrsig_sig_expiration(rd) - ttl;
		if (i == 0 || time_before(until, usable_until)) {
			usable_until = until;
		}
		rd = knot_rdataset_next(rd);
	}
	if (!time_before(now, usable_until)) {
		return 0;
	}
	uint32_t refresh = now + (usable_until - now) / 2;
	return refresh > now ? refresh : now + 1;
}

static int sign_and_store(module_sign_t *sign, knotd_mod_t *mod, const knot_rrset_t *rr,
                          const uint8_t *key, size_t key_len, uint64_t hash, uint32_t now)
{
	int ret = KNOT_ENOMEM;
	if (!sign->keys_loaded) {
		return KNOT_DNSSEC_ENOKEY;
	}
	sign_entry_t fresh = { .hash = hash, .key_len = key_len };
	fresh.key = malloc(key_len);
	fresh.rrsig = knot_rrset_new(rr->owner, KNOT_RRTYPE_RRSIG, KNOT_CLASS_IN, rr->ttl, NULL);
	if (fresh.key == NULL || fresh.rrsig == NULL) {
		goto cleanup;
	}
	memcpy(fresh.key, key, key_len);

	ret = knotd_mod_dnssec_sign_rrset(mod, fresh.rrsig, rr, NULL);
	if (ret != KNOT_EOK) {
		goto cleanup;
	}
	if (fresh.rrsig->rrs.count == 0) {
		ret = KNOT_ENOENT;   /* no usable key */
		goto cleanup;
	}
	fresh.refresh_at = refresh_time(fresh.rrsig, rr->ttl, now);
	if (fresh.refresh_at == 0) {
		/* Only a reload gives knotd a newer signing context. */
		if (!atomic_exchange(&sign->expired, true)) {
			knotd_mod_log(mod, LOG_ERR, "signatures of the DNSSEC context loaded with "
			              "the module expire within the answer TTL, serving zone "
			              "records to DNSSEC queries until 'knotc reload'");
		}
		ret = KNOT_DNSSEC_ENOSIG;
		goto cleanup;
	}

	pthread_rwlock_wrlock(&sign->table_lock);
	sign_entry_t *slot = &sign->slots[hash & (SIGN_SLOTS - 1)];
	entry_clear(slot);
	*slot = fresh;
	pthread_rwlock_unlock(&sign->table_lock);
	ret = KNOT_EOK;
	fresh.key = NULL;
	fresh.rrsig = NULL;
cleanup:
	free(fresh.key);
	knot_rrset_free(fresh.rrsig, NULL);
	return ret;
}

int module_sign_get(module_sign_t *sign, knotd_mod_t *mod, knot_pkt_t *pkt,
                    const knot_rrset_t *rr, uint32_t now, knot_rrset_t **rrsig)
{
	uint8_t key[KNOT_DNAME_MAXLEN + 6 + 4096];
	size_t key_len = make_key(rr, key, sizeof(key));
	if (key_len == 0) {
		return KNOT_ESPACE;
	}
	uint64_t hash = fnv1a(key, key_len);
	if (atomic_load_explicit(&sign->expired, memory_order_relaxed)) {
		return KNOT_DNSSEC_ENOSIG;   /* logged once */
	}

	knot_rrset_t *copy = NULL;
	if (!cache_get(sign, key, key_len, hash, now, &pkt->mm, &copy)) {
		pthread_mutex_lock(&sign->sign_lock);
		/* Another worker may have signed it while we waited. */
		int ret = KNOT_EOK;
		if (!cache_get(sign, key, key_len, hash, now, &pkt->mm, &copy)) {
			ret = sign_and_store(sign, mod, rr, key, key_len, hash, now);
			if (ret == KNOT_EOK &&
			    !cache_get(sign, key, key_len, hash, now, &pkt->mm, &copy)) {
				ret = KNOT_ENOMEM;
			}
		}
		pthread_mutex_unlock(&sign->sign_lock);
		if (ret != KNOT_EOK) {
			return ret;
		}
	}
	*rrsig = copy;
	return KNOT_EOK;
}
