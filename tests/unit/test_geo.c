/*  haltgslb — unit tests for the geo wrapper (shared/geo.c).
 *  SPDX-License-Identifier: GPL-3.0-or-later
 *
 *  Runs against the databases built from tests/geo/test-geo.txt by
 *  tests/geo/mkmmdb.pl (found via $HG_TEST_DATA). Expected prefixes follow
 *  from the mapping: an unmapped address reports the largest empty network
 *  around it, e.g. 10.99.1.1 -> 10.64.0.0/10 because 10.0-10.10 are mapped.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "errors.h"
#include "geo.h"
#include "tests/unit/tap.h"

typedef struct {
	const char *addr;
	bool found;
	const char *continent, *country, *subdivision;
	int prefix; /* city db network (or empty region) */
	bool has_loc;
	double lat, lon;
	bool has_asn;
	uint32_t asn;
	int asn_prefix;
} lookup_case_t;

/* City + ASN databases (IPv6 trees, IPv4 in ::/96). */
static const lookup_case_t CASES[] = {
	/* addr                 found cont  cc    subdiv   pfx loc  lat      lon      asn? asn    apfx */
	/* loopback: knotd integration-test sources */
	{ "127.1.0.1", 1, "EU", "DE", "DE-HE", 16, 1, 50.11, 8.68, 1, 64501, 16 },
	{ "127.2.255.254", 1, "AS", "ID", "ID-JK", 16, 1, -6.21, 106.85, 1, 64500, 16 },
	{ "127.3.0.1", 1, "AS", "SG", "", 16, 1, 1.35, 103.82, 1, 64502, 16 },
	{ "127.4.1.1", 1, "NA", "US", "US-VA", 16, 1, 38.95, -77.45, 1, 64503, 16 },
	{ "127.5.1.1", 1, "NA", "US", "US-CA", 16, 1, 37.34, -121.89, 1, 64504, 16 },
	{ "127.6.1.1", 1, "EU", "NL", "NL-NH", 16, 1, 52.37, 4.90, 1, 64505, 16 },
	{ "127.7.1.1", 1, "SA", "BR", "BR-SP", 16, 1, -23.55, -46.63, 1, 64506, 16 },
	{ "127.8.1.1", 1, "AS", "JP", "JP-13", 16, 1, 35.69, 139.69, 1, 64507, 16 },
	{ "127.0.0.1", 0, "", "", "", 16, 0, 0, 0, 0, 0, 16 },
	{ "127.200.0.1", 0, "", "", "", 9, 0, 0, 0, 0, 0, 9 },
	/* documentation ranges, /24 and /25 */
	{ "192.0.2.5", 0, "", "", "", 25, 0, 0, 0, 0, 0, 25 },
	{ "192.0.2.200", 1, "EU", "DE", "DE-HE", 25, 1, 50.11, 8.68, 1, 64501, 25 },
	{ "198.51.100.7", 1, "EU", "NL", "NL-NH", 24, 1, 52.37, 4.90, 1, 64505, 24 },
	{ "203.0.113.1", 1, "AS", "SG", "", 25, 1, 1.29, 103.85, 1, 64502, 25 },
	{ "203.0.113.130", 1, "AS", "ID", "ID-JK", 25, 1, -6.21, 106.85, 1, 64500, 25 },
	/* private ranges, /16 /20 /24 */
	{ "10.0.0.1", 1, "AS", "ID", "ID-JK", 16, 1, -6.21, 106.85, 1, 64500, 16 },
	{ "10.99.1.1", 0, "", "", "", 10, 0, 0, 0, 0, 0, 10 },
	{ "10.10.1.1", 1, "EU", "DE", "DE-BE", 20, 1, 52.52, 13.40, 1, 65537, 20 },
	{ "10.10.17.1", 1, "NA", "US", "US-CA", 20, 1, 34.05, -118.24, 1, 65538, 20 },
	{ "172.17.15.255", 1, "SA", "BR", "BR-SP", 20, 1, -23.55, -46.63, 1, 64506, 20 },
	{ "192.168.1.1", 1, "AS", "JP", "JP-13", 24, 1, 35.69, 139.69, 1, 64507, 24 },
	{ "192.168.0.1", 0, "", "", "", 24, 0, 0, 0, 0, 0, 24 },
	/* partial records */
	{ "100.64.0.9", 1, "SA", "BR", "BR-SP", 24, 1, -23.55, -46.63, 0, 0, 24 },
	{ "100.64.1.9", 1, "AS", "SG", "", 24, 0, 0, 0, 1, 65540, 24 },
	/* IPv6 /48, /56, /32 */
	{ "2001:db8:1::1", 1, "EU", "DE", "DE-HE", 48, 1, 50.11, 8.68, 1, 64501, 48 },
	{ "2001:db8:2:ffff::1", 1, "AS", "ID", "ID-JK", 48, 1, -6.21, 106.85, 1, 64500, 48 },
	{ "2001:db8:3::53", 1, "AS", "SG", "", 48, 1, 1.35, 103.82, 1, 64502, 48 },
	{ "2001:db8:4::1", 1, "NA", "US", "US-VA", 48, 1, 38.95, -77.45, 1, 64503, 48 },
	{ "2001:db8:5::1", 1, "NA", "US", "US-CA", 56, 1, 37.34, -121.89, 1, 64504, 56 },
	{ "2001:db8:5:ff::1", 1, "NA", "US", "US-CA", 56, 1, 37.34, -121.89, 1, 64504, 56 },
	{ "2001:db8:5:100::1", 0, "", "", "", 56, 0, 0, 0, 0, 0, 56 },
	{ "2001:db8:99::1", 0, "", "", "", 41, 0, 0, 0, 0, 0, 41 },
	{ "fd00:1::1", 1, "EU", "DE", "DE-HE", 32, 1, 50.11, 8.68, 1, 65536, 32 },
	{ "fd00:2:abcd::1", 1, "AS", "ID", "ID-JK", 32, 1, -6.21, 106.85, 1, 65539, 32 },
	{ "fd00:4::1", 1, "AS", "SG", "", 32, 1, 1.35, 103.82, 1, 64502, 32 },
	{ "fd00:99::1", 0, "", "", "", 25, 0, 0, 0, 0, 0, 25 },
	/* IPv6 forms of IPv4 (aliased to ::/96): prefix in 128-bit terms */
	{ "::ffff:127.1.2.3", 1, "EU", "DE", "DE-HE", 112, 1, 50.11, 8.68, 1, 64501, 112 },
	{ "::ffff:10.99.1.1", 0, "", "", "", 106, 0, 0, 0, 0, 0, 106 },
	{ "2002:7f01:1::1", 1, "EU", "DE", "DE-HE", 32, 1, 50.11, 8.68, 1, 64501, 32 },
};

