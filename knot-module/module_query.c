/*  SPDX-License-Identifier: GPL-3.0-or-later */
#include <assert.h>
#include <setjmp.h>
#include <time.h>

#include "errors.h"
#include "module_answer.h"
#include "module_client.h"
#include "module_ctx.h"
#include "module_keys.h"
#include "module_query.h"
#include "module_stats.h"
#include "store_guard.h"
#include "view_lookup.h"

/* The coarse clock is a vDSO read (no syscall); freshness of measurements is
 * judged in seconds, so its few-ms resolution is plenty. */
static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void count_result(knotd_mod_t *mod, knotd_qdata_t *qdata, const sel_answer_t *ans,
                         uint16_t qtype)
{
	if (ans->flags & SEL_NODATA) {
		module_stats_incr(mod, qdata, MODULE_CTR_NODATA, 0);
	} else {
		module_stats_incr(mod, qdata, MODULE_CTR_ANSWER,
		                  qtype == KNOT_RRTYPE_A ? MODULE_FAM_A : MODULE_FAM_AAAA);
	}
	if (ans->flags & SEL_CNAME) {
		module_stats_incr(mod, qdata, MODULE_CTR_CNAME, 0);
	}
	if (ans->flags & SEL_DEGRADED) {
		module_stats_incr(mod, qdata, MODULE_CTR_DEGRADED, 0);
	}
	if (ans->flags & SEL_FALLBACK) {
		module_stats_incr(mod, qdata, MODULE_CTR_FALLBACK, 0);
	}
}

/* Put the decided answer into the packet; returns the next state. Ends
 * the read txn and \a guard once nothing more is read from the map (the
 * answer's rdata is copied into the packet arena): signing takes a lock,
 * which must never be held inside a guard. */
static knotd_in_state_t put_answer(hgm_ctx_t *ctx, hgm_thread_t *thr, knot_pkt_t *pkt,
                                   knotd_qdata_t *qdata, knotd_mod_t *mod, const sel_answer_t *ans,
                                   uint16_t qtype, knotd_in_state_t state, store_guard_t *guard)
{
	const knot_dname_t *qname = knot_pkt_qname(qdata->query);
	bool sign = knot_pkt_has_dnssec(qdata->query) &&
	            (ctx->sign != NULL || module_zone_signed(qdata));
	if (sign && ctx->sign == NULL) {
		/* A signed zone whose module does not sign (dnssec: off): an
		 * unsigned answer would be bogus. */
		module_stats_incr(mod, qdata, MODULE_CTR_PASSTHROUGH, MODULE_PASS_DNSSEC);
		return state;
	}

	if (ans->flags & SEL_NODATA) {
		/* A signed zone's NSEC chain lists the static fallback records, so a
		 * NODATA could not be proven: serve those records instead. */
		if (sign) {
			return state;
		}
		thr->nodata_pending = true;
		knot_wire_set_aa(pkt->wire);
		return KNOTD_IN_STATE_HIT;
	}

	knot_rrset_t rr_buf, *rr = &rr_buf;
	knot_rrset_t *rrsig = NULL;
	/* Canonical order whenever it may be signed: by us, or (dnssec: on, the
	 * zone's contents unsigned) by mod-onlinesign, which signs the RRset
	 * in the order it has in the packet. Else the engine's order. */
	int ret = module_answer_rrset(pkt, qname, ans, qtype, sign, rr);
	store_rtxn_hold(&thr->rtxn); /* nothing more is read from the map */
	store_guard_disarm(guard);
	if (ret == KNOT_EOK && sign) {
		/* Signed before anything is written, so a signing failure can still
		 * fall back to the zone's (signed) records. */
		ret = module_sign_get(ctx->sign, mod, qdata, pkt, rr, (uint32_t)(now_ms() / 1000),
		                      &rrsig);
		/* No usable keys, lifetime too short: logged once by module_sign. */
		if (ret == KNOT_DNSSEC_ENOKEY || ret == KNOT_DNSSEC_ENOSIG) {
			module_stats_incr(mod, qdata, MODULE_CTR_PASSTHROUGH, MODULE_PASS_DNSSEC);
			return state;
		} else if (ret != KNOT_EOK) {
			knotd_mod_log(mod, LOG_WARNING,
			              "cannot sign answer (%s), serving zone records",
			              knot_strerror(ret));
		}
	}
	if (ret == KNOT_EOK) {
		/* No KNOT_PF_FREE: the owner is the query's, the rdata the arena's. */
		ret = knot_pkt_put(pkt, KNOT_COMPR_HINT_QNAME, rr, 0);
		if (ret == KNOT_EOK && rrsig != NULL) {
			ret = knot_pkt_put(pkt, KNOT_COMPR_HINT_QNAME, rrsig, KNOT_PF_FREE);
		}
	}
	if (ret == KNOT_ESPACE) {
		return KNOTD_IN_STATE_TRUNC;
	} else if (ret != KNOT_EOK) {
		module_stats_incr(mod, qdata, MODULE_CTR_PASSTHROUGH, MODULE_PASS_ERROR);
		return state;
	}

	knot_wire_set_aa(pkt->wire);
	if (rr->type == KNOT_RRTYPE_CNAME) {
		/* Let Knot chase the target: answered from the zone when it is in
		 * the zone, left to the resolver otherwise. The name lives in the
		 * packet arena, as long as qdata needs it. */
		qdata->name = knot_cname_name(rr->rrs.rdata);
		return KNOTD_IN_STATE_FOLLOW;
	}
	return KNOTD_IN_STATE_HIT;
}

