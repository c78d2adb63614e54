/*  haltgslb — LMDB on-disk schema, version 2.
 *  SPDX-License-Identifier: GPL-3.0-or-later
 */
/*!
 * \file
 * \brief The single source of truth for every reader and writer of the
 *        haltgslb LMDB environment. SCHEMA.md beside this file documents
 *        every DB, key and value byte by byte and the upgrade rule.
 *
 * All records are packed structs of fixed-width little-endian integers and
 * IEEE-754 floats. Structs are packed (alignment 1) because LMDB only
 * guarantees 2-byte alignment of values: readers may cast an LMDB value
 * pointer to a record pointer and read fields in place (the compiler emits
 * unaligned-safe loads). LMDB files are not portable across architectures;
 * little-endian hosts only (checked at compile time).
 *
 * Every record starts with a uint16_t layout number; a reader refuses a
 * record whose layout or size it does not know (HG_ECORRUPT / HG_ESCHEMA).
 */
#pragma once

#include <stdint.h>

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "haltgslb records are little-endian; big-endian hosts are not supported"
#endif

#define HG_PACKED __attribute__((packed))

/*! Schema version stored in meta["schema_version"]. Bump on any
 *  incompatible change of a DB, key or record below. */
#define HG_SCHEMA_VERSION 2u

/* ---------------------------------------------------------------------- */
/* Limits (fixed so records have a fixed layout and the query path a fixed
 * stack). The policy compiler rejects policies that exceed them. */

#define HG_ID_MAX         63  /*!< Max length of an id (prober/pool/endpoint). */
#define HG_ID_SIZE        64  /*!< Storage for an id, NUL-padded. */
#define HG_DNAME_MAX      255 /*!< Max wire length of a domain name. */
#define HG_ADDR_MAX       8   /*!< Max addresses per family per endpoint. */
#define HG_NAME_EP_MAX    64  /*!< Max endpoints per GSLB name (bitmask width). */
#define HG_PROBER_MAX     32  /*!< Max probers in a policy. */
#define HG_NAME_POOLS_MAX 16  /*!< Max pools per GSLB name. */
#define HG_CHAIN_MAX      16  /*!< Max filters in a chain. */
#define HG_RULES_MAX      32  /*!< Max geofence rules per name (all geofences). */
#define HG_MATCH_MAX      256 /*!< Max match values per name (all rules). */
#define HG_EXPECT_MAX     16  /*!< Max accepted HTTP status codes per check. */
#define HG_PATH_SIZE      256 /*!< Storage for URL path / host / body / ca path. */
#define HG_ANSWER_MAX     64  /*!< Max addresses in one answer. */

/* ---------------------------------------------------------------------- */
/* Named databases (mdb_dbi_open names). */

#define HG_DB_META      "meta"      /*!< key: ASCII name; value: see HG_META_* */
#define HG_DB_PROBERS   "probers"   /*!< key: prober id; value: hg_rec_prober_t */
#define HG_DB_POOLS     "pools"     /*!< key: pool id; value: hg_rec_pool_t */
#define HG_DB_ENDPOINTS "endpoints" /*!< key: endpoint id; value: hg_rec_endpoint_t */
#define HG_DB_NAMES     "names"  /*!< key: owner (wire, lower-case); value: hg_rec_name_t + texts */
#define HG_DB_EPSETS    "epsets" /*!< DUPSORT. key: endpoint id; values: set ids (u32 BE) using it */
#define HG_DB_MEASUREMENTS \
	"measurements"              /*!< key: endpoint id \0 prober id; value: hg_rec_measure_t */
#define HG_DB_VIEWS     "views"     /*!< key: owner (wire, lower-case); value: view blob (below) */
#define HG_DB_OVERRIDES "overrides" /*!< key: endpoint id; value: hg_rec_override_t */
#define HG_DB_CURSORS \
	"cursors" /*!< key: prober id; value: hg_rec_cursor_t (or a stream position, below) */
#define HG_DB_SETS  "sets" /*!< key: set id (u32 BE); value: set blob (below) */
#define HG_DB_COUNT 11