/* City only, IPv4-only tree: no ::/96 offset; IPv6 is unknown everywhere. */
static const lookup_case_t CASES_V4[] = {
	{ "127.1.0.1", 1, "EU", "DE", "DE-HE", 16, 1, 50.11, 8.68, 0, 0, 0 },
	{ "203.0.113.130", 1, "AS", "ID", "ID-JK", 25, 1, -6.21, 106.85, 0, 0, 0 },
	{ "192.0.2.5", 0, "", "", "", 25, 0, 0, 0, 0, 0, 0 },
	{ "10.99.1.1", 0, "", "", "", 10, 0, 0, 0, 0, 0, 0 },
	{ "2001:db8:1::1", 0, "", "", "", 0, 0, 0, 0, 0, 0, 0 },
};

/* Demo databases: a spot check per kind of entry (see docs/geo-data.md). */
static const lookup_case_t CASES_DEMO[] = {
	{ "127.2.0.1", 1, "AS", "ID", "ID-JK", 16, 1, -6.21, 106.85, 1, 64500, 16 },
	{ "10.13.1.1", 1, "AF", "ZA", "ZA-GP", 16, 1, -26.20, 28.05, 1, 65541, 16 },
	{ "172.16.33.5", 1, "AS", "JP", "JP-27", 25, 1, 34.69, 135.50, 1, 65545, 25 },
	{ "10.0.0.1", 0, "", "", "", 16, 0, 0, 0, 0, 0, 16 },
	{ "2001:db8:b::1", 1, "OC", "AU", "AU-NSW", 48, 1, -33.87, 151.21, 1, 64510, 48 },
};

