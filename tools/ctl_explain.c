/*  SPDX-License-Identifier: GPL-3.0-or-later */
/* explain: run the very selection code mod-haltgslb runs, for one client, and
 * record every step of the chain so an operator can see why. */
#include <arpa/inet.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "ctl.h"
#include "ctl_explain.h"
#include "errors.h"
#include "policy.h"
#include "store.h"
#include "view_lookup.h"

static void record_step(void *ctx, const sel_trace_step_t *st)
{
	explain_t *x = ctx;
	if (x->n_steps >= EXPLAIN_STEPS_MAX) {
		return;
	}
	explain_step_t *s = &x->steps[x->n_steps++];
	unsigned n_ep = x->view.s.hdr->n_endpoints;
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
	const hg_view_ep_t *e = &v->s.ep[ep];
	snprintf(buf, size, "%.*s", (int)e->id_len, (const char *)v->s.strings + e->id_off);
	return buf;
}

const char *explain_prober_id(const view_t *v, unsigned pr, char *buf, size_t size)
{
	const hg_view_prober_t *p = &v->s.prober[pr];
	snprintf(buf, size, "%.*s", (int)p->id_len, (const char *)v->s.strings + p->id_off);
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
		addr[bit / 8] &= (uint8_t) ~(0x80u >> (bit % 8));
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

/* The command line of explain. */
typedef struct {
	const char *db, *client, *ecs, *geoip, *asn_db, *name;
	bool json, help;
	uint16_t qtype;
} explain_args_t;

static int parse_args(int argc, char **argv, explain_args_t *a)
{
	static const struct option opts[] = { { "help", no_argument, NULL, 'h' },
		                              { "db", required_argument, NULL, 'd' },
		                              { "client", required_argument, NULL, 'c' },
		                              { "ecs", required_argument, NULL, 'e' },
		                              { "geoip", required_argument, NULL, 'g' },
		                              { "asn-db", required_argument, NULL, 'a' },
		                              { "type", required_argument, NULL, 't' },
		                              { "json", no_argument, NULL, 'j' },
		                              { NULL, 0, NULL, 0 } };
	int opt;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "hd:c:e:g:a:t:j", opts, NULL)) != -1) {
		switch (opt) {
		case 'h': a->help = true; return CTL_OK;
		case 'd': a->db = optarg; break;
		case 'c': a->client = optarg; break;
		case 'e': a->ecs = optarg; break;
		case 'g': a->geoip = optarg; break;
		case 'a': a->asn_db = optarg; break;
		case 'j': a->json = true; break;
		case 't':
			if (strcasecmp(optarg, "A") == 0 || strcasecmp(optarg, "AAAA") == 0) {
				a->qtype = strcasecmp(optarg, "A") == 0 ? 1 : 28;
				break;
			}
			return ctl_usage_error("explain", "--type must be A or AAAA");
		default:
			return ctl_usage_error("explain", "unknown option or missing value '%s'",
			                       argv[optind - 1]);
		}
	}
	if (optind + 1 != argc) {
		return ctl_usage_error("explain", "expects exactly one NAME");
	}
	if (a->db == NULL || a->client == NULL || a->geoip == NULL) {
		return ctl_usage_error("explain", "--db, --client and --geoip are required");
	}
	a->name = argv[optind];
	return CTL_OK;
}

/* The owner key: lower-case wire form, as the module looks it up; the name
 * is accepted without its final dot and shown as the module sees it. */
static int parse_name(const char *arg, uint8_t owner[HG_DNAME_MAX], uint8_t *owner_len, char *text,
                      size_t size)
{
	size_t arg_len = strlen(arg);
	snprintf(text, size, "%s%s", arg, arg_len > 0 && arg[arg_len - 1] == '.' ? "" : ".");
	if (arg_len == 0 || policy_parse_dname(text, owner, owner_len) != HG_EOK) {
		return ctl_usage_error("explain", "bad name '%s'", arg);
	}
	ctl_fmt_dname(owner, *owner_len, text, size);
	return CTL_OK;
}

/* The query's client: --client, narrowed by --ecs as a resolver would send it. */
static int parse_client(const explain_args_t *a, sel_client_t *cl, explain_t *x)
{
	if (geo_parse_addr(a->client, &cl->family, cl->addr) != HG_EOK) {
		return ctl_usage_error("explain", "bad --client address '%s'", a->client);
	}
	cl->source_len = cl->family == AF_INET ? 32 : 128;
	if (a->ecs != NULL) {
		if (parse_ecs(a->ecs, &cl->family, cl->addr, &cl->source_len) != HG_EOK) {
			return ctl_usage_error("explain", "bad --ecs '%s' (ADDR/LEN or LEN)",
			                       a->ecs);
		}
		cl->from_ecs = true;
	}
	x->from_ecs = cl->from_ecs;
	x->source_len = cl->source_len;
	char atext[INET6_ADDRSTRLEN];
	inet_ntop(cl->family, cl->addr, atext, sizeof(atext));
	snprintf(x->client_text, sizeof(x->client_text), "%s/%u", atext, cl->source_len);
	return CTL_OK;
}

