/*  SPDX-License-Identifier: GPL-3.0-or-later */
/*  The one-pass record decoder (geo_decode.c) against libmaxminddb's own
 *  MMDB_aget_value() path lookups, the way geo.c read records before: every
 *  data record of every test, demo (and, when present, benchmark) database,
 *  reached by walking the search tree; then damaged data sections, which
 *  must never be read out of bounds (ASan) nor loop. */
#include <arpa/inet.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <maxminddb.h>

#include "geo_decode.h"
#include "tap.h"

/* ---- the reference: five path lookups, as geo.c did them ---- */

static const char *const PATH_CONTINENT[] = { "continent", "code", NULL };
static const char *const PATH_COUNTRY[] = { "country", "iso_code", NULL };
static const char *const PATH_SUBDIV[] = { "subdivisions", "0", "iso_code", NULL };
static const char *const PATH_LAT[] = { "location", "latitude", NULL };
static const char *const PATH_LON[] = { "location", "longitude", NULL };
static const char *const PATH_ASN[] = { "autonomous_system_number", NULL };

static void ref_code(const MMDB_entry_data_s *d, char *dst, size_t max)
{
	dst[0] = '\0';
	if (!d->has_data || d->type != MMDB_DATA_TYPE_UTF8_STRING || d->data_size == 0 ||
	    d->data_size > max) {
		return;
	}
	for (uint32_t i = 0; i < d->data_size; i++) {
		char c = d->utf8_string[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) {
			return;
		}
	}
	memcpy(dst, d->utf8_string, d->data_size);
	dst[d->data_size] = '\0';
}

static bool ref_double(MMDB_entry_s *e, const char *const *path, double *v)
{
	MMDB_entry_data_s d;
	if (MMDB_aget_value(e, &d, path) != MMDB_SUCCESS || !d.has_data) {
		return false;
	}
	if (d.type == MMDB_DATA_TYPE_DOUBLE) {
		*v = d.double_value;
		return true;
	}
	if (d.type == MMDB_DATA_TYPE_FLOAT) {
		*v = d.float_value;
		return true;
	}
	return false;
}

static void ref_city(MMDB_entry_s *e, geo_info_t *info)
{
	MMDB_entry_data_s d;
	if (MMDB_aget_value(e, &d, PATH_CONTINENT) == MMDB_SUCCESS) {
		ref_code(&d, info->continent, sizeof(info->continent) - 1);
	}
	if (MMDB_aget_value(e, &d, PATH_COUNTRY) == MMDB_SUCCESS) {
		ref_code(&d, info->country, sizeof(info->country) - 1);
	}
	char sub[4];
	if (info->country[0] != '\0' && MMDB_aget_value(e, &d, PATH_SUBDIV) == MMDB_SUCCESS) {
		ref_code(&d, sub, sizeof(sub) - 1);
		if (sub[0] != '\0') {
			snprintf(info->subdivision, sizeof(info->subdivision), "%s-%s",
			         info->country, sub);
		}
	}
	double lat, lon;
	if (ref_double(e, PATH_LAT, &lat) && ref_double(e, PATH_LON, &lon) && lat >= -90.0 &&
	    lat <= 90.0 && lon >= -180.0 && lon <= 180.0) {
		info->has_location = true;
		info->lat = lat;
		info->lon = lon;
		float v[3];
		geo_unit_vector(lat, lon, v);
		info->x = v[0];
		info->y = v[1];
		info->z = v[2];
		info->has_xyz = true;
	}
}

static bool ref_asn(MMDB_entry_s *e, uint32_t *asn)
{
	MMDB_entry_data_s d;
	if (MMDB_aget_value(e, &d, PATH_ASN) != MMDB_SUCCESS || !d.has_data) {
		return false;
	}
	switch (d.type) {
	case MMDB_DATA_TYPE_UINT16: *asn = d.uint16; return true;
	case MMDB_DATA_TYPE_UINT32: *asn = d.uint32; return true;
	case MMDB_DATA_TYPE_UINT64:
		if (d.uint64 > UINT32_MAX) {
			return false;
		}
		*asn = (uint32_t)d.uint64;
		return true;
	case MMDB_DATA_TYPE_INT32:
		if (d.int32 < 0) {
			return false;
		}
		*asn = (uint32_t)d.int32;
		return true;
	default: return false;
	}
}

static bool same(const geo_info_t *a, const geo_info_t *b)
{
	return strcmp(a->continent, b->continent) == 0 && strcmp(a->country, b->country) == 0 &&
	       strcmp(a->subdivision, b->subdivision) == 0 && a->has_location == b->has_location &&
	       (!a->has_location || (a->lat == b->lat && a->lon == b->lon && a->x == b->x &&
	                             a->y == b->y && a->z == b->z)) &&
	       a->has_xyz == b->has_xyz;
}

