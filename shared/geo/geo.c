/*  haltgslb — client location from MaxMind databases.
 *  SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <maxminddb.h>

#include "errors.h"
#include "geo.h"
#include "geo_decode.h"

struct geo_db {
	MMDB_s city;
	MMDB_s asn;
	bool has_asn;
	uint64_t id; /*!< unique per geo_open(), never 0: tags cache slots */
};

/* A freed geo_db_t may be reallocated at the same address, so caches tell
 * databases apart by this serial rather than by pointer. */
static atomic_uint_fast64_t geo_next_id = 1;

/* An IPv4 address in an IPv6 tree lives under ::/96 (or ::ffff:0:0/96): the
 * netmask libmaxminddb reports counts those 96 bits too. */
#define GEO_V4_IN_V6_BITS 96

static int open_one(const char *what, const char *path, MMDB_s *db, char *errbuf, size_t errlen)
{
	int rc = MMDB_open(path, MMDB_MODE_MMAP, db);
	if (rc == MMDB_SUCCESS) {
		return HG_EOK;
	}
	if (errbuf != NULL && errlen > 0) {
		if (rc == MMDB_IO_ERROR || rc == MMDB_FILE_OPEN_ERROR) {
			/* MMDB_strerror() alone says "Error opening the specified
			 * MaxMind DB file" for ENOENT and EACCES alike. */
			int saved = errno;
			snprintf(errbuf, errlen, "cannot open %s database '%s': %s (%s)", what,
			         path, MMDB_strerror(rc), strerror(saved));
		} else {
			snprintf(errbuf, errlen, "cannot open %s database '%s': %s", what, path,
			         MMDB_strerror(rc));
		}
	}
	return HG_EGEO;
}

int geo_open(const char *city_path, const char *asn_path, geo_db_t **out, char *errbuf,
             size_t errlen)
{
	if (errbuf != NULL && errlen > 0) {
		errbuf[0] = '\0';
	}
	if (out != NULL) {
		*out = NULL;
	}
	if (out == NULL || city_path == NULL || city_path[0] == '\0') {
		if (errbuf != NULL && errlen > 0) {
			snprintf(errbuf, errlen, "%s",
			         out == NULL ? "no output handle given"
			                     : "no city/country database given");
		}
		return HG_EINVAL;
	}

	geo_db_t *geo = calloc(1, sizeof(*geo));
	if (geo == NULL) {
		if (errbuf != NULL && errlen > 0) {
			snprintf(errbuf, errlen, "out of memory opening '%s'", city_path);
		}
		return HG_ENOMEM;
	}

	int ret = open_one("city", city_path, &geo->city, errbuf, errlen);
	if (ret != HG_EOK) {
		free(geo);
		return ret;
	}
	if (asn_path != NULL && asn_path[0] != '\0') {
		ret = open_one("ASN", asn_path, &geo->asn, errbuf, errlen);
		if (ret != HG_EOK) {
			MMDB_close(&geo->city);
			free(geo);
			return ret;
		}
		geo->has_asn = true;
	}

	geo->id = (uint64_t)atomic_fetch_add_explicit(&geo_next_id, 1, memory_order_relaxed);
	*out = geo;
	return HG_EOK;
}

void geo_close(geo_db_t *geo)
{
	if (geo == NULL) {
		return;
	}
	if (geo->has_asn) {
		MMDB_close(&geo->asn);
	}
	MMDB_close(&geo->city);
	free(geo);
}

/* Report the netmask in the bits of the address that was looked up. */
static uint8_t family_prefix(const MMDB_s *db, int family, uint16_t netmask)
{
	if (family == AF_INET && db->metadata.ip_version == 6) {
		netmask = netmask > GEO_V4_IN_V6_BITS ? netmask - GEO_V4_IN_V6_BITS : 0;
	}
	unsigned max = family == AF_INET ? 32 : 128;
	return (uint8_t)(netmask > max ? max : netmask);
}

