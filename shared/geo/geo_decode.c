/*  SPDX-License-Identifier: GPL-3.0-or-later */
/*  The MaxMind DB data format, as far as a city or ASN record needs it
 *  (maxmind.github.io/MaxMind-DB, "Output Data Section"): each item is a
 *  control byte (type in the top 3 bits, 0 = extended: next byte + 7; size
 *  in the low 5, 29..31 = 1..3 more size bytes), then its payload; a
 *  pointer's bits give an offset into the data section, followed once
 *  (a pointer to a pointer is invalid). Every read is checked against the
 *  section's size. */
#include <stdio.h>
#include <string.h>

#include "geo_decode.h"

enum gd_type {
	GD_POINTER = 1, GD_UTF8 = 2, GD_DOUBLE = 3, GD_BYTES = 4, GD_UINT16 = 5, GD_UINT32 = 6,
	GD_MAP = 7, GD_INT32 = 8, GD_UINT64 = 9, GD_UINT128 = 10, GD_ARRAY = 11,
	GD_CONTAINER = 12, GD_END = 13, GD_BOOL = 14, GD_FLOAT = 15,
};

typedef struct {
	const uint8_t *base;
	uint32_t size;
} gd_t;

/* One item: its type, its size (bytes of payload, or entries of a map or
 * array, or a boolean's value) and where its payload starts. */
typedef struct {
	uint8_t type;
	uint32_t size;
	uint32_t data;
} gd_item_t;

static bool gd_bytes(const gd_t *d, uint32_t off, uint32_t n)
{
	return off <= d->size && n <= d->size - off;
}

/* The item at off, without following a pointer; *next: the offset after its
 * control bytes and, for scalars, its payload (containers: their first
 * entry). A pointer's target is in it->data. */
static bool gd_item(const gd_t *d, uint32_t off, gd_item_t *it, uint32_t *next)
{
	if (!gd_bytes(d, off, 1)) {
		return false;
	}
	const uint8_t *p = d->base;
	uint8_t ctrl = p[off++];
	unsigned type = ctrl >> 5;
	if (type == GD_POINTER) {
		unsigned ss = (ctrl >> 3) & 3, v = ctrl & 7;
		if (!gd_bytes(d, off, ss + 1)) {
			return false;
		}
		uint32_t ptr;
		switch (ss) {
		case 0: ptr = (uint32_t)v << 8 | p[off]; break;
		case 1: ptr = 2048u + ((uint32_t)v << 16 | (uint32_t)p[off] << 8 | p[off + 1]); break;
		case 2: ptr = 526336u + ((uint32_t)v << 24 | (uint32_t)p[off] << 16 |
		                         (uint32_t)p[off + 1] << 8 | p[off + 2]); break;
		default: ptr = (uint32_t)p[off] << 24 | (uint32_t)p[off + 1] << 16 |
		               (uint32_t)p[off + 2] << 8 | p[off + 3]; break;
		}
		it->type = GD_POINTER;
		it->size = 0;
		it->data = ptr;
		*next = off + ss + 1;
		return ptr < d->size;
	}
	if (type == 0) {
		if (!gd_bytes(d, off, 1)) {
			return false;
		}
		type = 7u + p[off++];   /* as libmaxminddb: 7 (a map) included */
		if (type > GD_FLOAT) {
			return false;
		}
	}
	uint32_t size = ctrl & 0x1f;
	if (size >= 29) {
		unsigned n = size - 28;
		if (!gd_bytes(d, off, n)) {
			return false;
		}
		uint32_t v = 0;
		for (unsigned i = 0; i < n; i++) {
			v = v << 8 | p[off + i];
		}
		off += n;
		size = n == 1 ? 29 + v : n == 2 ? 285 + v : 65821 + v;
	}
	it->type = (uint8_t)type;
	it->size = size;
	it->data = off;
	switch (type) {
	case GD_MAP: case GD_ARRAY:
		*next = off;
		return true;
	case GD_BOOL:
		*next = off;
		return size <= 1;
	case GD_CONTAINER: case GD_END:
		return false;
	case GD_DOUBLE:
		if (size != 8) {
			return false;
		}
		break;
	case GD_FLOAT:
		if (size != 4) {
			return false;
		}
		break;
	case GD_UINT16: case GD_UINT32: case GD_INT32: case GD_UINT64: case GD_UINT128: {
		static const uint8_t max[] = { [GD_UINT16] = 2, [GD_UINT32] = 4, [GD_INT32] = 4,
		                               [GD_UINT64] = 8, [GD_UINT128] = 16 };
		if (size > max[type]) {
			return false;
		}
		break;
	}
	default:
		break;
	}
	if (!gd_bytes(d, off, size)) {
		return false;
	}
	*next = off + size;
	return true;
}

