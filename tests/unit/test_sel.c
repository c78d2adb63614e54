/*  SPDX-License-Identifier: GPL-3.0-or-later */
/*  Selection engine acceptance cases: one line per case, each checking the
 *  answer, the ECS scope, the TTL and the flags. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "sel_fixture.h"
#include "tap.h"

#define NOW 1700000000000ull

/* ---- clients' geo data (what geo_lookup would return) ---- */
static const geo_info_t GEO_ID = { .found = true,
	                           .continent = "AS",
	                           .country = "ID",
	                           .subdivision = "ID-JK",
	                           .has_location = true,
	                           .lat = -6.2,
	                           .lon = 106.8,
	                           .has_asn = true,
	                           .asn = 7713,
	                           .prefix_len = 20,
	                           .asn_prefix_len = 16 };
static const geo_info_t GEO_DE = { .found = true,
	                           .continent = "EU",
	                           .country = "DE",
	                           .subdivision = "DE-HE",
	                           .has_location = true,
	                           .lat = 50.1,
	                           .lon = 8.7,
	                           .has_asn = true,
	                           .asn = 3320,
	                           .prefix_len = 22,
	                           .asn_prefix_len = 12 };
static const geo_info_t GEO_SG = { .found = true,
	                           .continent = "AS",
	                           .country = "SG",
	                           .subdivision = "",
	                           .has_location = true,
	                           .lat = 1.3,
	                           .lon = 103.8,
	                           .has_asn = false,
	                           .asn = 0,
	                           .prefix_len = 24,
	                           .asn_prefix_len = 0 };
static const geo_info_t GEO_US = { .found = true,
	                           .continent = "NA",
	                           .country = "US",
	                           .subdivision = "US-VA",
	                           .has_location = true,
	                           .lat = 38.9,
	                           .lon = -77.0,
	                           .has_asn = true,
	                           .asn = 15169,
	                           .prefix_len = 18,
	                           .asn_prefix_len = 16 };
static const geo_info_t GEO_BR = { .found = true,
	                           .continent = "SA",
	                           .country = "BR",
	                           .subdivision = "",
	                           .has_location = true,
	                           .lat = -23.5,
	                           .lon = -46.6,
	                           .has_asn = true,
	                           .asn = 64500,
	                           .prefix_len = 24,
	                           .asn_prefix_len = 12 };
static const geo_info_t GEO_NOLOC = { .found = false,
	                              .continent = "",
	                              .country = "",
	                              .subdivision = "",
	                              .has_location = false,
	                              .lat = 0,
	                              .lon = 0,
	                              .has_asn = false,
	                              .asn = 0,
	                              .prefix_len = 8,
	                              .asn_prefix_len = 0 };

/* ---- the world: probers, pools and endpoints like the reference policy ---- */
static void world(fx_t *fx)
{
	fx_prober(fx, "eu-fra", 50.11, 8.68);
	fx_prober(fx, "ap-sin", 1.35, 103.82);
	fx_prober(fx, "us-iad", 38.95, -77.45);
	fx_pool(fx, "eu", 1);
	fx_ep(fx, "fra", "198.51.100.10 2001:db8:10::10", 50.11, 8.68, 100);
	fx_ep(fx, "ams", "198.51.100.20 2001:db8:10::20", 52.37, 4.90, 50);
	fx_pool(fx, "ap", 1);
	fx_ep(fx, "sin", "203.0.113.10 2001:db8:20::10", 1.29, 103.85, 1);
	fx_ep(fx, "jkt", "203.0.113.20", -6.21, 106.85, 1);
	fx_pool(fx, "us", 2);
	fx_ep(fx, "iad", "192.0.2.10 2001:db8:30::10", 38.95, -77.45, 1);
	fx_pool(fx, "cdn", 3);
	fx_ep_cname(fx, "cdn-b", "app.cdn-b.example.org.");
	fx_pool(fx, "v4", 5);
	fx_ep(fx, "v4only", "10.9.9.9", NAN, NAN, 1);
	fx_pool(fx, "noloc", 1);
	fx_ep(fx, "nl", "10.0.0.1", NAN, NAN, 1);
	fx_pool(fx, "z", 1);
	fx_ep(fx, "z0", "10.0.0.10", NAN, NAN, 0);
	fx_ep(fx, "z1", "10.0.0.11", NAN, NAN, 1);
	fx_all_up(fx, NOW);
}

#define EP(id) ((size_t)fx_find_ep(fx, id))
#define PR(id) ((size_t)fx_find_prober(fx, id))

static void all_probers(fx_t *fx, const char *ep, uint8_t state, uint64_t ts)
{
	for (size_t j = 0; j < fx->p.n_probers; j++) {
		fx_measure(fx, EP(ep), j, state, ts, 5, 0);
	}
}

/* ---- scenarios: each adds name 0 (and adjusts measurements) ---- */
static void s_up(fx_t *fx)
{
	fx_name(fx, "up.gslb.", "eu ap us", "up", "all");
}
static void s_up_cdn(fx_t *fx)
{
	fx_name(fx, "c.gslb.", "cdn eu", "up", "all");
}
static void s_up_eu_cdn(fx_t *fx)
{
	fx_name(fx, "c.gslb.", "eu cdn", "up", "all");
}
static void s_v4only(fx_t *fx)
{
	fx_name(fx, "v4.gslb.", "v4", "up", "all");
}
static void s_ap(fx_t *fx)
{
	fx_name(fx, "ap.gslb.", "ap", "up", "all");
}

/* Quorum: name on pool eu, fallback none so removals show. */
static void s_q_at(fx_t *fx)
{
	fx_name(fx, "q.gslb.", "eu", "up", "none");
	fx_measure(fx, EP("fra"), 0, HG_HEALTH_UP, NOW, 5, 0);
	fx_measure(fx, EP("fra"), 1, HG_HEALTH_DOWN, NOW - 15000, 5,
	           0); /* exactly stale-after: fresh */
	fx_measure(fx, EP("fra"), 2, HG_HEALTH_DOWN, NOW - 15001, 5, 0); /* stale: ignored */
}
static void s_q_below(fx_t *fx)
{
	fx_name(fx, "q.gslb.", "eu", "up", "none");
	fx_measure(fx, EP("fra"), 1, HG_HEALTH_DOWN, NOW, 5, 0);
	fx_measure(fx, EP("fra"), 2, HG_HEALTH_DOWN, NOW, 5, 0);
}
static void s_q_stale(fx_t *fx)
{
	fx_name(fx, "q.gslb.", "eu", "up", "none");
	all_probers(fx, "fra", HG_HEALTH_DOWN, NOW - 20000);
}
static void s_q_none(fx_t *fx)
{
	fx_name(fx, "q.gslb.", "eu", "up", "none");
	memset(fx->has, 0, sizeof(fx->has));
}
static void s_q_future(fx_t *fx)
{
	fx_name(fx, "q.gslb.", "eu", "up", "none");
	all_probers(fx, "fra", HG_HEALTH_DOWN, NOW + 5000);
}
static void s_q_far_future(fx_t *fx)
{
	fx_name(fx, "q.gslb.", "eu", "up", "none");
	all_probers(fx, "fra", HG_HEALTH_DOWN, NOW + 3600000);
}
static void s_q_full(fx_t *fx)
{
	fx_name(fx, "q.gslb.", "eu", "up", "none");
	fx->p.names[0].quorum_ppm = 1000000;
	fx_measure(fx, EP("fra"), 2, HG_HEALTH_DOWN, NOW, 5, 0);
}
static void s_q_state_unknown(fx_t *fx)
{
	fx_name(fx, "q.gslb.", "eu", "up", "none");
	all_probers(fx, "fra", HG_HEALTH_UNKNOWN, NOW);
}
static void s_force_up(fx_t *fx)
{
	fx_name(fx, "q.gslb.", "eu", "up", "none");
	all_probers(fx, "fra", HG_HEALTH_DOWN, NOW);
	fx->admin[EP("fra")] = HG_ADMIN_FORCE_UP;
}
static void s_force_up_stale(fx_t *fx)
{
	s_force_up(fx);
	all_probers(fx, "fra", HG_HEALTH_DOWN, NOW - 60000);
}
static void s_drain(fx_t *fx)
{
	fx_name(fx, "q.gslb.", "eu", "up", "none");
	fx->admin[EP("fra")] = HG_ADMIN_DRAIN;
}
static void s_drain_no_up(fx_t *fx)
{
	fx_name(fx, "q.gslb.", "eu", "first=8", "none");
	fx->admin[EP("fra")] = HG_ADMIN_DRAIN;
}
static void s_drain_all(fx_t *fx)
{
	fx_name(fx, "q.gslb.", "eu", "up", "all");
	fx->admin[EP("fra")] = HG_ADMIN_DRAIN;
	fx->admin[EP("ams")] = HG_ADMIN_DRAIN;
}

