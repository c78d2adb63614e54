/*  SPDX-License-Identifier: GPL-3.0-or-later */
/* Printing a recorded explain run: text for people, JSON for tools. */
#include <arpa/inet.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ctl.h"
#include "ctl_explain.h"

static const char *step_name(const explain_step_t *s)
{
	if (s->filter == -1) {
		return "candidates";
	}
	if (s->filter == -2) {
		return "fallback";
	}
	return sel_filter_name(s->type);
}

static bool in_list(const uint8_t *list, unsigned n, uint8_t ep)
{
	return memchr(list, ep, n) != NULL;
}

static void flags_text(uint32_t flags, char *buf, size_t size)
{
	static const struct {
		uint32_t bit;
		const char *name;
	} names[] = {
		{ SEL_DEGRADED, "degraded" },
		{ SEL_FALLBACK, "fallback" },
		{ SEL_UNKNOWN_HEALTH, "unknown-health" },
		{ SEL_NODATA, "nodata" },
		{ SEL_CNAME, "cname" },
		{ SEL_CLIENT_USED, "client-dependent" },
	};
	size_t o = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (flags & names[i].bit) {
			o += (size_t)snprintf(buf + o, size - o, "%s%s", o ? "," : "",
			                      names[i].name);
		}
	}
}

static void print_list(const explain_t *x, const uint8_t *list, unsigned n, const double *metric)
{
	char id[HG_ID_SIZE];
	printf("[");
	for (unsigned i = 0; i < n; i++) {
		printf("%s%s", i ? ", " : "", explain_ep_id(&x->view, list[i], id, sizeof(id)));
		if (metric != NULL && !isnan(metric[list[i]])) {
			printf(" (%.4g)", metric[list[i]]);
		}
	}
	printf("]");
}

static void print_answer_text(const explain_t *x)
{
	const sel_answer_t *a = &x->answer;
	char flags[128];
	flags_text(a->flags, flags, sizeof(flags));
	printf("answer:\n");
	if (a->flags & SEL_CNAME) {
		char cn[HG_DNAME_MAX * 4 + 2];
		ctl_fmt_dname(a->cname, a->cname_len, cn, sizeof(cn));
		printf("  %s CNAME %s\n", x->name_text, cn);
	} else if (a->n_addr == 0) {
		printf("  NODATA (the zone's records answer)\n");
	}
	for (unsigned i = 0; i < a->n_addr; i++) {
		char t[INET6_ADDRSTRLEN];
		inet_ntop(x->qtype == 28 ? AF_INET6 : AF_INET, a->addr[i], t, sizeof(t));
		printf("  %s %s %s\n", x->name_text, x->qtype == 28 ? "AAAA" : "A", t);
	}
	printf("  ttl %u  ecs-scope /%u  flags %s\n", a->ttl, a->scope, flags[0] ? flags : "-");
}

void explain_print_text(const explain_t *x)
{
	const view_t *v = &x->view;
	char id[HG_ID_SIZE];
	printf("name:    %s (policy generation %llu, %u endpoint%s, %u prober%s)\n", x->name_text,
	       (unsigned long long)v->hdr->generation, v->s.hdr->n_endpoints,
	       v->s.hdr->n_endpoints == 1 ? "" : "s", v->s.hdr->n_probers,
	       v->s.hdr->n_probers == 1 ? "" : "s");
	printf("client:  %s (%s), query %s\n", x->client_text,
	       x->from_ecs ? "EDNS client subnet" : "source address",
	       x->qtype == 28 ? "AAAA" : "A");
	if (!x->have_geo || !x->geo.found) {
		printf("geo:     not in the geo database (network /%u)\n", x->geo.prefix_len);
	} else {
		printf("geo:     country %s, continent %s, subdivision %s",
		       x->geo.country[0] ? x->geo.country : "-",
		       x->geo.continent[0] ? x->geo.continent : "-",
		       x->geo.subdivision[0] ? x->geo.subdivision : "-");
		if (x->geo.has_location) {
			printf(", location %.2f,%.2f", x->geo.lat, x->geo.lon);
		}
		if (x->geo.has_asn) {
			printf(", AS%u", x->geo.asn);
		}
		printf(", network /%u\n", x->geo.prefix_len);
	}
	if (x->answer.vantage >= 0) {
		printf("vantage: %s\n",
		       explain_prober_id(v, (unsigned)x->answer.vantage, id, sizeof(id)));
	} else {
		printf("vantage: none\n");
	}
	printf("chain:\n");
	for (size_t i = 0; i < x->n_steps; i++) {
		const explain_step_t *s = &x->steps[i];
		if (s->filter >= 0) {
			printf("  %2d. %-16s ", s->filter + 1, step_name(s));
		} else {
			printf("   -  %-16s ", step_name(s));
		}
		print_list(x, s->in, s->n_in, NULL);
		printf(" -> ");
		print_list(x, s->out, s->n_out, s->metric);
		printf("\n");
		if (s->note[0]) {
			printf("        %s\n", s->note);
		}
		for (unsigned k = 0; k < s->n_in; k++) {
			uint8_t ep = s->in[k];
			if (in_list(s->out, s->n_out, ep)) {
				continue;
			}
			printf("        dropped %s: %s", explain_ep_id(v, ep, id, sizeof(id)),
			       sel_reason_name(s->reason[ep]));
			if (!isnan(s->metric[ep])) {
				printf(" (%.4g)", s->metric[ep]);
			}
			printf("\n");
		}
	}
	print_answer_text(x);
}