/* Every data record reachable from the tree, decoded both ways. */
static void check_db(const char *path)
{
	MMDB_s db;
	if (MMDB_open(path, MMDB_MODE_MMAP, &db) != MMDB_SUCCESS) {
		ok(0, "open %s", path);
		return;
	}
	static geo_memo_t memo[GEO_MEMO_SLOTS]; /* warm across records, as per thread */
	static uint64_t db_id = 1;
	db_id++; /* a new database: no entry of the last one may serve it */
	unsigned records = 0, bad = 0, with_asn = 0, located = 0;
	for (uint32_t n = 0; n < db.metadata.node_count; n++) {
		MMDB_search_node_s node;
		if (MMDB_read_node(&db, n, &node) != MMDB_SUCCESS) {
			bad++;
			continue;
		}
		MMDB_entry_s ents[2] = { node.left_record_entry, node.right_record_entry };
		uint8_t types[2] = { node.left_record_type, node.right_record_type };
		for (unsigned k = 0; k < 2; k++) {
			if (types[k] != MMDB_RECORD_TYPE_DATA) {
				continue;
			}
			geo_info_t a = { 0 }, b = { 0 }, c = { 0 };
			ref_city(&ents[k], &a);
			geo_decode_city(&ents[k], &b, NULL, 0);
			geo_decode_city(&ents[k], &c, memo, db_id);
			uint32_t asn_a = 0, asn_b = 0;
			bool ha = ref_asn(&ents[k], &asn_a), hb = geo_decode_asn(&ents[k], &asn_b);
			records++;
			with_asn += ha;
			located += a.has_location;
			if (!same(&a, &b) || !same(&a, &c) || ha != hb || asn_a != asn_b) {
				if (bad++ < 3) {
					diag("%s offset %u: ref %s/%s/%s %d asn %d:%u, one pass "
					     "%s/%s/%s %d asn %d:%u",
					     path, ents[k].offset, a.continent, a.country,
					     a.subdivision, a.has_location, ha, asn_a, b.continent,
					     b.country, b.subdivision, b.has_location, hb, asn_b);
				}
			}
		}
	}
	ok(records > 0 && bad == 0,
	   "%s: %u records (%u located, %u with an ASN) decode as "
	   "MMDB_aget_value() does, with and without the memo",
	   path, records, located, with_asn);
	MMDB_close(&db);
}

