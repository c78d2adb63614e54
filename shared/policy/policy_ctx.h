/*  SPDX-License-Identifier: GPL-3.0-or-later */
/*!
 * \file
 * \brief Private to the policy compiler: the parse context, error collection
 *        and typed accessors over libyaml document nodes.
 *
 * Every accessor reports its own error (with the node's position) and returns
 * false, so callers just skip the field and go on: the compiler collects ALL
 * errors of a file in one pass.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <yaml.h>

#include "policy.h"

/*! Parse state shared by the compiler's files. */
typedef struct {
	yaml_document_t *doc;
	policy_t *pol;                 /*!< model under construction (owned by the caller) */
	policy_error_t *errs;          /*!< collected errors (owned; moved out at the end) */
	size_t n_errs, cap_errs;
	size_t cap_warns;              /*!< capacity of pol->warnings.errors */
	bool nomem;                    /*!< an allocation failed: result is HG_ENOMEM */
	bool truncated;                /*!< more than PCTX_MAX_ERRORS were found */
} pctx_t;

/*! Errors kept per file: enough for any honest typo spree, bounded for a
 *  hostile file whose aliases multiply one mistake. */
#define PCTX_MAX_ERRORS 100

/*! A YAML list, or a single scalar where the format allows "x" for "[x]". */
typedef struct {
	yaml_document_t *doc;
	yaml_node_t *single;
	yaml_node_item_t *start, *end;
} plist_t;

/* ---- errors (policy_yaml.c) ---- */

policy_pos_t pctx_pos(const yaml_node_t *node);
void pctx_err_at(pctx_t *c, policy_pos_t pos, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void pctx_err(pctx_t *c, const yaml_node_t *node, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/*! \brief Record a warning at \a node (kept in the model, never fails the
 *         policy); the message gets a "warning: " prefix. */
void pctx_warn(pctx_t *c, const yaml_node_t *node, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/*! \brief Grow a malloc()ed array so it holds at least \a n elements; the new
 *         part is zeroed. Sets c->nomem and returns false on failure. */
bool pctx_reserve(pctx_t *c, void **arr, size_t *cap, size_t n, size_t elsize);

/* ---- node accessors (policy_yaml.c) ---- */

yaml_node_t *pctx_node(pctx_t *c, int id);
bool pctx_is_null(const yaml_node_t *node);
/*! \brief The scalar's text (NUL-terminated, owned by the document), or NULL
 *         after reporting "expected a scalar for WHAT". */
const char *pctx_scalar(pctx_t *c, yaml_node_t *node, const char *what);
/*! \brief Check \a node is a map with only keys from the NULL-terminated
 *         \a keys; vals[i] receives the value of keys[i] (NULL if absent) and
 *         kpos[i] (may be NULL) the key node. Reports unknown keys (with a
 *         suggestion), duplicate keys and a non-map node. */
bool pctx_map(pctx_t *c, yaml_node_t *node, const char *what, const char *const keys[],
              yaml_node_t *vals[], yaml_node_t *knodes[]);
bool pctx_list(pctx_t *c, yaml_node_t *node, const char *what, bool allow_scalar, plist_t *out);
size_t plist_len(const plist_t *l);
yaml_node_t *plist_get(const plist_t *l, size_t i);

bool pctx_int(pctx_t *c, yaml_node_t *node, const char *what, long long min, long long max,
              long long *out);
bool pctx_bool(pctx_t *c, yaml_node_t *node, const char *what, bool *out);
bool pctx_double(pctx_t *c, yaml_node_t *node, const char *what, double min, double max,
                 double *out);
bool pctx_str(pctx_t *c, yaml_node_t *node, const char *what, char *buf, size_t size);
bool pctx_duration(pctx_t *c, yaml_node_t *node, const char *what, uint32_t *ms);
bool pctx_id(pctx_t *c, yaml_node_t *node, const char *what, char id[HG_ID_SIZE]);
/*! \brief Report a missing required key at the map \a node. */
void pctx_missing(pctx_t *c, yaml_node_t *map, const char *key, const char *what);

/*! \brief The closest candidate within edit distance 2, or NULL. */
const char *policy_suggest(const char *word, const char *const cands[]);

/* ---- small parsers (policy_util.c) ---- */

/*! \brief Decimal "12.345" (or "12.345%" when \a pct_ok) scaled by \a scale
 *         (a trailing % divides by 100), rounded; HG_EINVAL on junk. */
int policy_parse_scaled(const char *text, uint64_t scale, bool pct_ok, uint64_t *out);
bool policy_id_valid(const char *id);

/* ---- sections ---- */

/*! Partial check: fields set at one level (defaults, pool or endpoint). */
typedef struct {
	hg_rec_check_t v;
	uint32_t set;                  /*!< PCHECK_* bits of the fields present */
} pcheck_t;

enum {
	PCHECK_TYPE = 1u << 0, PCHECK_PORT = 1u << 1, PCHECK_PATH = 1u << 2,
	PCHECK_HOST = 1u << 3, PCHECK_EXPECT = 1u << 4, PCHECK_BODY = 1u << 5,
	PCHECK_INTERVAL = 1u << 6, PCHECK_TIMEOUT = 1u << 7, PCHECK_RISE = 1u << 8,
	PCHECK_FALL = 1u << 9, PCHECK_HTTP2 = 1u << 10, PCHECK_TLS_VERIFY = 1u << 11,
	PCHECK_CA = 1u << 12, PCHECK_PROBE_ADDRESS = 1u << 13,
};

/* policy_check.c */
void pcheck_builtin(hg_rec_check_t *chk);
void pcheck_parse(pctx_t *c, yaml_node_t *node, pcheck_t *out);
void pcheck_merge(hg_rec_check_t *chk, const pcheck_t *base, const pcheck_t *pool,
                  const pcheck_t *ep);

/* policy_parse.c: the settings a name can override */
bool pparse_ttl(pctx_t *c, yaml_node_t *node, const char *what, uint32_t *out);
bool pparse_quorum(pctx_t *c, yaml_node_t *node, const char *what, uint32_t *ppm);
bool pparse_stale(pctx_t *c, yaml_node_t *node, const char *what, uint32_t *ms);

/* policy_pools.c: probers, pools and endpoints */
void pparse_probers(pctx_t *c, yaml_node_t *node);
void pparse_pools(pctx_t *c, yaml_node_t *node, const pcheck_t *dcheck);

/* policy_names.c */
void pparse_names(pctx_t *c, yaml_node_t *node);

/* policy_chain.c */
void pparse_chain(pctx_t *c, yaml_node_t *node, policy_name_t *name);
void pchain_text(const policy_name_t *name, char *buf, size_t size);
void pchain_free(policy_name_t *name);

/* policy_geofence.c: the rules of one geofence filter \a f of \a name */
void pparse_geofence(pctx_t *c, yaml_node_t *node, policy_name_t *name, policy_filter_t *f);