static void check_case(const geo_db_t *geo, const char *db, const lookup_case_t *c)
{
	int family = 0;
	uint8_t addr[16];
	geo_info_t info;
	if (geo_parse_addr(c->addr, &family, addr) != HG_EOK) {
		ok(0, "%s: parse %s", db, c->addr);
		return;
	}
	int ret = geo_lookup(geo, family, addr, &info);
	bool good = ret == HG_EOK && info.found == c->found &&
	            strcmp(info.continent, c->continent) == 0 &&
	            strcmp(info.country, c->country) == 0 &&
	            strcmp(info.subdivision, c->subdivision) == 0 && info.prefix_len == c->prefix &&
	            info.has_location == c->has_loc &&
	            (!c->has_loc ||
	             (fabs(info.lat - c->lat) < 1e-9 && fabs(info.lon - c->lon) < 1e-9)) &&
	            info.has_asn == c->has_asn && info.asn == c->asn &&
	            info.asn_prefix_len == c->asn_prefix;
	ok(good, "%s: %s -> %s %s/%s/%s /%d AS%u /%d", db, c->addr, c->found ? "found" : "unmapped",
	   c->continent, c->country, c->subdivision, c->prefix, c->asn, c->asn_prefix);
	if (!good) {
		diag("got ret=%d found=%d '%s'/'%s'/'%s' /%u loc=%d %.4f,%.4f asn=%d AS%u /%u", ret,
		     info.found, info.continent, info.country, info.subdivision, info.prefix_len,
		     info.has_location, info.lat, info.lon, info.has_asn, info.asn,
		     info.asn_prefix_len);
	}
}

static void test_lookups(const char *dir)
{
	char city[4096], asn[4096], v4[4096], err[512];
	snprintf(city, sizeof(city), "%s/test-city.mmdb", dir);
	snprintf(asn, sizeof(asn), "%s/test-asn.mmdb", dir);
	snprintf(v4, sizeof(v4), "%s/test-city-v4.mmdb", dir);

	geo_db_t *geo = NULL;
	int ret = geo_open(city, asn, &geo, err, sizeof(err));
	is_int(ret, HG_EOK, "open city+asn (%s)", ret ? err : "ok");
	if (geo != NULL) {
		for (size_t i = 0; i < sizeof(CASES) / sizeof(CASES[0]); i++) {
			check_case(geo, "city+asn", &CASES[i]);
		}
		geo_close(geo);
	}

	geo = NULL;
	ret = geo_open(v4, NULL, &geo, err, sizeof(err));
	is_int(ret, HG_EOK, "open IPv4-only city (%s)", ret ? err : "ok");
	if (geo != NULL) {
		for (size_t i = 0; i < sizeof(CASES_V4) / sizeof(CASES_V4[0]); i++) {
			check_case(geo, "v4-only", &CASES_V4[i]);
		}
		geo_close(geo);
	}

	char dcity[4096], dasn[4096];
	snprintf(dcity, sizeof(dcity), "%s/demo-city.mmdb", dir);
	snprintf(dasn, sizeof(dasn), "%s/demo-asn.mmdb", dir);
	geo = NULL;
	ret = geo_open(dcity, dasn, &geo, err, sizeof(err));
	is_int(ret, HG_EOK, "open demo city+asn (%s)", ret ? err : "ok");
	if (geo != NULL) {
		for (size_t i = 0; i < sizeof(CASES_DEMO) / sizeof(CASES_DEMO[0]); i++) {
			check_case(geo, "demo", &CASES_DEMO[i]);
		}
		geo_close(geo);
	}

	/* Without an ASN db ("" means none): city data only, ASN fields zero. */
	geo = NULL;
	ret = geo_open(city, "", &geo, err, sizeof(err));
	is_int(ret, HG_EOK, "open city without asn");
	if (geo != NULL) {
		uint8_t a[16] = { 127, 2, 0, 1 };
		geo_info_t info;
		is_int(geo_lookup(geo, AF_INET, a, &info), HG_EOK, "lookup without asn db");
		ok(info.found && strcmp(info.country, "ID") == 0 && !info.has_asn &&
		           info.asn == 0 && info.asn_prefix_len == 0,
		   "no asn db: country ID, has_asn false, asn_prefix_len 0");
		is_int(geo_lookup(geo, AF_UNIX, a, &info), HG_EINVAL, "lookup: bad family");
		is_int(geo_lookup(geo, AF_INET, NULL, &info), HG_EINVAL, "lookup: NULL addr");
		is_int(geo_lookup(geo, AF_INET, a, NULL), HG_EINVAL, "lookup: NULL info");
		is_int(geo_lookup(NULL, AF_INET, a, &info), HG_EINVAL, "lookup: NULL db");
		geo_close(geo);
	}
	geo_close(NULL); /* must be a no-op */
}