/* Fallback modes: everything down. */
static void down_eu_us(fx_t *fx)
{
	all_probers(fx, "fra", HG_HEALTH_DOWN, NOW);
	all_probers(fx, "ams", HG_HEALTH_DOWN, NOW);
	all_probers(fx, "iad", HG_HEALTH_DOWN, NOW);
}
static void s_fb_all(fx_t *fx)
{
	fx_name(fx, "f.gslb.", "eu us", "up", "all");
	down_eu_us(fx);
}
static void s_fb_pool(fx_t *fx)
{
	fx_name(fx, "f.gslb.", "eu us", "up", "us");
	down_eu_us(fx);
}
static void s_fb_none(fx_t *fx)
{
	fx_name(fx, "f.gslb.", "eu us", "up", "none");
	down_eu_us(fx);
}
static void s_fb_all_drained(fx_t *fx)
{
	s_fb_all(fx);
	fx->admin[EP("iad")] = HG_ADMIN_DRAIN;
}

/* Geofence. */
static void s_geo(fx_t *fx)
{
	size_t n = fx_name(fx, "geo.gslb.", "eu ap us", "geofence", "all");
	fx_rule(fx, n, "country=ID", "ep:jkt", false);
	fx_rule(fx, n, "continent=EU", "pool:eu", false);
	fx_rule(fx, n, "prefix=10.0.0.0/8", "pool:us", false);
	fx_rule(fx, n, "asn=64500", "ep:sin", false);
}
static void s_geo_jkt_down(fx_t *fx, bool strict)
{
	size_t n = fx_name(fx, "geo.gslb.", "eu ap us", "up geofence", "all");
	fx_rule(fx, n, "country=ID", "ep:jkt", strict);
	all_probers(fx, "jkt", HG_HEALTH_DOWN, NOW);
}
static void s_geo_strict(fx_t *fx)
{
	s_geo_jkt_down(fx, true);
}
/* Issue 10 point 6: a strict fence never widened by the name's fallback. */
static void s_geo_strict_fb(fx_t *fx)
{
	s_geo_jkt_down(fx, true);
	fx_rule_fallback(fx, 0, "ap");
}
static void s_geo_strict_fb_all_down(fx_t *fx)
{
	s_geo_strict_fb(fx);
	all_probers(fx, "sin", HG_HEALTH_DOWN, NOW);
}
static void s_geo_strict_fb_drained(fx_t *fx)
{
	s_geo_strict_fb(fx);
	fx->admin[EP("sin")] = HG_ADMIN_DRAIN;
}
/* up before geofence and every endpoint down: the chain empties before the
 * geofence runs; its strict rules still hold in the fallback. */
static void s_geo_strict_all_down(fx_t *fx)
{
	size_t n = fx_name(fx, "geo.gslb.", "eu ap us", "up geofence", "all");
	fx_rule(fx, n, "country=ID", "ep:jkt", true);
	fx_rule_fallback(fx, n, "ap");
	fx_rule(fx, n, "continent=EU", "pool:eu", true);
	fx_rule(fx, n, "country=US", "pool:us", false);
	for (size_t e = 0; e < fx->p.n_endpoints; e++) {
		for (size_t j = 0; j < fx->p.n_probers; j++) {
			fx_measure(fx, e, j, HG_HEALTH_DOWN, NOW, 5, 0);
		}
	}
}
/* The fence keeps jkt (geofence before up), then up removes it: the chain
 * ends empty after the fence matched, so the fence's fallback still holds. */
static void s_geo_strict_then_up(fx_t *fx)
{
	size_t n = fx_name(fx, "geo.gslb.", "eu ap us", "geofence up", "all");
	fx_rule(fx, n, "country=ID", "ep:jkt", true);
	fx_rule(fx, n, "continent=EU", "pool:eu", true);
	fx_rule_fallback(fx, n, "eu");
	all_probers(fx, "jkt", HG_HEALTH_DOWN, NOW);
	all_probers(fx, "fra", HG_HEALTH_DOWN, NOW);
	all_probers(fx, "ams", HG_HEALTH_DOWN, NOW);
}
static void s_geo_loose(fx_t *fx)
{
	s_geo_jkt_down(fx, false);
}
static void s_geo_and(fx_t *fx)
{
	size_t n = fx_name(fx, "geo.gslb.", "eu ap us", "geofence", "all");
	fx_rule(fx, n, "country=ID continent=EU", "ep:jkt", false);
	fx_rule(fx, n, "subdivision=ID-JK,ID-BA country=ID", "ep:sin", false);
}
static void s_geo_v6(fx_t *fx)
{
	size_t n = fx_name(fx, "geo.gslb.", "eu ap us", "geofence", "all");
	fx_rule(fx, n, "prefix=2001:db8:aa00::/40", "pool:ap", false);
}
static void s_geo_catchall(fx_t *fx)
{
	size_t n = fx_name(fx, "geo.gslb.", "eu ap us", "geofence", "all");
	fx_rule(fx, n, "", "pool:us", false);
}

/* Distance and vantage filters. */
static void s_nearest(fx_t *fx)
{
	fx_name(fx, "n.gslb.", "eu ap us", "nearest first=1", "all");
}
static void s_nearest_noloc(fx_t *fx)
{
	fx_name(fx, "n.gslb.", "noloc eu", "nearest", "all");
}
static void s_lat(fx_t *fx)
{
	fx_name(fx, "l.gslb.", "eu ap us", "latency=20", "all");
}
static void s_lat0(fx_t *fx)
{
	fx_name(fx, "l.gslb.", "eu ap us", "latency=0", "all");
}
static void s_lat_no_fra_prober(fx_t *fx)
{
	s_lat(fx);
	for (size_t e = 0; e < fx->p.n_endpoints; e++) {
		fx->has[e][PR("eu-fra")] = false;
	}
}
static void s_lat_no_rtt(fx_t *fx)
{
	s_lat(fx);
	fx_measure(fx, EP("ams"), PR("eu-fra"), HG_HEALTH_UP, NOW, -1, 0);
}
static void s_lat_none(fx_t *fx)
{
	s_lat(fx);
	memset(fx->has, 0, sizeof(fx->has));
}
/* Issue 10 point 1: the DE client's vantage (eu-fra) sees fra down, yet its
 * cell still says 0.5 ms (haltgslb-ctl measure fra --prober eu-fra --down
 * --rtt 0.5ms: the best figure of all); the other probers see fra up
 * (global quorum: up). */
