/*  SPDX-License-Identifier: GPL-3.0-or-later */
/*!
 * \file
 * \brief Private to the policy compiler: the YAML tree, the parse context,
 *        error collection and typed accessors over the tree's nodes.
 *
 * Every accessor reports its own error (with the node's position) and returns
 * false, so callers just skip the field and go on: the compiler collects ALL
 * errors of a file in one pass (up to PCTX_MAX_ERRORS, then it stops).
 */
#pragma once

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy.h"

/* ---- the YAML tree (policy_load.c builds it, policy_tree.c reads it) ---- */

enum pnode_type { PNODE_SCALAR = 1, PNODE_SEQ = 2, PNODE_MAP = 3 };

/*! One YAML node, 20 bytes: libyaml's document nodes take 96 plus a tag and
 *  a child array each, which made a 100k-name policy cost 270 MB before the
 *  compiler ran. Children and texts live in the tree's shared arrays. */
typedef struct {
	uint32_t line, col; /*!< 1-based start position (col in characters) */
	uint8_t type;       /*!< enum pnode_type */
	bool null;          /*!< scalar written plain as ~, null or nothing */
	uint32_t len;       /*!< scalar: bytes of text; seq: items; map: pairs */
	uint32_t off;       /*!< scalar: offset in text; seq/map: first child in kids */
} pnode_t;

/*! A loaded document: every array owned, freed by ptree_free(). */
typedef struct {
	pnode_t *nodes; /*!< node ids index this array */
	size_t n_nodes, cap_nodes;
	uint32_t *kids; /*!< seq: item ids; map: key id, value id per pair */
	size_t n_kids, cap_kids;
	char *text; /*!< scalar texts, each NUL-terminated */
	size_t n_text, cap_text;
	pnode_t *root; /*!< NULL: the stream held no document */
} ptree_t;

/* Loader limits. A policy nests 9 levels at most (names > name > chain >
 * filter > geofence > rule > match > country list); libyaml's scanner costs
 * O(depth) per token, so an unbounded `[[[[...` is quadratic. */
#define PLOAD_MAX_DEPTH      32
#define PLOAD_MAX_NODES      10000000u /*!< a 100k-name policy has ~1.4M */
#define PLOAD_MAX_EXPANDED   10000000u /*!< nodes counted through aliases */
#define PLOAD_MAX_ANCHORS    10000u
#define PLOAD_MAX_BYTES      (512u << 20) /*!< input size */
#define PLOAD_MAX_DIRECTIVES 32u          /*!< %YAML / %TAG lines */

typedef struct pctx pctx_t;

/*!
 * \brief Parse \a buf (\a len bytes) into \a tree with libyaml's event API,
 *        enforcing the limits above and resolving aliases.
 *
 * Errors (syntax, limits, a second document) are reported through \a c with
 * their position; then the tree is freed and left empty. Sets c->nomem on
 * allocation failure.
 * \return true when \a tree holds the document (tree->root may be NULL for
 *         an empty stream), false after an error.
 */
bool ptree_load(pctx_t *c, ptree_t *tree, const char *buf, size_t len);
/*! \brief Free every array of \a tree and zero it. */
void ptree_free(ptree_t *tree);

/*! \brief Line and column (1-based, columns in characters as libyaml counts
 *         them) of byte \a offset of \a buf: libyaml reports only the offset
 *         of invalid UTF-8. */
policy_pos_t ptree_offset_pos(const char *buf, size_t len, size_t offset);

/*! \brief Child accessors: the \a i-th item of a sequence, the key or the
 *         value of the \a i-th pair of a map (no bounds check beyond an
 *         assert: callers loop to pnode_len()). */
pnode_t *pnode_item(const pctx_t *c, const pnode_t *seq, size_t i);
pnode_t *pnode_key(const pctx_t *c, const pnode_t *map, size_t i);
pnode_t *pnode_value(const pctx_t *c, const pnode_t *map, size_t i);
/*! \brief Items of a sequence or pairs of a map; 0 for a scalar. */
size_t pnode_len(const pnode_t *node);
/*! \brief A scalar's text, NUL-terminated (node->len bytes before any NUL
 *         the YAML escaped), owned by the tree. */
const char *pnode_text(const pctx_t *c, const pnode_t *node);

/* ---- parse context ---- */

