/*  SPDX-License-Identifier: GPL-3.0-or-later */
/*  Decoding of every DB's records (views: dump_view.c). */
#include <string.h>

#include "dump.h"
#include "schema_records.h"
#include "errors.h"

void dump_enum(dump_out_t *o, const char *key, const schema_names_t *names, unsigned raw)
{
	const char *name = schema_name(names, raw);
	if (name != NULL) {
		dump_str(o, key, name);
	} else {
		dump_uint(o, key, raw);
	}
}

/* A value whose size or layout this build does not know: say so, never
 * print its bytes. */
static bool rec_ok(dump_out_t *o, const char *key, const MDB_val *v, size_t size)
{
	uint16_t layout = 0;
	if (v->mv_size >= 2) {
		memcpy(&layout, v->mv_data, 2);
	}
	if (v->mv_size == size && layout == HG_REC_LAYOUT) {
		return true;
	}
	dump_obj_begin(o, key);
	dump_str(o, "error", "unknown record layout");
	dump_uint(o, "layout", layout);
	dump_uint(o, "size", v->mv_size);
	dump_obj_end(o);
	return false;
}

static void dump_check(dump_out_t *o, const hg_rec_check_t *c)
{
	dump_obj_begin(o, "check");
	dump_enum(o, "type", &schema_check_types, c->type);
	dump_uint(o, "port", c->port);
	dump_bool(o, "http2", c->http2);
	dump_bool(o, "tls_verify", c->tls_verify);
	dump_arr_begin(o, "expect");
	for (unsigned i = 0; i < c->n_expect && i < HG_EXPECT_MAX; i++) {
		dump_uint(o, NULL, c->expect[i]);
	}
	dump_arr_end(o);
	dump_duration_ms(o, "interval", c->interval_ms);
	dump_duration_ms(o, "timeout", c->timeout_ms);
	dump_uint(o, "rise", c->rise);
	dump_uint(o, "fall", c->fall);
	dump_uint(o, "down_loss_bp", c->down_loss_bp); /* 0: off */
	dump_fixed(o, "path", c->path, sizeof(c->path));
	dump_fixed(o, "host", c->host, sizeof(c->host));
	dump_fixed(o, "body", c->body, sizeof(c->body));
	dump_fixed(o, "ca", c->ca, sizeof(c->ca));
	dump_fixed(o, "probe_address", c->probe_address, sizeof(c->probe_address));
	dump_obj_end(o);
}

static void dump_defaults(dump_out_t *o, const char *key, const MDB_val *v)
{
	if (!rec_ok(o, key, v, sizeof(hg_rec_defaults_t))) {
		return;
	}
	const hg_rec_defaults_t *d = v->mv_data;
	dump_obj_begin(o, key);
	dump_uint(o, "ttl", d->ttl);
	dump_uint(o, "degraded_ttl", d->degraded_ttl);
	dump_double(o, "quorum", d->quorum_ppm / 1e6);
	dump_duration_ms(o, "stale_after", d->stale_after_ms);
	dump_check(o, &d->check);
	dump_obj_end(o);
}

