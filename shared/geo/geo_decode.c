/*  SPDX-License-Identifier: GPL-3.0-or-later */
/*  The MaxMind DB data format, as far as a city or ASN record needs it
 *  (maxmind.github.io/MaxMind-DB, "Output Data Section"): each item is a
 *  control byte (type in the top 3 bits, 0 = extended: next byte + 7; size
 *  in the low 5, 29..31 = 1..3 more size bytes), then its payload; a
 *  pointer's bits give an offset into the data section, followed once
 *  (a pointer to a pointer is invalid). Every read is checked against the
 *  section's size. A city record is some 45 items, so the item header is
 *  decoded inline, without a struct per item. */
#include <string.h>

#include "geo_decode.h"

enum gd_type {
	GD_BAD = 0,
	GD_POINTER = 1,
	GD_UTF8 = 2,
	GD_DOUBLE = 3,
	GD_BYTES = 4,
	GD_UINT16 = 5,
	GD_UINT32 = 6,
	GD_MAP = 7,
	GD_INT32 = 8,
	GD_UINT64 = 9,
	GD_UINT128 = 10,
	GD_ARRAY = 11,
	GD_CONTAINER = 12,
	GD_END = 13,
	GD_BOOL = 14,
	GD_FLOAT = 15,
};

typedef struct {
	const uint8_t *p;
	uint32_t n; /* data section size */
} gd_t;

/* A decoded value: its type, size (payload bytes, entries of a map or
 * array, a boolean's value) and the offset of its payload. */
typedef struct {
	unsigned type;
	uint32_t size;
	uint32_t data;
	bool ptr; /* reached through a pointer */
} gd_val_t;

/* The header of the item at *off; *off moves to its payload. A pointer's
 * target offset is returned in *size. GD_BAD: truncated or malformed.
 * Inlined everywhere: a record is some 30 of these. */
#define GD_INLINE static inline __attribute__((always_inline))
GD_INLINE unsigned gd_head(const gd_t *d, uint32_t *off, uint32_t *size)
{
	uint32_t o = *off;
	if (o >= d->n) {
		return GD_BAD;
	}
	uint8_t c = d->p[o++];
	unsigned t = c >> 5;
	if (t == GD_POINTER) {
		unsigned ss = (c >> 3) & 3;
		if (ss + 1 > d->n - o) {
			return GD_BAD;
		}
		const uint8_t *b = d->p + o;
		uint32_t v = c & 7, ptr;
		switch (ss) {
		case 0: ptr = v << 8 | b[0]; break;
		case 1: ptr = 2048u + (v << 16 | (uint32_t)b[0] << 8 | b[1]); break;
		case 2:
			ptr = 526336u +
			      (v << 24 | (uint32_t)b[0] << 16 | (uint32_t)b[1] << 8 | b[2]);
			break;
		default:
			ptr = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 |
			      b[3];
			break;
		}
		*off = o + ss + 1;
		*size = ptr;
		return ptr < d->n ? GD_POINTER : GD_BAD;
	}
	if (t == 0) {
		if (o >= d->n) {
			return GD_BAD;
		}
		t = 7u + d->p[o++]; /* as libmaxminddb: 7 (a map) included */
		if (t > GD_FLOAT) {
			return GD_BAD;
		}
	}
	uint32_t sz = c & 0x1f;
	if (sz >= 29) {
		unsigned k = sz - 28;
		if (k > d->n - o) {
			return GD_BAD;
		}
		uint32_t v = 0;
		for (unsigned i = 0; i < k; i++) {
			v = v << 8 | d->p[o + i];
		}
		o += k;
		sz = k == 1 ? 29 + v : k == 2 ? 285 + v : 65821 + v;
	}
	*off = o;
	*size = sz;
	return t;
}

/* Whether a scalar of type t and size sz is well formed and in bounds at
 * off (libmaxminddb's size rules). */