/* One tree walk. An IPv6 address in an IPv4-only db is "not found" over the
 * whole address space (prefix 0) rather than an error: a country db without
 * IPv6 data must not make IPv6 clients fail. */
static int lookup_one(const MMDB_s *db, const uint8_t *addr, int family, MMDB_lookup_result_s *res,
                      uint8_t *prefix)
{
	int mmdb_err = geo_tree_find(db, family, addr, res);
	if (mmdb_err == MMDB_IPV6_LOOKUP_IN_IPV4_DATABASE_ERROR) {
		res->found_entry = false;
		*prefix = 0;
		return HG_EOK;
	}
	if (mmdb_err != MMDB_SUCCESS) {
		return HG_EGEO;
	}
	*prefix = family_prefix(db, family, res->netmask);
	return HG_EOK;
}

/* Fibonacci hashing: record offsets are clustered (records are laid out one
 * after another); the top bits of the product spread them over the sets.
 * Returns the first slot of a 2-way set: two records that hash alike (a
 * birthday collision is likely among a few dozen busy records) both stay. */
static unsigned cache_set(uint32_t offset)
{
	_Static_assert(GEO_CACHE_SLOTS >= 4 && (GEO_CACHE_SLOTS & (GEO_CACHE_SLOTS - 1)) == 0,
	               "GEO_CACHE_SLOTS: a power of two");
	return ((offset * 2654435761u) >> (33 - __builtin_ctz(GEO_CACHE_SLOTS))) << 1;
}

/* The city part of a found entry: decoded once per record and thread. A
 * slot keeps everything but the prefix, which belongs to the network. On a
 * miss the set's newer way becomes the older one. */
static void city_record(const geo_db_t *geo, geo_cache_t *cache, MMDB_entry_s *entry,
                        geo_info_t *info)
{
	geo_cache_city_t *set = cache ? &cache->city[cache_set(entry->offset)] : NULL;
	uint8_t prefix = info->prefix_len;
	for (unsigned w = 0; set != NULL && w < 2; w++) {
		if (set[w].db_id == geo->id && set[w].offset == entry->offset) {
			*info = set[w].info;
			info->prefix_len = prefix;
			cache->hits++;
			return;
		}
	}
	info->found = true;
	/* One pass over the record's data; the parts records share (keys,
	 * country maps) through the cache's memo. */
	geo_decode_city(entry, info, cache != NULL ? cache->memo : NULL, geo->id);
	if (set != NULL) {
		set[1] = set[0];
		set[0].db_id = geo->id;
		set[0].offset = entry->offset;
		set[0].info = *info; /* ASN fields are still zero here */
		set[0].info.prefix_len = 0;
		cache->misses++;
	}
}

static void asn_record(const geo_db_t *geo, geo_cache_t *cache, MMDB_entry_s *entry,
                       geo_info_t *info)
{
	geo_cache_asn_t *set = cache ? &cache->asn[cache_set(entry->offset)] : NULL;
	for (unsigned w = 0; set != NULL && w < 2; w++) {
		if (set[w].db_id == geo->id && set[w].offset == entry->offset) {
			info->has_asn = set[w].has_asn;
			info->asn = set[w].asn;
			cache->hits++;
			return;
		}
	}
	info->has_asn = geo_decode_asn(entry, &info->asn);
	if (!info->has_asn) {
		info->asn = 0; /* as geo_lookup() always reported: no partial value */
	}
	if (set != NULL) {
		set[1] = set[0];
		set[0].db_id = geo->id;
		set[0].offset = entry->offset;
		set[0].has_asn = info->has_asn;
		set[0].asn = info->asn;
		cache->misses++;
	}
}

/* The 2-way set of networks an address may be in: hashed on the bits an
 * ECS client usually sends (/24, /56), which every network at least that
 * long shares with its addresses; shorter networks take a slot per /24. */