static void dump_meta(dump_out_t *o, const char *key, const MDB_val *v)
{
	uint64_t u = 0;
	if (strcmp(key, HG_META_SCHEMA_VERSION) == 0 && v->mv_size == 4) {
		uint32_t u32;
		memcpy(&u32, v->mv_data, 4);
		dump_uint(o, key, u32);
	} else if (strcmp(key, HG_META_POLICY_GEN) == 0 && v->mv_size == 8) {
		memcpy(&u, v->mv_data, 8);
		dump_uint(o, key, u);
	} else if (strcmp(key, HG_META_POLICY_LOADED) == 0 && v->mv_size == 8) {
		memcpy(&u, v->mv_data, 8);
		dump_time_ms(o, key, u);
	} else if (strcmp(key, HG_META_POLICY_SOURCE) == 0) {
		dump_strn(o, key, v->mv_data, v->mv_size);
	} else if (strcmp(key, HG_META_POLICY_SHA256) == 0 && v->mv_size == 32) {
		char hex[65];
		for (int i = 0; i < 32; i++) {
			snprintf(hex + 2 * i, 3, "%02x", ((const uint8_t *)v->mv_data)[i]);
		}
		dump_str(o, key, hex);
	} else if (strcmp(key, HG_META_POLICY_DEFAULTS) == 0) {
		dump_defaults(o, key, v);
	} else if (strcmp(key, HG_META_NAME_FILTER) == 0 &&
	           v->mv_size >= sizeof(hg_name_filter_t)) {
		hg_name_filter_t f;
		memcpy(&f, v->mv_data, sizeof(f));
		dump_obj_begin(o, key);
		dump_uint(o, "layout", f.layout);
		dump_uint(o, "names", f.n_names);
		dump_uint(o, "slots", f.n_slots);
		dump_bool(o, "size_ok", v->mv_size == sizeof(f) + (size_t)f.n_slots * 4);
		dump_obj_end(o);
	} else {
		dump_obj_begin(o, key);
		dump_str(o, "error", "unknown meta key");
		dump_uint(o, "size", v->mv_size);
		dump_obj_end(o);
	}
}

static void dump_prober(dump_out_t *o, const char *key, const MDB_val *v)
{
	if (!rec_ok(o, key, v, sizeof(hg_rec_prober_t))) {
		return;
	}
	const hg_rec_prober_t *p = v->mv_data;
	dump_obj_begin(o, key);
	dump_uint(o, "index", p->index);
	dump_double(o, "lat", p->lat);
	dump_double(o, "lon", p->lon);
	dump_fixed(o, "feed", p->feed, sizeof(p->feed));
	dump_obj_end(o);
}

static void dump_pool(dump_out_t *o, const char *key, const MDB_val *v)
{
	if (!rec_ok(o, key, v, sizeof(hg_rec_pool_t))) {
		return;
	}
	const hg_rec_pool_t *p = v->mv_data;
	dump_obj_begin(o, key);
	dump_int(o, "priority", p->priority);
	dump_uint(o, "endpoints", p->n_endpoints);
	dump_bool(o, "has_check", p->has_check);
	dump_obj_end(o);
}

static void dump_endpoint(dump_out_t *o, const char *key, const MDB_val *v)
{
	if (!rec_ok(o, key, v, sizeof(hg_rec_endpoint_t))) {
		return;
	}
	const hg_rec_endpoint_t *e = v->mv_data;
	dump_obj_begin(o, key);
	dump_fixed(o, "pool", e->pool, sizeof(e->pool));
	dump_arr_begin(o, "addresses");
	for (unsigned i = 0; i < e->n_v4 && i < HG_ADDR_MAX; i++) {
		dump_addr(o, NULL, 4, e->v4[i]);
	}
	for (unsigned i = 0; i < e->n_v6 && i < HG_ADDR_MAX; i++) {
		dump_addr(o, NULL, 6, e->v6[i]);
	}
	dump_arr_end(o);
	if (e->cname_len > 0) {
		dump_dname(o, "cname", e->cname, e->cname_len);
	}
	dump_uint(o, "weight", e->weight);
	dump_int(o, "priority", e->priority);
	if (e->has_location) {
		dump_double(o, "lat", e->lat);
		dump_double(o, "lon", e->lon);
	}
	dump_check(o, &e->check);
	dump_obj_end(o);
}

static void dump_name(dump_out_t *o, const char *key, const MDB_val *v)
{
	schema_name_rec_t nr;
	if (schema_name_rec(v->mv_data, v->mv_size, &nr) != 0) {
		dump_obj_begin(o, key);
		dump_str(o, "error", "unknown record layout or size");
		dump_uint(o, "size", v->mv_size);
		dump_obj_end(o);
		return;
	}
	const hg_rec_name_t *n = nr.rec;
	dump_obj_begin(o, key);
	dump_arr_begin(o, "pools");
	for (unsigned i = 0; i < n->n_pools; i++) {
		dump_str(o, NULL, nr.pools[i]);
	}
	dump_arr_end(o);
	dump_strn(o, "chain", nr.chain, nr.chain_len);
	dump_enum(o, "fallback", &schema_fallbacks, n->fallback);
	if (n->fallback == HG_FALLBACK_POOL && n->fallback_pool < n->n_pools) {
		dump_str(o, "fallback_pool", nr.pools[n->fallback_pool]);
	}
	dump_uint(o, "ttl", n->ttl);
	dump_uint(o, "degraded_ttl", n->degraded_ttl);
	dump_double(o, "quorum", n->quorum_ppm / 1e6);
	dump_duration_ms(o, "stale_after", n->stale_after_ms);
	dump_uint(o, "set", n->set_id);
	dump_obj_end(o);
}

