/*  SPDX-License-Identifier: GPL-3.0-or-later */
/*  SCHEMA.md must match schema.h: every documented offset, size and record
 *  size is checked against offsetof/sizeof, and every field is documented.
 *  The schema version SCHEMA.md names is the one store_open() writes to
 *  meta["schema_version"] (read back raw, with LMDB alone) and the only one
 *  it accepts. */
#include <lmdb.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "errors.h"
#include "schema.h"
#include "store.h"
#include "tap.h"

typedef struct {
	const char *type, *field;
	size_t off, size;
	int seen;
} fld_t;

#define FLD(S, f)                                              \
	{                                                      \
#S, #f, offsetof(S, f), sizeof(((S *)0)->f), 0 \
	}
#define SZ(S)                             \
	{                                 \
#S, NULL, 0, sizeof(S), 0 \
	}

static fld_t fields[] = {
	FLD(hg_rec_check_t, type),
	FLD(hg_rec_check_t, http2),
	FLD(hg_rec_check_t, tls_verify),
	FLD(hg_rec_check_t, n_expect),
	FLD(hg_rec_check_t, port),
	FLD(hg_rec_check_t, rise),
	FLD(hg_rec_check_t, fall),
	FLD(hg_rec_check_t, expect),
	FLD(hg_rec_check_t, interval_ms),
	FLD(hg_rec_check_t, timeout_ms),
	FLD(hg_rec_check_t, path),
	FLD(hg_rec_check_t, host),
	FLD(hg_rec_check_t, body),
	FLD(hg_rec_check_t, ca),
	FLD(hg_rec_check_t, probe_address),
	FLD(hg_rec_check_t, down_loss_bp),
	FLD(hg_rec_defaults_t, layout),
	FLD(hg_rec_defaults_t, reserved),
	FLD(hg_rec_defaults_t, ttl),
	FLD(hg_rec_defaults_t, degraded_ttl),
	FLD(hg_rec_defaults_t, quorum_ppm),
	FLD(hg_rec_defaults_t, stale_after_ms),
	FLD(hg_rec_defaults_t, check),
	FLD(hg_rec_prober_t, layout),
	FLD(hg_rec_prober_t, index),
	FLD(hg_rec_prober_t, id),
	FLD(hg_rec_prober_t, lat),
	FLD(hg_rec_prober_t, lon),
	FLD(hg_rec_prober_t, feed),
	FLD(hg_rec_pool_t, layout),
	FLD(hg_rec_pool_t, n_endpoints),
	FLD(hg_rec_pool_t, priority),
	FLD(hg_rec_pool_t, id),
	FLD(hg_rec_pool_t, has_check),
	FLD(hg_rec_pool_t, reserved),
	FLD(hg_rec_endpoint_t, layout),
	FLD(hg_rec_endpoint_t, n_v4),
	FLD(hg_rec_endpoint_t, n_v6),
	FLD(hg_rec_endpoint_t, id),
	FLD(hg_rec_endpoint_t, pool),
	FLD(hg_rec_endpoint_t, weight),
	FLD(hg_rec_endpoint_t, priority),
	FLD(hg_rec_endpoint_t, has_location),
	FLD(hg_rec_endpoint_t, cname_len),
	FLD(hg_rec_endpoint_t, reserved),
	FLD(hg_rec_endpoint_t, lat),
	FLD(hg_rec_endpoint_t, lon),
	FLD(hg_rec_endpoint_t, v4),
	FLD(hg_rec_endpoint_t, v6),
	FLD(hg_rec_endpoint_t, cname),
	FLD(hg_rec_endpoint_t, reserved2),
	FLD(hg_rec_endpoint_t, check),
	FLD(hg_rec_name_t, layout),
	FLD(hg_rec_name_t, n_pools),
	FLD(hg_rec_name_t, fallback),
	FLD(hg_rec_name_t, ttl),
	FLD(hg_rec_name_t, degraded_ttl),
	FLD(hg_rec_name_t, quorum_ppm),
	FLD(hg_rec_name_t, stale_after_ms),
	FLD(hg_rec_name_t, set_id),
	FLD(hg_rec_name_t, fallback_pool),
	FLD(hg_rec_name_t, reserved),
	FLD(hg_rec_name_t, pools_len),
	FLD(hg_rec_name_t, chain_len),
	FLD(hg_rec_name_t, reserved2),
	FLD(hg_rec_override_t, layout),
	FLD(hg_rec_override_t, admin),
	FLD(hg_rec_override_t, reserved),
	FLD(hg_rec_override_t, set_ms),
	FLD(hg_rec_override_t, reason),
	FLD(hg_rec_measure_t, layout),
	FLD(hg_rec_measure_t, state),
	FLD(hg_rec_measure_t, fail_class),
	FLD(hg_rec_measure_t, ts_ms),
	FLD(hg_rec_measure_t, changed_ms),
	FLD(hg_rec_measure_t, rtt_last_us),
	FLD(hg_rec_measure_t, rtt_ewma_us),
	FLD(hg_rec_measure_t, rtt_median_us),
	FLD(hg_rec_measure_t, ttfb_us),
	FLD(hg_rec_measure_t, loss_bp),
	FLD(hg_rec_measure_t, window),
	FLD(hg_rec_measure_t, consec_ok),
	FLD(hg_rec_measure_t, consec_fail),
	FLD(hg_rec_measure_t, probes_total),
	FLD(hg_rec_measure_t, probes_failed),
	FLD(hg_rec_measure_t, seq),
	FLD(hg_rec_cursor_t, layout),
	FLD(hg_rec_cursor_t, reserved),
	FLD(hg_rec_cursor_t, reserved2),
	FLD(hg_rec_cursor_t, epoch),
	FLD(hg_rec_cursor_t, seq),
	FLD(hg_rec_cursor_t, last_arrival_ms),
	FLD(hg_rec_cursor_t, last_sent_ms),
	FLD(hg_rec_cursor_t, messages),
	FLD(hg_rec_cursor_t, records),
	FLD(hg_rec_cursor_t, duplicates),
	FLD(hg_rec_cursor_t, gaps),
	FLD(hg_rec_stream_cursor_t, layout),
	FLD(hg_rec_stream_cursor_t, reserved),
	FLD(hg_rec_stream_cursor_t, reserved2),
	FLD(hg_rec_stream_cursor_t, offset),
	FLD(hg_rec_stream_cursor_t, committed_ms),
	FLD(hg_rec_stream_cursor_t, deliveries),
	FLD(hg_rec_stream_cursor_t, cluster),
	FLD(hg_view_hdr_t, magic),
	FLD(hg_view_hdr_t, layout),
	FLD(hg_view_hdr_t, flags),
	FLD(hg_view_hdr_t, generation),
	FLD(hg_view_hdr_t, built_ms),
	FLD(hg_view_hdr_t, ttl),
	FLD(hg_view_hdr_t, degraded_ttl),
	FLD(hg_view_hdr_t, set_id),
	FLD(hg_view_hdr_t, total_len),
	FLD(hg_view_hdr_t, n_filters),
	FLD(hg_view_hdr_t, n_rules),
	FLD(hg_view_hdr_t, fallback),
	FLD(hg_view_hdr_t, fallback_pool),
	FLD(hg_view_hdr_t, n_matches),
	FLD(hg_view_hdr_t, owner_len),
	FLD(hg_view_hdr_t, n_endpoints),
	FLD(hg_set_hdr_t, magic),
	FLD(hg_set_hdr_t, layout),
	FLD(hg_set_hdr_t, flags),
	FLD(hg_set_hdr_t, generation),
	FLD(hg_set_hdr_t, updated_ms),
	FLD(hg_set_hdr_t, quorum_ppm),
	FLD(hg_set_hdr_t, stale_after_ms),
	FLD(hg_set_hdr_t, set_id),
	FLD(hg_set_hdr_t, total_len),
	FLD(hg_set_hdr_t, n_endpoints),
	FLD(hg_set_hdr_t, n_probers),
	FLD(hg_set_hdr_t, n_pools),
	FLD(hg_set_hdr_t, reserved),
	FLD(hg_set_hdr_t, n_v4),
	FLD(hg_set_hdr_t, n_v6),
	FLD(hg_set_hdr_t, strings_len),
	FLD(hg_set_hdr_t, reserved2),
	FLD(hg_set_hdr_t, n_names),
	FLD(hg_set_hdr_t, reserved3),
	FLD(hg_set_derived_t, valid_from),
	FLD(hg_set_derived_t, valid_until),
	FLD(hg_set_derived_t, computed_ms),
	FLD(hg_set_derived_t, down),
	FLD(hg_set_derived_t, unknown),
	FLD(hg_set_derived_t, drained),
	FLD(hg_set_derived_t, forced),
	FLD(hg_set_derived_t, fam_v4),
	FLD(hg_set_derived_t, fam_v6),
	FLD(hg_set_derived_t, fresh_probers),
	FLD(hg_set_derived_t, reserved),
	FLD(hg_name_filter_t, layout),
	FLD(hg_name_filter_t, reserved),
	FLD(hg_name_filter_t, n_slots),
	FLD(hg_name_filter_t, n_names),
	FLD(hg_name_filter_t, reserved2),
	FLD(hg_view_ep_t, id_hash),
	FLD(hg_view_ep_t, x),
	FLD(hg_view_ep_t, y),
	FLD(hg_view_ep_t, z),
	FLD(hg_view_ep_t, lat),
	FLD(hg_view_ep_t, lon),
	FLD(hg_view_ep_t, weight),
	FLD(hg_view_ep_t, priority),
	FLD(hg_view_ep_t, pool),
	FLD(hg_view_ep_t, flags),
	FLD(hg_view_ep_t, admin),
	FLD(hg_view_ep_t, id_len),
	FLD(hg_view_ep_t, id_off),
	FLD(hg_view_ep_t, cname_off),
	FLD(hg_view_ep_t, cname_len),
	FLD(hg_view_ep_t, n_v4),
	FLD(hg_view_ep_t, n_v6),
	FLD(hg_view_ep_t, reserved),
	FLD(hg_view_ep_t, first_v4),
	FLD(hg_view_ep_t, first_v6),
	FLD(hg_view_ep_t, reserved2),
	FLD(hg_view_prober_t, x),
	FLD(hg_view_prober_t, y),
	FLD(hg_view_prober_t, z),
	FLD(hg_view_prober_t, lat),
	FLD(hg_view_prober_t, lon),
	FLD(hg_view_prober_t, id_off),
	FLD(hg_view_prober_t, id_len),
	FLD(hg_view_prober_t, reserved),
	FLD(hg_view_cell_t, ts_ms),
	FLD(hg_view_cell_t, rtt_us),
	FLD(hg_view_cell_t, loss_bp),
	FLD(hg_view_cell_t, state),
	FLD(hg_view_cell_t, reserved),
	FLD(hg_view_filter_t, type),
	FLD(hg_view_filter_t, flags),
	FLD(hg_view_filter_t, first_rule),
	FLD(hg_view_filter_t, n_rules),
	FLD(hg_view_filter_t, arg),
	FLD(hg_view_rule_t, targets),
	FLD(hg_view_rule_t, first_match),
	FLD(hg_view_rule_t, n_match),
	FLD(hg_view_rule_t, flags),
	FLD(hg_view_rule_t, fallback_pool),
	FLD(hg_view_rule_t, reserved),
	FLD(hg_view_match_t, kind),
	FLD(hg_view_match_t, prefix_len),
	FLD(hg_view_match_t, family),
	FLD(hg_view_match_t, reserved),
	FLD(hg_view_match_t, data),
};

