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

struct geo_db {
	MMDB_s city;
	MMDB_s asn;
	bool has_asn;
	uint64_t id;            /*!< unique per geo_open(), never 0: tags cache slots */
};

/* A freed geo_db_t may be reallocated at the same address, so caches tell
 * databases apart by this serial rather than by pointer. */
static atomic_uint_fast64_t geo_next_id = 1;

/* Paths for MMDB_aget_value(). MMDB_get_value() would be more convenient but
 * it callocs a copy of its variadic path on every call, which the query path
 * must not do; the array form walks these static paths in place. */
static const char *const PATH_CONTINENT[] = { "continent", "code", NULL };
static const char *const PATH_COUNTRY[]   = { "country", "iso_code", NULL };
static const char *const PATH_SUBDIV[]    = { "subdivisions", "0", "iso_code", NULL };
static const char *const PATH_LAT[]       = { "location", "latitude", NULL };
static const char *const PATH_LON[]       = { "location", "longitude", NULL };
static const char *const PATH_ASN[]       = { "autonomous_system_number", NULL };

/* An IPv4 address in an IPv6 tree lives under ::/96 (or ::ffff:0:0/96): the
 * netmask libmaxminddb reports counts those 96 bits too. */
#define GEO_V4_IN_V6_BITS 96

static int open_one(const char *what, const char *path, MMDB_s *db,
                    char *errbuf, size_t errlen)
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
			snprintf(errbuf, errlen, "cannot open %s database '%s': %s (%s)",
			         what, path, MMDB_strerror(rc), strerror(saved));
		} else {
			snprintf(errbuf, errlen, "cannot open %s database '%s': %s",
			         what, path, MMDB_strerror(rc));
		}
	}
	return HG_EGEO;
}

