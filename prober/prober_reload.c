/*  SPDX-License-Identifier: GPL-3.0-or-later */
/* The targets come from the policy loaded into the LMDB environment (the
 * one haltgslb-ctl load validated), read at start, on SIGHUP, and when a
 * new policy generation shows up (checked once a second: one read txn
 * renewed and one meta lookup: about 150 ns measured). */
#include "errors.h"
#include "log.h"
#include "prober.h"
#include "prober_source.h"

/* The generation and our place in it, or why the DB cannot be used. */
static int read_policy_head(prober_t *p, store_rtxn_t *rtxn, uint64_t *gen)
{
	int ret = prober_source_generation(rtxn, gen);
	if (ret == HG_ENOENT) {
		hg_err("database %s holds no policy: load one first (haltgslb-ctl load FILE --db %s)",
		       p->db_dir, p->db_dir);
		return ret;
	} else if (ret != HG_EOK) {
		hg_err("database %s: cannot read the policy generation: %s", p->db_dir,
		       hg_strerror(ret));
		return ret;
	}
	char known[512];
	ret = prober_source_find_prober(rtxn, p->id, known, sizeof(known));
	if (ret == HG_ENOENT) {
		hg_err("prober '%s' is not a prober of the policy in %s (generation %llu; its "
		       "probers: %s): use one of those as --id, or add '%s' under probers: and "
		       "load the policy again", p->id, p->db_dir, (unsigned long long)*gen,
		       known[0] ? known : "none", p->id);
	} else if (ret != HG_EOK) {
		hg_err("database %s: cannot read prober '%s': %s", p->db_dir, p->id, hg_strerror(ret));
	}
	return ret;
}

int prober_reload(prober_t *p)
{
	store_rtxn_t rtxn = { 0 };
	uint64_t gen = 0;
	int ret = store_rtxn_begin(p->store, &rtxn);
	if (ret != HG_EOK) {
		hg_err("database %s: cannot begin a read transaction: %s", p->db_dir,
		       hg_strerror(ret));
	} else {
		ret = read_policy_head(p, &rtxn, &gen);
	}
	if (ret == HG_EOK) {
		ret = prober_targets_apply(p, &rtxn);
		if (ret != HG_EOK) {
			hg_err("policy generation %llu: cannot apply it: %s", (unsigned long long)gen,
			       hg_strerror(ret));
		}
	}
	store_rtxn_free(&rtxn);
	/* Seen even when refused, so a bad generation is reported once, not
	 * every second; the next load (or SIGHUP) tries again. */
	p->policy_seen = gen;
	if (ret == HG_EOK) {
		if (p->policy_gen != 0) {   /* at startup main() says it */
			hg_notice("policy generation %llu: %zu endpoints", (unsigned long long)gen,
			          p->n_targets);
		}
		p->policy_gen = gen;
	} else if (p->policy_gen != 0) {
		hg_err("probing goes on with policy generation %llu",
		       (unsigned long long)p->policy_gen);
	}
	return ret;
}

void prober_watch_policy(prober_t *p, uint64_t now)
{
	if (now < p->policy_check_ns) {
		return;
	}
	p->policy_check_ns = now + PROBER_POLICY_CHECK_NS;
	uint64_t gen = 0;
	if (store_rtxn_begin(p->store, &p->watch_rtxn) == HG_EOK) {
		if (prober_source_generation(&p->watch_rtxn, &gen) == HG_EOK && gen != p->policy_seen) {
			hg_notice("policy generation %llu loaded into %s: reloading",
			          (unsigned long long)gen, p->db_dir);
			p->reload = true;
		}
		store_rtxn_end(&p->watch_rtxn);
	}
}
