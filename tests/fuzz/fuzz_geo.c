/*  SPDX-License-Identifier: GPL-3.0-or-later */
/* Fuzz target: the geo lookup the module does per query (shared/geo/:
 * geo_lookup_cached() over a search tree walk and the decoding of the
 * record it reaches) on an mmdb whose search tree and data section come
 * from the input. The metadata is written here and always valid, so every
 * input reaches the tree walk and the record decoder instead of stopping
 * at MMDB_open(). Only the geo API is called (geo_open, geo_lookup,
 * geo_lookup_cached, geo_close): the target survives any rewrite of the
 * decoder behind it.
 *
 * Input (missing bytes read as zero):
 *   byte 0   bit 0: IPv6 tree (else IPv4); bits 1-2: record size 24, 28,
 *            32 (3: 24); bit 3: the same file is also the ASN database
 *   byte 1   node count - 1 (low 3 bits: 1..8 nodes)
 *   then     2 x node count big-endian u16: each record of the tree, taken
 *            modulo (node count + 2 + data length): a node, "empty"
 *            (node count), an invalid pointer into the 16-byte separator,
 *            or an offset into the data section
 *   rest     the data section (MaxMind DB data format)
 *
 * Checked beyond "no crash, no leak, no UB": geo_lookup() and
 * geo_lookup_cached() agree on every address, with a cold and a warm
 * cache; prefixes fit the family; codes are short alphanumeric strings;
 * a location is in range and has its unit vector; a failed open says why.
 *
 * The mmdb is handed to libmaxminddb as /proc/self/fd/N of a memfd: memory,
 * not a file on disk. */
#include <arpa/inet.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "errors.h"
#include "fuzz.h"
#include "geo.h"

#define MAX_NODES 8

/* ---- writing the mmdb ---- */

typedef struct {
	uint8_t *p;
	size_t n, cap;
} buf_t;

