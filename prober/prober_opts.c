/*  SPDX-License-Identifier: GPL-3.0-or-later */
/* haltgslb-prober's command line. One table drives getopt_long and --help:
 * a new option is one line in opt_table plus, when it takes a value, a
 * small setter that validates it into prober_t. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "errors.h"
#include "log.h"
#include "prober.h"

#define STR_(x) #x
#define STR(x)  STR_(x)

/* Sets a field from the option's value (NULL for a flag); returns HG_EOK,
 * PROBER_OPTS_EXIT, or HG_EINVAL after saying what is wrong. */
typedef int (*opt_set_fn)(prober_t *p, const char *arg);

typedef struct {
	const char *name;
	int key;          /*!< short letter, or >= 256 for a long-only option */
	const char *arg;  /*!< value placeholder in --help; NULL: a flag */
	const char *help; /*!< NULL: not shown (removed options) */
	opt_set_fn set;
} prober_opt_t;

static int parse_uint(const char *text, unsigned min, unsigned max, unsigned *out)
{
	char *end;
	unsigned long v = strtoul(text, &end, 10);
	if (*text == '\0' || *text == '-' || *end != '\0' || v < min || v > max) {
		return HG_EINVAL;
	}
	*out = (unsigned)v;
	return HG_EOK;
}

static int set_id(prober_t *p, const char *arg)
{
	if (arg[0] == '\0' || strlen(arg) > HG_ID_MAX) {
		hg_err("--id: expected 1..%d characters", HG_ID_MAX);
		return HG_EINVAL;
	}
	p->id = arg;
	return HG_EOK;
}

static int set_db(prober_t *p, const char *arg)
{
	p->db_dir = arg;
	return HG_EOK;
}

static int set_metrics(prober_t *p, const char *arg)
{
	p->metrics_path = arg;
	return HG_EOK;
}

static int set_window(prober_t *p, const char *arg)
{
	if (parse_uint(arg, 1, PROBER_WINDOW_MAX, &p->window) != HG_EOK) {
		hg_err("--window: expected 1..%d", PROBER_WINDOW_MAX);
		return HG_EINVAL;
	}
	return HG_EOK;
}

static int set_max_inflight(prober_t *p, const char *arg)
{
	if (parse_uint(arg, 1, 60000, &p->max_inflight) != HG_EOK) {
		hg_err("--max-inflight: expected 1..60000");
		return HG_EINVAL;
	}
	return HG_EOK;
}

static int set_foreground(prober_t *p, const char *arg)
{
	p->foreground = true;
	return HG_EOK;
}

static int set_log_level(prober_t *p, const char *arg)
{
	p->log_level = hg_log_level_parse(arg);
	if (p->log_level < 0) {
		hg_err("--log-level: unknown level '%s'", arg);
		return HG_EINVAL;
	}
	return HG_EOK;
}

/* The prober used to read the YAML file too and require the same policy in
 * its DB. The DB is now its only source: accepting the option would ignore
 * the file silently (an edit and a SIGHUP would do nothing), so it is
 * refused, saying what to do instead. */
static int removed_policy(prober_t *p, const char *arg)
{
	hg_err("--policy was removed: the prober reads the policy from its database; load the "
	       "file there with 'haltgslb-ctl load FILE --db DIR' and drop --policy");
	return HG_EINVAL;
}

static void usage(FILE *f);

static int show_help(prober_t *p, const char *arg)
{
	usage(stdout);
	return PROBER_OPTS_EXIT;
}

static int show_version(prober_t *p, const char *arg)
{
	printf("haltgslb-prober %s\n", PACKAGE_VERSION);
	return PROBER_OPTS_EXIT;
}

static const prober_opt_t opt_table[] = {
	{ "id", 'i', "ID", "prober id: one of the probers of the policy in DIR", set_id },
	{ "db", 'd', "DIR", "LMDB environment: its policy in, measurements out", set_db },
	{ "metrics", 'm', "FILE", "write Prometheus metrics to FILE (textfile collector)",
	  set_metrics },
	{ "window", 'w', "N",
	  "loss/median window in probes (default " STR(PROBER_WINDOW_DEFAULT) ", max " STR(
	          PROBER_WINDOW_MAX) ")",
	  set_window },
	{ "max-inflight", 'c', "N",
	  "probes in flight at most (default " STR(PROBER_INFLIGHT_DEFAULT) ")", set_max_inflight },
	{ "foreground", 'f', NULL, "do not detach (use under systemd)", set_foreground },
	{ "log-level", 'l', "L", "error|warning|notice|info|debug (default notice)",
	  set_log_level },
	{ "broker", 256, "URIS", "publish to these brokers: amqps://HOST:PORT[,amqps://...]",
	  prober_pub_opt_broker },
	{ "tls-cert", 257, "FILE", "client certificate for --broker (its CN must be --id)",
	  prober_pub_opt_tls_cert },
	{ "tls-key", 258, "FILE", "private key of --tls-cert", prober_pub_opt_tls_key },
	{ "tls-ca", 259, "FILE", "CA that signed the brokers' certificates",
	  prober_pub_opt_tls_ca },
	{ "snapshot-interval", 260, "D", "full snapshot every D (default 30s)",
	  prober_pub_opt_snapshot },
	{ "publish-queue", 261, "N", "batches held while the broker is slow (default 256)",
	  prober_pub_opt_queue },
	{ "help", 'h', NULL, "this text", show_help },
	{ "version", 'V', NULL, "print the version", show_version },
	{ "policy", 'p', "FILE", NULL, removed_policy },
};
#define OPT_COUNT (sizeof(opt_table) / sizeof(opt_table[0]))