/* meta keys (ASCII, no NUL in the key) */
#define HG_META_SCHEMA_VERSION  "schema_version"    /*!< uint32_t */
#define HG_META_POLICY_GEN      "policy_generation" /*!< uint64_t, +1 per load */
#define HG_META_POLICY_LOADED   "policy_loaded_ms"  /*!< uint64_t, Unix ms */
#define HG_META_POLICY_SOURCE   "policy_source"     /*!< bytes: path of the loaded file */
#define HG_META_POLICY_SHA256   "policy_sha256"     /*!< 32 bytes: digest of the file */
#define HG_META_POLICY_DEFAULTS "policy_defaults"   /*!< hg_rec_defaults_t */
#define HG_META_NAME_FILTER     "name_filter" /*!< hg_name_filter_t + slots: every owner of names */

/* ---------------------------------------------------------------------- */
/* Enumerations shared by records and views. */

enum hg_check_type { HG_CHECK_HTTP = 0, HG_CHECK_HTTPS = 1, HG_CHECK_TCP = 2, HG_CHECK_ICMP = 3 };

enum hg_health { HG_HEALTH_UNKNOWN = 0, HG_HEALTH_UP = 1, HG_HEALTH_DOWN = 2 };

enum hg_admin { HG_ADMIN_NONE = 0, HG_ADMIN_DRAIN = 1, HG_ADMIN_FORCE_UP = 2 };

/*! Why the last probe failed. */
enum hg_fail_class {
	HG_FAIL_NONE = 0,
	HG_FAIL_TIMEOUT = 1,
	HG_FAIL_REFUSED = 2,
	HG_FAIL_TLS = 3,
	HG_FAIL_HTTP_STATUS = 4,
	HG_FAIL_BODY = 5,
	HG_FAIL_UNREACHABLE = 6,
	HG_FAIL_RESOLVE = 7,
	HG_FAIL_OTHER = 8,
};

enum hg_fallback { HG_FALLBACK_ALL = 0, HG_FALLBACK_POOL = 1, HG_FALLBACK_NONE = 2 };

enum hg_filter_type {
	HG_F_UP = 1,
	HG_F_GEOFENCE = 2,
	HG_F_NEAREST = 3,
	HG_F_LOWEST_LATENCY = 4,
	HG_F_MAX_LOSS = 5,
	HG_F_PRIORITY = 6,
	HG_F_WEIGHTED = 7,
	HG_F_WEIGHTED_SHUFFLE = 8,
	HG_F_ROUND_ROBIN = 9,
	HG_F_FIRST = 10,
};

enum hg_match_kind {
	HG_M_COUNTRY = 1,
	HG_M_CONTINENT = 2,
	HG_M_SUBDIVISION = 3,
	HG_M_ASN = 4,
	HG_M_PREFIX = 5,
};

/* ---------------------------------------------------------------------- */
/* Policy records (written only by haltgslb-ctl load, in one transaction). */

#define HG_REC_LAYOUT 1u

/*! A resolved health check (defaults → pool → endpoint, already merged). */
typedef struct HG_PACKED {
	uint8_t type;       /*!< enum hg_check_type */
	uint8_t http2;      /*!< 1: HTTP/2 (ALPN over TLS, prior knowledge on cleartext) */
	uint8_t tls_verify; /*!< 1: verify the server certificate (default) */
	uint8_t n_expect;
	uint16_t port;
	uint16_t rise, fall;
	uint16_t expect[HG_EXPECT_MAX];
	uint32_t interval_ms, timeout_ms;
	char path[HG_PATH_SIZE]; /*!< NUL-terminated, "" = none */
	char host[HG_PATH_SIZE]; /*!< Host header / SNI; "" = none */
	char body[HG_PATH_SIZE]; /*!< required body substring; "" = none */
	char ca[HG_PATH_SIZE];   /*!< CA bundle path; "" = system default */
	char probe_address[46];  /*!< address to probe a CNAME endpoint; "" = resolve host
	                                    (canonical text: at most 45 characters) */
	/*! Loss-window threshold of the hysteresis: down when the failed share
	 *  of a full window reaches it (basis points, 1..10000; policy
	 *  `down-loss`, default 5000). 0: off (records written before it). */
	uint16_t down_loss_bp;
} hg_rec_check_t;

/*! meta["policy_defaults"] */
typedef struct HG_PACKED {
	uint16_t layout;
	uint16_t reserved;
	uint32_t ttl, degraded_ttl;
	uint32_t quorum_ppm; /*!< quorum as parts per million, (0, 1000000] */
	uint32_t stale_after_ms;
	hg_rec_check_t check;
} hg_rec_defaults_t;

