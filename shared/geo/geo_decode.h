/*  SPDX-License-Identifier: GPL-3.0-or-later */
/*!
 * \file
 * \brief Decoding an mmdb data record in one pass (private to libhg_geo and
 *        its tests).
 *
 * MMDB_aget_value() walks a record from its start for every path, so the
 * five fields of a city record cost five walks; MMDB_get_entry_data_list()
 * walks it once but allocates. These walk the record once, in place,
 * bounds-checked against the data section, without allocation or
 * recursion, and fill exactly what the MMDB_aget_value() paths
 * continent/code, country/iso_code, subdivisions/0/iso_code,
 * location/latitude, location/longitude and autonomous_system_number would
 * give (first occurrence of a key, as libmaxminddb).
 */
#pragma once

#include <maxminddb.h>

#include "geo.h"

/*!
 * \brief The city fields of the record at \a entry into \a info: continent,
 *        country, "CC-SSS" subdivision (only with a country), location and
 *        its unit vector. Fields the record lacks (or holds with another
 *        type) stay as they are; a malformed record ends the walk early.
 *
 * \param memo  NULL, or GEO_MEMO_SLOTS entries (per thread) that remember
 *              what the pointers of database \a db_id (never 0) decode to:
 *              the same result, without walking the shared maps again.
 */
void geo_decode_city(const MMDB_entry_s *entry, geo_info_t *info, geo_memo_t *memo, uint64_t db_id);

/*!
 * \brief The ASN of the record at \a entry.
 * \return true and *asn when the record has a usable
 *         autonomous_system_number (u16/u32, u64 <= UINT32_MAX, i32 >= 0).
 */
bool geo_decode_asn(const MMDB_entry_s *entry, uint32_t *asn);

/*!
 * \brief MMDB_lookup_sockaddr() for \a addr (4 or 16 bytes of \a family):
 *        the same result and the same MMDB_* status, without a sockaddr
 *        and with the record size read once (geo_tree.c).
 */
int geo_tree_find(const MMDB_s *db, int family, const uint8_t *addr, MMDB_lookup_result_s *res);
