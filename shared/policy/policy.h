/*  haltgslb — policy model and compiler.
 *  SPDX-License-Identifier: GPL-3.0-or-later
 */
/*!
 * \file
 * \brief The validated in-memory model of a policy file
 *        (see ../shared/examples/policy.yaml, format version 1).
 *
 * policy_parse_file() reads YAML with libyaml, validates every key and
 * reference, and returns either a complete model or the list of errors with
 * FILE:LINE:COL positions. Nothing here touches LMDB: writer.h writes a
 * model into the database in one transaction.
 *
 * Ownership: a policy_t and everything it points to is owned by the policy
 * and freed by policy_free().
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "schema.h"

/*! Source position of a YAML node (1-based line and column). */
typedef struct {
	uint32_t line, col;
} policy_pos_t;

typedef struct {
	char id[HG_ID_SIZE];
	double lat, lon;
	policy_pos_t pos;
} policy_prober_t;

typedef struct {
	char id[HG_ID_SIZE];
	char pool[HG_ID_SIZE]; /*!< id of the pool it belongs to */
	size_t pool_index;     /*!< index into policy_t.pools */
	uint8_t n_v4, n_v6;
	uint8_t v4[HG_ADDR_MAX][4];
	uint8_t v6[HG_ADDR_MAX][16];
	uint8_t cname[HG_DNAME_MAX]; /*!< wire format; cname_len == 0 → address endpoint */
	uint8_t cname_len;
	bool has_location;
	double lat, lon;
	uint32_t weight;      /*!< default 1 */
	int32_t priority;     /*!< pool's priority unless the endpoint sets one */
	hg_rec_check_t check; /*!< effective check: defaults → pool → endpoint */
	policy_pos_t pos;
} policy_endpoint_t;

typedef struct {
	char id[HG_ID_SIZE];
	int32_t priority; /*!< default 0 */
	bool has_check;
	size_t first_endpoint, n_endpoints; /*!< range in policy_t.endpoints */
	policy_pos_t pos;
} policy_pool_t;

/*! One condition value of a geofence `match`. */
typedef struct {
	uint8_t kind;       /*!< enum hg_match_kind */
	uint8_t family;     /*!< prefix: 4 or 6 */
	uint8_t prefix_len; /*!< prefix: bits */
	uint8_t data[16];   /*!< as hg_view_match_t.data */
} policy_match_t;

typedef struct {
	policy_match_t *matches; /*!< owned */
	size_t n_matches;
	char (*endpoints)[HG_ID_SIZE]; /*!< owned; ids listed under `endpoints:` */
	size_t n_endpoints;
	char (*pools)[HG_ID_SIZE]; /*!< owned; ids listed under `pools:` */
	size_t n_pools;
	bool strict;
	/*! Strict rules only: `fallback: pool:ID` (has_fallback_pool, the pool
	 *  as an index into policy_t.pools, one of the name's) or `none`
	 *  (the default): what the rule's clients get when the chain leaves
	 *  nothing; never the name's fallback. */
	bool has_fallback_pool;
	size_t fallback_pool;
	policy_pos_t pos;
} policy_rule_t;

typedef struct {
	uint8_t type;         /*!< enum hg_filter_type */
	bool sticky;          /*!< weighted */
	uint32_t arg;         /*!< lowest-latency: tolerance us (default 20ms);
	                                    max-loss: basis points; first: N */
	policy_rule_t *rules; /*!< geofence: owned */
	size_t n_rules;
	policy_pos_t pos;
} policy_filter_t;

