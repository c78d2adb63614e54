/*  SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * mod-haltgslb: glue between knotd and the haltgslb libraries. Configuration
 * schema, the loader shared by `knotc conf-check` and the real load, and the
 * hooks. The per-query work lives in module_query.c.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <knot/module.h>

#include "errors.h"
#include "module_ctx.h"
#include "module_query.h"
#include "module_stats.h"

/* Knot's item names: a length byte, then the name. The literal is split so
 * the hex escape cannot swallow the name's first letters (\x08d); clang-format
 * would put each half on its own line, hence off for these blocks. */
/* clang-format off */
#define MOD_DATABASE    "\x08""database"
#define MOD_GEOIP       "\x05""geoip"
#define MOD_ASN_DB      "\x06""asn-db"
#define MOD_DNSSEC      "\x06""dnssec"
#define MOD_CHECK_IVAL  "\x0E""check-interval"

/* Knot's own zone item; its header (knot/conf/schema.h) is not installed. */
#define ZONE_DNSSEC_SIGNING "\x0E""dnssec-signing"
/* clang-format on */

#define CHECK_IVAL_DEFAULT_MS 1000

static const yp_item_t haltgslb_conf[] = {
	{ MOD_DATABASE, YP_TSTR, YP_VNONE },
	{ MOD_GEOIP, YP_TSTR, YP_VNONE },
	{ MOD_ASN_DB, YP_TSTR, YP_VNONE },
	{ MOD_DNSSEC, YP_TBOOL, YP_VNONE },
	{ MOD_CHECK_IVAL, YP_TINT, YP_VINT = { 100, 60000, CHECK_IVAL_DEFAULT_MS, YP_SNONE } },
	{ .name = NULL }
};

/* Set for the check dry run (args) or the real load (mod), as geoip.c. */
typedef struct {
	knotd_conf_check_args_t *args;
	knotd_mod_t *mod;
} hgm_check_t;

/* knotd keeps err_str after the check callback returns. */
static char check_err[512];

static knotd_conf_t hgm_conf(hgm_check_t *check, const yp_name_t *item)
{
	return check->args != NULL ? knotd_conf_check_item(check->args, item)
	                           : knotd_conf_mod(check->mod, item);
}

__attribute__((format(printf, 2, 3))) static int hgm_fail(hgm_check_t *check, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (check->args != NULL) {
		if (vsnprintf(check_err, sizeof(check_err), fmt, ap) < 0) {
			check_err[0] = '\0';
		}
		check->args->err_str = check_err;
	} else {
		knotd_mod_vlog(check->mod, LOG_ERR, fmt, ap);
	}
	va_end(ap);
	return KNOT_EINVAL;
}

static char *conf_strdup(hgm_check_t *check, const yp_name_t *item)
{
	knotd_conf_t conf = hgm_conf(check, item);
	if (conf.count == 0 || conf.single.string == NULL || conf.single.string[0] == '\0') {
		return NULL;
	}
	return strdup(conf.single.string);
}

static void ctx_free(hgm_ctx_t *ctx)
{
	if (ctx == NULL) {
		return;
	}
	/* Read txns first: they belong to the environment module_db closes. */
	for (unsigned i = 0; ctx->threads != NULL && i < ctx->n_threads; i++) {
		store_rtxn_free(&ctx->threads[i].rtxn);
		free(ctx->threads[i].views);
		free(ctx->threads[i].memo);
	}
	module_db_free(ctx->db);
	module_sign_free(ctx->sign);
	geo_close(ctx->geo);
	free(ctx->threads);
	free(ctx->db_path);
	free(ctx->geoip_path);
	free(ctx->asn_path);
	free(ctx);
}

/* The items the check and the load both validate. A missing database is not
 * an error (fail open); unreadable geo databases are. */
static int load_conf(hgm_check_t *check, hgm_ctx_t *ctx)
{
	ctx->db_path = conf_strdup(check, MOD_DATABASE);
	if (ctx->db_path == NULL) {
		return hgm_fail(check, "no 'database' specified");
	}
	ctx->geoip_path = conf_strdup(check, MOD_GEOIP);
	ctx->asn_path = conf_strdup(check, MOD_ASN_DB);
	if (ctx->asn_path != NULL && ctx->geoip_path == NULL) {
		return hgm_fail(check, "'asn-db' requires 'geoip'");
	}
	if (ctx->geoip_path == NULL) {
		return KNOT_EOK;
	}

	char err[256] = "";
	/* Open the city database alone first so the message names the item. */
	if (geo_open(ctx->geoip_path, NULL, &ctx->geo, err, sizeof(err)) != HG_EOK) {
		return hgm_fail(check, "invalid 'geoip' '%s' (%s)", ctx->geoip_path, err);
	}
	if (ctx->asn_path != NULL) {
		geo_close(ctx->geo);
		ctx->geo = NULL;
		if (geo_open(ctx->geoip_path, ctx->asn_path, &ctx->geo, err, sizeof(err)) !=
		    HG_EOK) {
			return hgm_fail(check, "invalid 'asn-db' '%s' (%s)", ctx->asn_path, err);
		}
	}
	return KNOT_EOK;
}