static void usage(FILE *f)
{
	fprintf(f, "Usage: haltgslb-prober --id ID --db DIR [options]\n"
	           "\n"
	           "Probe every endpoint of the policy loaded into the LMDB environment DIR\n"
	           "(haltgslb-ctl load FILE --db DIR) as prober ID, one of that policy's probers,\n"
	           "and write the measurements into DIR. A new policy loaded into DIR is picked\n"
	           "up within a second.\n"
	           "\n");
	for (size_t i = 0; i < OPT_COUNT; i++) {
		const prober_opt_t *o = &opt_table[i];
		if (o->help == NULL) {
			continue;
		}
		char left[48];
		snprintf(left, sizeof(left), "%c%c%c --%s%s%s", o->key < 256 ? '-' : ' ',
		         o->key < 256 ? o->key : ' ', o->key < 256 ? ',' : ' ', o->name,
		         o->arg ? " " : "", o->arg ? o->arg : "");
		fprintf(f, "  %-27s%s\n", left, o->help);
	}
	fprintf(f, "\nWith --broker the prober also publishes its measurements (docs/prober.md).\n"
	           "\nSignals: SIGHUP re-reads the policy from DIR at once, SIGTERM/SIGINT stop\n"
	           "(the last batch committed, then published within 2 s with --broker).\n");
}

/* getopt_long's arrays, built from the table. */
static void build_getopt(struct option *longopts, char *shortopts)
{
	char *s = shortopts;
	*s++ = ':'; /* a missing value is reported as ':', not as '?' */
	for (size_t i = 0; i < OPT_COUNT; i++) {
		const prober_opt_t *o = &opt_table[i];
		longopts[i] = (struct option){ o->name, o->arg ? required_argument : no_argument,
			                       NULL, o->key };
		if (o->key < 256) {
			*s++ = (char)o->key;
			if (o->arg) {
				*s++ = ':';
			}
		}
	}
	longopts[OPT_COUNT] = (struct option){ NULL, 0, NULL, 0 };
	*s = '\0';
}

static const prober_opt_t *find_opt(int key)
{
	for (size_t i = 0; i < OPT_COUNT; i++) {
		if (opt_table[i].key == key) {
			return &opt_table[i];
		}
	}
	return NULL;
}

/* The option getopt stopped at, as the user wrote it. */
static const char *bad_option(char **argv, char *buf, size_t size)
{
	const char *arg = argv[optind - 1];
	if (optopt > 0 && optopt < 256 && strncmp(arg, "--", 2) != 0) {
		snprintf(buf, size, "-%c", optopt);
		return buf;
	}
	return arg;
}

static int usage_error(const char *fmt, const char *what)
{
	hg_err(fmt, what);
	fprintf(stderr, "Try 'haltgslb-prober --help'.\n");
	return HG_EINVAL;
}

int prober_opts_parse(prober_t *p, int argc, char **argv)
{
	struct option longopts[OPT_COUNT + 1];
	char shortopts[2 * OPT_COUNT + 2];
	build_getopt(longopts, shortopts);
	opterr = 0; /* our own messages, in the log format */
	int opt, ret = HG_EOK;
	while (ret == HG_EOK && (opt = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
		const prober_opt_t *o = find_opt(opt);
		char buf[8];
		if (opt == ':') {
			return usage_error("%s: missing value", bad_option(argv, buf, sizeof(buf)));
		} else if (o == NULL) {
			return usage_error("unknown option '%s'",
			                   bad_option(argv, buf, sizeof(buf)));
		}
		ret = o->set(p, optarg);
	}
	if (ret != HG_EOK) {
		return ret;
	}
	if (optind != argc) {
		return usage_error("unexpected argument '%s'", argv[optind]);
	}
	if (p->id == NULL || p->db_dir == NULL) {
		return usage_error("%s", "--id and --db are required");
	}
	return prober_pub_opts_check(p);
}