typedef struct HG_PACKED {
	uint16_t layout;
	uint16_t index; /*!< position in the policy (stable view column order) */
	char id[HG_ID_SIZE];
	double lat, lon;
	char feed[HG_PATH_SIZE]; /*!< feed URL, "" = none */
} hg_rec_prober_t;

typedef struct HG_PACKED {
	uint16_t layout;
	uint16_t n_endpoints;
	int32_t priority;
	char id[HG_ID_SIZE];
	uint8_t has_check; /*!< pool-level check override present (informational) */
	uint8_t reserved[3];
} hg_rec_pool_t;

typedef struct HG_PACKED {
	uint16_t layout;
	uint8_t n_v4, n_v6;
	char id[HG_ID_SIZE];
	char pool[HG_ID_SIZE];
	uint32_t weight;  /*!< default 1 */
	int32_t priority; /*!< the pool's priority unless overridden */
	uint8_t has_location;
	uint8_t cname_len; /*!< 0 = address endpoint */
	uint8_t reserved[2];
	double lat, lon;
	uint8_t v4[HG_ADDR_MAX][4];
	uint8_t v6[HG_ADDR_MAX][16];
	uint8_t cname[HG_DNAME_MAX]; /*!< wire format, as written in the policy */
	uint8_t reserved2;
	hg_rec_check_t check; /*!< effective check */
} hg_rec_endpoint_t;

/*! names DB value: this header, then pools_len bytes of pool ids (each
 *  NUL-terminated, in the name's order), then chain_len bytes of the chain
 *  as written (one line, no NUL). The compiled chain lives in the view;
 *  this keeps the settings for status and dump. Variable size: at 100,000
 *  names a fixed 1.6 KB record was most of the database. */
#define HG_NAME_LAYOUT 2u
typedef struct HG_PACKED {
	uint16_t layout; /*!< HG_NAME_LAYOUT */
	uint8_t n_pools;
	uint8_t fallback; /*!< enum hg_fallback */
	uint32_t ttl, degraded_ttl;
	uint32_t quorum_ppm, stale_after_ms;
	uint32_t set_id;       /*!< the endpoint set of its view */
	uint8_t fallback_pool; /*!< index into its pools when fallback = pool */
	uint8_t reserved;
	uint16_t pools_len; /*!< bytes of pool ids after the header */
	uint16_t chain_len; /*!< bytes of chain text after the pool ids */
	uint16_t reserved2;
} hg_rec_name_t;

#define HG_CHAIN_TEXT_MAX 511 /*!< longest chain text kept */

/*! overrides DB: admin state of an endpoint, independent of policy loads. */
typedef struct HG_PACKED {
	uint16_t layout;
	uint8_t admin; /*!< enum hg_admin */
	uint8_t reserved;
	uint64_t set_ms; /*!< Unix ms when set */
	char reason[128];
} hg_rec_override_t;

/* ---------------------------------------------------------------------- */
/* Measurement records: one per (endpoint, prober); each prober is the only
 * writer of its own records. Times are Unix ms of the prober's clock. */

typedef struct HG_PACKED {
	uint16_t layout;
	uint8_t state;          /*!< enum hg_health, after rise/fall hysteresis */
	uint8_t fail_class;     /*!< enum hg_fail_class of the last failure */
	uint64_t ts_ms;         /*!< time of the last probe */
	uint64_t changed_ms;    /*!< time of the last state change */
	uint32_t rtt_last_us;   /*!< network RTT of the last successful probe */
	uint32_t rtt_ewma_us;   /*!< smoothed RTT */
	uint32_t rtt_median_us; /*!< median RTT over the window: used for steering */
	uint32_t ttfb_us;       /*!< server response time (time to first byte) */
	uint16_t loss_bp;       /*!< loss over the window, basis points (0..10000) */
	uint16_t window;        /*!< probes in the loss window */
	uint16_t consec_ok, consec_fail;
	uint64_t probes_total, probes_failed;
	uint64_t seq; /*!< prober's feed sequence number (0 = local/synthetic) */
} hg_rec_measure_t;

#define HG_RTT_NONE UINT32_MAX

/*! cursors DB, key = prober id: where haltgslb-syncd stands in that
 *  prober's feed. Written in the same transaction as the records it counts. */