GD_INLINE bool gd_scalar_ok(const gd_t *d, unsigned t, uint32_t sz, uint32_t off)
{
	switch (t) {
	case GD_MAP:
	case GD_ARRAY: return true;
	case GD_BOOL: return sz <= 1;
	case GD_CONTAINER:
	case GD_END:
	case GD_BAD: return false;
	case GD_DOUBLE:
		if (sz != 8)
			return false;
		break;
	case GD_FLOAT:
		if (sz != 4)
			return false;
		break;
	case GD_UINT16:
		if (sz > 2)
			return false;
		break;
	case GD_UINT32:
	case GD_INT32:
		if (sz > 4)
			return false;
		break;
	case GD_UINT64:
		if (sz > 8)
			return false;
		break;
	case GD_UINT128:
		if (sz > 16)
			return false;
		break;
	default: break;
	}
	return sz <= d->n - off;
}

/* The value at *off, a pointer followed once; *off moves past the item
 * (for a pointer: past the pointer; for a container: to its first entry;
 * for a scalar: past its payload). */
GD_INLINE bool gd_value(const gd_t *d, uint32_t *off, gd_val_t *v)
{
	uint32_t sz;
	unsigned t = gd_head(d, off, &sz);
	uint32_t at = *off;
	v->ptr = t == GD_POINTER;
	if (t == GD_POINTER) {
		at = sz;
		t = gd_head(d, &at, &sz);
		if (t == GD_POINTER) {
			return false; /* a pointer to a pointer */
		}
	}
	if (!gd_scalar_ok(d, t, sz, at)) {
		return false;
	}
	if (t != GD_MAP && t != GD_ARRAY && t != GD_BOOL && !v->ptr) {
		*off = at + sz; /* an inline scalar: past its payload */
	}
	v->type = t;
	v->size = sz;
	v->data = at;
	return true;
}

/* Past n items from *off (pointers are not followed). One counter instead
 * of recursion: a container adds its entries to it. */
static bool gd_skip(const gd_t *d, uint32_t *off, uint64_t n)
{
	uint32_t o = *off;
	while (n > 0) {
		uint32_t sz;
		unsigned t = gd_head(d, &o, &sz);
		n--;
		switch (t) {
		case GD_POINTER:
		case GD_BOOL:
			if (t == GD_BOOL && sz > 1) {
				return false;
			}
			break;
		case GD_MAP: n += 2 * (uint64_t)sz; break;
		case GD_ARRAY: n += sz; break;
		default:
			if (!gd_scalar_ok(d, t, sz, o)) {
				return false;
			}
			o += sz;
			break;
		}
		if (n > d->n - (o < d->n ? o : d->n)) {
			return false; /* more entries than bytes left: malformed */
		}
	}
	*off = o;
	return true;
}

/* A map key at *off: a string (or a pointer to one). */
GD_INLINE bool gd_key(const gd_t *d, uint32_t *off, const char **key, uint32_t *len)
{
	gd_val_t v;
	if (!gd_value(d, off, &v) || v.type != GD_UTF8) {
		return false;
	}
	*key = (const char *)d->p + v.data;
	*len = v.size;
	return true;
}

/* A key against a literal: the length first, then a constant-size compare
 * the compiler inlines. */
#define GD_KEY_IS(key, len, lit) \
	((len) == sizeof(lit) - 1 && memcmp((key), (lit), sizeof(lit) - 1) == 0)

/* The value of the first entry of map `m` whose key is `want` (wlen bytes). */
static bool gd_find(const gd_t *d, const gd_val_t *m, const char *want, uint32_t wlen,
                    gd_val_t *out)
{
	if (m->type != GD_MAP) {
		return false;
	}
	uint32_t off = m->data;
	for (uint32_t i = 0; i < m->size; i++) {
		const char *key;
		uint32_t klen;
		if (!gd_key(d, &off, &key, &klen)) {
			return false;
		}
		if (klen == wlen && memcmp(key, want, wlen) == 0) {
			return gd_value(d, &off, out);
		}
		if (!gd_skip(d, &off, 1)) {
			return false;
		}
	}
	return false;
}