int geo_open(const char *city_path, const char *asn_path, geo_db_t **out,
             char *errbuf, size_t errlen)
{
	if (errbuf != NULL && errlen > 0) {
		errbuf[0] = '\0';
	}
	if (out != NULL) {
		*out = NULL;
	}
	if (out == NULL || city_path == NULL || city_path[0] == '\0') {
		if (errbuf != NULL && errlen > 0) {
			snprintf(errbuf, errlen, "%s", out == NULL ? "no output handle given" :
			         "no city/country database given");
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

/* Copy a short code (continent "EU", country "DE", subdivision "HE") into a
 * fixed buffer. Anything that is not 1..max ASCII letters/digits is treated
 * as unknown: these strings end up in logs and `explain` output. */
static void copy_code(const MMDB_entry_data_s *d, char *dst, size_t max)
{
	dst[0] = '\0';
	if (!d->has_data || d->type != MMDB_DATA_TYPE_UTF8_STRING ||
	    d->data_size == 0 || d->data_size > max) {
		return;
	}
	for (uint32_t i = 0; i < d->data_size; i++) {
		char c = d->utf8_string[i];
		bool alnum = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		             (c >= '0' && c <= '9');
		if (!alnum) {
			return;
		}
	}
	memcpy(dst, d->utf8_string, d->data_size);
	dst[d->data_size] = '\0';
}

static bool get_double(MMDB_entry_s *entry, const char *const *path, double *val)
{
	MMDB_entry_data_s d;
	if (MMDB_aget_value(entry, &d, path) != MMDB_SUCCESS || !d.has_data) {
		return false;
	}
	switch (d.type) {
	case MMDB_DATA_TYPE_DOUBLE: *val = d.double_value; return true;
	case MMDB_DATA_TYPE_FLOAT:  *val = d.float_value;  return true;
	default:                    return false;
	}
}

static bool get_u32(MMDB_entry_s *entry, const char *const *path, uint32_t *val)
{
	MMDB_entry_data_s d;
	if (MMDB_aget_value(entry, &d, path) != MMDB_SUCCESS || !d.has_data) {
		return false;
	}
	switch (d.type) {
	case MMDB_DATA_TYPE_UINT16: *val = d.uint16; return true;
	case MMDB_DATA_TYPE_UINT32: *val = d.uint32; return true;
	case MMDB_DATA_TYPE_UINT64:
		if (d.uint64 > UINT32_MAX) {
			return false;
		}
		*val = (uint32_t)d.uint64;
		return true;
	case MMDB_DATA_TYPE_INT32:
		if (d.int32 < 0) {
			return false;
		}
		*val = (uint32_t)d.int32;
		return true;
	default:
		return false;
	}
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
static int lookup_one(const MMDB_s *db, const struct sockaddr *sa, int family,
                      MMDB_lookup_result_s *res, uint8_t *prefix)
{
	int mmdb_err = MMDB_SUCCESS;
	*res = MMDB_lookup_sockaddr(db, sa, &mmdb_err);
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

static void read_city(MMDB_entry_s *entry, geo_info_t *info)
{
	MMDB_entry_data_s d;
	if (MMDB_aget_value(entry, &d, PATH_CONTINENT) == MMDB_SUCCESS) {
		copy_code(&d, info->continent, sizeof(info->continent) - 1);
	}
	if (MMDB_aget_value(entry, &d, PATH_COUNTRY) == MMDB_SUCCESS) {
		copy_code(&d, info->country, sizeof(info->country) - 1);
	}
	/* MaxMind stores only the part after "CC-" (e.g. "HE"); callers match
	 * full ISO 3166-2 codes, so rebuild "DE-HE". Without a country the code
	 * is meaningless and stays unknown. */
	char sub[4];
	if (info->country[0] != '\0' &&
	    MMDB_aget_value(entry, &d, PATH_SUBDIV) == MMDB_SUCCESS) {
		copy_code(&d, sub, sizeof(sub) - 1);
		if (sub[0] != '\0') {
			snprintf(info->subdivision, sizeof(info->subdivision), "%s-%s",
			         info->country, sub);
		}
	}
	double lat, lon;
	if (get_double(entry, PATH_LAT, &lat) && get_double(entry, PATH_LON, &lon) &&
	    lat >= -90.0 && lat <= 90.0 && lon >= -180.0 && lon <= 180.0) {
		info->has_location = true;
		info->lat = lat;
		info->lon = lon;
		/* Stored with the record in the cache: the selection reads it
		 * instead of two sincos per query. */
		float v[3];
		geo_unit_vector(lat, lon, v);
		info->x = v[0];
		info->y = v[1];
		info->z = v[2];
		info->has_xyz = true;
	}
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
	read_city(entry, info);
	if (set != NULL) {
		set[1] = set[0];
		set[0].db_id = geo->id;
		set[0].offset = entry->offset;
		set[0].info = *info;          /* ASN fields are still zero here */
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
	info->has_asn = get_u32(entry, PATH_ASN, &info->asn);
	if (!info->has_asn) {
		info->asn = 0;   /* as geo_lookup() always reported: no partial value */
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

int geo_lookup_cached(const geo_db_t *geo, geo_cache_t *cache, int family,
                      const uint8_t *addr, geo_info_t *info)
{
	if (geo == NULL || addr == NULL || info == NULL ||
	    (family != AF_INET && family != AF_INET6)) {
		return HG_EINVAL;
	}
	memset(info, 0, sizeof(*info));

	/* Both sockaddr forms on the stack: MMDB_lookup_sockaddr() only walks
	 * the mapped tree, unlike MMDB_lookup_string() (getaddrinfo). */
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;
	const struct sockaddr *sa;
	if (family == AF_INET) {
		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		memcpy(&sin.sin_addr, addr, 4);
		sa = (const struct sockaddr *)&sin;
	} else {
		memset(&sin6, 0, sizeof(sin6));
		sin6.sin6_family = AF_INET6;
		memcpy(&sin6.sin6_addr, addr, 16);
		sa = (const struct sockaddr *)&sin6;
	}

	MMDB_lookup_result_s res;
	int ret = lookup_one(&geo->city, sa, family, &res, &info->prefix_len);
	if (ret != HG_EOK) {
		return ret;
	}
	if (res.found_entry) {
		city_record(geo, cache, &res.entry, info);
	}

	if (geo->has_asn) {
		ret = lookup_one(&geo->asn, sa, family, &res, &info->asn_prefix_len);
		if (ret != HG_EOK) {
			return ret;
		}
		if (res.found_entry) {
			asn_record(geo, cache, &res.entry, info);
		}
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
