/*  SPDX-License-Identifier: GPL-3.0-or-later */
/*!
 * \file
 * \brief mod-haltgslb instance state shared by the module's files.
 *
 * One instance per zone that enables the module. Everything here is
 * created in load (or the check dry run) and freed in unload; the query
 * path only reads it, except for its own thread's slot.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <knot/module.h>

#include "geo.h"
#include "module_db.h"
#include "module_sign.h"
#include "sel.h"
#include "sel_memo.h"
#include "store.h"
#include "view_lookup.h"

/*! Per worker thread scratch; padded so threads never share a cache line. */
typedef struct {
	_Alignas(64) store_rtxn_t rtxn; /*!< cached MDB_NOTLS read txn (reset between queries) */
	sel_rng_t rng;                  /*!< per-thread PRNG and round-robin counter */
	bool nodata_pending;            /*!< PREANSWER chose NODATA; AUTHORITY adds the SOA */
	view_lookup_cache_t *views;     /*!< names and sets already looked up in the current
	                                    snapshot (calloc()ed apart: large, touched
	                                    only as names are queried); sound because
	                                    the env is never replaced under a module_db
	                                    (a replaced file makes module_db_get()
	                                    return NULL) */
	geo_cache_t geo;                /*!< decoded mmdb records */
	sel_memo_t *memo;               /*!< answers of deterministic chains (calloc()ed apart) */
} hgm_thread_t;

/*! One module instance. Owns every pointer in it. */
typedef struct {
	char *db_path;       /*!< copy of the `database` item */
	char *geoip_path;    /*!< copy of `geoip`, NULL if not set */
	char *asn_path;      /*!< copy of `asn-db`, NULL if not set */
	geo_db_t *geo;       /*!< NULL without `geoip` */
	module_db_t *db;     /*!< LMDB state + background checker */
	module_sign_t *sign; /*!< NULL unless the zone is signed */
	unsigned n_threads;
	hgm_thread_t *threads; /*!< [n_threads] */
} hgm_ctx_t;