/*! Parse state shared by the compiler's files. */
struct pctx {
	ptree_t *tree;
	policy_t *pol;        /*!< model under construction (owned by the caller) */
	policy_error_t *errs; /*!< collected errors (owned; moved out at the end) */
	size_t n_errs, cap_errs;
	size_t cap_warns; /*!< capacity of pol->warnings.errors */
	/*! Positions of the id (or owner name) value nodes, by model index, for
	 *  the duplicate reports made once a section is complete; owned. */
	policy_pos_t *prober_id_pos, *pool_id_pos, *endpoint_id_pos, *name_pos;
	size_t cap_endpoint_id_pos;
	bool nomem;     /*!< an allocation failed: result is HG_ENOMEM */
	bool truncated; /*!< more than PCTX_MAX_ERRORS were found: stop */
};

/*! Errors kept per file: enough for any honest typo spree. Past it the
 *  compiler stops, so a hostile file (aliases multiplying one mistake, 50k
 *  unknown keys) costs no more than a hundred reports. */
#define PCTX_MAX_ERRORS 100

/*! \brief True once the compiler should stop: out of memory or too many
 *         errors. Loops over user-sized lists test it. */
static inline bool pctx_stopped(const pctx_t *c)
{
	return c->nomem || c->truncated;
}

/*! A YAML list, or a single scalar where the format allows "x" for "[x]". */
typedef struct {
	const pctx_t *c;
	pnode_t *single;
	const pnode_t *seq;
} plist_t;

/* ---- errors (policy_yaml.c) ---- */

policy_pos_t pctx_pos(const pnode_t *node);
void pctx_verr_at(pctx_t *c, policy_pos_t pos, const char *fmt, va_list ap)
        __attribute__((format(printf, 3, 0)));
