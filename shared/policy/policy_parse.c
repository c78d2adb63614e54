/*  SPDX-License-Identifier: GPL-3.0-or-later */
/* Entry points of the policy compiler: read the file, load the YAML tree,
 * walk the top level and the defaults, hand back the model or every error. */

#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "errors.h"
#include "policy_ctx.h"

#define POLICY_VERSION 1

bool pparse_ttl(pctx_t *c, pnode_t *node, const char *what, uint32_t *out)
{
	long long v;
	if (!pctx_int(c, node, what, 0, 86400, &v)) {
		return false;
	}
	*out = (uint32_t)v;
	return true;
}

bool pparse_quorum(pctx_t *c, pnode_t *node, const char *what, uint32_t *ppm)
{
	const char *s = pctx_scalar(c, node, what);
	uint64_t v;
	if (s == NULL) {
		return false;
	}
	if (policy_parse_scaled(s, 1000000, true, &v) != HG_EOK) {
		pctx_err(c, node,
		         "bad %s '%s' (expected a fraction such as 0.5 or a "
		         "percentage such as 50%%)",
		         what, s);
		return false;
	}
	if (v == 0 || v > 1000000) {
		pctx_err(c, node, "%s must be in (0, 1] (got %s)", what, s);
		return false;
	}
	*ppm = (uint32_t)v;
	return true;
}

bool pparse_stale(pctx_t *c, pnode_t *node, const char *what, uint32_t *ms)
{
	uint32_t v;
	if (!pctx_duration(c, node, what, &v)) {
		return false;
	}
	if (v == 0) {
		pctx_err(c, node, "%s must be longer than 0", what);
		return false;
	}
	*ms = v;
	return true;
}

static void parse_defaults(pctx_t *c, pnode_t *node, pcheck_t *dcheck)
{
	static const char *const keys[] = { "ttl",         "degraded-ttl", "quorum",
		                            "stale-after", "check",        NULL };
	pnode_t *v[5];
	policy_t *pol = c->pol;
	if (!pctx_map(c, node, "defaults", keys, v, NULL)) {
		return;
	}
	if (v[0])
		pparse_ttl(c, v[0], "'ttl' in defaults", &pol->ttl);
	if (v[1])
		pparse_ttl(c, v[1], "'degraded-ttl' in defaults", &pol->degraded_ttl);
	if (v[2])
		pparse_quorum(c, v[2], "'quorum' in defaults", &pol->quorum_ppm);
	if (v[3])
		pparse_stale(c, v[3], "'stale-after' in defaults", &pol->stale_after_ms);
	if (v[4])
		pcheck_parse(c, v[4], dcheck);
}

static void parse_root(pctx_t *c, pnode_t *root)
{
	static const char *const keys[] = {
		"version", "defaults", "probers", "pools", "names", NULL
	};
	enum { K_VERSION, K_DEFAULTS, K_PROBERS, K_POOLS, K_NAMES, K_COUNT };
	pnode_t *v[K_COUNT];
	policy_t *pol = c->pol;
	pcheck_t dcheck = { .set = 0 };

	if (!pctx_map(c, root, "the policy", keys, v, NULL)) {
		return;
	}
	if (v[K_VERSION] == NULL) {
		pctx_missing(c, root, "version", "the policy");
	} else {
		long long ver;
		if (pctx_int(c, v[K_VERSION], "'version'", 0, UINT32_MAX, &ver)) {
			if (ver != POLICY_VERSION) {
				pctx_err(c, v[K_VERSION],
				         "unsupported policy version %lld "
				         "(this haltgslb reads version %d)",
				         ver, POLICY_VERSION);
			}
			pol->version = (uint32_t)ver;
		}
	}
	/* Sections in dependency order, whatever their order in the file. */
	if (v[K_DEFAULTS] != NULL) {
		parse_defaults(c, v[K_DEFAULTS], &dcheck);
	}
	pcheck_merge(&pol->check, &dcheck, NULL, NULL);
	if (v[K_PROBERS] != NULL) {
		pparse_probers(c, v[K_PROBERS]);
	}
	pindex_probers(c);
	if (v[K_POOLS] == NULL) {
		pctx_missing(c, root, "pools", "the policy");
	} else {
		pparse_pools(c, v[K_POOLS], &dcheck);
	}
	pindex_pools(c); /* names look pools and endpoints up */
	if (v[K_NAMES] == NULL) {
		pctx_missing(c, root, "names", "the policy");
	} else if (!pctx_stopped(c)) {
		pparse_names(c, v[K_NAMES]);
		pindex_name_dups(c);
	}
}

static void load_yaml(pctx_t *c, const char *buf, size_t len)
{
	ptree_t tree;
	if (!ptree_load(c, &tree, buf, len)) {
		return;
	}
	c->tree = &tree;
	if (tree.root == NULL) {
		pctx_err_at(c, (policy_pos_t){ 1, 1 }, "the policy is empty");
	} else {
		parse_root(c, tree.root);
	}
	c->tree = NULL;
	ptree_free(&tree);
}

static int err_cmp(const void *a, const void *b)
{
	const policy_error_t *x = a, *y = b;
	if (x->pos.line != y->pos.line) {
		return x->pos.line < y->pos.line ? -1 : 1;
	}
	if (x->pos.col != y->pos.col) {
		return x->pos.col < y->pos.col ? -1 : 1;
	}
	return 0;
}