/* ---- geo_lookup_cached(): same answers as geo_lookup(), fewer decodes ---- */

static bool same_info(const geo_info_t *a, const geo_info_t *b)
{
	/* Exact float equality: both sides decode the same record. */
	return a->found == b->found && strcmp(a->continent, b->continent) == 0 &&
	       strcmp(a->country, b->country) == 0 && strcmp(a->subdivision, b->subdivision) == 0 &&
	       a->has_location == b->has_location && a->lat == b->lat && a->lon == b->lon &&
	       a->has_asn == b->has_asn && a->asn == b->asn && a->prefix_len == b->prefix_len &&
	       a->asn_prefix_len == b->asn_prefix_len;
}

/* Cached and uncached lookups of one address agree. */
static void check_cached(const geo_db_t *geo, geo_cache_t *cache, const char *db, const char *text,
                         const char *pass)
{
	int family = 0;
	uint8_t addr[16];
	geo_info_t plain, cached;
	memset(&cached, 0x5a, sizeof(cached)); /* every field must be written */
	bool good = geo_parse_addr(text, &family, addr) == HG_EOK &&
	            geo_lookup(geo, family, addr, &plain) == HG_EOK &&
	            geo_lookup_cached(geo, cache, family, addr, &cached) == HG_EOK &&
	            same_info(&plain, &cached);
	ok(good, "%s %s: cached %s == uncached (%s/%s /%u AS%u /%u)", db, pass, text, plain.country,
	   plain.subdivision, plain.prefix_len, plain.asn, plain.asn_prefix_len);
}

/* Every table address twice through one cache: the first pass decodes (or
 * already hits on a record shared with an earlier address), the second pass
 * only hits. */
static void check_table_cached(const geo_db_t *geo, geo_cache_t *cache, const char *db,
                               const lookup_case_t *cases, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		check_cached(geo, cache, db, cases[i].addr, "pass 1");
	}
	uint64_t misses = cache->misses, hits = cache->hits + cache->net_hits;
	for (size_t i = 0; i < n; i++) {
		check_cached(geo, cache, db, cases[i].addr, "pass 2");
	}
	is_int((int)(cache->misses - misses), 0, "%s pass 2: no record decoded again", db);
	ok(cache->hits + cache->net_hits > hits, "%s pass 2: served from the cache (%llu hits)", db,
	   (unsigned long long)(cache->hits + cache->net_hits - hits));
}

/* The network cache: every address of a looked-up network gets the same
 * answer as geo_lookup() from the cache, addresses outside it do not hit. */
static void check_networks(const geo_db_t *geo, geo_cache_t *cache, const char *db,
                           const lookup_case_t *cases, size_t n)
{
	unsigned same = 0, total = 0;
	uint64_t net_hits = cache->net_hits;
	for (size_t i = 0; i < n; i++) {
		int family = 0;
		uint8_t addr[16];
		geo_info_t plain, cached;
		if (geo_parse_addr(cases[i].addr, &family, addr) != HG_EOK ||
		    geo_lookup(geo, family, addr, &plain) != HG_EOK) {
			continue;
		}
		unsigned prefix = plain.prefix_len > plain.asn_prefix_len ? plain.prefix_len
		                                                          : plain.asn_prefix_len;
		unsigned bits = family == AF_INET ? 32 : 128;
		/* The network's last address, then its first: inside it. */
		for (unsigned k = 0; k < 2; k++) {
			uint8_t a[16];
			memcpy(a, addr, 16);
			for (unsigned b = prefix; b < bits; b++) {
				if (k == 0) {
					a[b / 8] |= (uint8_t)(0x80u >> (b % 8));
				} else {
					a[b / 8] &= (uint8_t) ~(0x80u >> (b % 8));
				}
			}
			total++;
			same += geo_lookup_cached(geo, cache, family, addr, &cached) == HG_EOK &&
			        geo_lookup_cached(geo, cache, family, a, &cached) == HG_EOK &&
			        geo_lookup(geo, family, a, &plain) == HG_EOK &&
			        same_info(&plain, &cached);
		}
	}
	is_int(same, total, "%s: %u addresses at the edges of cached networks = geo_lookup()", db,
	       total);
	ok(cache->net_hits > net_hits, "%s: network cache hits (%llu)", db,
	   (unsigned long long)(cache->net_hits - net_hits));
}