/* The client's location, from the mmdb the module uses. */
static int locate_client(const explain_args_t *a, geo_db_t **geo, sel_client_t *cl, explain_t *x)
{
	char err[512];
	if (geo_open(a->geoip, a->asn_db, geo, err, sizeof(err)) != HG_EOK) {
		ctl_error("%s", err);
		return CTL_FAIL;
	}
	if (geo_lookup(*geo, cl->family, cl->addr, &x->geo) == HG_EOK) {
		x->have_geo = true;
		cl->geo = &x->geo;
	}
	return CTL_OK;
}

/* The module's own lookup (view_lookup), so explain refuses exactly the
 * names the module would not answer, and says what the module does then. */
static int find_view(store_rtxn_t *rtxn, const char *db, const uint8_t *owner, uint8_t owner_len,
                     explain_t *x)
{
	static view_lookup_cache_t cache; /* one lookup: large, keep it off the stack */
	switch (view_lookup(&cache, rtxn, owner, owner_len, &x->view)) {
	case VIEW_LOOKUP_FOUND: return CTL_OK;
	case VIEW_LOOKUP_NONE:
		ctl_error("%s: %s is not a GSLB name of the loaded policy", db, x->name_text);
		break;
	case VIEW_LOOKUP_NO_VIEW:
		ctl_error(
		        "%s: %s is a name of the loaded policy without a view: mod-haltgslb serves "
		        "the zone's records for it (load the policy again)",
		        db, x->name_text);
		break;
	case VIEW_LOOKUP_BAD:
		ctl_error(
		        "%s: cannot read the view of %s or its endpoint set (malformed, or a "
		        "layout "
		        "this build does not know): mod-haltgslb serves the zone's records for it",
		        db, x->name_text);
		break;
	default:
		ctl_error("%s: cannot read the view of %s: database read failed", db, x->name_text);
		break;
	}
	return CTL_FAIL;
}

/* The selection itself, recorded step by step, then printed (while the
 * view still points into the read txn). */
static int decide_and_print(explain_t *x, const sel_client_t *cl, bool json)
{
	sel_rng_t rng;
	sel_rng_seed(&rng, store_now_ms());
	sel_trace_t trace = { .step = record_step, .ctx = x };
	int ret = sel_decide(&x->view, cl, x->qtype, store_now_ms(), &rng, &x->answer, &trace);
	if (ret != HG_EOK) {
		ctl_error("selection failed: %s", hg_strerror(ret));
		return CTL_FAIL;
	}
	if (json) {
		explain_print_json(x);
	} else {
		explain_print_text(x);
	}
	return CTL_OK;
}

/* What the query is: owner key, client address and ECS. */
typedef struct {
	char name[HG_DNAME_MAX * 4 + 2];
	uint8_t owner[HG_DNAME_MAX], owner_len;
	sel_client_t client;
} explain_query_t;

/* Locate the client, open the DB, find the view and decide, with one
 * cleanup path for the mmdb, the store and the read txn. */
static int explain_run(const explain_args_t *a, explain_query_t *q, explain_t *x)
{
	geo_db_t *geo = NULL;
	store_t *store = NULL;
	store_rtxn_t rtxn = { 0 };
	int rc = locate_client(a, &geo, &q->client, x);
	if (rc == CTL_OK && ctl_open_store(a->db, STORE_RDONLY, &store) != HG_EOK) {
		rc = CTL_FAIL;
	}
	if (rc == CTL_OK && store_rtxn_begin(store, &rtxn) != HG_EOK) {
		ctl_error("%s: cannot begin a read transaction", a->db);
		rc = CTL_FAIL;
	}
	if (rc == CTL_OK) {
		rc = find_view(&rtxn, a->db, q->owner, q->owner_len, x);
	}
	if (rc == CTL_OK) {
		rc = decide_and_print(x, &q->client, a->json);
	}
	/* The view points into the read txn: printing happened before this. */
	store_rtxn_free(&rtxn);
	store_close(store);
	if (geo != NULL) {
		geo_close(geo);
	}
	return rc;
}

int ctl_cmd_explain(int argc, char **argv)
{
	static explain_t x; /* large: keep it off the stack */
	static explain_query_t q;
	explain_args_t a = { .qtype = 1 };
	memset(&x, 0, sizeof(x));
	memset(&q, 0, sizeof(q));
	int rc = parse_args(argc, argv, &a);
	if (rc == CTL_OK && a.help) {
		explain_help();
		return CTL_OK;
	}
	x.qtype = a.qtype;
	x.name_text = q.name;
	if (rc == CTL_OK) {
		rc = parse_name(a.name, q.owner, &q.owner_len, q.name, sizeof(q.name));
	}
	if (rc == CTL_OK) {
		rc = parse_client(&a, &q.client, &x);
	}
	return rc == CTL_OK ? explain_run(&a, &q, &x) : rc;
}