static void json_list(const explain_t *x, const uint8_t *list, unsigned n)
{
	char id[HG_ID_SIZE];
	printf("[");
	for (unsigned i = 0; i < n; i++) {
		printf(i ? "," : "");
		ctl_json_str(stdout, explain_ep_id(&x->view, list[i], id, sizeof(id)));
	}
	printf("]");
}

static void json_metric(double m)
{
	if (isnan(m) || isinf(m)) {
		printf("null");
	} else {
		printf("%.6g", m);
	}
}

void explain_print_json(const explain_t *x)
{
	const view_t *v = &x->view;
	const sel_answer_t *a = &x->answer;
	char id[HG_ID_SIZE];
	printf("{\"name\":");
	ctl_json_str(stdout, x->name_text);
	printf(",\"generation\":%llu,\"type\":\"%s\",\"client\":{\"prefix\":",
	       (unsigned long long)v->hdr->generation, x->qtype == 28 ? "AAAA" : "A");
	ctl_json_str(stdout, x->client_text);
	printf(",\"from_ecs\":%s},\"geo\":", x->from_ecs ? "true" : "false");
	if (!x->have_geo) {
		printf("null");
	} else {
		printf("{\"found\":%s,\"continent\":", x->geo.found ? "true" : "false");
		ctl_json_str(stdout, x->geo.continent);
		printf(",\"country\":");
		ctl_json_str(stdout, x->geo.country);
		printf(",\"subdivision\":");
		ctl_json_str(stdout, x->geo.subdivision);
		if (x->geo.has_location) {
			printf(",\"lat\":%.4f,\"lon\":%.4f", x->geo.lat, x->geo.lon);
		}
		if (x->geo.has_asn) {
			printf(",\"asn\":%u", x->geo.asn);
		}
		printf(",\"prefix_len\":%u}", x->geo.prefix_len);
	}
	printf(",\"vantage\":");
	if (a->vantage >= 0) {
		ctl_json_str(stdout, explain_prober_id(v, (unsigned)a->vantage, id, sizeof(id)));
	} else {
		printf("null");
	}
	printf(",\"steps\":[");
	for (size_t i = 0; i < x->n_steps; i++) {
		const explain_step_t *s = &x->steps[i];
		printf("%s{\"step\":", i ? "," : "");
		ctl_json_str(stdout, step_name(s));
		printf(",\"index\":%d,\"in\":", s->filter);
		json_list(x, s->in, s->n_in);
		printf(",\"out\":");
		json_list(x, s->out, s->n_out);
		printf(",\"metrics\":{");
		bool first = true;
		for (unsigned k = 0; k < s->n_in; k++) {
			if (isnan(s->metric[s->in[k]])) {
				continue;
			}
			printf(first ? "" : ",");
			first = false;
			ctl_json_str(stdout, explain_ep_id(v, s->in[k], id, sizeof(id)));
			printf(":");
			json_metric(s->metric[s->in[k]]);
		}
		printf("},\"dropped\":[");
		first = true;
		for (unsigned k = 0; k < s->n_in; k++) {
			uint8_t ep = s->in[k];
			if (in_list(s->out, s->n_out, ep)) {
				continue;
			}
			printf(first ? "{\"id\":" : ",{\"id\":");
			first = false;
			ctl_json_str(stdout, explain_ep_id(v, ep, id, sizeof(id)));
			printf(",\"reason\":");
			ctl_json_str(stdout, sel_reason_name(s->reason[ep]));
			printf("}");
		}
		printf("],\"note\":");
		ctl_json_str(stdout, s->note);
		printf("}");
	}
	printf("],\"answer\":{");
	if (a->flags & SEL_CNAME) {
		char cn[HG_DNAME_MAX * 4 + 2];
		ctl_fmt_dname(a->cname, a->cname_len, cn, sizeof(cn));
		printf("\"cname\":");
		ctl_json_str(stdout, cn);
		printf(",");
	}
	printf("\"addresses\":[");
	for (unsigned i = 0; i < a->n_addr; i++) {
		char t[INET6_ADDRSTRLEN];
		inet_ntop(x->qtype == 28 ? AF_INET6 : AF_INET, a->addr[i], t, sizeof(t));
		printf(i ? "," : "");
		ctl_json_str(stdout, t);
	}
	printf("],\"endpoints\":");
	json_list(x, a->endpoints, a->n_endpoints);
	char flags[128];
	flags_text(a->flags, flags, sizeof(flags));
	printf(",\"ttl\":%u,\"scope\":%u,\"flags\":", a->ttl, a->scope);
	ctl_json_str(stdout, flags);
	printf("}}\n");
}