#define GD_FIND(d, m, lit, out) gd_find((d), (m), (lit), sizeof(lit) - 1, (out))

/* As geo.c's copy of a code: 1..max ASCII letters or digits, else unknown. */
static void gd_code(const gd_t *d, const gd_val_t *v, char *dst, size_t max)
{
	dst[0] = '\0';
	if (v->type != GD_UTF8 || v->size == 0 || v->size > max) {
		return;
	}
	const char *s = (const char *)d->p + v->data;
	for (uint32_t i = 0; i < v->size; i++) {
		char c = s[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) {
			return;
		}
	}
	memcpy(dst, s, v->size);
	dst[v->size] = '\0';
}

/* A big-endian unsigned payload of up to 8 bytes (gd_value() checked its
 * size against the section). */
static uint64_t gd_uint(const gd_t *d, const gd_val_t *v)
{
	uint32_t n = v->size < 8 ? v->size : 8;
	uint8_t b[8] = { 0 };
	memcpy(b + 8 - n, d->p + v->data, n);
	uint64_t x;
	memcpy(&x, b, sizeof(x));
	return __builtin_bswap64(x);
}

static bool gd_double(const gd_t *d, const gd_val_t *v, double *out)
{
	uint64_t bits = gd_uint(d, v);
	if (v->type == GD_DOUBLE) {
		memcpy(out, &bits, sizeof(*out));
		return true;
	}
	if (v->type == GD_FLOAT) {
		uint32_t b32 = (uint32_t)bits;
		float f;
		memcpy(&f, &b32, sizeof(f));
		*out = f;
		return true;
	}
	return false;
}

static bool gd_open(const MMDB_entry_s *entry, gd_t *d, gd_val_t *top)
{
	d->p = entry->mmdb->data_section;
	d->n = entry->mmdb->data_section_size;
	uint32_t off = entry->offset;
	return d->p != NULL && gd_value(d, &off, top) && top->type == GD_MAP;
}

/* The keys a city record is read by; one id per string, so a key pointer
 * is classified once per database and thread (geo_memo_t). */
enum gd_key_id {
	GD_K_OTHER = 0,
	GD_K_CONTINENT,
	GD_K_COUNTRY,
	GD_K_SUBDIVISIONS,
	GD_K_LOCATION,
	GD_K_LATITUDE,
	GD_K_LONGITUDE,
};

/* What a memo entry holds. */
enum gd_memo_what { GD_M_KEY = 1, GD_M_CONT, GD_M_COUNTRY, GD_M_SUBDIV };

static unsigned gd_classify(const char *key, uint32_t klen)
{
	switch (klen) {
	case 7: return GD_KEY_IS(key, klen, "country") ? GD_K_COUNTRY : GD_K_OTHER;
	case 8:
		return GD_KEY_IS(key, klen, "location")   ? GD_K_LOCATION
		       : GD_KEY_IS(key, klen, "latitude") ? GD_K_LATITUDE
		                                          : GD_K_OTHER;
	case 9:
		return GD_KEY_IS(key, klen, "continent")   ? GD_K_CONTINENT
		       : GD_KEY_IS(key, klen, "longitude") ? GD_K_LONGITUDE
		                                           : GD_K_OTHER;
	case 12: return GD_KEY_IS(key, klen, "subdivisions") ? GD_K_SUBDIVISIONS : GD_K_OTHER;
	default: return GD_K_OTHER;
	}
}

typedef struct {
	const gd_t *d;
	geo_memo_t *memo; /* NULL: no memo */
	uint64_t db;
} gd_ctx_t;

static geo_memo_t *gd_memo(const gd_ctx_t *x, uint32_t off, unsigned what)
{
	uint32_t h = (off * 2654435761u) ^ (what * 0x9e3779b9u);
	return &x->memo[(h >> 16) & (GEO_MEMO_SLOTS - 1)];
}

