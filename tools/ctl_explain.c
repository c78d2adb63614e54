/*  SPDX-License-Identifier: GPL-3.0-or-later */
/* explain: run the very selection code mod-haltgslb runs, for one client, and
 * record every step of the chain so an operator can see why. */
#include <arpa/inet.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "ctl.h"
#include "ctl_explain.h"
#include "errors.h"
#include "policy.h"
#include "store.h"

static void record_step(void *ctx, const sel_trace_step_t *st)
{
	explain_t *x = ctx;
	if (x->n_steps >= EXPLAIN_STEPS_MAX) {
		return;
	}
	explain_step_t *s = &x->steps[x->n_steps++];
	unsigned n_ep = x->view.hdr->n_endpoints;
	s->filter = st->filter;
	s->type = st->type;
	s->n_in = st->n_in;
	s->n_out = st->n_out;
	memcpy(s->in, st->in, st->n_in);
	memcpy(s->out, st->out, st->n_out);
	for (unsigned i = 0; i < n_ep && i < HG_NAME_EP_MAX; i++) {
		s->reason[i] = st->reason ? st->reason[i] : SEL_R_KEPT;
		s->metric[i] = st->metric ? st->metric[i] : NAN;
	}
	snprintf(s->note, sizeof(s->note), "%s", st->note ? st->note : "");
}

const char *explain_ep_id(const view_t *v, unsigned ep, char *buf, size_t size)
{
	const hg_view_ep_t *e = &v->ep[ep];
	snprintf(buf, size, "%.*s", (int)e->id_len, (const char *)v->strings + e->id_off);
	return buf;
}

const char *explain_prober_id(const view_t *v, unsigned pr, char *buf, size_t size)
{
	const hg_view_prober_t *p = &v->prober[pr];
	snprintf(buf, size, "%.*s", (int)p->id_len, (const char *)v->strings + p->id_off);
	return buf;
}

/* "ADDR/LEN" or "LEN" (applied to the client address) → ECS address and prefix. */
static int parse_ecs(const char *text, int *family, uint8_t addr[16], uint8_t *len)
{
	char buf[80];
	snprintf(buf, sizeof(buf), "%s", text);
	char *slash = strchr(buf, '/');
	char *lenp = slash ? slash + 1 : buf;
	if (slash != NULL) {
		*slash = '\0';
		if (geo_parse_addr(buf, family, addr) != HG_EOK) {
			return HG_EINVAL;
		}
	}
	char *end = NULL;
	long l = strtol(lenp, &end, 10);
	int max = *family == AF_INET ? 32 : 128;
	if (end == lenp || *end != '\0' || l < 0 || l > max) {
		return HG_EINVAL;
	}
	*len = (uint8_t)l;
	/* A resolver sends only the prefix bits; clear the rest as it would. */
	for (int bit = (int)l; bit < max; bit++) {
		addr[bit / 8] &= (uint8_t)~(0x80u >> (bit % 8));
	}
	return HG_EOK;
}

static void explain_help(void)
{
	printf("Usage: haltgslb-ctl explain NAME --client ADDR [--ecs PREFIX] --geoip FILE\n"
	       "                            [--asn-db FILE] --db DIR [--type A|AAAA] [--json]\n\n"
	       "Run the selection mod-haltgslb would run for a query of NAME and print the\n"
	       "client's location, the vantage chosen, every filter's input and output with\n"
	       "the reason each endpoint was dropped or reordered, then the answer, TTL, ECS\n"
	       "scope and flags.\n\n"
	       "  --client ADDR   the query's source address\n"
	       "  --ecs PREFIX    EDNS Client Subnet, ADDR/LEN (or LEN applied to --client)\n"
	       "  --geoip FILE    the city mmdb mod-haltgslb uses; --asn-db the ASN mmdb\n"
	       "  --type          A (default) or AAAA\n"
	       "  --json          one JSON document instead of text\n");
}