static fld_t sizes[] = {
	SZ(hg_rec_check_t),         SZ(hg_rec_defaults_t), SZ(hg_rec_prober_t),
	SZ(hg_rec_pool_t),          SZ(hg_rec_endpoint_t), SZ(hg_rec_name_t),
	SZ(hg_rec_override_t),      SZ(hg_rec_measure_t),  SZ(hg_rec_cursor_t),
	SZ(hg_rec_stream_cursor_t), SZ(hg_view_hdr_t),     SZ(hg_set_hdr_t),
	SZ(hg_set_derived_t),       SZ(hg_name_filter_t),  SZ(hg_view_ep_t),
	SZ(hg_view_prober_t),       SZ(hg_view_cell_t),    SZ(hg_view_filter_t),
	SZ(hg_view_rule_t),         SZ(hg_view_match_t),
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

static fld_t *find(fld_t *t, size_t n, const char *type, const char *field)
{
	for (size_t i = 0; i < n; i++) {
		if (strcmp(t[i].type, type) == 0 &&
		    (field == NULL || strcmp(t[i].field, field) == 0)) {
			return &t[i];
		}
	}
	return NULL;
}

/* The N of SCHEMA.md's title "# haltgslb LMDB schema, version N", or 0. */
static unsigned documented_version(const char *path)
{
	FILE *f = fopen(path, "r");
	char line[256];
	unsigned version = 0;
	if (f != NULL && fgets(line, sizeof(line), f) != NULL &&
	    sscanf(line, "# haltgslb LMDB schema, version %u", &version) != 1) {
		version = 0;
	}
	if (f != NULL) {
		fclose(f);
	}
	return version;
}

/* meta["schema_version"] as stored, read with LMDB alone (not through the
 * store, which would hide a wrong value behind its own check); the value is
 * written into *out, its size returned (0 when it cannot be read). */
static size_t raw_version(const char *dir, uint32_t *out)
{
	MDB_env *env = NULL;
	MDB_txn *txn = NULL;
	MDB_dbi meta;
	MDB_val k = { strlen(HG_META_SCHEMA_VERSION), (void *)HG_META_SCHEMA_VERSION },
	        v = { 0, NULL };
	size_t size = 0;
	if (mdb_env_create(&env) == MDB_SUCCESS &&
	    mdb_env_set_maxdbs(env, HG_DB_COUNT) == MDB_SUCCESS &&
	    mdb_env_open(env, dir, MDB_RDONLY, 0) == MDB_SUCCESS &&
	    mdb_txn_begin(env, NULL, MDB_RDONLY, &txn) == MDB_SUCCESS &&
	    mdb_dbi_open(txn, HG_DB_META, 0, &meta) == MDB_SUCCESS &&
	    mdb_get(txn, meta, &k, &v) == MDB_SUCCESS) {
		size = v.mv_size;
		if (size == sizeof(*out)) {
			/* SCHEMA.md: integers are little-endian. */
			const uint8_t *b = v.mv_data;
			*out = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
			       (uint32_t)b[3] << 24;
		}
	}
	if (txn != NULL) {
		mdb_txn_abort(txn);
	}
	if (env != NULL) {
		mdb_env_close(env);
	}
	return size;
}

/* Overwrite meta["schema_version"] with LMDB alone. */
static int raw_set_version(const char *dir, uint32_t version)
{
	MDB_env *env = NULL;
	MDB_txn *txn = NULL;
	MDB_dbi meta;
	uint8_t le[4] = { version & 0xff, (version >> 8) & 0xff, (version >> 16) & 0xff,
		          version >> 24 };
	MDB_val k = { strlen(HG_META_SCHEMA_VERSION), (void *)HG_META_SCHEMA_VERSION },
	        v = { 4, le };
	int rc = mdb_env_create(&env);
	if (rc == MDB_SUCCESS) {
		rc = mdb_env_set_maxdbs(env, HG_DB_COUNT);
	}
	if (rc == MDB_SUCCESS) {
		rc = mdb_env_open(env, dir, 0, 0660);
	}
	if (rc == MDB_SUCCESS) {
		rc = mdb_txn_begin(env, NULL, 0, &txn);
	}
	if (rc == MDB_SUCCESS) {
		rc = mdb_dbi_open(txn, HG_DB_META, 0, &meta);
	}
	if (rc == MDB_SUCCESS) {
		rc = mdb_put(txn, meta, &k, &v, 0);
	}
	if (rc == MDB_SUCCESS) {
		rc = mdb_txn_commit(txn);
		txn = NULL;
	}
	if (txn != NULL) {
		mdb_txn_abort(txn);
	}
	if (env != NULL) {
		mdb_env_close(env);
	}
	return rc;
}

static void test_stored_version(unsigned documented)
{
	ok(documented > 0, "SCHEMA.md title names schema version %u", documented);
	is_int(HG_SCHEMA_VERSION, documented, "HG_SCHEMA_VERSION is the version SCHEMA.md names");

	char dir[] = "/tmp/hg-test-schema.XXXXXX";
	if (mkdtemp(dir) == NULL) {
		ok(0, "mkdtemp");
		return;
	}
	char sub[sizeof(dir) + 8];
	snprintf(sub, sizeof(sub), "%s/db", dir);
	store_t *s = NULL;
	is_int(store_open(sub, STORE_CREATE, &s), HG_EOK,
	       "store_open(STORE_CREATE) on a new directory");
	if (s != NULL) {
		store_close(s);
	}
	uint32_t stored = 0;
	size_t size = raw_version(sub, &stored);
	ok(size == 4 && stored == documented,
	   "store_open wrote meta[\"schema_version\"] = u32 %u "
	   "(read raw: %zu bytes, %u)",
	   documented, size, stored);

	/* Another version is refused, by readers and by writers. */
	is_int(raw_set_version(sub, documented + 1), MDB_SUCCESS, "raw write of version %u",
	       documented + 1);
	s = NULL;
	is_int(store_open(sub, STORE_RDONLY, &s), HG_ESCHEMA,
	       "store_open refuses version %u (read-only)", documented + 1);
	if (s != NULL) {
		store_close(s);
		s = NULL;
	}
	is_int(store_open(sub, STORE_CREATE, &s), HG_ESCHEMA,
	       "store_open refuses version %u (create)", documented + 1);
	if (s != NULL) {
		store_close(s);
	}
	size = raw_version(sub, &stored);
	ok(size == 4 && stored == documented + 1,
	   "a refused open leaves the stored version alone (%u)", stored);

	char path[sizeof(sub) + 16];
	snprintf(path, sizeof(path), "%s/data.mdb", sub);
	unlink(path);
	snprintf(path, sizeof(path), "%s/lock.mdb", sub);
	unlink(path);
	rmdir(sub);
	rmdir(dir);
}

int main(void)
{
	const char *top = getenv("top_srcdir");
	char path[1024], line[1024], type[64] = "";
	snprintf(path, sizeof(path), "%s/lmdb-schema/SCHEMA.md", top ? top : "..");
	FILE *f = fopen(path, "r");
	ok(f != NULL, "open %s", path);
	if (f == NULL) {
		return done_testing();
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		char name[64];
		size_t off, size;
		if (sscanf(line, "#### `%63[a-z0-9_]` — %zu bytes", name, &size) == 2) {
			snprintf(type, sizeof(type), "%s", name);
			fld_t *s = find(sizes, N(sizes), name, NULL);
			ok(s != NULL && s->size == size, "sizeof(%s) = %zu as documented", name,
			   size);
			if (s != NULL) {
				s->seen = 1;
			}
		} else if (*type && sscanf(line, "| %zu | %zu | %*[^|]| `%63[a-z0-9_]` |", &off,
		                           &size, name) == 3) {
			fld_t *fl = find(fields, N(fields), type, name);
			ok(fl != NULL && fl->off == off && fl->size == size,
			   "%s.%s at offset %zu, %zu bytes", type, name, off, size);
			if (fl != NULL) {
				fl->seen = 1;
			}
		}
	}
	fclose(f);
	for (size_t i = 0; i < N(sizes); i++) {
		ok(sizes[i].seen, "%s documented", sizes[i].type);
	}
	for (size_t i = 0; i < N(fields); i++) {
		ok(fields[i].seen, "%s.%s documented", fields[i].type, fields[i].field);
	}
	is_int(HG_SCHEMA_VERSION, 2, "schema version 2 (SCHEMA.md title)");
	/* hg_name_hash() is part of the format (the name filter stores it). */
	static const uint8_t owner[] = "\6global\4gslb\7example\3net";
	ok(hg_name_hash(owner, 25) == 0x984e1d179e438dc5ull &&
	           hg_name_hash(owner, 1) == 0xe2a3bf190a6b4c13ull &&
	           hg_name_hash(owner, 8) == 0x599b68d573d31c5cull,
	   "hg_name_hash() pinned (word and tail paths)");
	test_stored_version(documented_version(path));
	return done_testing();
}