static int haltgslb_conf_check(knotd_conf_check_args_t *args)
{
	hgm_check_t check = { .args = args };
	hgm_ctx_t *ctx = calloc(1, sizeof(*ctx));
	if (ctx == NULL) {
		return KNOT_ENOMEM;
	}
	int ret = load_conf(&check, ctx);
	ctx_free(ctx);
	return ret;
}

static int threads_init(hgm_ctx_t *ctx, unsigned n)
{
	ctx->threads = aligned_alloc(_Alignof(hgm_thread_t), n * sizeof(hgm_thread_t));
	if (ctx->threads == NULL) {
		return KNOT_ENOMEM;
	}
	memset(ctx->threads, 0, n * sizeof(hgm_thread_t));
	ctx->n_threads = n;
	for (unsigned i = 0; i < n; i++) {
		/* calloc: the kernel's zero pages until a thread fills its slots. */
		ctx->threads[i].views = calloc(1, sizeof(view_lookup_cache_t));
		ctx->threads[i].memo = calloc(1, sizeof(sel_memo_t));
		if (ctx->threads[i].views == NULL || ctx->threads[i].memo == NULL) {
			return KNOT_ENOMEM;
		}
	}

	uint64_t seed = 0;
	if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) != sizeof(seed)) {
		seed = (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)ctx;
	}
	for (unsigned i = 0; i < n; i++) {
		sel_rng_seed(&ctx->threads[i].rng, seed + 0x9e3779b97f4a7c15ull * (i + 1));
	}
	return KNOT_EOK;
}

static bool zone_signed(knotd_mod_t *mod)
{
	knotd_conf_t conf = knotd_conf_mod(mod, MOD_DNSSEC);
	if (conf.count == 0) {
		conf = knotd_conf_zone(mod, ZONE_DNSSEC_SIGNING, knotd_mod_zone(mod));
	}
	return conf.single.boolean;
}

static int haltgslb_load(knotd_mod_t *mod)
{
	hgm_check_t check = { .mod = mod };
	hgm_ctx_t *ctx = calloc(1, sizeof(*ctx));
	if (ctx == NULL) {
		return KNOT_ENOMEM;
	}

	int ret = load_conf(&check, ctx);
	if (ret != KNOT_EOK) {
		goto cleanup;
	}
	unsigned threads = knotd_mod_threads(mod);
	ret = threads_init(ctx, threads > 0 ? threads : 1);
	if (ret != KNOT_EOK) {
		goto cleanup;
	}
	ret = module_stats_init(mod);
	if (ret != KNOT_EOK) {
		goto cleanup;
	}
	if (zone_signed(mod)) {
		ret = module_sign_new(mod, &ctx->sign);
		if (ret != KNOT_EOK) {
			knotd_mod_log(mod, LOG_ERR, "failed to set up DNSSEC signing (%s)",
			              knot_strerror(ret));
			goto cleanup;
		}
	}
	unsigned ival = (unsigned)hgm_conf(&check, MOD_CHECK_IVAL).single.integer;
	if (module_db_new(mod, ctx->db_path, ival, &ctx->db) != HG_EOK) {
		ret = KNOT_ENOMEM;
		goto cleanup;
	}

	knotd_mod_ctx_set(mod, ctx);
	ret = knotd_mod_in_hook(mod, KNOTD_STAGE_PREANSWER, module_query_preanswer);
	if (ret == KNOT_EOK) {
		ret = knotd_mod_in_hook(mod, KNOTD_STAGE_AUTHORITY, module_query_authority);
	}
	if (ret == KNOT_EOK) {
		return KNOT_EOK;
	}
	knotd_mod_ctx_set(mod, NULL);
cleanup:
	/* knotd does not call unload after a failed load. */
	ctx_free(ctx);
	return ret;
}

static void haltgslb_unload(knotd_mod_t *mod)
{
	ctx_free(knotd_mod_ctx(mod));
	knotd_mod_ctx_set(mod, NULL);
}

KNOTD_MOD_API(haltgslb, KNOTD_MOD_FLAG_SCOPE_ZONE, haltgslb_load, haltgslb_unload, haltgslb_conf,
              haltgslb_conf_check);