/* One record (Frankfurt: EU/DE/DE-HE, AS64501) behind networks of several
 * sizes in tests/geo/test-geo.txt: the writer stores it once, so all but the
 * first lookup hit, and each keeps its own network's prefix. */
static const struct {
	const char *addr;
	int prefix, asn_prefix;
} SHARED_RECORD[] = {
	{ "127.1.0.1", 16, 16 },     { "192.0.2.200", 25, 25 },   { "10.1.2.3", 16, 16 },
	{ "2001:db8:1::1", 48, 48 }, { "127.1.255.255", 16, 16 },
};

static void check_shared_record(const geo_db_t *geo, geo_cache_t *cache)
{
	for (size_t i = 0; i < sizeof(SHARED_RECORD) / sizeof(SHARED_RECORD[0]); i++) {
		int family = 0;
		uint8_t addr[16];
		geo_info_t info;
		uint64_t hits = cache->hits;
		bool good = geo_parse_addr(SHARED_RECORD[i].addr, &family, addr) == HG_EOK &&
		            geo_lookup_cached(geo, cache, family, addr, &info) == HG_EOK &&
		            info.found && strcmp(info.subdivision, "DE-HE") == 0 &&
		            info.asn == 64501 && info.prefix_len == SHARED_RECORD[i].prefix &&
		            info.asn_prefix_len == SHARED_RECORD[i].asn_prefix;
		ok(good, "shared record: %s -> DE-HE AS64501 /%d /%d", SHARED_RECORD[i].addr,
		   SHARED_RECORD[i].prefix, SHARED_RECORD[i].asn_prefix);
		if (i > 0) {
			/* City and ASN record both come from the cache. */
			is_int((int)(cache->hits - hits), 2, "shared record: %s hits both records",
			       SHARED_RECORD[i].addr);
		}
	}
}

static void test_cached(const char *dir)
{
	char city[4096], asn[4096], v4[4096], err[512];
	snprintf(city, sizeof(city), "%s/test-city.mmdb", dir);
	snprintf(asn, sizeof(asn), "%s/test-asn.mmdb", dir);
	snprintf(v4, sizeof(v4), "%s/test-city-v4.mmdb", dir);

	static geo_cache_t cache; /* zero-filled: empty */
	geo_db_t *geo = NULL, *geo4 = NULL;
	if (geo_open(city, asn, &geo, err, sizeof(err)) != HG_EOK ||
	    geo_open(v4, NULL, &geo4, err, sizeof(err)) != HG_EOK) {
		ok(0, "cache: open test databases (%s)", err);
		geo_close(geo);
		return;
	}

	check_shared_record(geo, &cache);
	check_table_cached(geo, &cache, "city+asn", CASES, sizeof(CASES) / sizeof(CASES[0]));
	/* Same cache, another database with other records at colliding
	 * offsets: slots are told apart by database, not by offset alone. */
	check_table_cached(geo4, &cache, "v4-only", CASES_V4,
	                   sizeof(CASES_V4) / sizeof(CASES_V4[0]));
	check_table_cached(geo, &cache, "city+asn again", CASES, sizeof(CASES) / sizeof(CASES[0]));
	check_networks(geo, &cache, "city+asn", CASES, sizeof(CASES) / sizeof(CASES[0]));
	check_networks(geo4, &cache, "v4-only", CASES_V4, sizeof(CASES_V4) / sizeof(CASES_V4[0]));

	/* A database closed and another opened (possibly at the same address)
	 * must not be served the old one's records. */
	geo_close(geo);
	geo = NULL;
	char dcity[4096], dasn[4096];
	snprintf(dcity, sizeof(dcity), "%s/demo-city.mmdb", dir);
	snprintf(dasn, sizeof(dasn), "%s/demo-asn.mmdb", dir);
	if (geo_open(dcity, dasn, &geo, err, sizeof(err)) == HG_EOK) {
		check_table_cached(geo, &cache, "demo after reopen", CASES_DEMO,
		                   sizeof(CASES_DEMO) / sizeof(CASES_DEMO[0]));
		for (size_t i = 0; i < sizeof(CASES_DEMO) / sizeof(CASES_DEMO[0]); i++) {
			geo_info_t info;
			int family = 0;
			uint8_t addr[16];
			geo_parse_addr(CASES_DEMO[i].addr, &family, addr);
			geo_lookup_cached(geo, &cache, family, addr, &info);
			ok(strcmp(info.country, CASES_DEMO[i].country) == 0 &&
			           info.asn == CASES_DEMO[i].asn &&
			           info.prefix_len == CASES_DEMO[i].prefix,
			   "demo after reopen: %s -> %s AS%u /%d", CASES_DEMO[i].addr,
			   CASES_DEMO[i].country, CASES_DEMO[i].asn, CASES_DEMO[i].prefix);
		}
	} else {
		ok(0, "cache: open demo databases (%s)", err);
	}

	/* No cache: plain geo_lookup(); bad arguments as geo_lookup(). */
	geo_info_t info;
	uint8_t a[16] = { 127, 2, 0, 1 };
	ok(geo_lookup_cached(geo4, NULL, AF_INET, a, &info) == HG_EOK &&
	           strcmp(info.country, "ID") == 0 && info.prefix_len == 16,
	   "NULL cache: plain lookup");
	is_int(geo_lookup_cached(NULL, &cache, AF_INET, a, &info), HG_EINVAL, "cached: NULL db");
	is_int(geo_lookup_cached(geo4, &cache, AF_UNIX, a, &info), HG_EINVAL, "cached: bad family");
	geo_close(geo);
	geo_close(geo4);
}

