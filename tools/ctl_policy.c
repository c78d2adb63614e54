/*  SPDX-License-Identifier: GPL-3.0-or-later */
/* validate, load and zone-records: the subcommands that read a policy file. */
#include <arpa/inet.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "errors.h"
#include "policy.h"
#include "writer.h"

static const struct option help_only[] = { { "help", no_argument, NULL, 'h' },
	                                   { "db", required_argument, NULL, 'd' },
	                                   { NULL, 0, NULL, 0 } };

/* Parse a policy, printing FILE:LINE:COL errors. Returns the model or NULL. */
static policy_t *parse_or_report(const char *path)
{
	policy_t *policy = NULL;
	policy_errors_t errors = { 0 };
	int ret = policy_parse_file(path, &policy, &errors);
	if (ret != HG_EOK) {
		if (errors.n_errors > 0) {
			policy_errors_print(&errors, path, stderr);
		} else {
			ctl_error("%s: %s", path, hg_strerror(ret));
		}
		if (ret == HG_EPOLICY) {
			fprintf(stderr, "haltgslb-ctl: %s: %zu error%s\n", path, errors.n_errors,
			        errors.n_errors == 1 ? "" : "s");
		}
		policy_errors_free(&errors);
		return NULL;
	}
	policy_errors_free(&errors);
	policy_errors_print(&policy->warnings, path, stderr);
	return policy;
}

static void print_summary(FILE *out, const policy_t *p)
{
	fprintf(out, "%zu prober%s, %zu pool%s, %zu endpoint%s, %zu name%s", p->n_probers,
	        p->n_probers == 1 ? "" : "s", p->n_pools, p->n_pools == 1 ? "" : "s",
	        p->n_endpoints, p->n_endpoints == 1 ? "" : "s", p->n_names,
	        p->n_names == 1 ? "" : "s");
}

int ctl_cmd_validate(int argc, char **argv)
{
	int opt;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "h", help_only, NULL)) != -1) {
		if (opt == 'h') {
			printf("Usage: haltgslb-ctl validate FILE\n\n"
			       "Check a policy file. Every problem is printed as FILE:LINE:COL: "
			       "message.\n"
			       "Exit status 0 when the policy is valid, 1 otherwise.\n");
			return CTL_OK;
		}
		return ctl_usage_error("validate", "unknown option '%s'", argv[optind - 1]);
	}
	if (optind + 1 != argc) {
		return ctl_usage_error("validate", "expects exactly one FILE");
	}
	policy_t *policy = parse_or_report(argv[optind]);
	if (policy == NULL) {
		return CTL_FAIL;
	}
	printf("%s: OK (", argv[optind]);
	print_summary(stdout, policy);
	printf(")\n");
	policy_free(policy);
	return CTL_OK;
}

