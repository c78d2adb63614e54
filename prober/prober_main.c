/*  SPDX-License-Identifier: GPL-3.0-or-later */
/* haltgslb-prober: command line, policy (re)load, store, then the loop. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "errors.h"
#include "log.h"
#include "prober.h"
#include "store_guard.h"

static void usage(FILE *f, const char *prog)
{
	fprintf(f,
	        "Usage: %s --id ID --policy FILE --db DIR [options]\n"
	        "\n"
	        "Probe every endpoint of the policy as prober ID (one of the policy's probers)\n"
	        "and write the measurements into the LMDB environment DIR, which must hold\n"
	        "the same policy (haltgslb-ctl load FILE --db DIR).\n"
	        "\n"
	        "  -i, --id ID            prober id (must be listed under probers:)\n"
	        "  -p, --policy FILE      policy file (re-read on SIGHUP)\n"
	        "  -d, --db DIR           LMDB environment directory\n"
	        "  -m, --metrics FILE     write Prometheus metrics to FILE (textfile collector)\n"
	        "  -w, --window N         loss/median window in probes (default %d, max %d)\n"
	        "  -c, --max-inflight N   probes in flight at most (default %d)\n"
	        "  -f, --foreground       do not detach (use under systemd)\n"
	        "  -l, --log-level L      error|warning|notice|info|debug (default notice)\n"
	        "  -h, --help             this text\n"
	        "  -V, --version          print the version\n"
	        "\n"
	        "Signals: SIGHUP reloads the policy, SIGTERM/SIGINT stop (last batch committed).\n",
	        prog, PROBER_WINDOW_DEFAULT, PROBER_WINDOW_MAX, PROBER_INFLIGHT_DEFAULT);
}

/* Parse the policy and check we are one of its probers. */
static int load_policy(const prober_t *p, policy_t **out)
{
	policy_errors_t errs = { 0 };
	int ret = policy_parse_file(p->policy_path, out, &errs);
	if (ret != HG_EOK) {
		hg_err("policy %s: %s", p->policy_path, hg_strerror(ret));
		policy_errors_print(&errs, p->policy_path, stderr);
		policy_errors_free(&errs);
		return ret;
	}
	policy_errors_free(&errs);
	if (policy_find_prober(*out, p->id) < 0) {
		hg_err("policy %s: prober '%s' is not listed under probers:", p->policy_path, p->id);
		policy_free(*out);
		*out = NULL;
		return HG_EINVAL;
	}
	return HG_EOK;
}

int prober_reload(prober_t *p);
int prober_reload(prober_t *p)
{
	policy_t *policy = NULL;
	hg_notice("SIGHUP: reloading %s", p->policy_path);
	int ret = load_policy(p, &policy);
	if (ret != HG_EOK) {
		hg_err("reload failed, probing continues with the previous policy");
		return ret;
	}
	ret = prober_targets_apply(p, policy);
	if (ret != HG_EOK) {
		hg_err("reload failed: %s", hg_strerror(ret));
	}
	policy_free(policy);
	return ret;
}

static int parse_uint(const char *text, unsigned min, unsigned max, unsigned *out)
{
	char *end;
	unsigned long v = strtoul(text, &end, 10);
	if (*text == '\0' || *end != '\0' || v < min || v > max) {
		return HG_EINVAL;
	}
	*out = (unsigned)v;
	return HG_EOK;
}