/* The item at off with a pointer followed (once). */
static bool gd_value(const gd_t *d, uint32_t off, gd_item_t *it, uint32_t *next)
{
	if (!gd_item(d, off, it, next)) {
		return false;
	}
	if (it->type != GD_POINTER) {
		return true;
	}
	uint32_t unused;
	return gd_item(d, it->data, it, &unused) && it->type != GD_POINTER;
}

/* Offset after n items starting at off (pointers are not followed). One
 * counter instead of recursion: a container adds its entries to it. */
static bool gd_skip(const gd_t *d, uint32_t off, uint64_t n, uint32_t *end)
{
	while (n > 0) {
		gd_item_t it;
		if (!gd_item(d, off, &it, &off)) {
			return false;
		}
		n--;
		if (it.type == GD_MAP) {
			n += 2 * (uint64_t)it.size;
		} else if (it.type == GD_ARRAY) {
			n += it.size;
		}
		if (n > d->size) {
			return false;   /* more entries than bytes left: malformed */
		}
	}
	*end = off;
	return true;
}

/* The key of a map entry at off: a string (or a pointer to one). */
static bool gd_key(const gd_t *d, uint32_t off, const char **key, uint32_t *len, uint32_t *next)
{
	gd_item_t it;
	if (!gd_value(d, off, &it, next) || it.type != GD_UTF8) {
		return false;
	}
	*key = (const char *)d->base + it.data;
	*len = it.size;
	return true;
}

static bool gd_key_is(const char *key, uint32_t len, const char *want)
{
	size_t n = strlen(want);
	return len == n && memcmp(key, want, n) == 0;
}

/* The value of the first entry of map `m` whose key is `want`. */
static bool gd_find(const gd_t *d, const gd_item_t *m, const char *want, gd_item_t *out)
{
	if (m->type != GD_MAP) {
		return false;
	}
	uint32_t off = m->data;
	for (uint32_t i = 0; i < m->size; i++) {
		const char *key;
		uint32_t klen, vnext;
		if (!gd_key(d, off, &key, &klen, &off)) {
			return false;
		}
		if (gd_key_is(key, klen, want)) {
			return gd_value(d, off, out, &vnext);
		}
		if (!gd_skip(d, off, 1, &off)) {
			return false;
		}
	}
	return false;
}

/* As geo.c's copy of a code: 1..max ASCII letters or digits, else unknown. */
static void gd_code(const gd_t *d, const gd_item_t *it, char *dst, size_t max)
{
	dst[0] = '\0';
	if (it->type != GD_UTF8 || it->size == 0 || it->size > max) {
		return;
	}
	const char *s = (const char *)d->base + it->data;
	for (uint32_t i = 0; i < it->size; i++) {
		char c = s[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) {
			return;
		}
	}
	memcpy(dst, s, it->size);
	dst[it->size] = '\0';
}

static uint64_t gd_uint(const gd_t *d, const gd_item_t *it)
{
	uint64_t v = 0;
	for (uint32_t i = 0; i < it->size && i < 8; i++) {
		v = v << 8 | d->base[it->data + i];
	}
	return v;
}

static bool gd_double(const gd_t *d, const gd_item_t *it, double *out)
{
	uint64_t bits = gd_uint(d, it);
	if (it->type == GD_DOUBLE) {
		memcpy(out, &bits, sizeof(*out));
		return true;
	}
	if (it->type == GD_FLOAT) {
		uint32_t b32 = (uint32_t)bits;
		float f;
		memcpy(&f, &b32, sizeof(f));
		*out = f;
		return true;
	}
	return false;
}

static bool gd_open(const MMDB_entry_s *entry, gd_t *d, gd_item_t *top)
{
	d->base = entry->mmdb->data_section;
	d->size = entry->mmdb->data_section_size;
	uint32_t next;
	return d->base != NULL && gd_value(d, entry->offset, top, &next) && top->type == GD_MAP;
}

