/*  haltgslb — client location from MaxMind databases.
 *  SPDX-License-Identifier: GPL-3.0-or-later
 */
/*!
 * \file
 * \brief Thin wrapper over libmaxminddb: one lookup returns everything the
 *        selection engine needs, including the matched network's prefix
 *        length (IPv4 reported as a v4 prefix, not the IPv6-mapped one).
 */
#pragma once

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct geo_db geo_db_t;

typedef struct {
	bool found;          /*!< the city/country db had an entry */
	char continent[3];   /*!< "EU", NUL-terminated; "" unknown */
	char country[3];     /*!< ISO 3166-1 alpha-2, "" unknown */
	char subdivision[8]; /*!< ISO 3166-2 "CC-SSS" (first subdivision), "" unknown */
	bool has_location;
	double lat, lon;
	bool has_asn;
	uint32_t asn;
	uint8_t prefix_len;     /*!< city db network prefix (bits of the address family);
	                                    when not found: the prefix of the empty
	                                    region the db reports (still a valid scope) */
	uint8_t asn_prefix_len; /*!< ASN db network prefix, 0 without ASN db */
	bool has_xyz;           /*!< x, y, z are set (geo_lookup() and
	                                    geo_lookup_cached() set them whenever
	                                    has_location); false in a hand-built
	                                    value: the selection then computes
	                                    the vector itself */
	float x, y, z;          /*!< unit vector of lat/lon, geo_unit_vector();
	                                    cached with the record, so computed once
	                                    per record and thread, not per query */
} geo_info_t;

/*!
 * \brief Unit vector (earth-centred, radius 1) of a position in degrees.
 *
 * The one formula of the project: endpoint positions in views, client
 * positions from geo lookups and the selection's fallback for hand-built
 * geo_info_t all use it, so dot products compare like with like and a
 * cached vector is bit-identical to one computed per query.
 */
static inline void geo_unit_vector(double lat, double lon, float out[3])
{
	double la = lat * M_PI / 180.0, lo = lon * M_PI / 180.0;
	out[0] = (float)(cos(la) * cos(lo));
	out[1] = (float)(cos(la) * sin(lo));
	out[2] = (float)sin(la);
}

/*!
 * \brief Open a city (or country) mmdb and optionally an ASN mmdb.
 * \param[in] asn_path  NULL or "" for none.
 * \param[out] errbuf   On failure, a message naming the file and the reason.
 * \return HG_EOK or HG_EGEO.
 */
int geo_open(const char *city_path, const char *asn_path, geo_db_t **out, char *errbuf,
             size_t errlen);

void geo_close(geo_db_t *geo);

/*!
 * \brief Look up an address.
 * \param[in] family  AF_INET or AF_INET6.
 * \param[in] addr    4 or 16 bytes, network order.
 * \return HG_EOK (also when not found: info->found is false), HG_EINVAL, HG_EGEO.
 *         No allocation, no syscalls.
 */
int geo_lookup(const geo_db_t *geo, int family, const uint8_t *addr, geo_info_t *info);

/* ---- per-thread record cache (query path) ---- */

/*!
 * Slots per database in a geo_cache_t (a power of two; 2-way sets). Traffic
 * comes from many networks but far fewer distinct records (cities); an
 * eviction only costs one uncached decode.
 */
#define GEO_CACHE_SLOTS 1024

/*! The address-independent part of a city lookup: one mmdb data record. */
typedef struct {
	uint64_t db_id;  /*!< geo_db_t the slot came from; 0: empty */
	uint32_t offset; /*!< data record offset (MMDB_entry_s.offset) */
	geo_info_t info; /*!< found, codes, location; prefixes and ASN unset */
} geo_cache_city_t;

/*! The address-independent part of an ASN lookup. */
typedef struct {
	uint64_t db_id; /*!< 0: empty */
	uint32_t offset;
	bool has_asn;
	uint32_t asn;
} geo_cache_asn_t;

/*! Entries of a geo_memo_t (a power of two). */
#define GEO_MEMO_SLOTS 128

/*! What one pointer of a record's data decodes to, for the parts records
 *  share (mmdb data is deduplicated: every record of a country points at
 *  the same country map, every key at the same string): a map key's id, or
 *  the code a continent, country or subdivision value yields. */
typedef struct {
	uint64_t db_id; /*!< 0: empty */
	uint32_t off;   /*!< the pointer's target in the data section */
	uint8_t what;   /*!< private to geo_decode.c */
	char code[4];   /*!< the decoded code, "" = none */
} geo_memo_t;

/*! Networks per geo_cache_t (a power of two; 2-way sets). */
#define GEO_CACHE_NETS 1024

/*! One lookup's whole answer, valid for every address of its network. */
typedef struct {
	uint64_t db_id;  /*!< geo_db_t it came from; 0: empty */
	uint8_t family;  /*!< AF_INET / AF_INET6 */
	uint8_t prefix;  /*!< bits of net that every address it answers shares */
	uint8_t net[16]; /*!< the address masked to prefix */
	geo_info_t info; /*!< what geo_lookup() returned */
} geo_cache_net_t;

/*!
 * Decoded mmdb records keyed by their data offset. Records are deduplicated
 * in an mmdb, so one offset is one record: every network that shares it
 * (e.g. all prefixes of one city) skips the MMDB_aget_value() path walks.
 * The prefix length still comes from each lookup's own netmask.
 *
 * In front of them, the last lookups by network: the search tree gives
 * every address under a matched prefix the same answer (same path, same
 * record, same netmask), so an address inside a cached network (the longer
 * of the city and ASN prefixes) skips the tree walks too.
 *
 * Not thread-safe: one per worker thread. A zero-filled cache is empty and
 * valid; it may be used with several geo_db_t in turn (slots carry the id of
 * the database they came from, never reused by a later geo_open()).
 */
typedef struct {
	geo_cache_net_t net[GEO_CACHE_NETS];
	geo_memo_t memo[GEO_MEMO_SLOTS]; /*!< shared parts of records, see geo_decode.h */
	geo_cache_city_t city[GEO_CACHE_SLOTS];
	geo_cache_asn_t asn[GEO_CACHE_SLOTS];
	uint64_t hits;     /*!< records served from the cache */
	uint64_t misses;   /*!< records decoded (and stored) */
	uint64_t net_hits; /*!< lookups answered by a cached network */
} geo_cache_t;

/*!
 * \brief geo_lookup() through a per-thread record cache.
 *
 * Fills \a info exactly as geo_lookup() would. \a cache may be NULL (plain
 * geo_lookup()). No allocation, no syscalls, no locks.
 */
int geo_lookup_cached(const geo_db_t *geo, geo_cache_t *cache, int family, const uint8_t *addr,
                      geo_info_t *info);

/*! \brief Parse a presentation address into family + bytes. \return HG_EOK or HG_EINVAL. */
int geo_parse_addr(const char *text, int *family, uint8_t addr[16]);