/* The id of the map key at *off (moved past it); false: not a string. */
static bool gd_key_id(const gd_ctx_t *x, uint32_t *off, unsigned *id)
{
	uint32_t o = *off, target = 0;
	if (x->memo != NULL && gd_head(x->d, &o, &target) == GD_POINTER) {
		geo_memo_t *m = gd_memo(x, target, GD_M_KEY);
		if (m->db_id == x->db && m->off == target && m->what == GD_M_KEY) {
			*off = o;
			*id = (uint8_t)m->code[0];
			return true;
		}
		const char *key;
		uint32_t klen;
		if (!gd_key(x->d, off, &key, &klen)) {
			return false;
		}
		*id = gd_classify(key, klen);
		*m = (geo_memo_t){
			.db_id = x->db, .off = target, .what = GD_M_KEY, .code = { (char)*id }
		};
		return true;
	}
	const char *key;
	uint32_t klen;
	if (!gd_key(x->d, off, &key, &klen)) {
		return false;
	}
	*id = gd_classify(key, klen);
	return true;
}

/* What the city walk found; applied to geo_info_t as geo.c always did. */
typedef struct {
	char cont[3], country[3], sub[4]; /* codes as gd_code() copies them */
	gd_val_t lat, lon;
	bool has_cont, has_country, has_subdiv, has_lat, has_lon;
} gd_city_t;

/* Both coordinates in one pass over the location map. Returns the offset
 * after the map when it walked all of it (an inline map need not be
 * skipped again), else 0. */
static uint32_t gd_location(const gd_ctx_t *x, const gd_val_t *m, gd_city_t *c)
{
	uint32_t off = m->data;
	for (uint32_t i = 0; i < m->size; i++) {
		unsigned id;
		if (!gd_key_id(x, &off, &id)) {
			return 0;
		}
		uint32_t voff = off;
		if (!c->has_lat && id == GD_K_LATITUDE) {
			c->has_lat = gd_value(x->d, &voff, &c->lat);
		} else if (!c->has_lon && id == GD_K_LONGITUDE) {
			c->has_lon = gd_value(x->d, &voff, &c->lon);
		}
		if (!gd_skip(x->d, &off, 1)) {
			return 0;
		}
	}
	return off;
}

/* The code of a continent, country or subdivisions value v: whether the
 * path (code / iso_code / 0, iso_code) exists, and the code it yields. */
static bool gd_code_of(const gd_t *d, unsigned which, const gd_val_t *v, char *code)
{
	gd_val_t x, first;
	uint32_t foff = v->data;
	switch (which) {
	case GD_K_CONTINENT:
		if (!GD_FIND(d, v, "code", &x)) {
			return false;
		}
		gd_code(d, &x, code, 2);
		return true;
	case GD_K_COUNTRY:
		if (!GD_FIND(d, v, "iso_code", &x)) {
			return false;
		}
		gd_code(d, &x, code, 2);
		return true;
	default:
		if (v->type != GD_ARRAY || v->size == 0 || !gd_value(d, &foff, &first) ||
		    !GD_FIND(d, &first, "iso_code", &x)) {
			return false;
		}
		gd_code(d, &x, code, 3);
		return true;
	}
}

/* A continent / country / subdivisions value at *off, through the memo
 * when it is a pointer (the maps records share). *off moves past it. */