/* The lookup, the chain and the answer: the part of the query that reads
 * the map, run inside \a guard. */
static knotd_in_state_t answer_from_db(hgm_ctx_t *ctx, hgm_thread_t *thr, store_t *store,
                                       knot_pkt_t *pkt, knotd_qdata_t *qdata, knotd_mod_t *mod,
                                       const knot_dname_t *qname, uint16_t qtype,
                                       knotd_in_state_t state, store_guard_t *guard)
{
	/* The snapshot of the last query when nothing was committed since:
	 * no renew/reset per query (store_rtxn_resume()). */
	int begun = store_rtxn_resume(store, &thr->rtxn);
	if (begun != HG_EOK) {
		/* A writer grew the data beyond knotd's map while other workers
		 * read it: the checker moves the map (store_remap()) within its
		 * interval; until then, the zone's records. */
		module_stats_incr(mod, qdata, MODULE_CTR_PASSTHROUGH,
		                  begun == HG_EMAPRESIZED ? MODULE_PASS_REMAP : MODULE_PASS_ERROR);
		return state;
	}

	view_t view_buf;
	const view_t *view = &view_buf;
	switch (view_lookup(thr->views, &thr->rtxn, qname, knot_dname_size(qname), &view_buf)) {
	case VIEW_LOOKUP_FOUND: break;
	case VIEW_LOOKUP_NONE: goto done;
	case VIEW_LOOKUP_NO_VIEW:
		module_stats_incr(mod, qdata, MODULE_CTR_PASSTHROUGH, MODULE_PASS_NO_VIEW);
		goto done;
	case VIEW_LOOKUP_BAD:
		module_stats_incr(mod, qdata, MODULE_CTR_PASSTHROUGH, MODULE_PASS_BAD_VIEW);
		goto done;
	default:
		module_stats_incr(mod, qdata, MODULE_CTR_PASSTHROUGH, MODULE_PASS_ERROR);
		goto done;
	}

	sel_client_t client = { .family = AF_INET, .geo = NULL };
	bool scope0 = false;
	geo_info_t geo;
	bool have_client = (module_client_get(qdata, &client, &scope0) == HG_EOK);
	uint64_t now = now_ms();
	size_t txnid = mdb_txn_id(thr->rtxn.txn);
	/* A chain without per-query draws answers a client as it answered the
	 * last one of its network (sel_memo.h): no geo lookup, no chain. */
	bool memo = have_client && sel_memo_allowed(view);
	sel_answer_t ans;
	if (memo && sel_memo_find(thr->memo, store, txnid, view, &client, qtype, now, &ans)) {
		goto answer;
	}
	/* Skip the geo lookup for names whose chain never looks at the client's
	 * location (a sticky chain needs only its address). */
	if (have_client && ctx->geo != NULL && (view->hdr->flags & HG_VIEW_NEEDS_GEO)) {
		if (geo_lookup_cached(ctx->geo, &thr->geo, client.family, client.addr, &geo) ==
		    HG_EOK) {
			client.geo = &geo;
		} else {
			memo = false; /* no geo data by an error: not the address's answer */
		}
	}
	if (sel_decide(view, &client, qtype, now, &thr->rng, &ans, NULL) != HG_EOK) {
		module_stats_incr(mod, qdata, MODULE_CTR_PASSTHROUGH, MODULE_PASS_ERROR);
		goto done;
	}
	if (memo) {
		sel_memo_store(thr->memo, store, txnid, view, &client, qtype, &ans);
	}
answer:;

	knotd_in_state_t next = put_answer(ctx, thr, pkt, qdata, mod, &ans, qtype, state, guard);
	if (next != state && next != KNOTD_IN_STATE_ERROR) {
		count_result(mod, qdata, &ans, qtype);
		/* Only our answer depends on the client; the zone's records served
		 * instead (signing failed...) keep Knot's scope 0. */
		if (qdata->ecs != NULL) {
			qdata->ecs->scope_len =
			        (scope0 || !have_client)
			                ? 0
			                : module_client_scope(qdata, &client, ans.scope);
		}
	}
	state = next;
done:
	/* Kept for the next query; the checker resets it when a commit makes
	 * it old and this worker stays idle (store_release_held()). */
	store_rtxn_hold(&thr->rtxn);
	return state;
}