void pctx_err_at(pctx_t *c, policy_pos_t pos, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
void pctx_err(pctx_t *c, const pnode_t *node, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
/*! \brief Record a warning at \a node (kept in the model, never fails the
 *         policy); the message gets a "warning: " prefix. */
void pctx_warn(pctx_t *c, const pnode_t *node, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
/*! \brief Copy \a src into \a dst (\a size bytes, NUL-terminated), control
 *         characters, Unicode line separators and bidi overrides escaped
 *         as \\xNN / \\uNNNN, cut only between characters. */
void pctx_escape(char *dst, size_t size, const char *src);
/*! \brief Grow a malloc()ed array so it holds at least \a n elements; the new
 *         part is zeroed. Sets c->nomem and returns false on failure. */
bool pctx_reserve(pctx_t *c, void **arr, size_t *cap, size_t n, size_t elsize);

/* ---- node accessors (policy_yaml.c) ---- */

bool pctx_is_null(const pnode_t *node);
/*! \brief The scalar's text (NUL-terminated, owned by the tree), or NULL
 *         after reporting "expected a scalar for WHAT" (or an escaped NUL). */
const char *pctx_scalar(pctx_t *c, pnode_t *node, const char *what);
/*! Most keys a map of the format may have. */
#define PCTX_MAP_KEYS_MAX 16
/*! \brief Check \a node is a map with only keys from the NULL-terminated
 *         \a keys (at most PCTX_MAP_KEYS_MAX); vals[i] receives the value of
 *         keys[i] (NULL if absent) and knodes[i] (may be NULL) the key node.
 *         Reports unknown keys (with a suggestion), duplicate keys and a
 *         non-map node, in time linear in the map's size. */
bool pctx_map(pctx_t *c, pnode_t *node, const char *what, const char *const keys[], pnode_t *vals[],
              pnode_t *knodes[]);
bool pctx_list(pctx_t *c, pnode_t *node, const char *what, bool allow_scalar, plist_t *out);
size_t plist_len(const plist_t *l);
pnode_t *plist_get(const plist_t *l, size_t i);

bool pctx_int(pctx_t *c, pnode_t *node, const char *what, long long min, long long max,
              long long *out);
bool pctx_bool(pctx_t *c, pnode_t *node, const char *what, bool *out);
bool pctx_double(pctx_t *c, pnode_t *node, const char *what, double min, double max, double *out);
bool pctx_str(pctx_t *c, pnode_t *node, const char *what, char *buf, size_t size);
bool pctx_duration(pctx_t *c, pnode_t *node, const char *what, uint32_t *ms);
bool pctx_id(pctx_t *c, pnode_t *node, const char *what, char id[HG_ID_SIZE]);
/*! \brief Report a missing required key at the map \a node. */
void pctx_missing(pctx_t *c, pnode_t *map, const char *key, const char *what);

/*! \brief The closest candidate within edit distance 2, or NULL. */
const char *policy_suggest(const char *word, const char *const cands[]);

/* ---- small parsers (policy_util.c) ---- */

/*! \brief Decimal "12.345" (or "12.345%" when \a pct_ok) scaled by \a scale
 *         (a trailing % divides by 100), rounded; HG_EINVAL on junk. */
int policy_parse_scaled(const char *text, uint64_t scale, bool pct_ok, uint64_t *out);
bool policy_id_valid(const char *id);

/* ---- what texts and addresses may hold (policy_valid.c) ---- */

/*! \brief Check a check's `host`: "" (none) or an RFC 1123 host name (an
 *         IPv4 literal passes), no final dot, no port. On false, \a why
 *         (\a size bytes) says what is wrong. */
bool pvalid_host(const char *s, char *why, size_t size);
/*! \brief Check a check's `path`: '/' then RFC 3986 path and query
 *         characters, %XX escapes well formed, no fragment. */
bool pvalid_path(const char *s, char *why, size_t size);
/*! \brief Check a check's `ca`: "" (the system store) or an absolute path
 *         without control characters. */
bool pvalid_ca(const char *s, char *why, size_t size);
/*! \brief Why the address \a a (4 bytes for AF_INET, 16 for AF_INET6) cannot
 *         be an endpoint's address or a probe target (unspecified, multicast,
 *         reserved/broadcast, link-local, IPv4-mapped/-compatible), or NULL
 *         when it can. Loopback, private and documentation ranges pass. */
const char *pvalid_addr(int family, const uint8_t *a);

/* ---- sections ---- */

/*! Partial check: fields set at one level (defaults, pool or endpoint). */
typedef struct {
	hg_rec_check_t v;
	uint32_t set; /*!< PCHECK_* bits of the fields present */
} pcheck_t;

enum {
	PCHECK_TYPE = 1u << 0,
	PCHECK_PORT = 1u << 1,
	PCHECK_PATH = 1u << 2,
	PCHECK_HOST = 1u << 3,
	PCHECK_EXPECT = 1u << 4,
	PCHECK_BODY = 1u << 5,
	PCHECK_INTERVAL = 1u << 6,
	PCHECK_TIMEOUT = 1u << 7,
	PCHECK_RISE = 1u << 8,
	PCHECK_FALL = 1u << 9,
	PCHECK_HTTP2 = 1u << 10,
	PCHECK_TLS_VERIFY = 1u << 11,
	PCHECK_CA = 1u << 12,
	PCHECK_PROBE_ADDRESS = 1u << 13,
	PCHECK_DOWN_LOSS = 1u << 14,
};

/* policy_check.c */
void pcheck_builtin(hg_rec_check_t *chk);
void pcheck_parse(pctx_t *c, pnode_t *node, pcheck_t *out);
void pcheck_merge(hg_rec_check_t *chk, const pcheck_t *base, const pcheck_t *pool,
                  const pcheck_t *ep);

/* policy_parse.c: the settings a name can override */
bool pparse_ttl(pctx_t *c, pnode_t *node, const char *what, uint32_t *out);
bool pparse_quorum(pctx_t *c, pnode_t *node, const char *what, uint32_t *ppm);
bool pparse_stale(pctx_t *c, pnode_t *node, const char *what, uint32_t *ms);

/* policy_pools.c: probers, pools and endpoints */
void pparse_probers(pctx_t *c, pnode_t *node);
void pparse_pools(pctx_t *c, pnode_t *node, const pcheck_t *dcheck);

/* policy_index.c: sorted id indexes (policy_find_*) and the duplicate
 * reports, once a section is complete */
void pindex_probers(pctx_t *c);
void pindex_pools(pctx_t *c); /* pools and endpoints */
void pindex_name_dups(pctx_t *c);
void pindex_free(struct policy_index *index);

/* policy_names.c */
void pparse_names(pctx_t *c, pnode_t *node);

/* policy_chain.c */
void pparse_chain(pctx_t *c, pnode_t *node, policy_name_t *name);
void pchain_text(const policy_name_t *name, char *buf, size_t size);
void pchain_free(policy_name_t *name);

/* policy_geofence.c: the rules of one geofence filter \a f of \a name */
void pparse_geofence(pctx_t *c, pnode_t *node, policy_name_t *name, policy_filter_t *f);