static uint64_t rnd_state = 7;
static uint64_t rnd(void)
{
	uint64_t z = (rnd_state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Damaged data: a real record's bytes with corruption, and random bytes.
 * Each buffer is exactly its size (ASan catches a read past it). */
static void test_damage(const char *path)
{
	MMDB_s db;
	if (MMDB_open(path, MMDB_MODE_MMAP, &db) != MMDB_SUCCESS) {
		ok(0, "open %s", path);
		return;
	}
	uint32_t size = db.data_section_size;
	unsigned runs = 0, located = 0;
	for (unsigned it = 0; it < 20000; it++) {
		uint32_t len = it % 2 ? size : 1 + (uint32_t)(rnd() % 256);
		uint8_t *buf = malloc(len);
		if (it % 2) {
			memcpy(buf, db.data_section, len);
			for (unsigned k = 0; k < 1 + it % 7; k++) {
				uint64_t r = rnd();
				buf[r % len] = (uint8_t)(r >> 32);
			}
		} else {
			for (uint32_t i = 0; i < len; i++) {
				buf[i] = (uint8_t)rnd();
			}
		}
		MMDB_s fake = db;
		fake.data_section = buf;
		fake.data_section_size = len;
		MMDB_entry_s e = { .mmdb = &fake, .offset = (uint32_t)(rnd() % (len + 2)) };
		geo_info_t info = { 0 };
		uint32_t asn;
		geo_decode_city(&e, &info, NULL, 0);
		(void)geo_decode_asn(&e, &asn);
		located += info.has_location;
		runs++;
		free(buf);
	}
	ok(runs == 20000, "20000 damaged data sections decoded without a fault (%u located)",
	   located);
	MMDB_close(&db);
}

/* The tree walk against MMDB_lookup_sockaddr(): addresses inside and
 * around every network of the mapping, and random ones, both families. */
static void check_tree(const char *path, const char *mapping)
{
	MMDB_s db;
	if (MMDB_open(path, MMDB_MODE_MMAP, &db) != MMDB_SUCCESS) {
		ok(0, "open %s", path);
		return;
	}
	uint8_t addrs[4096][16];
	int fams[4096];
	unsigned n = 0;
	FILE *f = fopen(mapping, "r");
	char line[512];
	while (f != NULL && fgets(line, sizeof(line), f) != NULL && n + 8 < 4096) {
		char net[128];
		if (line[0] == '#' || sscanf(line, "%127s", net) != 1) {
			continue;
		}
		char *slash = strchr(net, '/');
		if (slash == NULL) {
			continue;
		}
		*slash = '\0';
		uint8_t a[16] = { 0 };
		int fam = strchr(net, ':') ? AF_INET6 : AF_INET;
		if (inet_pton(fam, net, a) != 1) {
			continue;
		}
		unsigned bytes = fam == AF_INET ? 4 : 16;
		for (unsigned k = 0; k < 8; k++) {
			memcpy(addrs[n], a, 16);
			/* The network's address, its host bits set, its neighbours. */
			if (k & 1) {
				addrs[n][bytes - 1] ^= (uint8_t)(0xff >> (k % 8));
			}
			if (k & 2) {
				addrs[n][bytes - 2] ^= 1;
			}
			if (k & 4) {
				addrs[n][bytes > 4 ? 5 : 1] ^= 0x40;
			}
			fams[n++] = fam;
		}
	}
	if (f != NULL) {
		fclose(f);
	}
	while (n < 4096) {
		fams[n] = rnd() & 1 ? AF_INET : AF_INET6;
		for (unsigned i = 0; i < 16; i++) {
			addrs[n][i] = (uint8_t)rnd();
		}
		n++;
	}
	unsigned bad = 0, found = 0;
	for (unsigned i = 0; i < n; i++) {
		struct sockaddr_in sin = { .sin_family = AF_INET };
		struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6 };
		memcpy(&sin.sin_addr, addrs[i], 4);
		memcpy(&sin6.sin6_addr, addrs[i], 16);
		const struct sockaddr *sa = fams[i] == AF_INET ? (const struct sockaddr *)&sin
		                                               : (const struct sockaddr *)&sin6;
		int e1 = MMDB_SUCCESS, e2;
		MMDB_lookup_result_s r1 = MMDB_lookup_sockaddr(&db, sa, &e1), r2;
		e2 = geo_tree_find(&db, fams[i], addrs[i], &r2);
		found += r1.found_entry;
		if (e1 != e2 || (e1 == MMDB_SUCCESS &&
		                 (r1.found_entry != r2.found_entry || r1.netmask != r2.netmask ||
		                  (r1.found_entry && r1.entry.offset != r2.entry.offset)))) {
			if (bad++ < 3) {
				diag("%s: address %u: libmaxminddb %d/%d/%u/%u, ours %d/%d/%u/%u",
				     path, i, e1, r1.found_entry, r1.netmask, r1.entry.offset, e2,
				     r2.found_entry, r2.netmask, r2.entry.offset);
			}
		}
	}
	ok(bad == 0, "%s (record size %u): %u lookups (%u found) as MMDB_lookup_sockaddr()", path,
	   db.full_record_byte_size * 4, n, found);
	MMDB_close(&db);
}

int main(void)
{
	const char *dir = getenv("HG_TEST_DATA");
	char p[1024];
	static const char *const dbs[] = { "test-city.mmdb", "test-asn.mmdb", "test-city-v4.mmdb",
		                           "demo-city.mmdb", "demo-asn.mmdb" };
	for (size_t i = 0; i < sizeof(dbs) / sizeof(dbs[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", dir ? dir : "tests/data", dbs[i]);
		check_db(p);
	}
	/* Any other database, e.g. the benchmark's 20,000 records
	 * (HG_BENCH_MMDB=/tmp/.../city.mmdb tests/unit/test_geo_decode). */
	const char *bench = getenv("HG_BENCH_MMDB");
	if (bench != NULL && *bench != '\0') {
		check_db(bench);
	}
	const char *top = getenv("top_srcdir");
	char mapping[1024];
	snprintf(mapping, sizeof(mapping), "%s/tests/geo/test-geo.txt", top ? top : "..");
	static const char *const trees[] = { "test-city.mmdb", "test-city-24.mmdb",
		                             "test-city-32.mmdb", "test-city-v4.mmdb",
		                             "test-asn.mmdb" };
	for (size_t i = 0; i < sizeof(trees) / sizeof(trees[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", dir ? dir : "tests/data", trees[i]);
		check_tree(p, mapping);
	}
	snprintf(p, sizeof(p), "%s/test-city.mmdb", dir ? dir : "tests/data");
	test_damage(p);
	return done_testing();
}