static void s_lat_vantage_down(fx_t *fx)
{
	s_lat(fx);
	fx_measure(fx, EP("fra"), PR("eu-fra"), HG_HEALTH_DOWN, NOW, 0.5, 0);
}
/* The same with the up filter first: fra stays up by quorum (2 of 3). */
static void s_lat_vantage_down_up(fx_t *fx)
{
	fx_name(fx, "l.gslb.", "eu ap us", "up latency=20", "all");
	fx_measure(fx, EP("fra"), PR("eu-fra"), HG_HEALTH_DOWN, NOW, 0.1, 0);
}
/* Every eu endpoint down from eu-fra: nothing left with a latency from the
 * DE vantage but the ones farther vantages cannot rank either. */
static void s_lat_vantage_all_down(fx_t *fx)
{
	fx_name(fx, "l.gslb.", "eu", "latency=20", "all");
	fx_measure(fx, EP("fra"), PR("eu-fra"), HG_HEALTH_DOWN, NOW, 1, 0);
	fx_measure(fx, EP("ams"), PR("eu-fra"), HG_HEALTH_DOWN, NOW, 1, 0);
}
/* A warming prober (state unknown) abstains: the next vantage (us-iad, fra
 * 63 ms, ams 62 ms, iad 1 ms... iad from eu-fra 64 ms) ranks fra and ams. */
static void s_lat_vantage_warming(fx_t *fx)
{
	s_lat(fx);
	fx_measure(fx, EP("fra"), PR("eu-fra"), HG_HEALTH_UNKNOWN, NOW, 0.5, 0);
	fx_measure(fx, EP("ams"), PR("eu-fra"), HG_HEALTH_UNKNOWN, NOW, 50, 0);
}
/* max-loss: eu-fra sees fra down with a stale 0 % loss figure. */
static void s_loss_vantage_down(fx_t *fx)
{
	fx_name(fx, "m.gslb.", "eu", "loss=200", "all");
	fx_measure(fx, EP("fra"), PR("eu-fra"), HG_HEALTH_DOWN, NOW, 1, 0);
}
static void s_loss(fx_t *fx)
{
	fx_name(fx, "m.gslb.", "eu ap us", "loss=200", "all");
	fx_measure(fx, EP("fra"), PR("eu-fra"), HG_HEALTH_UP, NOW, 1, 500);
	fx_measure(fx, EP("ams"), PR("eu-fra"), HG_HEALTH_UP, NOW, 5, 200);
}
static void s_loss_all(fx_t *fx)
{
	fx_name(fx, "m.gslb.", "eu", "loss=200", "all");
	fx_measure(fx, EP("fra"), PR("eu-fra"), HG_HEALTH_UP, NOW, 1, 500);
	fx_measure(fx, EP("ams"), PR("eu-fra"), HG_HEALTH_UP, NOW, 5, 300);
}
static void s_loss_next_vantage(fx_t *fx)
{
	fx_name(fx, "m.gslb.", "eu", "loss=200", "all");
	fx->has[EP("fra")][PR("eu-fra")] = false;
	fx_measure(fx, EP("fra"), PR("us-iad"), HG_HEALTH_UP, NOW, 70, 900);
}
static void s_loss_nodata(fx_t *fx)
{
	fx_name(fx, "m.gslb.", "eu", "loss=200", "all");
	for (size_t j = 0; j < fx->p.n_probers; j++) {
		fx->has[EP("fra")][j] = false;
	}
	fx_measure(fx, EP("ams"), PR("eu-fra"), HG_HEALTH_UP, NOW, 5, 900);
	fx_measure(fx, EP("ams"), PR("us-iad"), HG_HEALTH_UP, NOW, 5, 900);
	fx_measure(fx, EP("ams"), PR("ap-sin"), HG_HEALTH_UP, NOW, 5, 900);
}

/* Ordering filters. */
static void s_prio(fx_t *fx)
{
	fx_name(fx, "p.gslb.", "eu ap us cdn", "up priority", "all");
}
static void s_prio_eu_ap_down(fx_t *fx)
{
	s_prio(fx);
	all_probers(fx, "fra", HG_HEALTH_DOWN, NOW);
	all_probers(fx, "ams", HG_HEALTH_DOWN, NOW);
	all_probers(fx, "sin", HG_HEALTH_DOWN, NOW);
	all_probers(fx, "jkt", HG_HEALTH_DOWN, NOW);
}
static void s_prio_only_cdn(fx_t *fx)
{
	s_prio_eu_ap_down(fx);
	all_probers(fx, "iad", HG_HEALTH_DOWN, NOW);
}
static void s_dr(fx_t *fx)
{
	fx_name(fx, "dr.gslb.", "eu us", "up priority first=1", "all");
}
static void s_shuffle_zero(fx_t *fx)
{
	fx_name(fx, "z.gslb.", "z", "shuffle", "all");
}
static void s_weighted_zero(fx_t *fx)
{
	fx_name(fx, "z.gslb.", "z", "weighted first=1", "all");
}
static void s_sticky(fx_t *fx)
{
	fx_name(fx, "canary.gslb.", "eu", "up sticky first=1", "all");
	fx->p.names[0].ttl = 60;
}
static void s_sticky_zero(fx_t *fx)
{
	fx_name(fx, "z.gslb.", "z", "sticky", "all");
}
static void s_rr(fx_t *fx)
{
	fx_name(fx, "rr.gslb.", "eu ap us", "up rr first=8", "all");
}
static void s_first(fx_t *fx)
{
	fx_name(fx, "f1.gslb.", "eu ap us", "first=2", "all");
}
static void s_first_cname(fx_t *fx)
{
	fx_name(fx, "f1.gslb.", "cdn eu", "first=1", "all");
}

/* Sticky answers are fixed by the hash: pinned so a change of hashing is seen. */
#define STICKY_V4    "198.51.100.10"
#define STICKY_V4_20 "198.51.100.10"
#define STICKY_V6    "2001:db8:10::20"

typedef struct {
	const char *desc;
	void (*scenario)(fx_t *fx);
	const char *client;
	uint8_t source_len; /* 0: the client's own address */
	const geo_info_t *geo;
	uint16_t qtype;
	const char *answer;
	unsigned scope, ttl;
	const char *flags;
} sel_case_t;

#define A    1
#define AAAA 28