/* Why the database would not open, and what to do about it. */
static void report_open_error(const char *dir, int ret)
{
	const char *why = store_last_error();
	if (ret == HG_ENOENT) {
		hg_err("%s (load a policy first: haltgslb-ctl load FILE --db DIR)",
		       *why ? why : "no haltgslb database");
	} else if (*why) {
		hg_err("%s", why);
	} else {
		hg_err("database %s: %s", dir, hg_strerror(ret));
	}
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "id", required_argument, NULL, 'i' },
		{ "policy", required_argument, NULL, 'p' },
		{ "db", required_argument, NULL, 'd' },
		{ "metrics", required_argument, NULL, 'm' },
		{ "window", required_argument, NULL, 'w' },
		{ "max-inflight", required_argument, NULL, 'c' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	static prober_t p;   /* large (ICMP table): not on the stack */
	bool foreground = false;
	int level = HG_LOG_NOTICE, opt;
	p.window = PROBER_WINDOW_DEFAULT;
	p.max_inflight = PROBER_INFLIGHT_DEFAULT;
	hg_log_init(argv[0], level);
	/* Its database truncated under it: a message and exit 1, not SIGBUS. */
	store_guard_install(STORE_GUARD_FATAL, "haltgslb-prober");
	while ((opt = getopt_long(argc, argv, "i:p:d:m:w:c:fl:hV", opts, NULL)) != -1) {
		switch (opt) {
		case 'i': p.id = optarg; break;
		case 'p': p.policy_path = optarg; break;
		case 'd': p.db_dir = optarg; break;
		case 'm': p.metrics_path = optarg; break;
		case 'f': foreground = true; break;
		case 'w':
			if (parse_uint(optarg, 1, PROBER_WINDOW_MAX, &p.window) != HG_EOK) {
				hg_err("--window: expected 1..%d", PROBER_WINDOW_MAX);
				return 2;
			}
			break;
		case 'c':
			if (parse_uint(optarg, 1, 60000, &p.max_inflight) != HG_EOK) {
				hg_err("--max-inflight: expected 1..60000");
				return 2;
			}
			break;
		case 'l':
			level = hg_log_level_parse(optarg);
			if (level < 0) {
				hg_err("--log-level: unknown level '%s'", optarg);
				return 2;
			}
			hg_log_init(argv[0], level);
			break;
		case 'h': usage(stdout, argv[0]); return 0;
		case 'V': printf("haltgslb-prober %s\n", PACKAGE_VERSION); return 0;
		default: usage(stderr, argv[0]); return 2;
		}
	}
	if (p.id == NULL || p.policy_path == NULL || p.db_dir == NULL || optind != argc) {
		usage(stderr, argv[0]);
		return 2;
	}

	int ret;
	policy_t *policy = NULL;
	bool curl_ready = false;
	/* Block the signals the loop reads from its signalfd now, not only once
	 * the loop exists: a SIGHUP (systemctl reload) or SIGTERM during startup
	 * (slow policy read, DB open) must not kill the prober with the default
	 * action. They stay pending and the loop handles them when it starts. */
	sigset_t sigs;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	sigprocmask(SIG_BLOCK, &sigs, NULL);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		hg_err("libcurl initialization failed");
		return 1;
	}
	curl_ready = true;
	ret = load_policy(&p, &policy);
	if (ret != HG_EOK) {
		goto cleanup;
	}
	/* Detaching moves to "/": keep relative paths working (SIGHUP re-reads). */
	static char policy_abs[PATH_MAX], db_abs[PATH_MAX];
	if (!foreground) {
		if (realpath(p.policy_path, policy_abs) != NULL) {
			p.policy_path = policy_abs;
		}
		if (realpath(p.db_dir, db_abs) != NULL) {
			p.db_dir = db_abs;
		}
	}
	/* Detach before LMDB and epoll exist: neither survives a fork. But check
	 * the DB first (open and close it again): after daemon() the parent has
	 * exited 0 and a startup failure would be invisible to the caller. */
	if (!foreground) {
		ret = store_open(p.db_dir, 0, &p.store);
		if (ret != HG_EOK) {
			report_open_error(p.db_dir, ret);
			goto cleanup;
		}
		store_close(p.store);
		p.store = NULL;
	}
	if (!foreground && daemon(0, 1) != 0) {
		hg_err("cannot detach: %s", hg_strerror(hg_err_from_errno(errno)));
		ret = HG_EIO;
		goto cleanup;
	}
	ret = store_open(p.db_dir, 0, &p.store);
	if (ret != HG_EOK) {
		report_open_error(p.db_dir, ret);
		goto cleanup;
	}
	ret = prober_loop_init(&p);
	if (ret == HG_EOK) {
		ret = prober_targets_apply(&p, policy);
	}
	if (ret != HG_EOK) {
		hg_err("startup: %s", hg_strerror(ret));
		goto cleanup;
	}
	policy_free(policy);
	policy = NULL;
	hg_notice("prober %s started: %zu endpoints, db %s", p.id, p.n_targets, p.db_dir);
	ret = prober_run(&p);
	hg_notice("prober %s stopped (%llu probes, %llu batches)", p.id,
	          (unsigned long long)p.probes_total, (unsigned long long)p.batches);
cleanup:
	prober_loop_free(&p);
	if (p.store != NULL) {
		store_close(p.store);
	}
	policy_free(policy);
	if (curl_ready) {
		curl_global_cleanup();
	}
	return ret == HG_EOK ? 0 : 1;
}