int ctl_cmd_explain(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help",   no_argument, NULL, 'h' },
		{ "db",     required_argument, NULL, 'd' },
		{ "client", required_argument, NULL, 'c' },
		{ "ecs",    required_argument, NULL, 'e' },
		{ "geoip",  required_argument, NULL, 'g' },
		{ "asn-db", required_argument, NULL, 'a' },
		{ "type",   required_argument, NULL, 't' },
		{ "json",   no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 }
	};
	const char *db = NULL, *client = NULL, *ecs = NULL, *geoip = NULL, *asn_db = NULL;
	bool json = false;
	static explain_t x;            /* large: keep it off the stack */
	memset(&x, 0, sizeof(x));
	x.qtype = 1;
	int opt;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "hd:c:e:g:a:t:j", opts, NULL)) != -1) {
		switch (opt) {
		case 'h': explain_help(); return CTL_OK;
		case 'd': db = optarg; break;
		case 'c': client = optarg; break;
		case 'e': ecs = optarg; break;
		case 'g': geoip = optarg; break;
		case 'a': asn_db = optarg; break;
		case 'j': json = true; break;
		case 't':
			if (strcasecmp(optarg, "A") == 0) {
				x.qtype = 1;
			} else if (strcasecmp(optarg, "AAAA") == 0) {
				x.qtype = 28;
			} else {
				return ctl_usage_error("explain", "--type must be A or AAAA");
			}
			break;
		default:
			return ctl_usage_error("explain", "unknown option or missing value '%s'", argv[optind - 1]);
		}
	}
	if (optind + 1 != argc) {
		return ctl_usage_error("explain", "expects exactly one NAME");
	}
	if (db == NULL || client == NULL || geoip == NULL) {
		return ctl_usage_error("explain", "--db, --client and --geoip are required");
	}

	/* The owner key: lower-case wire form; accept the name without final dot. */
	const char *arg = argv[optind];
	size_t arg_len = strlen(arg);
	char name[HG_DNAME_MAX * 4 + 2];
	snprintf(name, sizeof(name), "%s%s", arg, arg_len > 0 && arg[arg_len - 1] == '.' ? "" : ".");
	uint8_t owner[HG_DNAME_MAX], owner_len = 0;
	if (arg_len == 0 || policy_parse_dname(name, owner, &owner_len) != HG_EOK) {
		return ctl_usage_error("explain", "bad name '%s'", arg);
	}
	/* Show the name as the module sees it: lower-case, absolute. */
	ctl_fmt_dname(owner, owner_len, name, sizeof(name));
	x.name_text = name;

	sel_client_t cl = { 0 };
	if (geo_parse_addr(client, &cl.family, cl.addr) != HG_EOK) {
		return ctl_usage_error("explain", "bad --client address '%s'", client);
	}
	cl.source_len = cl.family == AF_INET ? 32 : 128;
	if (ecs != NULL) {
		if (parse_ecs(ecs, &cl.family, cl.addr, &cl.source_len) != HG_EOK) {
			return ctl_usage_error("explain", "bad --ecs '%s' (ADDR/LEN or LEN)", ecs);
		}
		cl.from_ecs = true;
	}
	x.from_ecs = cl.from_ecs;
	x.source_len = cl.source_len;
	char atext[INET6_ADDRSTRLEN];
	inet_ntop(cl.family, cl.addr, atext, sizeof(atext));
	snprintf(x.client_text, sizeof(x.client_text), "%s/%u", atext, cl.source_len);

	int rc = CTL_FAIL;
	geo_db_t *geo = NULL;
	store_t *store = NULL;
	store_rtxn_t rtxn = { 0 };
	char err[512];
	if (geo_open(geoip, asn_db, &geo, err, sizeof(err)) != HG_EOK) {
		ctl_error("%s", err);
		goto cleanup;
	}
	if (geo_lookup(geo, cl.family, cl.addr, &x.geo) == HG_EOK) {
		x.have_geo = true;
		cl.geo = &x.geo;
	}
	if (ctl_open_store(db, STORE_RDONLY, &store) != HG_EOK) {
		goto cleanup;
	}
	int ret = store_rtxn_begin(store, &rtxn);
	const void *val = NULL;
	size_t len = 0;
	if (ret == HG_EOK) {
		ret = store_get(&rtxn, STORE_VIEWS, owner, owner_len, &val, &len);
	}
	if (ret == HG_ENOENT) {
		ctl_error("%s: %s is not a GSLB name of the loaded policy", db, name);
		goto cleanup;
	}
	if (ret == HG_EOK) {
		ret = view_open(val, len, &x.view);
	}
	if (ret != HG_EOK) {
		ctl_error("%s: cannot read the view of %s: %s", db, name, hg_strerror(ret));
		goto cleanup;
	}
	sel_rng_t rng;
	sel_rng_seed(&rng, store_now_ms());
	sel_trace_t trace = { .step = record_step, .ctx = &x };
	ret = sel_decide(&x.view, &cl, x.qtype, store_now_ms(), &rng, &x.answer, &trace);
	if (ret != HG_EOK) {
		ctl_error("selection failed: %s", hg_strerror(ret));
		goto cleanup;
	}
	if (json) {
		explain_print_json(&x);
	} else {
		explain_print_text(&x);
	}
	rc = CTL_OK;
cleanup:
	/* The view points into the read txn: printing happened before this. */
	store_rtxn_free(&rtxn);
	if (store != NULL) {
		store_close(store);
	}
	if (geo != NULL) {
		geo_close(geo);
	}
	return rc;
}