static const sel_case_t cases[] = {
	/* desc                             scenario            client       src geo        qtype answer                                                                     scope ttl flags */
	{ "up: all up, A", s_up, "192.0.2.1", 0, NULL, A,
	  "198.51.100.10 198.51.100.20 203.0.113.10 203.0.113.20 192.0.2.10", 0, 30, "" },
	{ "up: all up, AAAA skips jkt", s_up, "192.0.2.1", 0, NULL, AAAA,
	  "2001:db8:10::10 2001:db8:10::20 2001:db8:20::10 2001:db8:30::10", 0, 30, "" },
	{ "family: AAAA v4-only name", s_v4only, "192.0.2.1", 0, NULL, AAAA, "", 0, 30, "NODATA" },
	{ "family: A v4-only name", s_v4only, "192.0.2.1", 0, NULL, A, "10.9.9.9", 0, 30, "" },
	{ "family: AAAA pool ap", s_ap, "192.0.2.1", 0, NULL, AAAA, "2001:db8:20::10", 0, 30, "" },
	{ "family: cname first", s_up_cdn, "192.0.2.1", 0, NULL, A, "cname:app.cdn-b.example.org.",
	  0, 30, "CNAME" },
	{ "family: cname first, AAAA", s_up_cdn, "192.0.2.1", 0, NULL, AAAA,
	  "cname:app.cdn-b.example.org.", 0, 30, "CNAME" },
	{ "family: cname later skipped", s_up_eu_cdn, "192.0.2.1", 0, NULL, A,
	  "198.51.100.10 198.51.100.20", 0, 30, "" },
	{ "quorum: exactly at, stale ign.", s_q_at, "192.0.2.1", 0, NULL, A,
	  "198.51.100.10 198.51.100.20", 0, 30, "" },
	{ "quorum: below", s_q_below, "192.0.2.1", 0, NULL, A, "198.51.100.20", 0, 10, "DEGRADED" },
	{ "quorum: only stale -> unknown", s_q_stale, "192.0.2.1", 0, NULL, A,
	  "198.51.100.10 198.51.100.20", 0, 10, "DEGRADED|UNKNOWN" },
	{ "quorum: no probers -> unknown", s_q_none, "192.0.2.1", 0, NULL, A,
	  "198.51.100.10 198.51.100.20", 0, 10, "DEGRADED|UNKNOWN" },
	{ "quorum: slightly future = fresh", s_q_future, "192.0.2.1", 0, NULL, A, "198.51.100.20",
	  0, 10, "DEGRADED" },
	{ "quorum: far future ignored", s_q_far_future, "192.0.2.1", 0, NULL, A,
	  "198.51.100.10 198.51.100.20", 0, 10, "DEGRADED|UNKNOWN" },
	{ "quorum: 100% needs all", s_q_full, "192.0.2.1", 0, NULL, A, "198.51.100.20", 0, 10,
	  "DEGRADED" },
	{ "quorum: warm-up probers abstain", s_q_state_unknown, "192.0.2.1", 0, NULL, A,
	  "198.51.100.10 198.51.100.20", 0, 10, "DEGRADED|UNKNOWN" },
	{ "admin: force-up wins", s_force_up, "192.0.2.1", 0, NULL, A,
	  "198.51.100.10 198.51.100.20", 0, 30, "" },
	{ "admin: force-up, stale data", s_force_up_stale, "192.0.2.1", 0, NULL, A,
	  "198.51.100.10 198.51.100.20", 0, 30, "" },
	{ "admin: drain removes", s_drain, "192.0.2.1", 0, NULL, A, "198.51.100.20", 0, 30, "" },
	{ "admin: drain without up", s_drain_no_up, "192.0.2.1", 0, NULL, A, "198.51.100.20", 0, 30,
	  "" },
	{ "admin: all drained -> fallback", s_drain_all, "192.0.2.1", 0, NULL, A,
	  "198.51.100.10 198.51.100.20", 0, 10, "DEGRADED|FALLBACK" },
	{ "fallback: all", s_fb_all, "192.0.2.1", 0, NULL, A,
	  "198.51.100.10 198.51.100.20 192.0.2.10", 0, 10, "DEGRADED|FALLBACK" },
	{ "fallback: all ignores drain", s_fb_all_drained, "192.0.2.1", 0, NULL, A,
	  "198.51.100.10 198.51.100.20 192.0.2.10", 0, 10, "DEGRADED|FALLBACK" },
	{ "fallback: all, AAAA", s_fb_all, "192.0.2.1", 0, NULL, AAAA,
	  "2001:db8:10::10 2001:db8:10::20 2001:db8:30::10", 0, 10, "DEGRADED|FALLBACK" },
	{ "fallback: pool us", s_fb_pool, "192.0.2.1", 0, NULL, A, "192.0.2.10", 0, 10,
	  "DEGRADED|FALLBACK" },
	{ "fallback: none", s_fb_none, "192.0.2.1", 0, NULL, A, "", 0, 10,
	  "DEGRADED|FALLBACK|NODATA" },
	{ "geofence: country ID", s_geo, "36.64.0.1", 0, &GEO_ID, A, "203.0.113.20", 20, 30,
	  "CLIENT" },
	{ "geofence: ECS /16 caps scope", s_geo, "36.64.0.0", 16, &GEO_ID, A, "203.0.113.20", 16,
	  30, "CLIENT" },
	{ "geofence: ECS /24 no cap", s_geo, "36.64.0.0", 24, &GEO_ID, A, "203.0.113.20", 20, 30,
	  "CLIENT" },
	{ "geofence: continent EU", s_geo, "91.0.0.1", 0, &GEO_DE, A, "198.51.100.10 198.51.100.20",
	  22, 30, "CLIENT" },
	{ "geofence: no rule (US)", s_geo, "8.8.8.8", 0, &GEO_US, A,
	  "198.51.100.10 198.51.100.20 203.0.113.10 203.0.113.20 192.0.2.10", 18, 30, "CLIENT" },
	{ "geofence: prefix match", s_geo, "10.1.2.3", 0, &GEO_NOLOC, A, "192.0.2.10", 8, 30,
	  "CLIENT" },
	{ "geofence: asn match", s_geo, "100.64.0.1", 0, &GEO_BR, A, "203.0.113.10", 24, 30,
	  "CLIENT" },
	{ "geofence: prefix miss /8 near", s_geo, "11.1.2.3", 0, NULL, A,
	  "198.51.100.10 198.51.100.20 203.0.113.10 203.0.113.20 192.0.2.10", 8, 30, "CLIENT" },
	{ "geofence: prefix miss far", s_geo, "192.168.1.1", 0, NULL, A,
	  "198.51.100.10 198.51.100.20 203.0.113.10 203.0.113.20 192.0.2.10", 1, 30, "CLIENT" },
	{ "geofence: prefix miss mid", s_geo, "8.1.2.3", 0, NULL, A,
	  "198.51.100.10 198.51.100.20 203.0.113.10 203.0.113.20 192.0.2.10", 7, 30, "CLIENT" },
	{ "geofence: prefix hit, no geo", s_geo, "10.200.0.1", 0, NULL, A, "192.0.2.10", 8, 30,
	  "CLIENT" },
	{ "geofence: v6 client vs v4 rule", s_geo, "2001:db8::1", 0, NULL, AAAA,
	  "2001:db8:10::10 2001:db8:10::20 2001:db8:20::10 2001:db8:30::10", 0, 30, "CLIENT" },
	{ "geofence: v6 prefix hit", s_geo_v6, "2001:db8:aa12::1", 0, NULL, AAAA, "2001:db8:20::10",
	  40, 30, "CLIENT" },
	{ "geofence: v6 prefix miss", s_geo_v6, "2001:db8:ab00::1", 0, NULL, AAAA,
	  "2001:db8:10::10 2001:db8:10::20 2001:db8:20::10 2001:db8:30::10", 40, 30, "CLIENT" },
	{ "geofence: v6 miss, ECS /32", s_geo_v6, "2001:db8::", 32, NULL, AAAA,
	  "2001:db8:10::10 2001:db8:10::20 2001:db8:20::10 2001:db8:30::10", 32, 30, "CLIENT" },
	{ "geofence: kinds AND-ed", s_geo_and, "36.64.0.1", 0, &GEO_ID, A, "203.0.113.10", 20, 30,
	  "CLIENT" },
	{ "geofence: AND, subdiv miss", s_geo_and, "91.0.0.1", 0, &GEO_DE, A,
	  "198.51.100.10 198.51.100.20 203.0.113.10 203.0.113.20 192.0.2.10", 22, 30, "CLIENT" },
	{ "geofence: catch-all rule", s_geo_catchall, "91.0.0.1", 0, &GEO_DE, A, "192.0.2.10", 0,
	  30, "" },
	{ "geofence: target down, loose", s_geo_loose, "36.64.0.1", 0, &GEO_ID, A,
	  "198.51.100.10 198.51.100.20 203.0.113.10 192.0.2.10", 20, 10, "DEGRADED|CLIENT" },
	{ "geofence: target down, strict", s_geo_strict, "36.64.0.1", 0, &GEO_ID, A, "", 20, 10,
	  "DEGRADED|FALLBACK|NODATA|CLIENT" },
	{ "geofence: strict, own fallback", s_geo_strict_fb, "36.64.0.1", 0, &GEO_ID, A,
	  "203.0.113.10", 20, 10, "DEGRADED|FALLBACK|CLIENT" },
	{ "geofence: strict fb, AAAA", s_geo_strict_fb, "36.64.0.1", 0, &GEO_ID, AAAA,
	  "2001:db8:20::10", 20, 10, "DEGRADED|FALLBACK|CLIENT" },
	{ "geofence: strict fb, all down", s_geo_strict_fb_all_down, "36.64.0.1", 0, &GEO_ID, A,
	  "203.0.113.10 203.0.113.20", 20, 10, "DEGRADED|FALLBACK|CLIENT" },
	{ "geofence: strict fb, no drained", s_geo_strict_fb_drained, "36.64.0.1", 0, &GEO_ID, A,
	  "203.0.113.20", 20, 10, "DEGRADED|FALLBACK|CLIENT" },
	{ "geofence: strict fb, other cl.", s_geo_strict_fb, "91.0.0.1", 0, &GEO_DE, A,
	  "198.51.100.10 198.51.100.20 203.0.113.10 192.0.2.10", 22, 10, "DEGRADED|CLIENT" },
	{ "geofence: all down, fence holds", s_geo_strict_all_down, "36.64.0.1", 0, &GEO_ID, A,
	  "203.0.113.10 203.0.113.20", 20, 10, "DEGRADED|FALLBACK|CLIENT" },
	{ "geofence: all down, EU NODATA", s_geo_strict_all_down, "91.0.0.1", 0, &GEO_DE, A, "", 22,
	  10, "DEGRADED|FALLBACK|NODATA|CLIENT" },
	{ "geofence: all down, loose: name", s_geo_strict_all_down, "8.8.8.8", 0, &GEO_US, A,
	  "198.51.100.10 198.51.100.20 203.0.113.10 203.0.113.20 192.0.2.10", 18, 10,
	  "DEGRADED|FALLBACK|CLIENT" },
	{ "geofence: strict, up empties", s_geo_strict_then_up, "36.64.0.1", 0, &GEO_ID, A, "", 20,
	  10, "DEGRADED|FALLBACK|NODATA|CLIENT" },
	{ "geofence: strict, up empties EU", s_geo_strict_then_up, "91.0.0.1", 0, &GEO_DE, A,
	  "198.51.100.10 198.51.100.20", 22, 10, "DEGRADED|FALLBACK|CLIENT" },
	{ "geofence: strict, no geo: name", s_geo_strict_then_up, "1.2.3.4", 0, NULL, A,
	  "203.0.113.10 192.0.2.10", 0, 10, "DEGRADED" },
	{ "geofence: strict, other client", s_geo_strict, "91.0.0.1", 0, &GEO_DE, A,
	  "198.51.100.10 198.51.100.20 203.0.113.10 192.0.2.10", 22, 10, "DEGRADED|CLIENT" },
	{ "geofence: no geo, geo rules", s_geo_strict, "36.64.0.1", 0, NULL, A,
	  "198.51.100.10 198.51.100.20 203.0.113.10 192.0.2.10", 0, 10, "DEGRADED" },
	{ "nearest: DE", s_nearest, "91.0.0.1", 0, &GEO_DE, A, "198.51.100.10", 22, 30, "CLIENT" },
	{ "nearest: SG", s_nearest, "8.128.0.1", 0, &GEO_SG, A, "203.0.113.10", 24, 30, "CLIENT" },
	{ "nearest: SG, AAAA", s_nearest, "8.128.0.1", 0, &GEO_SG, AAAA, "2001:db8:20::10", 24, 30,
	  "CLIENT" },
	{ "nearest: ID", s_nearest, "36.64.0.1", 0, &GEO_ID, A, "203.0.113.20", 20, 30, "CLIENT" },
	{ "nearest: ID, AAAA (no v6 jkt)", s_nearest, "36.64.0.1", 0, &GEO_ID, AAAA,
	  "2001:db8:20::10", 20, 30, "CLIENT" },
	{ "nearest: US", s_nearest, "8.8.8.8", 0, &GEO_US, A, "192.0.2.10", 18, 30, "CLIENT" },
	{ "nearest: US, ECS /12", s_nearest, "8.0.0.0", 12, &GEO_US, A, "192.0.2.10", 12, 30,
	  "CLIENT" },
	{ "nearest: no location", s_nearest, "1.2.3.4", 0, &GEO_NOLOC, A, "198.51.100.10", 8, 30,
	  "CLIENT" },
	{ "nearest: no geo", s_nearest, "1.2.3.4", 0, NULL, A, "198.51.100.10", 0, 30, "" },
	{ "nearest: unlocated ep last", s_nearest_noloc, "91.0.0.1", 0, &GEO_DE, A,
	  "198.51.100.10 198.51.100.20 10.0.0.1", 22, 30, "CLIENT" },
	{ "latency: DE", s_lat, "91.0.0.1", 0, &GEO_DE, A, "198.51.100.10 198.51.100.20", 22, 30,
	  "CLIENT" },
	{ "latency: SG", s_lat, "8.128.0.1", 0, &GEO_SG, A, "203.0.113.10 203.0.113.20", 24, 30,
	  "CLIENT" },
	{ "latency: US", s_lat, "8.8.8.8", 0, &GEO_US, A, "192.0.2.10", 18, 30, "CLIENT" },
	{ "latency: tolerance 0", s_lat0, "8.128.0.1", 0, &GEO_SG, A, "203.0.113.10", 24, 30,
	  "CLIENT" },
	{ "latency: next vantage", s_lat_no_fra_prober, "91.0.0.1", 0, &GEO_DE, A, "192.0.2.10", 22,
	  30, "CLIENT" },
	{ "latency: ep rtt from next", s_lat_no_rtt, "91.0.0.1", 0, &GEO_DE, A, "198.51.100.10", 22,
	  30, "CLIENT" },
	{ "latency: vantage sees it down", s_lat_vantage_down, "91.0.0.1", 0, &GEO_DE, A,
	  "198.51.100.20", 22, 10, "DEGRADED|CLIENT" },
	{ "latency: vantage down, up kept", s_lat_vantage_down_up, "91.0.0.1", 0, &GEO_DE, A,
	  "198.51.100.20", 22, 10, "DEGRADED|CLIENT" },
	{ "latency: vantage down, SG", s_lat_vantage_down, "8.128.0.1", 0, &GEO_SG, A,
	  "203.0.113.10 203.0.113.20", 24, 30, "CLIENT" },
	{ "latency: all down from vantage", s_lat_vantage_all_down, "91.0.0.1", 0, &GEO_DE, A,
	  "198.51.100.10 198.51.100.20", 22, 10, "DEGRADED|CLIENT" },
	{ "latency: warming abstains", s_lat_vantage_warming, "91.0.0.1", 0, &GEO_DE, A,
	  "198.51.100.20 198.51.100.10 192.0.2.10", 22, 30, "CLIENT" },
	{ "latency: no measurements", s_lat_none, "91.0.0.1", 0, &GEO_DE, A,
	  "198.51.100.10 198.51.100.20 203.0.113.10 203.0.113.20 192.0.2.10", 22, 30, "CLIENT" },
	{ "latency: no location", s_lat, "1.2.3.4", 0, &GEO_NOLOC, A,
	  "198.51.100.10 198.51.100.20 203.0.113.10 203.0.113.20 192.0.2.10", 8, 30, "CLIENT" },
	{ "latency: no geo", s_lat, "1.2.3.4", 0, NULL, A,
	  "198.51.100.10 198.51.100.20 203.0.113.10 203.0.113.20 192.0.2.10", 0, 30, "" },
	{ "max-loss: drops lossy", s_loss, "91.0.0.1", 0, &GEO_DE, A,
	  "198.51.100.20 203.0.113.10 203.0.113.20 192.0.2.10", 22, 30, "CLIENT" },
	{ "max-loss: other vantage", s_loss, "8.128.0.1", 0, &GEO_SG, A,
	  "198.51.100.10 198.51.100.20 203.0.113.10 203.0.113.20 192.0.2.10", 24, 30, "CLIENT" },
	{ "max-loss: all lossy unchanged", s_loss_all, "91.0.0.1", 0, &GEO_DE, A,
	  "198.51.100.10 198.51.100.20", 22, 30, "CLIENT" },
	{ "max-loss: next vantage", s_loss_next_vantage, "91.0.0.1", 0, &GEO_DE, A, "198.51.100.20",
	  22, 30, "CLIENT" },
	{ "max-loss: no data kept", s_loss_nodata, "91.0.0.1", 0, &GEO_DE, A, "198.51.100.10", 22,
	  30, "CLIENT" },
	{ "max-loss: vantage sees it down", s_loss_vantage_down, "91.0.0.1", 0, &GEO_DE, A,
	  "198.51.100.20", 22, 10, "DEGRADED|CLIENT" },
	{ "max-loss: no geo", s_loss, "91.0.0.1", 0, NULL, A,
	  "198.51.100.10 198.51.100.20 203.0.113.10 203.0.113.20 192.0.2.10", 0, 30, "" },
	{ "priority: lowest value", s_prio, "192.0.2.1", 0, NULL, A,
	  "198.51.100.10 198.51.100.20 203.0.113.10 203.0.113.20", 0, 30, "" },
	{ "priority: next when down", s_prio_eu_ap_down, "192.0.2.1", 0, NULL, A, "192.0.2.10", 0,
	  10, "DEGRADED" },
	{ "priority: cname last resort", s_prio_only_cdn, "192.0.2.1", 0, NULL, A,
	  "cname:app.cdn-b.example.org.", 0, 10, "DEGRADED|CNAME" },
	{ "priority: dr first=1", s_dr, "192.0.2.1", 0, NULL, A, "198.51.100.10", 0, 30, "" },
	{ "shuffle: weight 0 last", s_shuffle_zero, "192.0.2.1", 0, NULL, A, "10.0.0.11 10.0.0.10",
	  0, 30, "" },
	{ "weighted: weight 0 never first", s_weighted_zero, "192.0.2.1", 0, NULL, A, "10.0.0.11",
	  0, 30, "" },
	{ "sticky: weight 0 last", s_sticky_zero, "192.0.2.1", 0, NULL, A, "10.0.0.11 10.0.0.10",
	  24, 30, "CLIENT" },
	{ "sticky: v4 /24 scope, ttl 60", s_sticky, "192.0.2.1", 0, NULL, A, STICKY_V4, 24, 60,
	  "CLIENT" },
	{ "sticky: same /24", s_sticky, "192.0.2.200", 0, NULL, A, STICKY_V4, 24, 60, "CLIENT" },
	{ "sticky: ECS /20", s_sticky, "192.0.0.0", 20, NULL, A, STICKY_V4_20, 20, 60, "CLIENT" },
	{ "sticky: v6 /56", s_sticky, "2001:db8:1:2::1", 0, NULL, AAAA, STICKY_V6, 56, 60,
	  "CLIENT" },
	{ "round-robin: first call", s_rr, "192.0.2.1", 0, NULL, A,
	  "198.51.100.10 198.51.100.20 203.0.113.10 203.0.113.20 192.0.2.10", 0, 30, "" },
	{ "first: 2", s_first, "192.0.2.1", 0, NULL, A, "198.51.100.10 198.51.100.20", 0, 30, "" },
	{ "first: cname wins", s_first_cname, "192.0.2.1", 0, NULL, AAAA,
	  "cname:app.cdn-b.example.org.", 0, 30, "CNAME" },
};