typedef struct HG_PACKED {
	uint16_t layout;
	uint16_t reserved;
	uint32_t reserved2;
	uint64_t epoch, seq;      /*!< last message applied (the prober's own numbering) */
	uint64_t last_arrival_ms; /*!< syncd's clock when that prober's last message arrived */
	uint64_t last_sent_ms;    /*!< that message's send time, prober's clock (informational) */
	uint64_t messages;        /*!< messages applied (batches, snapshots, heartbeats) */
	uint64_t records;         /*!< records applied */
	uint64_t duplicates;      /*!< messages dropped as already applied */
	uint64_t gaps;            /*!< messages never received (sequence numbers skipped) */
} hg_rec_cursor_t;

/*! cursors DB key prefix of a stream position: "@stream:" then the stream
 *  name. '@' and ':' are not id characters, so it never meets a prober id. */
#define HG_CURSOR_STREAM_PREFIX "@stream:"

/*! Storage for the broker cluster name in hg_rec_stream_cursor_t. */
#define HG_CLUSTER_SIZE 128

/*! cursors DB, key = HG_CURSOR_STREAM_PREFIX + stream name: the last
 *  stream offset haltgslb-syncd consumed, committed with the records of the
 *  delivery that carried it. */
typedef struct HG_PACKED {
	uint16_t layout;
	uint16_t reserved;
	uint32_t reserved2;
	uint64_t offset;               /*!< x-stream-offset of the last delivery consumed */
	uint64_t committed_ms;         /*!< syncd's clock at that commit */
	uint64_t deliveries;           /*!< deliveries consumed in total (applied or dropped) */
	char cluster[HG_CLUSTER_SIZE]; /*!< broker cluster_name the offset belongs to, "" unknown */
} hg_rec_stream_cursor_t;

/* ---------------------------------------------------------------------- */
/* Views and endpoint sets. A name's answer needs two records: its view
 * (views DB: its own settings and compiled chain, small) and the endpoint
 * set the view names (sets DB: endpoints, probers, the measured cells and
 * the state derived from them on the write side). Names with the same
 * pools in the same order and the same quorum and stale-after share one
 * set, so a measurement patches one record per set, not one per name.
 * Both are rebuilt on policy load; measurements and overrides patch sets.
 *
 * View layout (offsets from the header's counts, in this order):
 *   hg_view_hdr_t
 *   hg_view_filter_t  filter[n_filters]
 *   hg_view_rule_t    rule[n_rules]
 *   hg_view_match_t   match[n_matches]
 *   uint8_t           owner[owner_len]     (wire)
 *
 * Set layout:
 *   hg_set_hdr_t
 *   hg_view_ep_t      ep[n_endpoints]
 *   hg_view_prober_t  prober[n_probers]
 *   hg_view_cell_t    cell[n_endpoints * n_probers]   (row-major: ep i, prober j)
 *   hg_set_derived_t  derived
 *   uint64_t          fresh[n_probers]     (derived: bit i = cell i, j fresh)
 *   uint8_t           v4[n_v4][4]
 *   uint8_t           v6[n_v6][16]
 *   uint8_t           strings[strings_len] (ids, cnames; referenced by offset)
 */

#define HG_VIEW_MAGIC  0x56474841u /*!< "AHGV" little-endian */
#define HG_VIEW_LAYOUT 2u
#define HG_SET_MAGIC   0x53474841u /*!< "AHGS" little-endian */
#define HG_SET_LAYOUT  1u

enum hg_view_flags {
	HG_VIEW_CLIENT_DEPENDENT = 1 << 0, /*!< the chain has a filter that uses the client */
	HG_VIEW_NEEDS_GEO = 1 << 1,        /*!< ... that uses the client's geo data */
	HG_VIEW_RANDOM = 1 << 2, /*!< a filter draws per query (weighted, shuffle, round-robin) */
};

typedef struct HG_PACKED {
	uint32_t magic;
	uint16_t layout;
	uint16_t flags;      /*!< enum hg_view_flags */
	uint64_t generation; /*!< policy generation that built it */
	uint64_t built_ms;   /*!< when the load built it */
	uint32_t ttl, degraded_ttl;
	uint32_t set_id;    /*!< key of its endpoint set in the sets DB */
	uint32_t total_len; /*!< must equal the LMDB value size */
	uint8_t n_filters, n_rules, fallback, fallback_pool;
	uint16_t n_matches;
	uint8_t owner_len;
	uint8_t n_endpoints; /*!< the set's: rule targets index its endpoints */
} hg_view_hdr_t;