static geo_cache_net_t *net_set(geo_cache_t *cache, int family, const uint8_t *addr)
{
	uint64_t k = family == AF_INET ? 4 : 6;
	for (unsigned i = 0; i < (family == AF_INET ? 3u : 7u); i++) {
		k = k << 8 | addr[i];
	}
	k *= 0x9e3779b97f4a7c15ull;
	return &cache->net[(k >> 40) & (GEO_CACHE_NETS - 2)];
}

static bool net_has(const geo_cache_net_t *e, int family, const uint8_t *addr)
{
	if (e->family != family) {
		return false;
	}
	unsigned full = e->prefix / 8, rest = e->prefix % 8;
	if (memcmp(e->net, addr, full) != 0) {
		return false;
	}
	return rest == 0 || ((e->net[full] ^ addr[full]) & (uint8_t)(0xff00u >> rest)) == 0;
}

static void net_store(geo_cache_net_t *set, const geo_db_t *geo, int family, const uint8_t *addr,
                      const geo_info_t *info)
{
	unsigned prefix = info->prefix_len;
	if (geo->has_asn && info->asn_prefix_len > prefix) {
		prefix = info->asn_prefix_len;
	}
	set[1] = set[0];
	geo_cache_net_t *e = &set[0];
	memset(e->net, 0, sizeof(e->net));
	memcpy(e->net, addr, (prefix + 7) / 8);
	if (prefix % 8) {
		e->net[prefix / 8] &= (uint8_t)(0xff00u >> (prefix % 8));
	}
	e->db_id = geo->id;
	e->family = (uint8_t)family;
	e->prefix = (uint8_t)prefix;
	e->info = *info;
}

int geo_lookup_cached(const geo_db_t *geo, geo_cache_t *cache, int family, const uint8_t *addr,
                      geo_info_t *info)
{
	if (geo == NULL || addr == NULL || info == NULL ||
	    (family != AF_INET && family != AF_INET6)) {
		return HG_EINVAL;
	}
	geo_cache_net_t *nets = cache != NULL ? net_set(cache, family, addr) : NULL;
	for (unsigned w = 0; nets != NULL && w < 2; w++) {
		if (nets[w].db_id == geo->id && net_has(&nets[w], family, addr)) {
			*info = nets[w].info;
			cache->net_hits++;
			return HG_EOK;
		}
	}
	memset(info, 0, sizeof(*info));

	MMDB_lookup_result_s res;
	int ret = lookup_one(&geo->city, addr, family, &res, &info->prefix_len);
	if (ret != HG_EOK) {
		return ret;
	}
	if (res.found_entry) {
		city_record(geo, cache, &res.entry, info);
	}

	if (geo->has_asn) {
		ret = lookup_one(&geo->asn, addr, family, &res, &info->asn_prefix_len);
		if (ret != HG_EOK) {
			return ret;
		}
		if (res.found_entry) {
			asn_record(geo, cache, &res.entry, info);
		}
	}
	if (nets != NULL) {
		net_store(nets, geo, family, addr, info);
	}
	return HG_EOK;
}

int geo_lookup(const geo_db_t *geo, int family, const uint8_t *addr, geo_info_t *info)
{
	return geo_lookup_cached(geo, NULL, family, addr, info);
}

int geo_parse_addr(const char *text, int *family, uint8_t addr[16])
{
	if (text == NULL || family == NULL || addr == NULL) {
		return HG_EINVAL;
	}
	uint8_t buf[16] = { 0 };
	if (inet_pton(AF_INET, text, buf) == 1) {
		*family = AF_INET;
	} else if (inet_pton(AF_INET6, text, buf) == 1) {
		*family = AF_INET6;
	} else {
		return HG_EINVAL;
	}
	/* Zero the tail of a v4 address so callers may hash or compare all 16. */
	memcpy(addr, buf, sizeof(buf));
	return HG_EOK;
}