/* Stable sort by position: insertion sort keeps reports of one node in the
 * order they were found (n is small; qsort is not stable). */
static void errors_sort(policy_error_t *e, size_t n)
{
	for (size_t i = 1; i < n; i++) {
		policy_error_t tmp = e[i];
		size_t j = i;
		while (j > 0 && err_cmp(&e[j - 1], &tmp) > 0) {
			e[j] = e[j - 1];
			j--;
		}
		e[j] = tmp;
	}
}

static void errors_init(policy_errors_t *errors)
{
	if (errors != NULL) {
		errors->errors = NULL;
		errors->n_errors = 0;
	}
}

int policy_parse_buffer(const char *path, const char *buf, size_t len, policy_t **out,
                        policy_errors_t *errors)
{
	pctx_t c = { .tree = NULL };
	int ret = HG_EOK;

	errors_init(errors);
	if (out == NULL || (buf == NULL && len > 0)) {
		return HG_EINVAL;
	}
	*out = NULL;
	c.pol = calloc(1, sizeof(*c.pol));
	if (c.pol == NULL || (c.pol->source = strdup(path ? path : "-")) == NULL) {
		ret = HG_ENOMEM;
		goto cleanup;
	}
	policy_t *pol = c.pol;
	pol->ttl = 30;
	pol->degraded_ttl = 10;
	pol->quorum_ppm = 500000;
	pol->stale_after_ms = 15000;
	if (len > PLOAD_MAX_BYTES) {
		/* refused before a byte of it is read */
		pctx_err_at(&c, (policy_pos_t){ 1, 1 },
		            "the policy is too large (%zu bytes, max %u)", len, PLOAD_MAX_BYTES);
	} else if (EVP_Digest(buf ? buf : "", len, pol->sha256, NULL, EVP_sha256(), NULL) != 1) {
		ret = HG_ENOMEM;
		goto cleanup;
	} else {
		load_yaml(&c, buf ? buf : "", len);
	}

	if (c.nomem) {
		ret = HG_ENOMEM;
	} else if (c.n_errs > 0) {
		ret = HG_EPOLICY;
		errors_sort(c.errs, c.n_errs);
		if (c.truncated) {
			/* appended after sorting so it stays the last line printed */
			policy_pos_t last = c.errs[c.n_errs - 1].pos;
			c.n_errs = PCTX_MAX_ERRORS - 1;
			pctx_err_at(&c, last, "too many errors, stopped after %d",
			            PCTX_MAX_ERRORS - 1);
		}
		if (errors != NULL) {
			errors->errors = c.errs; /* ownership moves to the caller */
			errors->n_errors = c.n_errs;
			c.errs = NULL;
		}
	} else {
		*out = c.pol;
		c.pol = NULL;
	}
cleanup:
	free(c.errs);
	free(c.prober_id_pos);
	free(c.pool_id_pos);
	free(c.endpoint_id_pos);
	free(c.name_pos);
	policy_free(c.pol);
	return ret;
}

/* Read a whole file; returns HG_EOK or an errno-derived error with *err_no
 * set. Sized by fstat() first, so a large policy is not held twice over while
 * a doubling buffer grows; a file that grows meanwhile is still read whole. */
static int read_file(const char *path, char **buf, size_t *len, int *err_no)
{
	int ret = HG_EOK;
	char *data = NULL;
	size_t n = 0, cap = 0;
	struct stat st;
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		*err_no = errno;
		return errno == ENOENT || errno == ENOTDIR ? HG_ENOENT : HG_EIO;
	}
	if (fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 &&
	    (uint64_t)st.st_size < SIZE_MAX) {
		cap = (size_t)st.st_size + 1; /* +1: the read that sees EOF */
		data = malloc(cap);
		if (data == NULL) {
			ret = HG_ENOMEM;
			goto cleanup;
		}
	}
	for (;;) {
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 65536;
			char *p = realloc(data, ncap);
			if (p == NULL) {
				ret = HG_ENOMEM;
				goto cleanup;
			}
			data = p;
			cap = ncap;
		}
		size_t got = fread(data + n, 1, cap - n, f);
		n += got;
		if (got == 0) {
			if (ferror(f)) {
				*err_no = errno ? errno : EIO;
				ret = HG_EIO;
				goto cleanup;
			}
			break;
		}
	}
	*buf = data;
	*len = n;
	data = NULL;
cleanup:
	free(data);
	fclose(f);
	return ret;
}

int policy_parse_file(const char *path, policy_t **out, policy_errors_t *errors)
{
	char *buf = NULL;
	size_t len = 0;
	int err_no = 0;

	errors_init(errors);
	if (path == NULL || out == NULL) {
		return HG_EINVAL;
	}
	*out = NULL;
	errno = 0;
	int ret = read_file(path, &buf, &len, &err_no);
	if (ret == HG_ENOENT || ret == HG_EIO) {
		if (errors != NULL) {
			errors->errors = calloc(1, sizeof(*errors->errors));
			if (errors->errors == NULL) {
				return HG_ENOMEM;
			}
			errors->n_errors = 1;
			snprintf(errors->errors[0].msg, sizeof(errors->errors[0].msg),
			         "cannot read %s: %s", path, strerror(err_no));
		}
		return ret;
	}
	if (ret != HG_EOK) {
		return ret;
	}
	ret = policy_parse_buffer(path, buf, len, out, errors);
	free(buf);
	return ret;
}
