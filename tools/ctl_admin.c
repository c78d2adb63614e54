/*  SPDX-License-Identifier: GPL-3.0-or-later */
/* drain, undrain, force-up and measure: the subcommands that change state
 * (not policy) in the database. Each is one write transaction that also
 * patches the endpoint sets, so mod-haltgslb sees the change on its next
 * query. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "errors.h"
#include "policy.h"
#include "schema_names.h"
#include "writer.h"

/* One write transaction around one writer_apply_* call, committed only if
 * the call succeeded (store_write(): run again on a grown map). Returns an
 * HG_E* code; *open_failed tells that the database could not be opened
 * (ctl_open_store() already said why). */
static int write_one(const char *db, store_write_fn fn, void *ctx, bool *open_failed)
{
	store_t *store = NULL;
	int ret = ctl_open_store(db, 0, &store);
	*open_failed = ret != HG_EOK;
	if (ret != HG_EOK) {
		return ret;
	}
	ret = store_write(store, fn, ctx);
	if (ret == HG_EMAPFULL) {
		ctl_error("%s", store_last_error());
	}
	store_close(store);
	return ret;
}

typedef struct {
	const char *endpoint, *reason, *prober;
	uint8_t admin;
	const hg_rec_measure_t *measure;
} write_args_t;

static int write_override(store_wtxn_t *wtxn, void *ctx)
{
	const write_args_t *a = ctx;
	return writer_apply_override(wtxn, a->endpoint, a->admin, a->reason);
}

static int write_measure(store_wtxn_t *wtxn, void *ctx)
{
	const write_args_t *a = ctx;
	return writer_apply_measure(wtxn, a->endpoint, a->prober, a->measure);
}

static int override_cmd(int argc, char **argv, uint8_t admin, const char *verb)
{
	static const struct option opts[] = { { "help", no_argument, NULL, 'h' },
		                              { "db", required_argument, NULL, 'd' },
		                              { "reason", required_argument, NULL, 'r' },
		                              { NULL, 0, NULL, 0 } };
	const char *db = NULL, *reason = "";
	int opt;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "hd:r:", opts, NULL)) != -1) {
		switch (opt) {
		case 'h':
			printf("Usage: haltgslb-ctl %s ENDPOINT --db DIR%s\n\n", argv[0],
			       admin == HG_ADMIN_NONE ? "" : " [--reason TEXT]");
			if (admin == HG_ADMIN_DRAIN) {
				printf("Stop answering with ENDPOINT in every name, whatever its "
				       "health\n"
				       "(a name's fallback still may use it when nothing else is "
				       "left).\n");
			} else if (admin == HG_ADMIN_FORCE_UP) {
				printf("Treat ENDPOINT as up whatever the probers report.\n");
			} else {
				printf("Clear ENDPOINT's admin override (drain or force-up).\n");
			}
			printf("The override is stored in the database, applies at once without\n"
			       "reloading knotd, and survives policy loads.\n");
			return CTL_OK;
		case 'd': db = optarg; break;
		case 'r':
			reason = optarg;
			if (strlen(reason) >= sizeof(((hg_rec_override_t *)0)->reason)) {
				return ctl_usage_error(argv[0], "--reason is longer than %zu bytes",
				                       sizeof(((hg_rec_override_t *)0)->reason) -
				                               1);
			}
			break;
		default:
			return ctl_usage_error(argv[0], "unknown option or missing value '%s'",
			                       argv[optind - 1]);
		}
	}
	if (optind + 1 != argc) {
		return ctl_usage_error(argv[0], "expects exactly one ENDPOINT");
	}
	if (db == NULL) {
		return ctl_usage_error(argv[0], "--db DIR is required");
	}
	const char *endpoint = argv[optind];
	write_args_t args = { .endpoint = endpoint, .reason = reason, .admin = admin };
	bool open_failed;
	int ret = write_one(db, write_override, &args, &open_failed);
	if (open_failed) {
		return CTL_FAIL;
	}
	if (ret == HG_ENOENT) {
		ctl_error("%s: unknown endpoint '%s' (not in the loaded policy)", db, endpoint);
		return CTL_FAIL;
	}
	if (ret != HG_EOK) {
		ctl_error("%s: %s %s failed: %s", db, argv[0], endpoint, hg_strerror(ret));
		return CTL_FAIL;
	}
	printf("%s: endpoint %s %s\n", db, endpoint, verb);
	return CTL_OK;
}

int ctl_cmd_drain(int argc, char **argv)
{
	return override_cmd(argc, argv, HG_ADMIN_DRAIN,
	                    schema_name(&schema_admins, HG_ADMIN_DRAIN));
}

int ctl_cmd_undrain(int argc, char **argv)
{
	return override_cmd(argc, argv, HG_ADMIN_NONE, "override cleared");
}

int ctl_cmd_force_up(int argc, char **argv)
{
	return override_cmd(argc, argv, HG_ADMIN_FORCE_UP,
	                    schema_name(&schema_admins, HG_ADMIN_FORCE_UP));
}

/* "40ms", "0.5ms", "1200us", "0.04s" → microseconds. */
static int parse_rtt_us(const char *text, uint32_t *us)
{
	errno = 0;
	char *end = NULL;
	double v = strtod(text, &end);
	if (errno != 0 || end == text || !(v >= 0)) {
		return HG_EINVAL;
	}
	double scale;
	if (strcmp(end, "us") == 0) {
		scale = 1;
	} else if (strcmp(end, "ms") == 0) {
		scale = 1e3;
	} else if (strcmp(end, "s") == 0) {
		scale = 1e6;
	} else {
		return HG_EINVAL;
	}
	v *= scale;
	if (v >= (double)HG_RTT_NONE) {
		return HG_ERANGE;
	}
	*us = (uint32_t)llround(v);
	return HG_EOK;
}