static void run_case(const sel_case_t *tc)
{
	fx_t *fx = fx_new();
	world(fx);
	tc->scenario(fx);
	uint8_t *blob = NULL;
	size_t len = 0;
	view_t v;
	int ret = fx_build(fx, 0, NOW, &blob, &len);
	if (ret == HG_EOK) {
		ret = fx_open(blob, len, &v);
	}
	if (ret != HG_EOK) {
		ok(0, "%s: build/open view: %s", tc->desc, hg_strerror(ret));
		free(blob);
		fx_free(fx);
		return;
	}
	sel_client_t cl = fx_client(tc->client, tc->source_len, tc->geo);
	sel_rng_t rng;
	sel_rng_seed(&rng, 42);
	sel_answer_t a;
	ret = sel_decide(&v, &cl, tc->qtype, NOW, &rng, &a, NULL);
	char ans[1024], fl[128];
	fx_answer_text(&a, tc->qtype, ans, sizeof(ans));
	fx_flags_text(a.flags, fl, sizeof(fl));
	bool pass = ret == HG_EOK && strcmp(ans, tc->answer) == 0 && a.scope == tc->scope &&
	            a.ttl == tc->ttl && strcmp(fl, tc->flags) == 0;
	ok(pass, "%-32s answer [%s] scope %u ttl %u flags %s", tc->desc, ans, a.scope, a.ttl, fl);
	if (!pass) {
		diag("expected [%s] scope %u ttl %u flags %s (ret %d)", tc->answer, tc->scope,
		     tc->ttl, tc->flags, ret);
	}
	free(blob);
	fx_free(fx);
}