/* ---- x, y, z: the client's unit vector, filled once per record ---- */

/* The selection's formula as it stood before the vector moved into the geo
 * record (sel_client_loc()), written out independently of geo_unit_vector():
 * a cached vector must be bit-identical to it, or answers could change. */
static void sel_formula(double lat, double lon, float out[3])
{
	double la = lat * M_PI / 180.0, lo = lon * M_PI / 180.0;
	out[0] = (float)(cos(la) * cos(lo));
	out[1] = (float)(cos(la) * sin(lo));
	out[2] = (float)sin(la);
}

static bool xyz_is(const geo_info_t *info, const float want[3])
{
	/* Exact float equality on purpose. */
	return info->has_xyz && info->x == want[0] && info->y == want[1] && info->z == want[2];
}

static void check_xyz_table(const geo_db_t *geo, geo_cache_t *cache, const char *db,
                            const lookup_case_t *cases, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int family = 0;
		uint8_t addr[16];
		geo_info_t plain, miss, hit;
		if (geo_parse_addr(cases[i].addr, &family, addr) != HG_EOK ||
		    geo_lookup(geo, family, addr, &plain) != HG_EOK ||
		    geo_lookup_cached(geo, cache, family, addr, &miss) != HG_EOK ||
		    geo_lookup_cached(geo, cache, family, addr, &hit) != HG_EOK) {
			ok(0, "xyz %s: lookup %s", db, cases[i].addr);
			continue;
		}
		if (!cases[i].has_loc) {
			ok(!plain.has_xyz && !miss.has_xyz && !hit.has_xyz,
			   "xyz %s: %s has no location, no vector", db, cases[i].addr);
			continue;
		}
		float ref[3], shared[3];
		sel_formula(plain.lat, plain.lon, ref);
		geo_unit_vector(plain.lat, plain.lon, shared);
		bool good = plain.has_location && xyz_is(&plain, ref) && xyz_is(&miss, ref) &&
		            xyz_is(&hit, ref) && shared[0] == ref[0] && shared[1] == ref[1] &&
		            shared[2] == ref[2];
		ok(good,
		   "xyz %s: %s (%.2f,%.2f) -> (%.6f,%.6f,%.6f) as sel computes it, "
		   "uncached, decoded and cached",
		   db, cases[i].addr, plain.lat, plain.lon, ref[0], ref[1], ref[2]);
		if (!good) {
			diag("got has_xyz %d/%d/%d plain (%a,%a,%a) cached (%a,%a,%a) want "
			     "(%a,%a,%a)",
			     plain.has_xyz, miss.has_xyz, hit.has_xyz, plain.x, plain.y, plain.z,
			     hit.x, hit.y, hit.z, ref[0], ref[1], ref[2]);
		}
	}
}

