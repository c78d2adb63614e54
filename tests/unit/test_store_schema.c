/*  SPDX-License-Identifier: GPL-3.0-or-later */
/*  SCHEMA.md must match schema.h: every documented offset, size and record
 *  size is checked against offsetof/sizeof, and every field is documented. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schema.h"
#include "tap.h"

typedef struct {
	const char *type, *field;
	size_t off, size;
	int seen;
} fld_t;

#define FLD(S, f) { #S, #f, offsetof(S, f), sizeof(((S *)0)->f), 0 }
#define SZ(S) { #S, NULL, 0, sizeof(S), 0 }

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
	FLD(hg_rec_cursor_t, last_heartbeat_ms),
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
	SZ(hg_rec_check_t),
	SZ(hg_rec_defaults_t),
	SZ(hg_rec_prober_t),
	SZ(hg_rec_pool_t),
	SZ(hg_rec_endpoint_t),
	SZ(hg_rec_name_t),
	SZ(hg_rec_override_t),
	SZ(hg_rec_measure_t),
	SZ(hg_rec_cursor_t),
	SZ(hg_view_hdr_t),
	SZ(hg_set_hdr_t),
	SZ(hg_set_derived_t),
	SZ(hg_name_filter_t),
	SZ(hg_view_ep_t),
	SZ(hg_view_prober_t),
	SZ(hg_view_cell_t),
	SZ(hg_view_filter_t),
	SZ(hg_view_rule_t),
	SZ(hg_view_match_t),
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

static fld_t *find(fld_t *t, size_t n, const char *type, const char *field)
{
	for (size_t i = 0; i < n; i++) {
		if (strcmp(t[i].type, type) == 0 && (field == NULL || strcmp(t[i].field, field) == 0)) {
			return &t[i];
		}
	}
	return NULL;
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
			ok(s != NULL && s->size == size, "sizeof(%s) = %zu as documented", name, size);
			if (s != NULL) {
				s->seen = 1;
			}
		} else if (*type && sscanf(line, "| %zu | %zu | %*[^|]| `%63[a-z0-9_]` |", &off, &size, name) == 3) {
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
	ok(hg_name_hash(owner, 25) == 0x984e1d179e438dc5ull && hg_name_hash(owner, 1) == 0xe2a3bf190a6b4c13ull &&
	   hg_name_hash(owner, 8) == 0x599b68d573d31c5cull, "hg_name_hash() pinned (word and tail paths)");
	return done_testing();
}