/* What the city walk found; applied to geo_info_t as geo.c always did. */
typedef struct {
	gd_item_t cont, country, subdiv, lat, lon;
	bool has_cont, has_country, has_subdiv, has_lat, has_lon;
} gd_city_t;

static void gd_city_entry(const gd_t *d, const char *key, uint32_t klen, uint32_t voff,
                          gd_city_t *c)
{
	gd_item_t v, x;
	uint32_t next;
	if (gd_key_is(key, klen, "continent")) {
		if (gd_value(d, voff, &v, &next) && gd_find(d, &v, "code", &x)) {
			c->cont = x;
			c->has_cont = true;
		}
	} else if (gd_key_is(key, klen, "country")) {
		if (gd_value(d, voff, &v, &next) && gd_find(d, &v, "iso_code", &x)) {
			c->country = x;
			c->has_country = true;
		}
	} else if (gd_key_is(key, klen, "subdivisions")) {
		gd_item_t first;
		if (gd_value(d, voff, &v, &next) && v.type == GD_ARRAY && v.size > 0 &&
		    gd_value(d, v.data, &first, &next) && gd_find(d, &first, "iso_code", &x)) {
			c->subdiv = x;
			c->has_subdiv = true;
		}
	} else if (gd_key_is(key, klen, "location")) {
		if (gd_value(d, voff, &v, &next)) {
			c->has_lat = gd_find(d, &v, "latitude", &c->lat);
			c->has_lon = gd_find(d, &v, "longitude", &c->lon);
		}
	}
}

void geo_decode_city(const MMDB_entry_s *entry, geo_info_t *info)
{
	gd_t d;
	gd_item_t top;
	gd_city_t c = { 0 };
	if (gd_open(entry, &d, &top)) {
		/* One pass over the top map: the first occurrence of each key
		 * counts, as for MMDB_aget_value(). */
		bool seen[4] = { false };
		static const char *const keys[4] = { "continent", "country", "subdivisions", "location" };
		uint32_t off = top.data;
		for (uint32_t i = 0; i < top.size; i++) {
			const char *key;
			uint32_t klen;
			if (!gd_key(&d, off, &key, &klen, &off)) {
				break;
			}
			for (unsigned k = 0; k < 4; k++) {
				if (!seen[k] && gd_key_is(key, klen, keys[k])) {
					seen[k] = true;
					gd_city_entry(&d, key, klen, off, &c);
				}
			}
			if (!gd_skip(&d, off, 1, &off)) {
				break;
			}
		}
	}
	if (c.has_cont) {
		gd_code(&d, &c.cont, info->continent, sizeof(info->continent) - 1);
	}
	if (c.has_country) {
		gd_code(&d, &c.country, info->country, sizeof(info->country) - 1);
	}
	/* MaxMind stores only the part after "CC-" (e.g. "HE"); callers match
	 * full ISO 3166-2 codes, so rebuild "DE-HE". Without a country the code
	 * is meaningless and stays unknown. */
	char sub[4];
	if (info->country[0] != '\0' && c.has_subdiv) {
		gd_code(&d, &c.subdiv, sub, sizeof(sub) - 1);
		if (sub[0] != '\0') {
			snprintf(info->subdivision, sizeof(info->subdivision), "%s-%s", info->country, sub);
		}
	}
	double lat, lon;
	if (c.has_lat && c.has_lon && gd_double(&d, &c.lat, &lat) && gd_double(&d, &c.lon, &lon) &&
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

bool geo_decode_asn(const MMDB_entry_s *entry, uint32_t *asn)
{
	gd_t d;
	gd_item_t top, v;
	if (!gd_open(entry, &d, &top) || !gd_find(&d, &top, "autonomous_system_number", &v)) {
		return false;
	}
	uint64_t x = gd_uint(&d, &v);
	switch (v.type) {
	case GD_UINT16: case GD_UINT32:
		*asn = (uint32_t)x;
		return true;
	case GD_UINT64:
		if (x > UINT32_MAX) {
			return false;
		}
		*asn = (uint32_t)x;
		return true;
	case GD_INT32:
		/* libmaxminddb reads up to 4 bytes unsigned, then as int32. */
		if ((int32_t)(uint32_t)x < 0) {
			return false;
		}
		*asn = (uint32_t)x;
		return true;
	default:
		return false;
	}
}