static bool gd_code_value(const gd_ctx_t *x, unsigned which, uint32_t *off, bool *found, char *code)
{
	static const uint8_t what[] = { [GD_K_CONTINENT] = GD_M_CONT,
		                        [GD_K_COUNTRY] = GD_M_COUNTRY,
		                        [GD_K_SUBDIVISIONS] = GD_M_SUBDIV };
	uint32_t o = *off, target = 0;
	geo_memo_t *m = NULL;
	if (x->memo != NULL && gd_head(x->d, &o, &target) == GD_POINTER) {
		m = gd_memo(x, target, what[which]);
		if (m->db_id == x->db && m->off == target && m->what == what[which]) {
			*off = o;
			*found = m->code[3] != 0; /* the path exists */
			memcpy(code, m->code, 3);
			code[3] = '\0';
			return true;
		}
	}
	uint32_t voff = *off;
	gd_val_t v;
	if (!gd_value(x->d, &voff, &v)) {
		return false;
	}
	char c[4] = "";
	*found = gd_code_of(x->d, which, &v, c);
	memcpy(code, c, 4);
	if (m != NULL) {
		*m = (geo_memo_t){ .db_id = x->db, .off = target, .what = what[which] };
		memcpy(m->code, c, 3);
		m->code[3] = *found ? 1 : 0;
	}
	return gd_skip(x->d, off, 1);
}

/* The value at *off of a top-level key we want; *off moves past it. */
static bool gd_city_entry(const gd_ctx_t *x, unsigned which, uint32_t *off, gd_city_t *c)
{
	switch (which) {
	case GD_K_CONTINENT: return gd_code_value(x, which, off, &c->has_cont, c->cont);
	case GD_K_COUNTRY: return gd_code_value(x, which, off, &c->has_country, c->country);
	case GD_K_SUBDIVISIONS: return gd_code_value(x, which, off, &c->has_subdiv, c->sub);
	default: {
		uint32_t voff = *off;
		gd_val_t v;
		if (!gd_value(x->d, &voff, &v)) {
			return false;
		}
		if (v.type == GD_MAP) {
			uint32_t end = gd_location(x, &v, c);
			if (!v.ptr && end != 0) {
				*off = end; /* walked whole: no second pass to skip it */
				return true;
			}
		}
		return gd_skip(x->d, off, 1);
	}
	}
}

void geo_decode_city(const MMDB_entry_s *entry, geo_info_t *info, geo_memo_t *memo, uint64_t db_id)
{
	gd_t d;
	gd_val_t top;
	gd_city_t c = { .has_cont = false };
	gd_ctx_t x = { .d = &d, .memo = db_id != 0 ? memo : NULL, .db = db_id };
	if (gd_open(entry, &d, &top)) {
		/* One pass over the top map: the first occurrence of each key
		 * counts, as for MMDB_aget_value(). */
		unsigned seen = 0;
		uint32_t off = top.data;
		for (uint32_t i = 0; i < top.size && seen != 0x1e; i++) {
			unsigned id;
			if (!gd_key_id(&x, &off, &id)) {
				break;
			}
			bool ok;
			if (id >= GD_K_CONTINENT && id <= GD_K_LOCATION && !(seen & (1u << id))) {
				seen |= 1u << id;
				ok = gd_city_entry(&x, id, &off, &c);
			} else {
				ok = gd_skip(&d, &off, 1);
			}
			if (!ok) {
				break;
			}
		}
	}
	if (c.has_cont) {
		memcpy(info->continent, c.cont, sizeof(info->continent));
	}
	if (c.has_country) {
		memcpy(info->country, c.country, sizeof(info->country));
	}
	/* MaxMind stores only the part after "CC-" (e.g. "HE"); callers match
	 * full ISO 3166-2 codes, so rebuild "DE-HE". Without a country the code
	 * is meaningless and stays unknown. */
	if (info->country[0] != '\0' && c.has_subdiv && c.sub[0] != '\0') {
		/* "CC-SSS": the country is 1..2 characters, the code 1..3. */
		size_t n = strlen(info->country), m = strlen(c.sub);
		memcpy(info->subdivision, info->country, n);
		info->subdivision[n] = '-';
		memcpy(info->subdivision + n + 1, c.sub, m + 1);
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
	gd_val_t top, v;
	if (!gd_open(entry, &d, &top) || !GD_FIND(&d, &top, "autonomous_system_number", &v)) {
		return false;
	}
	uint64_t x = gd_uint(&d, &v);
	switch (v.type) {
	case GD_UINT16:
	case GD_UINT32: *asn = (uint32_t)x; return true;
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
	default: return false;
	}
}