static void test_unit_vector(const char *dir)
{
	char city[4096], asn[4096], dcity[4096], dasn[4096], err[512];
	snprintf(city, sizeof(city), "%s/test-city.mmdb", dir);
	snprintf(asn, sizeof(asn), "%s/test-asn.mmdb", dir);
	snprintf(dcity, sizeof(dcity), "%s/demo-city.mmdb", dir);
	snprintf(dasn, sizeof(dasn), "%s/demo-asn.mmdb", dir);
	static geo_cache_t cache;
	geo_db_t *geo = NULL, *demo = NULL;
	if (geo_open(city, asn, &geo, err, sizeof(err)) != HG_EOK ||
	    geo_open(dcity, dasn, &demo, err, sizeof(err)) != HG_EOK) {
		ok(0, "xyz: open databases (%s)", err);
		geo_close(geo);
		return;
	}
	check_xyz_table(geo, &cache, "city+asn", CASES, sizeof(CASES) / sizeof(CASES[0]));
	check_xyz_table(demo, &cache, "demo", CASES_DEMO,
	                sizeof(CASES_DEMO) / sizeof(CASES_DEMO[0]));

	/* A few fixed points: poles, the date line, the prime meridian. */
	static const struct {
		double lat, lon;
		float x, y, z;
	} FIXED[] = {
		{ 0.0, 0.0, 1.0f, 0.0f, 0.0f },     { 0.0, 90.0, 0.0f, 1.0f, 0.0f },
		{ 90.0, 0.0, 0.0f, 0.0f, 1.0f },    { -90.0, 180.0, 0.0f, 0.0f, -1.0f },
		{ 0.0, -180.0, -1.0f, 0.0f, 0.0f },
	};
	for (size_t i = 0; i < sizeof(FIXED) / sizeof(FIXED[0]); i++) {
		float v[3];
		geo_unit_vector(FIXED[i].lat, FIXED[i].lon, v);
		ok(fabsf(v[0] - FIXED[i].x) < 1e-6f && fabsf(v[1] - FIXED[i].y) < 1e-6f &&
		           fabsf(v[2] - FIXED[i].z) < 1e-6f,
		   "geo_unit_vector(%.0f, %.0f) = (%.0f, %.0f, %.0f)", FIXED[i].lat, FIXED[i].lon,
		   FIXED[i].x, FIXED[i].y, FIXED[i].z);
	}
	geo_close(geo);
	geo_close(demo);
}

/* Write the first half of a real mmdb: the metadata (at the end) is gone. */
static int write_truncated(const char *src, const char *dst)
{
	int ret = -1;
	char *buf = NULL;
	FILE *in = fopen(src, "rb"), *out = NULL;
	if (in == NULL) {
		goto cleanup;
	}
	buf = malloc(1 << 20);
	if (buf == NULL) {
		goto cleanup;
	}
	size_t n = fread(buf, 1, 1 << 20, in);
	out = fopen(dst, "wb");
	if (out == NULL || n < 64 || fwrite(buf, 1, n / 2, out) != n / 2) {
		goto cleanup;
	}
	ret = 0;
cleanup:
	if (out != NULL && fclose(out) != 0) {
		ret = -1;
	}
	if (in != NULL) {
		fclose(in);
	}
	free(buf);
	return ret;
}

typedef struct {
	const char *what;
	const char *city, *asn;
	int ret;
	const char *names;  /* must appear in the message */
	const char *reason; /* and so must this */
} open_case_t;

