/*  SPDX-License-Identifier: GPL-3.0-or-later */
/*  The search tree walk of MMDB_lookup_sockaddr(), with the record size
 *  decided once per lookup instead of an indirect call per bit: the walk
 *  is a quarter of a cold lookup's cost. Same result, same errors, bit for
 *  bit (tests/unit/test_geo_decode.c compares them on every record size). */
#include <string.h>
#include <sys/socket.h>

#include "geo_decode.h"

#define MMDB_SEPARATOR 16u /* between the tree and the data section */

static inline uint32_t be24(const uint8_t *p)
{
	return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
}

static inline uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* One walk for one record size; LEFT and RIGHT read a node's two records. */
#define GEO_WALK(LEN, LEFT, RIGHT)                                                 \
	for (; bit < depth && value < nodes; bit++) {                              \
		if ((size_t)value * (LEN) + (LEN) > tree_size) {                   \
			return MMDB_CORRUPT_SEARCH_TREE_ERROR;                     \
		}                                                                  \
		const uint8_t *p = tree + (size_t)value * (LEN);                   \
		value = ((a[bit >> 3] >> (7 - (bit & 7))) & 1) ? (RIGHT) : (LEFT); \
	}

int geo_tree_find(const MMDB_s *db, int family, const uint8_t *addr, MMDB_lookup_result_s *res)
{
	res->found_entry = false;
	res->netmask = 0;
	res->entry.mmdb = db;
	res->entry.offset = 0;
	uint8_t mapped[16];
	const uint8_t *a = addr;
	if (db->metadata.ip_version == 4) {
		if (family == AF_INET6) {
			return MMDB_IPV6_LOOKUP_IN_IPV4_DATABASE_ERROR;
		}
	} else if (family == AF_INET) {
		memset(mapped, 0, 12);
		memcpy(mapped + 12, addr, 4);
		a = mapped;
	}
	uint32_t value = 0, nodes = db->metadata.node_count;
	uint16_t bit = 0, depth = db->depth;
	if (db->metadata.ip_version == 6 && family == AF_INET) {
		value = db->ipv4_start_node.node_value;
		bit = db->ipv4_start_node.netmask;
	}
	const uint8_t *tree = db->file_content;
	size_t tree_size = (size_t)(db->data_section - tree); /* as libmaxminddb's bound */
	switch (db->full_record_byte_size) {
	case 6: GEO_WALK(6, be24(p), be24(p + 3)) break;
	case 7:
		GEO_WALK(7, be24(p) | (uint32_t)(p[3] & 0xf0) << 20, be32(p + 3) & 0xfffffffu)
		break;
	case 8: GEO_WALK(8, be32(p), be32(p + 4)) break;
	default: return MMDB_UNKNOWN_DATABASE_FORMAT_ERROR;
	}
	res->netmask = bit;
	if (value >= nodes + db->data_section_size) {
		return MMDB_CORRUPT_SEARCH_TREE_ERROR; /* points off the end */
	}
	if (value == nodes) {
		return MMDB_SUCCESS; /* an empty record */
	}
	res->found_entry = true;
	res->entry.offset = value - nodes - MMDB_SEPARATOR;
	return MMDB_SUCCESS;
}