static void put(buf_t *b, const void *data, size_t len)
{
	if (b->n + len > b->cap) {
		size_t cap = (b->n + len) * 2;
		uint8_t *p = realloc(b->p, cap);
		if (p == NULL) {
			abort();
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->n, data, len);
	b->n += len;
}

static void put_byte(buf_t *b, uint8_t v)
{
	put(b, &v, 1);
}

/* Data format items: control byte with type (3 bits) and size (5 bits);
 * types past 7 are "extended" (type 0, next byte = type - 7). */
static void put_ctrl(buf_t *b, unsigned type, unsigned size)
{
	if (type <= 7) {
		put_byte(b, (uint8_t)(type << 5 | size));
	} else {
		put_byte(b, (uint8_t)size);
		put_byte(b, (uint8_t)(type - 7));
	}
}

static void put_str(buf_t *b, const char *s)
{
	put_ctrl(b, 2, (unsigned)strlen(s));
	put(b, s, strlen(s));
}

static void put_uint(buf_t *b, unsigned type, uint64_t v, unsigned bytes)
{
	put_ctrl(b, type, bytes);
	for (unsigned i = bytes; i-- > 0;) {
		put_byte(b, (uint8_t)(v >> (8 * i)));
	}
}

static void put_metadata(buf_t *b, unsigned nodes, unsigned record_size, unsigned ip_version)
{
	static const uint8_t marker[] = "\xab\xcd\xefMaxMind.com";
	put(b, marker, sizeof(marker) - 1);
	put_ctrl(b, 7, 9); /* a map of 9 */
	put_str(b, "node_count");
	put_uint(b, 6, nodes, 4);
	put_str(b, "record_size");
	put_uint(b, 5, record_size, 2);
	put_str(b, "ip_version");
	put_uint(b, 5, ip_version, 2);
	put_str(b, "database_type");
	put_str(b, "GeoIP2-City");
	put_str(b, "languages");
	put_ctrl(b, 11, 1); /* an array of 1 */
	put_str(b, "en");
	put_str(b, "binary_format_major_version");
	put_uint(b, 5, 2, 2);
	put_str(b, "binary_format_minor_version");
	put_uint(b, 5, 0, 2);
	put_str(b, "build_epoch");
	put_uint(b, 9, 1700000000, 8);
	put_str(b, "description");
	put_ctrl(b, 7, 0);
}

static void put_node(buf_t *b, unsigned record_size, uint32_t left, uint32_t right)
{
	uint8_t n[8];
	switch (record_size) {
	case 24:
		n[0] = (uint8_t)(left >> 16);
		n[1] = (uint8_t)(left >> 8);
		n[2] = (uint8_t)left;
		n[3] = (uint8_t)(right >> 16);
		n[4] = (uint8_t)(right >> 8);
		n[5] = (uint8_t)right;
		put(b, n, 6);
		break;
	case 28:
		n[0] = (uint8_t)(left >> 16);
		n[1] = (uint8_t)(left >> 8);
		n[2] = (uint8_t)left;
		n[3] = (uint8_t)(((left >> 24) & 0x0f) << 4 | ((right >> 24) & 0x0f));
		n[4] = (uint8_t)(right >> 16);
		n[5] = (uint8_t)(right >> 8);
		n[6] = (uint8_t)right;
		put(b, n, 7);
		break;
	default:
		for (int i = 0; i < 4; i++) {
			n[i] = (uint8_t)(left >> (24 - 8 * i));
			n[4 + i] = (uint8_t)(right >> (24 - 8 * i));
		}
		put(b, n, 8);
	}
}

static uint8_t in_byte(const uint8_t *data, size_t size, size_t i)
{
	return i < size ? data[i] : 0;
}

/* The whole file from the input; *asn says whether it is the ASN db too. */
static void build(const uint8_t *data, size_t size, buf_t *out, bool *asn)
{
	uint8_t flags = in_byte(data, size, 0);
	unsigned ip_version = (flags & 1) ? 6 : 4;
	static const unsigned sizes[4] = { 24, 28, 32, 24 };
	unsigned record_size = sizes[(flags >> 1) & 3];
	*asn = (flags & 8) != 0;
	unsigned nodes = 1 + (in_byte(data, size, 1) & (MAX_NODES - 1));
	size_t hdr = 2 + 4 * (size_t)nodes;
	const uint8_t *sect = size > hdr ? data + hdr : NULL;
	size_t sect_len = size > hdr ? size - hdr : 0;
	uint64_t span = nodes + 2 + sect_len;
	for (unsigned i = 0; i < nodes; i++) {
		uint32_t rec[2];
		for (unsigned k = 0; k < 2; k++) {
			size_t at = 2 + 4 * (size_t)i + 2 * k;
			uint64_t v = ((uint64_t)in_byte(data, size, at) << 8 |
			              in_byte(data, size, at + 1)) %
			             span;
			/* node < nodes, nodes = empty, nodes + 1 = into the
			 * separator (invalid), else data offset v - nodes - 2 */
			rec[k] = v <= nodes + 1u ? (uint32_t)v
			                         : (uint32_t)(nodes + 16 + (v - nodes - 2));
		}
		put_node(out, record_size, rec[0], rec[1]);
	}
	static const uint8_t sep[16];
	put(out, sep, sizeof(sep));
	if (sect_len > 0) {
		put(out, sect, sect_len);
	}
	put_metadata(out, nodes, record_size, ip_version);
}

/* ---- checking what the lookups return ---- */

static void check_code(const char *s, size_t cap)
{
	size_t n = strnlen(s, cap);
	if (n == cap) {
		abort(); /* not terminated */
	}
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		          (c >= '0' && c <= '9') || (c == '-' && cap == 8);
		if (!ok) {
			abort();
		}
	}
}