static void measure_help(void)
{
	printf("Usage: haltgslb-ctl measure ENDPOINT --prober ID --db DIR (--up | --down | "
	       "--unknown)\n"
	       "                            [--rtt 40ms] [--loss 2%%] [--age 0s]\n\n"
	       "Write a synthetic measurement of ENDPOINT as if prober ID had made it, and\n"
	       "update the views at once. For tests and exercises without probers; a\n"
	       "running prober overwrites it with its next result.\n\n"
	       "  --up / --down   health state after hysteresis; --unknown: a prober still\n"
	       "                  warming up (no vote in the quorum)\n"
	       "  --rtt T         network round trip (us, ms, s units; default: none)\n"
	       "  --loss P        packet loss, \"2%%\" or 0.02 (default 0)\n"
	       "  --age D         how long ago it was measured (default 0s; older than the\n"
	       "                  policy's stale-after makes the prober stale for it)\n");
}

int ctl_cmd_measure(int argc, char **argv)
{
	static const struct option opts[] = { { "help", no_argument, NULL, 'h' },
		                              { "db", required_argument, NULL, 'd' },
		                              { "prober", required_argument, NULL, 'p' },
		                              { "up", no_argument, NULL, 'u' },
		                              { "down", no_argument, NULL, 'D' },
		                              { "unknown", no_argument, NULL, 'U' },
		                              { "rtt", required_argument, NULL, 'r' },
		                              { "loss", required_argument, NULL, 'l' },
		                              { "age", required_argument, NULL, 'a' },
		                              { NULL, 0, NULL, 0 } };
	const char *db = NULL, *prober = NULL;
	int state = -1;
	uint32_t rtt_us = HG_RTT_NONE, loss_bp = 0, age_ms = 0;
	int opt;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "hd:p:uDUr:l:a:", opts, NULL)) != -1) {
		switch (opt) {
		case 'h': measure_help(); return CTL_OK;
		case 'd': db = optarg; break;
		case 'p': prober = optarg; break;
		case 'u': state = HG_HEALTH_UP; break;
		case 'D': state = HG_HEALTH_DOWN; break;
		case 'U': state = HG_HEALTH_UNKNOWN; break;
		case 'r':
			if (parse_rtt_us(optarg, &rtt_us) != HG_EOK) {
				return ctl_usage_error("measure",
				                       "bad --rtt '%s' (e.g. 40ms, 800us)", optarg);
			}
			break;
		case 'l':
			if (policy_parse_percent_bp(optarg, &loss_bp) != HG_EOK) {
				return ctl_usage_error(
				        "measure", "bad --loss '%s' (e.g. 2%% or 0.02)", optarg);
			}
			break;
		case 'a':
			if (policy_parse_duration_ms(optarg, &age_ms) != HG_EOK) {
				return ctl_usage_error("measure",
				                       "bad --age '%s' (e.g. 500ms, 20s)", optarg);
			}
			break;
		default:
			return ctl_usage_error("measure", "unknown option or missing value '%s'",
			                       argv[optind - 1]);
		}
	}
	if (optind + 1 != argc) {
		return ctl_usage_error("measure", "expects exactly one ENDPOINT");
	}
	if (db == NULL || prober == NULL || state < 0) {
		return ctl_usage_error(
		        "measure", "--db, --prober and one of --up/--down/--unknown are required");
	}
	const char *endpoint = argv[optind];
	uint64_t now = store_now_ms();
	hg_rec_measure_t m = {
		.layout = HG_REC_LAYOUT,
		.state = (uint8_t)state,
		.fail_class = state == HG_HEALTH_DOWN ? HG_FAIL_OTHER : HG_FAIL_NONE,
		.ts_ms = now - age_ms,
		.changed_ms = now - age_ms,
		.rtt_last_us = rtt_us,
		.rtt_ewma_us = rtt_us,
		.rtt_median_us = rtt_us,
		.ttfb_us = HG_RTT_NONE,
		.loss_bp = (uint16_t)loss_bp,
		.window = 20,
		.consec_ok = state == HG_HEALTH_UP ? 1 : 0,
		.consec_fail = state == HG_HEALTH_DOWN ? 1 : 0,
		.probes_total = 1,
		.probes_failed = state == HG_HEALTH_DOWN ? 1 : 0,
	};
	write_args_t args = { .endpoint = endpoint, .prober = prober, .measure = &m };
	bool open_failed;
	int ret = write_one(db, write_measure, &args, &open_failed);
	if (open_failed) {
		return CTL_FAIL;
	}
	if (ret == HG_ENOENT) {
		ctl_error("%s: unknown endpoint '%s' or prober '%s' (not in the loaded policy)", db,
		          endpoint, prober);
		return CTL_FAIL;
	}
	if (ret != HG_EOK) {
		ctl_error("%s: writing the measurement failed: %s", db, hg_strerror(ret));
		return CTL_FAIL;
	}
	printf("%s: %s seen %s%s by %s\n", db, endpoint,
	       schema_name(&schema_healths, (unsigned)state),
	       state == HG_HEALTH_UNKNOWN ? " (warming up)" : "", prober);
	return CTL_OK;
}