/* A view of one scenario, opened; the caller frees blob and fx. */
static int open_scenario(void (*scenario)(fx_t *), fx_t **fx, uint8_t **blob, view_t *v)
{
	size_t len;
	*fx = fx_new();
	world(*fx);
	scenario(*fx);
	int ret = fx_build(*fx, 0, NOW, blob, &len);
	return ret == HG_EOK ? fx_open(*blob, len, v) : ret;
}

static void test_round_robin(void)
{
	fx_t *fx;
	uint8_t *blob = NULL;
	view_t v;
	is_int(open_scenario(s_rr, &fx, &blob, &v), HG_EOK, "rr: view");
	static const char *want[] = {
		"198.51.100.10 198.51.100.20 203.0.113.10 203.0.113.20 192.0.2.10",
		"198.51.100.20 203.0.113.10 203.0.113.20 192.0.2.10 198.51.100.10",
		"203.0.113.10 203.0.113.20 192.0.2.10 198.51.100.10 198.51.100.20",
		"203.0.113.20 192.0.2.10 198.51.100.10 198.51.100.20 203.0.113.10",
		"192.0.2.10 198.51.100.10 198.51.100.20 203.0.113.10 203.0.113.20",
		"198.51.100.10 198.51.100.20 203.0.113.10 203.0.113.20 192.0.2.10",
	};
	sel_rng_t rng;
	sel_rng_seed(&rng, 7);
	sel_client_t cl = fx_client("192.0.2.1", 0, NULL);
	for (unsigned i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		sel_answer_t a;
		char buf[512];
		sel_decide(&v, &cl, 1, NOW, &rng, &a, NULL);
		is_str(fx_answer_text(&a, 1, buf, sizeof(buf)), want[i], "rr: call %u rotates", i);
	}
	free(blob);
	fx_free(fx);
}