static void dump_measure(dump_out_t *o, const MDB_val *k, const MDB_val *v)
{
	const char *key = k->mv_data, *sep = memchr(key, '\0', k->mv_size);
	dump_obj_begin(o, NULL);
	if (sep != NULL) {
		dump_strn(o, "endpoint", key, (size_t)(sep - key));
		dump_strn(o, "prober", sep + 1, k->mv_size - (size_t)(sep - key) - 1);
	} else {
		dump_strn(o, "key", key, k->mv_size);
	}
	if (v->mv_size != sizeof(hg_rec_measure_t) ||
	    ((const hg_rec_measure_t *)v->mv_data)->layout != HG_REC_LAYOUT) {
		dump_str(o, "error", "unknown record layout");
		dump_uint(o, "size", v->mv_size);
		dump_obj_end(o);
		return;
	}
	const hg_rec_measure_t *m = v->mv_data;
	dump_enum(o, "state", &schema_healths, m->state);
	dump_enum(o, "fail_class", &schema_fail_classes, m->fail_class);
	dump_time_ms(o, "ts", m->ts_ms);
	dump_time_ms(o, "changed", m->changed_ms);
	const struct {
		const char *name;
		uint32_t v;
	} rtts[] = {
		{ "rtt_last_us", m->rtt_last_us },
		{ "rtt_ewma_us", m->rtt_ewma_us },
		{ "rtt_median_us", m->rtt_median_us },
		{ "ttfb_us", m->ttfb_us },
	};
	for (size_t i = 0; i < sizeof(rtts) / sizeof(rtts[0]); i++) {
		if (rtts[i].v == HG_RTT_NONE) {
			dump_null(o, rtts[i].name);
		} else {
			dump_uint(o, rtts[i].name, rtts[i].v);
		}
	}
	dump_uint(o, "loss_bp", m->loss_bp);
	dump_uint(o, "window", m->window);
	dump_uint(o, "consec_ok", m->consec_ok);
	dump_uint(o, "consec_fail", m->consec_fail);
	dump_uint(o, "probes_total", m->probes_total);
	dump_uint(o, "probes_failed", m->probes_failed);
	dump_uint(o, "seq", m->seq);
	dump_obj_end(o);
}

static void dump_override(dump_out_t *o, const char *key, const MDB_val *v)
{
	if (!rec_ok(o, key, v, sizeof(hg_rec_override_t))) {
		return;
	}
	const hg_rec_override_t *r = v->mv_data;
	dump_obj_begin(o, key);
	dump_enum(o, "admin", &schema_admins, r->admin);
	dump_time_ms(o, "set", r->set_ms);
	dump_fixed(o, "reason", r->reason, sizeof(r->reason));
	dump_obj_end(o);
}

/* cursors holds one record per prober and one stream position per stream
 * (key "@stream:NAME", never a prober id). */