knotd_in_state_t module_query_preanswer(knotd_in_state_t state, knot_pkt_t *pkt,
                                        knotd_qdata_t *qdata, knotd_mod_t *mod)
{
	assert(pkt && qdata && mod);

	hgm_ctx_t *ctx = knotd_mod_ctx(mod);
	unsigned tid = qdata->params->thread_id;
	if (ctx == NULL || tid >= ctx->n_threads) {
		return state;
	}
	hgm_thread_t *thr = &ctx->threads[tid];
	thr->nodata_pending = false;

	unsigned why;
	if (module_client_ecs_check(qdata, &why) != HG_EOK) {
		module_stats_incr(mod, qdata, MODULE_CTR_FORMERR, why);
		module_client_ecs_drop(qdata);
		qdata->rcode = KNOT_RCODE_FORMERR;
		return KNOTD_IN_STATE_ERROR;
	}

	/* Another module already answered. */
	if (state == KNOTD_IN_STATE_HIT || state == KNOTD_IN_STATE_FOLLOW) {
		return state;
	}
	uint16_t qtype = knot_pkt_qtype(qdata->query);
	if (qtype != KNOT_RRTYPE_A && qtype != KNOT_RRTYPE_AAAA) {
		return state;
	}
	const knot_dname_t *qname = knot_pkt_qname(qdata->query); /* lower-case */
	if (qname == NULL) {
		return state;
	}

	store_t *store = module_db_get(ctx->db);
	if (store == NULL) {
		module_stats_incr(mod, qdata, MODULE_CTR_PASSTHROUGH, MODULE_PASS_NO_DB);
		return state;
	}

	/* Everything below reads LMDB's map (and the mmdb's) until put_answer()
	 * has copied the answer out: in a guard, so that a data.mdb truncated
	 * under knotd, or a corrupt page, fails this query open instead of
	 * killing knotd with SIGBUS or an LMDB assertion (store_guard.h). */
	store_guard_t guard;
	store_guard_arm(&guard);
	if (sigsetjmp(guard.jb, 0) != 0) {
		store_rtxn_free(&thr->rtxn);
		module_db_fault(ctx->db, store, &guard);
		module_stats_incr(mod, qdata, MODULE_CTR_PASSTHROUGH, MODULE_PASS_FAULT);
		return state;
	}
	knotd_in_state_t next =
	        answer_from_db(ctx, thr, store, pkt, qdata, mod, qname, qtype, state, &guard);
	store_guard_disarm(&guard);
	return next;
}

knotd_in_state_t module_query_authority(knotd_in_state_t state, knot_pkt_t *pkt,
                                        knotd_qdata_t *qdata, knotd_mod_t *mod)
{
	assert(pkt && qdata && mod);

	hgm_ctx_t *ctx = knotd_mod_ctx(mod);
	unsigned tid = qdata->params->thread_id;
	if (ctx == NULL || tid >= ctx->n_threads || !ctx->threads[tid].nodata_pending) {
		return state;
	}
	ctx->threads[tid].nodata_pending = false;

	knot_rrset_t soa = knotd_qdata_zone_apex_rrset(qdata, KNOT_RRTYPE_SOA);
	if (knot_rrset_empty(&soa)) {
		return state;
	}
	/* As Knot's own NODATA: negative TTL is min(SOA TTL, SOA minimum). */
	int ret =
	        knot_pkt_put(pkt, KNOT_COMPR_HINT_NONE, &soa, KNOT_PF_NOTRUNC | KNOT_PF_SOAMINTTL);
	if (ret != KNOT_EOK) {
		return KNOTD_IN_STATE_ERROR;
	}
	return KNOTD_IN_STATE_NODATA;
}