static void test_vantage(void)
{
	static const struct {
		const char *desc;
		void (*scenario)(fx_t *);
		const geo_info_t *geo;
		const char *vantage; /* NULL: -1 */
	} vcases[] = {
		{ "DE -> eu-fra", s_lat, &GEO_DE, "eu-fra" },
		{ "SG -> ap-sin", s_lat, &GEO_SG, "ap-sin" },
		{ "US -> us-iad", s_lat, &GEO_US, "us-iad" },
		{ "DE, eu-fra silent -> iad", s_lat_no_fra_prober, &GEO_DE, "us-iad" },
		{ "no location -> none", s_lat, &GEO_NOLOC, NULL },
		{ "no measurements -> none", s_lat_none, &GEO_DE, NULL },
		{ "chain without vantage", s_nearest, &GEO_DE, NULL },
	};
	for (unsigned i = 0; i < sizeof(vcases) / sizeof(vcases[0]); i++) {
		fx_t *fx;
		uint8_t *blob = NULL;
		view_t v;
		open_scenario(vcases[i].scenario, &fx, &blob, &v);
		sel_client_t cl = fx_client("91.0.0.1", 0, vcases[i].geo);
		sel_rng_t rng;
		sel_rng_seed(&rng, 1);
		sel_answer_t a;
		sel_decide(&v, &cl, 1, NOW, &rng, &a, NULL);
		long want = vcases[i].vantage ? fx_find_prober(fx, vcases[i].vantage) : -1;
		is_int(a.vantage, want, "vantage: %s", vcases[i].desc);
		free(blob);
		fx_free(fx);
	}
}

typedef struct {
	unsigned n;
	int filter[HG_CHAIN_MAX + 2];
	uint8_t type[HG_CHAIN_MAX + 2], n_in[HG_CHAIN_MAX + 2], n_out[HG_CHAIN_MAX + 2];
	uint8_t reason_jkt[HG_CHAIN_MAX + 2], reason_fra[HG_CHAIN_MAX + 2];
	double metric_fra[HG_CHAIN_MAX + 2];
	char note[HG_CHAIN_MAX + 2][128];
} trace_log_t;

static void trace_step(void *ctx, const sel_trace_step_t *st)
{
	trace_log_t *log = ctx;
	if (log->n >= HG_CHAIN_MAX + 2) {
		return;
	}
	unsigned i = log->n++;
	log->filter[i] = st->filter;
	log->type[i] = st->type;
	log->n_in[i] = st->n_in;
	log->n_out[i] = st->n_out;
	log->reason_jkt[i] = st->reason[3]; /* jkt is endpoint 3 of eu ap us */
	log->reason_fra[i] = st->reason[0];
	log->metric_fra[i] = st->metric[0];
	snprintf(log->note[i], sizeof(log->note[i]), "%s", st->note);
}

static void s_trace(fx_t *fx)
{
	size_t n = fx_name(fx, "global.gslb.", "eu ap us",
	                   "up geofence loss=200 latency=20 shuffle first=2", "all");
	fx_rule(fx, n, "country=ID", "ep:jkt", false);
	fx_rule(fx, n, "continent=EU", "pool:eu", false);
	fx->admin[EP("iad")] = HG_ADMIN_DRAIN;
}

static void s_trace_fb(fx_t *fx)
{
	s_fb_pool(fx);
}

/* geo_lookup() hands the selection the client's unit vector (has_xyz): the
 * decisions must be exactly those of the vector computed from lat/lon. */
static void test_given_vector(void)
{
	unsigned n = 0;
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (cases[i].geo == NULL || !cases[i].geo->has_location) {
			continue;
		}
		geo_info_t g = *cases[i].geo;
		float v[3];
		geo_unit_vector(g.lat, g.lon, v);
		g.x = v[0];
		g.y = v[1];
		g.z = v[2];
		g.has_xyz = true;
		char desc[64];
		snprintf(desc, sizeof(desc), "xyz given: %s", cases[i].desc);
		sel_case_t tc = cases[i];
		tc.desc = desc;
		tc.geo = &g;
		run_case(&tc);
		n++;
	}
	ok(n >= 5, "xyz given: %u located cases rerun", n);

	/* The given vector is what counts: Frankfurt's codes and lat/lon with
	 * Singapore's vector pick the Singapore vantage. */
	fx_t *fx;
	uint8_t *blob = NULL;
	view_t v;
	if (open_scenario(s_lat, &fx, &blob, &v) != HG_EOK) {
		ok(0, "xyz given: open view");
		free(blob);
		fx_free(fx);
		return;
	}
	geo_info_t g = GEO_DE;
	float sg[3];
	geo_unit_vector(GEO_SG.lat, GEO_SG.lon, sg);
	g.x = sg[0];
	g.y = sg[1];
	g.z = sg[2];
	g.has_xyz = true;
	sel_client_t cl = fx_client("91.0.0.1", 0, &g);
	sel_rng_t rng;
	sel_rng_seed(&rng, 1);
	sel_answer_t a;
	sel_decide(&v, &cl, 1, NOW, &rng, &a, NULL);
	is_int(a.vantage, fx_find_prober(fx, "ap-sin"), "xyz given: vector used over lat/lon");
	free(blob);
	fx_free(fx);
}