typedef struct HG_PACKED {
	uint32_t magic;
	uint16_t layout;
	uint16_t flags;      /*!< 0 */
	uint64_t generation; /*!< policy generation that built it */
	uint64_t updated_ms; /*!< last write (build or patch) */
	uint32_t quorum_ppm, stale_after_ms;
	uint32_t set_id;    /*!< its own key */
	uint32_t total_len; /*!< must equal the LMDB value size */
	uint8_t n_endpoints, n_probers, n_pools, reserved;
	uint16_t n_v4, n_v6, strings_len;
	uint16_t reserved2;
	uint32_t n_names;   /*!< names whose view uses it (informational) */
	uint64_t reserved3; /*!< 0; room for write-side state (damping) */
} hg_set_hdr_t;

/*! A u64 inside a value: LMDB aligns values to 2 bytes only, so arrays
 *  of integers are read through this packed wrapper (unaligned-safe). */
typedef struct HG_PACKED {
	uint64_t v;
} hg_u64_t;

/*! What a set's cells mean at a time, computed by view_derive() from the
 *  cells, admin states and the set's quorum and stale-after: written by
 *  every writer that changes the set, read by the query path while
 *  valid_from <= now < valid_until (no cell changes freshness inside the
 *  window), recomputed per query outside it. Endpoint masks: bit i =
 *  endpoint i. */
typedef struct HG_PACKED {
	uint64_t valid_from;    /*!< the window the masks hold for: [from, until) */
	uint64_t valid_until;   /*!< UINT64_MAX: no freshness change ahead */
	uint64_t computed_ms;   /*!< the writer's clock when computed */
	uint64_t down;          /*!< health verdict down (sel_health) */
	uint64_t unknown;       /*!< verdict unknown: no prober voted */
	uint64_t drained;       /*!< admin drain */
	uint64_t forced;        /*!< admin force-up */
	uint64_t fam_v4;        /*!< can answer A: IPv4 addresses or a CNAME */
	uint64_t fam_v6;        /*!< can answer AAAA */
	uint32_t fresh_probers; /*!< bit j: prober j has a fresh cell */
	uint32_t reserved;      /*!< 0 */
} hg_set_derived_t;

enum hg_view_ep_flags {
	HG_VEP_HAS_LOCATION = 1 << 0,
	HG_VEP_CNAME = 1 << 1,
};

typedef struct HG_PACKED {
	uint64_t id_hash; /*!< 64-bit hash of the id (rendezvous hashing) */
	float x, y, z;    /*!< unit vector of the location (if HAS_LOCATION) */
	float lat, lon;
	uint32_t weight;
	int32_t priority;
	uint8_t pool;  /*!< index into the set's pools (the names' order) */
	uint8_t flags; /*!< enum hg_view_ep_flags */
	uint8_t admin; /*!< enum hg_admin (patched by drain/undrain) */
	uint8_t id_len;
	uint16_t id_off;    /*!< id in strings */
	uint16_t cname_off; /*!< cname (wire) in strings, if HG_VEP_CNAME */
	uint8_t cname_len;
	uint8_t n_v4, n_v6;
	uint8_t reserved;
	uint16_t first_v4, first_v6; /*!< indexes into the v4 / v6 arrays */
	uint32_t reserved2;
} hg_view_ep_t;

typedef struct HG_PACKED {
	float x, y, z; /*!< unit vector of the prober's location */
	float lat, lon;
	uint16_t id_off;
	uint8_t id_len;
	uint8_t reserved;
} hg_view_prober_t;

typedef struct HG_PACKED {
	uint64_t ts_ms;  /*!< last probe time; 0 = no data */
	uint32_t rtt_us; /*!< steering latency (median RTT), HG_RTT_NONE = none */
	uint16_t loss_bp;
	uint8_t state; /*!< enum hg_health */
	uint8_t reserved;
} hg_view_cell_t;

enum hg_view_filter_flags { HG_VF_STICKY = 1 << 0 };

typedef struct HG_PACKED {
	uint8_t type;                /*!< enum hg_filter_type */
	uint8_t flags;               /*!< enum hg_view_filter_flags */
	uint8_t first_rule, n_rules; /*!< geofence */
	uint32_t arg;                /*!< lowest-latency: tolerance us; max-loss: bp; first: N */
} hg_view_filter_t;

/*! HG_VR_FALLBACK_POOL only with HG_VR_STRICT: a strict rule's clients
 *  never get the name's fallback; they get the rule's pool or NODATA. */
enum hg_view_rule_flags { HG_VR_STRICT = 1 << 0, HG_VR_FALLBACK_POOL = 1 << 1 };