static void dump_cursor(dump_out_t *o, const char *key, const MDB_val *v)
{
	if (strncmp(key, HG_CURSOR_STREAM_PREFIX, strlen(HG_CURSOR_STREAM_PREFIX)) == 0) {
		if (!rec_ok(o, key, v, sizeof(hg_rec_stream_cursor_t))) {
			return;
		}
		const hg_rec_stream_cursor_t *s = v->mv_data;
		dump_obj_begin(o, key);
		dump_uint(o, "offset", s->offset);
		dump_time_ms(o, "committed", s->committed_ms);
		dump_uint(o, "deliveries", s->deliveries);
		dump_fixed(o, "cluster", s->cluster, sizeof(s->cluster));
		dump_obj_end(o);
		return;
	}
	if (!rec_ok(o, key, v, sizeof(hg_rec_cursor_t))) {
		return;
	}
	const hg_rec_cursor_t *c = v->mv_data;
	dump_obj_begin(o, key);
	dump_uint(o, "epoch", c->epoch);
	dump_uint(o, "seq", c->seq);
	dump_time_ms(o, "last_arrival", c->last_arrival_ms);
	dump_time_ms(o, "last_sent", c->last_sent_ms);
	dump_uint(o, "messages", c->messages);
	dump_uint(o, "records", c->records);
	dump_uint(o, "duplicates", c->duplicates);
	dump_uint(o, "gaps", c->gaps);
	dump_obj_end(o);
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Text keys: ids are printable ASCII; a wire owner becomes its presentation,
 * a set id its number. */
static void key_text(enum store_dbi db, const void *key, size_t klen, char *buf, size_t size)
{
	if ((db == STORE_NAMES || db == STORE_VIEWS) && dump_dname_text(key, klen, buf, size) > 0) {
		return;
	}
	if (db == STORE_SETS && klen == 4) {
		snprintf(buf, size, "%u", (unsigned)be32(key));
		return;
	}
	size_t n = klen < size - 1 ? klen : size - 1;
	memcpy(buf, key, n);
	buf[n] = '\0';
}

typedef struct {
	dump_out_t *o;
	enum store_dbi db;
	/* epsets: the DUPSORT values of one key become one array; the key
	 * whose array is open (LMDB keys are at most 511 bytes). */
	uint8_t open_key[512];
	size_t open_len;
	bool open;
} dump_walk_t;

static int dump_entry(void *ctx, const void *kp, size_t klen, const void *vp, size_t vlen)
{
	dump_walk_t *w = ctx;
	dump_out_t *o = w->o;
	MDB_val k = { klen, (void *)kp }, v = { vlen, (void *)vp };
	char key[HG_DNAME_MAX * 4 + 2];
	if (w->db == STORE_EPSETS) {
		if (w->open && (klen != w->open_len || memcmp(kp, w->open_key, klen) != 0)) {
			dump_arr_end(o);
			w->open = false;
		}
		if (!w->open) {
			key_text(w->db, kp, klen, key, sizeof(key));
			dump_arr_begin(o, key);
			w->open_len = klen < sizeof(w->open_key) ? klen : sizeof(w->open_key);
			memcpy(w->open_key, kp, w->open_len);
			w->open = true;
		}
		if (vlen == 4) {
			dump_uint(o, NULL, be32(vp));
		} else {
			dump_str(o, NULL, "error: not a set id");
		}
		return HG_EOK;
	}
	key_text(w->db, kp, klen, key, sizeof(key));
	switch (w->db) {
	case STORE_META: dump_meta(o, key, &v); break;
	case STORE_PROBERS: dump_prober(o, key, &v); break;
	case STORE_POOLS: dump_pool(o, key, &v); break;
	case STORE_ENDPOINTS: dump_endpoint(o, key, &v); break;
	case STORE_NAMES: dump_name(o, key, &v); break;
	case STORE_MEASUREMENTS: dump_measure(o, &k, &v); break;
	case STORE_VIEWS: dump_view(o, key, vp, vlen); break;
	case STORE_SETS: dump_set(o, key, vp, vlen); break;
	case STORE_OVERRIDES: dump_override(o, key, &v); break;
	case STORE_CURSORS: dump_cursor(o, key, &v); break;
	default: break;
	}
	return HG_EOK;
}

int dump_db(dump_out_t *o, store_rtxn_t *rtxn, enum store_dbi db)
{
	bool list = db == STORE_MEASUREMENTS;
	if (list) {
		dump_arr_begin(o, store_db_name(db));
	} else {
		dump_obj_begin(o, store_db_name(db));
	}
	dump_walk_t w = { .o = o, .db = db };
	int ret = store_foreach(rtxn, db, NULL, 0, dump_entry, &w);
	if (w.open) {
		dump_arr_end(o);
	}
	if (list) {
		dump_arr_end(o);
	} else {
		dump_obj_end(o);
	}
	return ret;
}