static void test_trace(void)
{
	fx_t *fx;
	uint8_t *blob = NULL;
	view_t v;
	open_scenario(s_trace, &fx, &blob, &v);
	sel_client_t cl = fx_client("36.64.0.1", 0, &GEO_ID);
	sel_rng_t rng;
	sel_rng_seed(&rng, 3);
	sel_answer_t a, b;
	trace_log_t log;
	memset(&log, 0, sizeof(log));
	sel_trace_t tr = { trace_step, &log };
	is_int(sel_decide(&v, &cl, 1, NOW, &rng, &a, &tr), HG_EOK, "trace: decide");
	static const struct {
		int filter;
		uint8_t type, n_in, n_out;
		uint8_t reason_jkt;
		const char *note;
	} want[] = {
		{ -1, 0, 5, 4, SEL_R_KEPT, "" },
		{ 0, HG_F_UP, 4, 4, SEL_R_KEPT, "quorum 50%, 0 down, 0 unknown" },
		{ 1, HG_F_GEOFENCE, 4, 1, SEL_R_KEPT, "rule 1 matched country=ID" },
	};
	is_int(log.n, 7, "trace: pre-filter + 6 filters");
	for (unsigned i = 0; i < 3 && i < log.n; i++) {
		ok(log.filter[i] == want[i].filter && log.type[i] == want[i].type &&
		           log.n_in[i] == want[i].n_in && log.n_out[i] == want[i].n_out &&
		           log.reason_jkt[i] == want[i].reason_jkt &&
		           strcmp(log.note[i], want[i].note) == 0,
		   "trace step %u: filter %d %s %u->%u note '%s'", i, log.filter[i],
		   sel_filter_name(log.type[i]), log.n_in[i], log.n_out[i], log.note[i]);
	}
	/* Tracing must not change the decision. */
	sel_rng_seed(&rng, 3);
	sel_decide(&v, &cl, 1, NOW, &rng, &b, NULL);
	ok(a.n_addr == b.n_addr && a.scope == b.scope && a.flags == b.flags &&
	           memcmp(a.endpoints, b.endpoints, a.n_endpoints) == 0,
	   "trace: same answer without trace");
	free(blob);
	fx_free(fx);

	/* Client in DE: vantage note and latency metric of fra (1 ms from eu-fra). */
	open_scenario(s_trace, &fx, &blob, &v);
	cl = fx_client("91.0.0.1", 0, &GEO_DE);
	memset(&log, 0, sizeof(log));
	sel_decide(&v, &cl, 1, NOW, &rng, &a, &tr);
	is_int(log.n, 7, "trace DE: pre-filter + 6 filters");
	is_str(log.note[4], "vantage eu-fra", "trace DE: latency note names the vantage");
	ok(fabs(log.metric_fra[4] - 1.0) < 0.01, "trace DE: fra latency metric %.3f ms",
	   log.metric_fra[4]);
	is_int(log.reason_jkt[2], SEL_R_NOT_IN_RULE, "trace DE: jkt not in rule");
	ok(isnan(log.metric_fra[2]), "trace DE: geofence has no metric");
	free(blob);
	fx_free(fx);

	/* Issue 10 point 1: the DE vantage sees fra down (0.5 ms still in its
	 * cell): explain says so, for lowest-latency and for max-loss. */
	open_scenario(s_lat_vantage_down, &fx, &blob, &v);
	cl = fx_client("91.0.0.1", 0, &GEO_DE);
	memset(&log, 0, sizeof(log));
	sel_decide(&v, &cl, 1, NOW, &rng, &a, &tr);
	is_int(log.n, 2, "trace vantage down: pre-filter + latency");
	is_str(log.note[1], "vantage eu-fra, 1 down from the vantage", "trace vantage down: note");
	is_int(log.reason_fra[1], SEL_R_VANTAGE_DOWN, "trace vantage down: fra's reason");
	ok(isnan(log.metric_fra[1]), "trace vantage down: no latency metric for fra");
	free(blob);
	fx_free(fx);
	open_scenario(s_loss_vantage_down, &fx, &blob, &v);
	memset(&log, 0, sizeof(log));
	sel_decide(&v, &cl, 1, NOW, &rng, &a, &tr);
	is_str(log.note[1], "vantage eu-fra, 1 down from the vantage",
	       "trace loss vantage down: note");
	is_int(log.reason_fra[1], SEL_R_VANTAGE_DOWN, "trace loss vantage down: fra's reason");
	ok(fabs(log.metric_fra[1] - 100.0) < 0.01,
	   "trace loss vantage down: fra loss metric 100%%");
	free(blob);
	fx_free(fx);

	/* Issue 10 point 6: explain says which fallback a fenced client got. */
	open_scenario(s_geo_strict_fb, &fx, &blob, &v);
	cl = fx_client("36.64.0.1", 0, &GEO_ID);
	memset(&log, 0, sizeof(log));
	sel_decide(&v, &cl, 1, NOW, &rng, &a, &tr);
	ok(log.n == 4 && log.filter[3] == -2, "trace fence: fallback step after up, geofence");
	is_str(log.note[3],
	       "strict geofence rule 1: its fallback pool #1 (not the name's fallback all)",
	       "trace fence: the rule's pool, not the name's fallback");
	is_str(log.note[2], "rule 1 matched country=ID, no target left (strict)",
	       "trace fence: geofence note");
	free(blob);
	fx_free(fx);
	open_scenario(s_geo_strict, &fx, &blob, &v);
	memset(&log, 0, sizeof(log));
	sel_decide(&v, &cl, 1, NOW, &rng, &a, &tr);
	is_str(log.note[3],
	       "strict geofence rule 1: its fallback none: NODATA (not the name's fallback all)",
	       "trace fence: NODATA, not the name's fallback");
	free(blob);
	fx_free(fx);

	/* Fallback step. */
	open_scenario(s_trace_fb, &fx, &blob, &v);
	cl = fx_client("192.0.2.1", 0, NULL);
	memset(&log, 0, sizeof(log));
	sel_decide(&v, &cl, 1, NOW, &rng, &a, &tr);
	is_int(log.n, 3, "trace fallback: pre-filter, up, fallback");
	ok(log.n == 3 && log.filter[2] == -2 && log.n_in[2] == 0 && log.n_out[2] == 1,
	   "trace fallback: step -2 with 0 in, 1 out");
	is_str(log.note[2], "fallback pool #1", "trace fallback: note");
	free(blob);
	fx_free(fx);
}

static void test_names(void)
{
	static const struct {
		uint8_t type;
		const char *name;
	} f[] = {
		{ HG_F_UP, "up" },
		{ HG_F_GEOFENCE, "geofence" },
		{ HG_F_NEAREST, "nearest" },
		{ HG_F_LOWEST_LATENCY, "lowest-latency" },
		{ HG_F_MAX_LOSS, "max-loss" },
		{ HG_F_PRIORITY, "priority" },
		{ HG_F_WEIGHTED, "weighted" },
		{ HG_F_WEIGHTED_SHUFFLE, "weighted-shuffle" },
		{ HG_F_ROUND_ROBIN, "round-robin" },
		{ HG_F_FIRST, "first" },
		{ 99, "unknown" },
	};
	for (unsigned i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		is_str(sel_filter_name(f[i].type), f[i].name, "filter name %u", f[i].type);
	}
	static const struct {
		uint8_t r;
		const char *name;
	} r[] = {
		{ SEL_R_KEPT, "kept" },
		{ SEL_R_DOWN, "down" },
		{ SEL_R_DRAINED, "drained" },
		{ SEL_R_NOT_IN_RULE, "not-in-rule" },
		{ SEL_R_TOO_SLOW, "too-slow" },
		{ SEL_R_LOSSY, "lossy" },
		{ SEL_R_LOWER_PRIORITY, "lower-priority" },
		{ SEL_R_CUT, "cut" },
		{ SEL_R_NO_FAMILY, "no-family" },
		{ SEL_R_VANTAGE_DOWN, "down-from-vantage" },
	};
	for (unsigned i = 0; i < sizeof(r) / sizeof(r[0]); i++) {
		is_str(sel_reason_name(r[i].r), r[i].name, "reason name %u", r[i].r);
	}
}

static void test_invalid(void)
{
	fx_t *fx;
	uint8_t *blob = NULL;
	view_t v;
	open_scenario(s_up, &fx, &blob, &v);
	sel_client_t cl = fx_client("192.0.2.1", 0, NULL), bad = cl;
	bad.family = 0;
	sel_rng_t rng;
	sel_rng_seed(&rng, 1);
	sel_answer_t a;
	sel_trace_t no_cb = { NULL, NULL };
	is_int(sel_decide(&v, &cl, 15, NOW, &rng, &a, NULL), HG_EINVAL, "invalid: qtype MX");
	is_int(sel_decide(&v, &bad, 1, NOW, &rng, &a, NULL), HG_EINVAL, "invalid: family");
	is_int(sel_decide(NULL, &cl, 1, NOW, &rng, &a, NULL), HG_EINVAL, "invalid: no view");
	is_int(sel_decide(&v, &cl, 1, NOW, NULL, &a, NULL), HG_EINVAL, "invalid: no rng");
	is_int(sel_decide(&v, &cl, 1, NOW, &rng, NULL, NULL), HG_EINVAL, "invalid: no answer");
	is_int(sel_decide(&v, &cl, 1, NOW, &rng, &a, &no_cb), HG_EINVAL,
	       "invalid: trace without callback");
	free(blob);
	fx_free(fx);
}

int main(void)
{
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		run_case(&cases[i]);
	}
	test_round_robin();
	test_vantage();
	test_given_vector();
	test_trace();
	test_names();
	test_invalid();
	return done_testing();
}