static void test_open_errors(const char *dir, const char *srcdir)
{
	char city[4096], missing[4096], text[4096], trunc[4096], asn_missing[4096];
	snprintf(city, sizeof(city), "%s/test-city.mmdb", dir);
	snprintf(missing, sizeof(missing), "%s/no-such-dir/city.mmdb", dir);
	snprintf(text, sizeof(text), "%s/tests/geo/test-geo.txt", srcdir);
	snprintf(trunc, sizeof(trunc), "%s/test_geo-truncated-%ld.mmdb", dir, (long)getpid());
	snprintf(asn_missing, sizeof(asn_missing), "%s/no-such-asn.mmdb", dir);
	ok(write_truncated(city, trunc) == 0, "wrote truncated copy %s", trunc);

	const open_case_t cases[] = {
		/* what                 city          asn           ret         names        reason */
		{ "missing file", missing, NULL, HG_EGEO, missing, "No such file" },
		{ "not an mmdb", text, NULL, HG_EGEO, text, "metadata" },
		{ "truncated mmdb", trunc, NULL, HG_EGEO, trunc, "metadata" },
		{ "missing ASN db", city, asn_missing, HG_EGEO, asn_missing, "ASN" },
		{ "ASN db not mmdb", city, text, HG_EGEO, text, "ASN" },
		{ "no city db", "", NULL, HG_EINVAL, "city", "no " },
		{ "NULL city db", NULL, NULL, HG_EINVAL, "city", "no " },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const open_case_t *c = &cases[i];
		char err[1024] = "untouched";
		geo_db_t *geo = (geo_db_t *)&err; /* must be reset to NULL */
		int ret = geo_open(c->city, c->asn, &geo, err, sizeof(err));
		ok(ret == c->ret && geo == NULL && strstr(err, c->names) != NULL &&
		           strstr(err, c->reason) != NULL,
		   "open error, %s: ret %d, message names '%s'", c->what, c->ret, c->names);
		if (ret != c->ret || strstr(err, c->names) == NULL) {
			diag("got ret=%d message '%s'", ret, err);
		}
		if (ret == HG_EOK) {
			geo_close(geo);
		}
	}
	unlink(trunc);

	/* A short buffer still gets a terminated (truncated) message. */
	char small[8];
	geo_db_t *geo = NULL;
	is_int(geo_open(missing, NULL, &geo, small, sizeof(small)), HG_EGEO, "short errbuf: fails");
	is_int((long long)strlen(small), (long long)sizeof(small) - 1,
	       "short errbuf: truncated and terminated");
	is_int(geo_open(missing, NULL, &geo, NULL, 0), HG_EGEO, "NULL errbuf accepted");
	is_int(geo_open(city, NULL, NULL, NULL, 0), HG_EINVAL, "NULL out pointer rejected");
}

typedef struct {
	const char *text;
	int ret, family;
	uint8_t bytes[16];
} parse_case_t;

static void test_parse(void)
{
	const parse_case_t cases[] = {
		{ "192.0.2.1", HG_EOK, AF_INET, { 192, 0, 2, 1 } },
		{ "0.0.0.0", HG_EOK, AF_INET, { 0 } },
		{ "255.255.255.255", HG_EOK, AF_INET, { 255, 255, 255, 255 } },
		{ "2001:db8::1", HG_EOK, AF_INET6, { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 } },
		{ "::", HG_EOK, AF_INET6, { 0 } },
		{ "::ffff:192.0.2.1", HG_EOK, AF_INET6, { [10] = 0xff, 0xff, 192, 0, 2, 1 } },
		{ "FD00:1::A", HG_EOK, AF_INET6, { 0xfd, 0, 0, 1, [15] = 0x0a } },
		{ "", HG_EINVAL, 0, { 0 } },
		{ "192.0.2", HG_EINVAL, 0, { 0 } },
		{ "256.0.0.1", HG_EINVAL, 0, { 0 } },
		{ "192.0.2.1/24", HG_EINVAL, 0, { 0 } },
		{ " 192.0.2.1", HG_EINVAL, 0, { 0 } },
		{ "2001:db8::1%eth0", HG_EINVAL, 0, { 0 } },
		{ "2001:db8:::1", HG_EINVAL, 0, { 0 } },
		{ "[2001:db8::1]", HG_EINVAL, 0, { 0 } },
		{ "example.com", HG_EINVAL, 0, { 0 } },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const parse_case_t *c = &cases[i];
		int family = -1;
		uint8_t addr[16];
		memset(addr, 0xaa, sizeof(addr));
		int ret = geo_parse_addr(c->text, &family, addr);
		bool good = ret == c->ret &&
		            (ret != HG_EOK ||
		             (family == c->family && memcmp(addr, c->bytes, sizeof(addr)) == 0));
		ok(good, "parse '%s' -> %s", c->text,
		   c->ret == HG_EOK ? (c->family == AF_INET ? "IPv4" : "IPv6") : "EINVAL");
	}
	int family;
	uint8_t addr[16];
	is_int(geo_parse_addr(NULL, &family, addr), HG_EINVAL, "parse NULL text");
	is_int(geo_parse_addr("192.0.2.1", NULL, addr), HG_EINVAL, "parse NULL family");
}

int main(void)
{
	const char *dir = getenv("HG_TEST_DATA");
	const char *srcdir = getenv("top_srcdir");
	if (dir == NULL || dir[0] == '\0') {
		dir = "tests/data";
	}
	if (srcdir == NULL || srcdir[0] == '\0') {
		srcdir = ".";
	}
	diag("test data: %s, sources: %s", dir, srcdir);

	test_parse();
	test_lookups(dir);
	test_cached(dir);
	test_unit_vector(dir);
	test_open_errors(dir, srcdir);
	return done_testing();
}