int ctl_cmd_load(int argc, char **argv)
{
	const char *db = NULL;
	int opt;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "hd:", help_only, NULL)) != -1) {
		switch (opt) {
		case 'h':
			printf("Usage: haltgslb-ctl load FILE --db DIR\n\n"
			       "Validate FILE and load it into the LMDB environment DIR (created "
			       "if\n"
			       "missing) in one transaction: mod-haltgslb sees the old policy or "
			       "the new\n"
			       "one, never a mix, and needs no reload. An invalid policy changes "
			       "nothing.\n"
			       "Measurements and drains of endpoints that remain are kept. A "
			       "database of\n"
			       "the previous schema version (1) is upgraded by the same "
			       "transaction.\n"
			       "The map grows as needed up to HG_STORE_MAPSIZE_MAX bytes (default "
			       "16 GiB);\n"
			       "a policy that does not fit under it is refused whole.\n");
			return CTL_OK;
		case 'd': db = optarg; break;
		default:
			return ctl_usage_error("load", "unknown option or missing value '%s'",
			                       argv[optind - 1]);
		}
	}
	if (optind + 1 != argc) {
		return ctl_usage_error("load", "expects exactly one FILE");
	}
	if (db == NULL) {
		return ctl_usage_error("load", "--db DIR is required");
	}
	const char *path = argv[optind];
	policy_t *policy = parse_or_report(path);
	if (policy == NULL) {
		fprintf(stderr, "haltgslb-ctl: policy not loaded; %s is unchanged\n", db);
		return CTL_FAIL;
	}
	int rc = CTL_FAIL;
	store_t *store = NULL;
	/* STORE_UPGRADE: a schema-1 database is rebuilt by this load. */
	if (ctl_open_store(db, STORE_CREATE | STORE_UPGRADE, &store) != HG_EOK) {
		goto cleanup;
	}
	bool upgrading = store_schema_found(store) != HG_SCHEMA_VERSION;
	uint64_t generation = 0;
	int ret = writer_load_policy(store, policy, &generation);
	if (ret == HG_EMAPFULL) {
		ctl_error("%s; the database is unchanged", store_last_error());
		goto cleanup;
	} else if (ret != HG_EOK) {
		ctl_error("%s: loading %s failed: %s; the database is unchanged", db, path,
		          hg_strerror(ret));
		goto cleanup;
	}
	if (upgrading) {
		printf("upgraded %s from schema version %u to %u\n", db,
		       STORE_SCHEMA_PREVIOUS_VERSION, HG_SCHEMA_VERSION);
	}
	printf("loaded %s into %s: generation %llu (", path, db, (unsigned long long)generation);
	print_summary(stdout, policy);
	printf(")\n");
	rc = CTL_OK;
cleanup:
	if (store != NULL) {
		store_close(store);
	}
	policy_free(policy);
	return rc;
}

int ctl_cmd_zone_records(int argc, char **argv)
{
	int opt;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "h", help_only, NULL)) != -1) {
		if (opt == 'h') {
			printf("Usage: haltgslb-ctl zone-records FILE\n\n"
			       "Print, for every GSLB name of the policy, static A/AAAA records "
			       "with all\n"
			       "the addresses of its pools. Put them in the zone file: "
			       "mod-haltgslb answers\n"
			       "from them when its database is missing (fail open), and they make "
			       "the\n"
			       "names exist for other query types (NODATA, NSEC).\n");
			return CTL_OK;
		}
		return ctl_usage_error("zone-records", "unknown option '%s'", argv[optind - 1]);
	}
	if (optind + 1 != argc) {
		return ctl_usage_error("zone-records", "expects exactly one FILE");
	}
	policy_t *p = parse_or_report(argv[optind]);
	if (p == NULL) {
		return CTL_FAIL;
	}
	printf("; static fallback records generated by haltgslb-ctl zone-records from %s\n",
	       argv[optind]);
	for (size_t n = 0; n < p->n_names; n++) {
		const policy_name_t *name = &p->names[n];
		size_t printed = 0;
		for (size_t pi = 0; pi < name->n_pools; pi++) {
			const policy_pool_t *pool = &p->pools[name->pools[pi]];
			for (size_t e = pool->first_endpoint;
			     e < pool->first_endpoint + pool->n_endpoints; e++) {
				const policy_endpoint_t *ep = &p->endpoints[e];
				char text[INET6_ADDRSTRLEN];
				for (unsigned a = 0; a < ep->n_v4; a++) {
					inet_ntop(AF_INET, ep->v4[a], text, sizeof(text));
					printf("%-40s %6u IN A     %s ; %s\n", name->text,
					       name->ttl, text, ep->id);
					printed++;
				}
				for (unsigned a = 0; a < ep->n_v6; a++) {
					inet_ntop(AF_INET6, ep->v6[a], text, sizeof(text));
					printf("%-40s %6u IN AAAA  %s ; %s\n", name->text,
					       name->ttl, text, ep->id);
					printed++;
				}
			}
		}
		if (printed == 0) {
			printf("; %s: no address endpoints (CNAME targets only): add a record by "
			       "hand\n",
			       name->text);
		}
	}
	policy_free(p);
	return CTL_OK;
}