static void check_info(const geo_info_t *g, int family)
{
	unsigned max = family == AF_INET ? 32 : 128;
	if (g->prefix_len > max || g->asn_prefix_len > max) {
		abort();
	}
	check_code(g->continent, sizeof(g->continent));
	check_code(g->country, sizeof(g->country));
	check_code(g->subdivision, sizeof(g->subdivision));
	if (!g->found &&
	    (g->continent[0] || g->country[0] || g->subdivision[0] || g->has_location)) {
		abort();
	}
	if (g->subdivision[0] != '\0' &&
	    (g->country[0] == '\0' ||
	     strncmp(g->subdivision, g->country, strlen(g->country)) != 0)) {
		abort(); /* "CC-SSS" of its own country */
	}
	if (g->has_location && (!(g->lat >= -90.0 && g->lat <= 90.0) ||
	                        !(g->lon >= -180.0 && g->lon <= 180.0) || !g->has_xyz)) {
		abort();
	}
	if (!g->has_asn && g->asn != 0) {
		abort();
	}
}

static bool same_info(const geo_info_t *a, const geo_info_t *b)
{
	return a->found == b->found && strcmp(a->continent, b->continent) == 0 &&
	       strcmp(a->country, b->country) == 0 && strcmp(a->subdivision, b->subdivision) == 0 &&
	       a->has_location == b->has_location &&
	       (!a->has_location ||
	        (memcmp(&a->lat, &b->lat, sizeof(a->lat)) == 0 &&
	         memcmp(&a->lon, &b->lon, sizeof(a->lon)) == 0 && a->has_xyz == b->has_xyz &&
	         memcmp(&a->x, &b->x, sizeof(a->x)) == 0 &&
	         memcmp(&a->y, &b->y, sizeof(a->y)) == 0 &&
	         memcmp(&a->z, &b->z, sizeof(a->z)) == 0)) &&
	       a->has_asn == b->has_asn && a->asn == b->asn && a->prefix_len == b->prefix_len &&
	       a->asn_prefix_len == b->asn_prefix_len;
}

/* Addresses down both halves of every level the small trees have, and the
 * IPv4 ones through an IPv6 tree's ::/96 (and ::ffff:0:0/96). */
static const char *const ADDRS[] = {
	"0.0.0.0",
	"10.1.2.3",
	"64.0.0.1",
	"128.0.0.1",
	"192.168.1.1",
	"255.255.255.255",
	"::",
	"::1",
	"::ffff:10.1.2.3",
	"2001:db8::1",
	"4000::",
	"8000::1",
	"c000::1",
	"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
};
#define N_ADDRS (sizeof(ADDRS) / sizeof(ADDRS[0]))

static int families[N_ADDRS];
static uint8_t addrs[N_ADDRS][16];
static geo_cache_t *cache;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	for (size_t i = 0; i < N_ADDRS; i++) {
		if (geo_parse_addr(ADDRS[i], &families[i], addrs[i]) != HG_EOK) {
			return -1;
		}
	}
	cache = malloc(sizeof(*cache));
	return cache != NULL ? 0 : -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	buf_t file = { 0 };
	bool asn = false;
	build(data, size, &file, &asn);
	int fd = memfd_create("fuzz-mmdb", MFD_CLOEXEC);
	if (fd < 0 || write(fd, file.p, file.n) != (ssize_t)file.n) {
		abort();
	}
	free(file.p);
	char path[64], err[512];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	geo_db_t *geo = NULL;
	int ret = geo_open(path, asn ? path : NULL, &geo, err, sizeof(err));
	close(fd); /* libmaxminddb keeps its own map */
	if (ret != HG_EOK) {
		if (geo != NULL || err[0] == '\0') {
			abort();
		}
		return 0;
	}
	/* A fresh cache per input: nothing carries over to the next one. */
	memset(cache, 0, sizeof(*cache));
	for (unsigned round = 0; round < 2; round++) { /* cold, then warm */
		for (size_t i = 0; i < N_ADDRS; i++) {
			geo_info_t plain, cached;
			int r1 = geo_lookup(geo, families[i], addrs[i], &plain);
			int r2 = geo_lookup_cached(geo, cache, families[i], addrs[i], &cached);
			if (r1 != r2 || (r1 != HG_EOK && r1 != HG_EGEO)) {
				abort();
			}
			if (r1 == HG_EOK) {
				check_info(&plain, families[i]);
				if (!same_info(&plain, &cached)) {
					abort();
				}
			}
		}
	}
	geo_close(geo);
	return 0;
}