typedef struct HG_PACKED {
	uint64_t targets;              /*!< bitmask of endpoint indexes the rule selects */
	uint16_t first_match, n_match; /*!< conditions; kinds AND-ed, values of a kind OR-ed */
	uint8_t flags;                 /*!< enum hg_view_rule_flags */
	uint8_t fallback_pool;         /*!< HG_VR_FALLBACK_POOL: index into the set's pools */
	uint8_t reserved[2];
} hg_view_rule_t;

typedef struct HG_PACKED {
	uint8_t kind;       /*!< enum hg_match_kind */
	uint8_t prefix_len; /*!< HG_M_PREFIX: bits */
	uint8_t family;     /*!< HG_M_PREFIX: 4 or 6 */
	uint8_t reserved;
	/*! country/continent: 2 upper-case ASCII letters; subdivision: "CC-SSS"
	 *  upper-case NUL-padded (ISO 3166-2); asn: uint32 LE in the first 4
	 *  bytes; prefix: network address (v4 in the first 4 bytes). */
	uint8_t data[16];
} hg_view_match_t;

/* Compile-time checks that the layouts documented in SCHEMA.md hold. */
_Static_assert(sizeof(hg_rec_check_t) == 1122, "hg_rec_check_t layout");
_Static_assert(sizeof(hg_view_hdr_t) == 48, "hg_view_hdr_t layout");
_Static_assert(sizeof(hg_set_hdr_t) == 64, "hg_set_hdr_t layout");
_Static_assert(sizeof(hg_set_derived_t) == 80, "hg_set_derived_t layout");
_Static_assert(sizeof(hg_view_ep_t) == 56, "hg_view_ep_t layout");
_Static_assert(sizeof(hg_view_prober_t) == 24, "hg_view_prober_t layout");
_Static_assert(sizeof(hg_view_cell_t) == 16, "hg_view_cell_t layout");
_Static_assert(sizeof(hg_view_filter_t) == 8, "hg_view_filter_t layout");
_Static_assert(sizeof(hg_view_rule_t) == 16, "hg_view_rule_t layout");
_Static_assert(sizeof(hg_view_match_t) == 20, "hg_view_match_t layout");
_Static_assert(sizeof(hg_rec_measure_t) == 68, "hg_rec_measure_t layout");

/* ---------------------------------------------------------------------- */
/* meta["name_filter"]: which owners have a names/views entry, so a query
 * for a name the module does not serve costs one hash and a probe. Open
 * addressing: slot (h & (n_slots - 1)), then the next ones, until an empty
 * slot (0: the name is not in the policy) or the fingerprint
 * (h >> 32 | 1: look the name up). h = hg_name_hash() of the owner. */
#define HG_NAME_FILTER_LAYOUT 1u
typedef struct HG_PACKED {
	uint16_t layout;
	uint16_t reserved;
	uint32_t n_slots; /*!< power of two, > n_names */
	uint32_t n_names;
	uint32_t reserved2;
	/* uint32_t slot[n_slots] follows */
} hg_name_filter_t;
_Static_assert(sizeof(hg_name_filter_t) == 16, "hg_name_filter_t layout");

/*! \brief The 64-bit hash of an owner name (wire form) that the name filter
 *         and the module's lookup cache use. Part of the on-disk format. */
static inline uint64_t hg_name_hash(const uint8_t *name, unsigned len)
{
	uint64_t h = 0x9e3779b97f4a7c15ull ^ len;
	unsigned i = 0;
	for (; i + 8 <= len; i += 8) {
		uint64_t w;
		__builtin_memcpy(&w, name + i, 8); /* little-endian word (hosts are LE) */
		h = (h ^ w) * 0xff51afd7ed558ccdull;
		h ^= h >> 32;
	}
	if (i < len) {
		uint64_t w = 0;
		for (unsigned k = 0; i + k < len; k++) {
			w |= (uint64_t)name[i + k] << (8 * k);
		}
		h = (h ^ w) * 0xff51afd7ed558ccdull;
		h ^= h >> 32;
	}
	h ^= h >> 29;
	h *= 0xbf58476d1ce4e5b9ull;
	return h ^ (h >> 32);
}
_Static_assert(sizeof(hg_rec_cursor_t) == 72, "hg_rec_cursor_t layout");
_Static_assert(sizeof(hg_rec_stream_cursor_t) == 160, "hg_rec_stream_cursor_t layout");
