/*  SPDX-License-Identifier: GPL-3.0-or-later */
/* haltgslb-ctl: one binary, git-style subcommands. */
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "ctl.h"
#include "log.h"
#include "store_guard.h"

static const struct {
	const char *name;
	ctl_cmd_fn fn;
	const char *summary;
} commands[] = {
	{ "validate", ctl_cmd_validate, "check a policy file, print FILE:LINE:COL errors" },
	{ "load", ctl_cmd_load, "validate a policy and load it into the database atomically" },
	{ "status", ctl_cmd_status, "policy generation, names, endpoint health, prober freshness" },
	{ "drain", ctl_cmd_drain, "stop answering with an endpoint (survives policy loads)" },
	{ "undrain", ctl_cmd_undrain, "clear an endpoint's admin override" },
	{ "force-up", ctl_cmd_force_up, "treat an endpoint as up whatever the probers say" },
	{ "measure", ctl_cmd_measure, "write a synthetic measurement (tests, exercises)" },
	{ "explain", ctl_cmd_explain, "run the selection for a client and show every step" },
	{ "zone-records", ctl_cmd_zone_records, "print static fallback records for the zone file" },
	{ "broker-config", ctl_cmd_broker_config,
	  "write a RabbitMQ node's configuration for the fleet" },
};

static void usage(FILE *out)
{
	fprintf(out,
	        "Usage: haltgslb-ctl COMMAND [OPTIONS]\n"
	        "       haltgslb-ctl COMMAND --help\n\n"
	        "Manage haltgslb policy and state in the LMDB database read by mod-haltgslb.\n\n"
	        "Commands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		fprintf(out, "  %-13s %s\n", commands[i].name, commands[i].summary);
	}
	fprintf(out,
	        "\nOptions:\n  -h, --help     show this help\n  -V, --version  show the version\n"
	        "\nExit status: 0 success, 1 failure, 2 usage error.\n");
}

int main(int argc, char **argv)
{
	hg_log_init("haltgslb-ctl", HG_LOG_NOTICE);
	/* A database truncated while we read it: a message and exit 1, not a
	 * "Bus error" (store_guard.h). */
	store_guard_install(STORE_GUARD_FATAL, "haltgslb-ctl");
	if (argc < 2) {
		usage(stderr);
		return CTL_USAGE;
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return CTL_OK;
	}
	if (strcmp(argv[1], "-V") == 0 || strcmp(argv[1], "--version") == 0) {
		printf("haltgslb-ctl %s\n", PACKAGE_VERSION);
		return CTL_OK;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(argv[1], commands[i].name) == 0) {
			return commands[i].fn(argc - 1, argv + 1);
		}
	}
	ctl_error("unknown command '%s' (see haltgslb-ctl --help)", argv[1]);
	return CTL_USAGE;
}