typedef struct {
	/*! Presentation form, lower-case, with final dot. Names are letters,
	 *  digits, '-' and '_' only, so no escapes: at most 254 characters. */
	char text[HG_DNAME_MAX + 1];
	uint8_t owner[HG_DNAME_MAX]; /*!< wire format, lower-case */
	uint8_t owner_len;
	uint32_t ttl, degraded_ttl; /*!< name value or defaults */
	uint32_t quorum_ppm, stale_after_ms;
	size_t pools[HG_NAME_POOLS_MAX]; /*!< indexes into policy_t.pools */
	size_t n_pools;
	/*! Owned (policy_free() frees it), n_filters entries (at most
	 *  HG_CHAIN_MAX). A pointer: inline, 16 filters cost 512 bytes a name. */
	policy_filter_t *chain;
	size_t n_filters;
	uint8_t fallback;     /*!< enum hg_fallback; default all */
	size_t fallback_pool; /*!< index into policy_t.pools when HG_FALLBACK_POOL */
	/*! The chain in one line, for status (as hg_rec_name_t.chain_text, at
	 *  most 511 bytes kept). Owned (policy_free() frees it); never NULL in a
	 *  parsed model. A pointer: inline, it was 512 bytes of every name. */
	char *chain_text;
	policy_pos_t pos;
} policy_name_t;

/*! One validation error. */
typedef struct {
	policy_pos_t pos;
	/*! UTF-8; control characters, Unicode line separators and bidi
	 *  overrides from the file are escaped (\\x0a, \\u2028), so a message is
	 *  always one line that reads as its bytes. */
	char msg[256];
} policy_error_t;

typedef struct {
	policy_error_t *errors; /*!< owned */
	size_t n_errors;
} policy_errors_t;

typedef struct {
	char *source;       /*!< file path as given (owned) */
	uint8_t sha256[32]; /*!< digest of the file bytes */
	uint32_t version;
	uint32_t ttl, degraded_ttl; /*!< defaults (30, 10 if absent) */
	uint32_t quorum_ppm;        /*!< default 500000 (0.5) */
	uint32_t stale_after_ms;    /*!< default 15000 */
	hg_rec_check_t check;       /*!< default check */
	policy_prober_t *probers;
	size_t n_probers;
	policy_pool_t *pools;
	size_t n_pools;
	policy_endpoint_t *endpoints;
	size_t n_endpoints; /*!< grouped by pool, policy order */
	policy_name_t *names;
	size_t n_names;
	/*! Problems that do not fail the policy (e.g. an obsolete key), each
	 *  message starting with "warning: "; print with policy_errors_print(). */
	policy_errors_t warnings;
	/*! Private: the parser's sorted id index behind policy_find_*(); owned.
	 *  NULL in a model built by hand, where the lookups scan. */
	struct policy_index *index;
} policy_t;

/*!
 * \brief Parse and validate a policy file.
 *
 * \param[in]  path    File to read.
 * \param[out] out     On success, the model (free with policy_free()).
 * \param[out] errors  On HG_EPOLICY, every problem found (free with
 *                     policy_errors_free()); may be NULL.
 * \return HG_EOK, HG_EPOLICY (validation failed), HG_ENOENT/HG_EIO (file
 *         unreadable: errors holds one entry at 0:0 with the reason), HG_ENOMEM.
 */
int policy_parse_file(const char *path, policy_t **out, policy_errors_t *errors);

/*! \brief Same as policy_parse_file() from a buffer; \a path names it in errors. */
int policy_parse_buffer(const char *path, const char *buf, size_t len, policy_t **out,
                        policy_errors_t *errors);

/*! \brief Print errors as "FILE:LINE:COL: message", one per line. */
void policy_errors_print(const policy_errors_t *errors, const char *path, void *stdio_file);

void policy_free(policy_t *policy);
void policy_errors_free(policy_errors_t *errors);

/*! \brief Find an endpoint / pool / prober by id; returns the index of the
 *         first with that id, or -1. O(log n) on a parsed model. */
long policy_find_endpoint(const policy_t *policy, const char *id);
long policy_find_pool(const policy_t *policy, const char *id);
long policy_find_prober(const policy_t *policy, const char *id);

/* Small parsers shared by the compiler and the tools. Return HG_EOK or HG_EINVAL. */

/*! "500ms", "5s", "2m", "1h" or a bare integer of seconds → milliseconds. */
int policy_parse_duration_ms(const char *text, uint32_t *ms);
/*! "2%", "0.02" → basis points (0..10000). */
int policy_parse_percent_bp(const char *text, uint32_t *bp);
/*! Absolute domain name (final dot required) → lower-case wire format. */
int policy_parse_dname(const char *text, uint8_t wire[HG_DNAME_MAX], uint8_t *len);
