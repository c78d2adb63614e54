/*  SPDX-License-Identifier: GPL-3.0-or-later */
/* haltgslb-syncd: command line, configuration (re)load, store, then the loop. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "errors.h"
#include "log.h"
#include "store_guard.h"
#include "syncd.h"

static void usage(FILE *f, const char *prog)
{
	fprintf(f,
	        "Usage: %s --db DIR --broker URIS --tls-cert FILE --tls-key FILE --tls-ca FILE\n"
	        "       [--metrics FILE] [--foreground] [options]\n"
	        "\n"
	        "Consume the probers' measurements from the RabbitMQ stream and apply them to\n"
	        "the LMDB environment DIR that mod-haltgslb reads (records, views, and the\n"
	        "stream offset, in one transaction). DIR must hold the policy\n"
	        "(haltgslb-ctl load FILE --db DIR); until it does, nothing is consumed.\n"
	        "\n"
	        "  -d, --db DIR               LMDB environment directory\n"
	        "  -b, --broker URIS          amqps://HOST[:PORT][/VHOST][,amqps://...] (cluster\n"
	        "                             nodes, tried in turn)\n"
	        "      --tls-cert FILE        client certificate (PEM); its CN is this node's id\n"
	        "      --tls-key FILE         its private key (PEM)\n"
	        "      --tls-ca FILE          CA certificate(s) that signed the brokers'\n"
	        "  -m, --metrics FILE         write Prometheus metrics to FILE (textfile "
	        "collector)\n"
	        "      --metrics-interval D   rewrite it every D (default 5s)\n"
	        "  -f, --foreground           do not detach (use under systemd)\n"
	        "  -c, --config FILE          read options from FILE ('key = value' lines, keys\n"
	        "                             as the long options; the command line wins)\n"
	        "      --stream NAME          stream queue (default %s)\n"
	        "      --vhost NAME           virtual host for every URI (default: the URI's, or "
	        "/)\n"
	        "      --snapshot-interval D  the probers' snapshot interval (default 30s): a "
	        "node\n"
	        "                             without a stored offset starts D + 5s back\n"
	        "      --heartbeat S          AMQP heartbeat, seconds (default %d)\n"
	        "      --prefetch N           unacknowledged deliveries at most (default %u)\n"
	        "      --batch N              deliveries per LMDB transaction at most (default "
	        "%u)\n"
	        "      --identity ID          SASL EXTERNAL identity (default: the certificate "
	        "CN)\n"
	        "  -l, --log-level L          error|warning|notice|info|debug (default notice)\n"
	        "  -h, --help                 this text\n"
	        "  -V, --version              print the version\n"
	        "\n"
	        "Signals: SIGHUP re-reads the configuration and the TLS files (reconnects when\n"
	        "they changed); SIGTERM/SIGINT stop (the current transaction is committed and\n"
	        "acknowledged, the connection closed).\n",
	        prog, SYNCD_STREAM_DEFAULT, HG_AMQP_HEARTBEAT_DEFAULT_S, SYNCD_PREFETCH_DEFAULT,
	        SYNCD_BATCH_DEFAULT);
}

/* defaults ← config file ← command line: the same order at start and on
 * every SIGHUP. */
static int build_config(const syncd_t *s, const char *config_path, syncd_config_t *cfg)
{
	syncd_config_defaults(cfg);
	int ret = HG_EOK;
	if (config_path != NULL) {
		cfg->config_path = strdup(config_path);
		ret = cfg->config_path == NULL ? HG_ENOMEM : syncd_config_file(cfg, config_path);
	}
	for (size_t i = 0; i < s->n_args && ret == HG_EOK; i++) {
		char where[80];
		snprintf(where, sizeof(where), "--%s", s->args[i].key);
		ret = syncd_config_set(cfg, s->args[i].key, s->args[i].value, where);
	}
	if (ret == HG_EOK) {
		ret = syncd_config_check(cfg);
	}
	return ret;
}

static bool str_changed(const char *a, const char *b)
{
	return (a == NULL) != (b == NULL) || (a != NULL && strcmp(a, b) != 0);
}

int syncd_reload(syncd_t *s);
int syncd_reload(syncd_t *s)
{
	hg_notice("SIGHUP: reloading the configuration%s%s", s->cfg.config_path ? " from " : "",
	          s->cfg.config_path ? s->cfg.config_path : "");
	syncd_config_t cfg;
	int ret = build_config(s, s->cfg.config_path, &cfg);
	if (ret != HG_EOK) {
		hg_err("reload failed: the previous configuration stays in force");
		syncd_config_free(&cfg);
		return ret;
	}
	cfg.foreground = s->cfg.foreground;
	if (str_changed(cfg.db, s->cfg.db) ||
	    str_changed(SYNCD_STREAM(&cfg), SYNCD_STREAM(&s->cfg))) {
		hg_warn("--db and --stream change only at restart: keeping %s and %s", s->cfg.db,
		        SYNCD_STREAM(&s->cfg));
		free(cfg.db);
		cfg.db = strdup(s->cfg.db);
		free(cfg.stream);
		cfg.stream = s->cfg.stream ? strdup(s->cfg.stream) : NULL;
	}
	bool reconnect = str_changed(cfg.broker, s->cfg.broker) ||
	                 str_changed(cfg.vhost, s->cfg.vhost) ||
	                 str_changed(cfg.tls_cert, s->cfg.tls_cert) ||
	                 str_changed(cfg.tls_key, s->cfg.tls_key) ||
	                 str_changed(cfg.tls_ca, s->cfg.tls_ca) ||
	                 str_changed(cfg.identity, s->cfg.identity) ||
	                 cfg.heartbeat_s != s->cfg.heartbeat_s || cfg.prefetch != s->cfg.prefetch ||
	                 syncd_tls_fingerprint(&cfg) != s->tls_print;
	syncd_config_t old = s->cfg;
	s->cfg = cfg;
	if (reconnect) {
		/* Build the new connection object first: a bad certificate keeps
		 * the old configuration and its connection. */
		hg_amqp_t *keep = s->amqp;
		s->amqp = NULL;
		ret = syncd_consumer_setup(s);
		if (ret != HG_EOK) {
			hg_err("reload failed: the previous configuration stays in force");
			s->amqp = keep;
			s->cfg = old;
			syncd_config_free(&cfg);
			return ret;
		}
		hg_amqp_t *fresh = s->amqp;
		s->amqp = keep;
		syncd_consumer_stop(s, true);
		hg_amqp_free(keep);
		s->amqp = fresh;
		s->failures = 0;
		s->retry_at_ms = 0;
		s->last_error[0] = '\0';
		hg_notice("broker settings or TLS files changed: reconnecting");
	}
	hg_log_init(NULL, s->cfg.log_level);
	syncd_config_free(&old);
	hg_notice("configuration reloaded");
	return HG_EOK;
}

int main(int argc, char **argv)
{
	enum {
		O_CERT = 256,
		O_KEY,
		O_CA,
		O_STREAM,
		O_VHOST,
		O_SNAP,
		O_HB,
		O_PREFETCH,
		O_BATCH,
		O_IDENTITY,
		O_MINT
	};
	static const struct option opts[] = {
		{ "db", required_argument, NULL, 'd' },
		{ "broker", required_argument, NULL, 'b' },
		{ "tls-cert", required_argument, NULL, O_CERT },
		{ "tls-key", required_argument, NULL, O_KEY },
		{ "tls-ca", required_argument, NULL, O_CA },
		{ "metrics", required_argument, NULL, 'm' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "config", required_argument, NULL, 'c' },
		{ "stream", required_argument, NULL, O_STREAM },
		{ "vhost", required_argument, NULL, O_VHOST },
		{ "snapshot-interval", required_argument, NULL, O_SNAP },
		{ "heartbeat", required_argument, NULL, O_HB },
		{ "prefetch", required_argument, NULL, O_PREFETCH },
		{ "batch", required_argument, NULL, O_BATCH },
		{ "identity", required_argument, NULL, O_IDENTITY },
		{ "metrics-interval", required_argument, NULL, O_MINT },
		{ "log-level", required_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	static syncd_t s;
	const char *config_path = NULL;
	bool foreground = false;
	int opt, idx;
	hg_log_init(argv[0], HG_LOG_NOTICE);
	/* Its database truncated under it (or an LMDB assertion on a damaged
	 * map): a message and exit 1, never SIGBUS/abort; systemd restarts it
	 * and the open then says what is wrong. */
	store_guard_install(STORE_GUARD_FATAL, "haltgslb-syncd");
	s.args = calloc((size_t)argc, sizeof(*s.args));
	if (s.args == NULL) {
		return 1;
	}
	while ((opt = getopt_long(argc, argv, "d:b:m:fc:l:hV", opts, &idx)) != -1) {
		const char *key = NULL;
		for (size_t i = 0; opts[i].name != NULL; i++) {
			if (opts[i].val == opt) {
				key = opts[i].name;
			}
		}
		switch (opt) {
		case 'f': foreground = true; break;
		case 'c': config_path = optarg; break;
		case 'h':
			usage(stdout, argv[0]);
			free(s.args);
			return 0;
		case 'V':
			printf("haltgslb-syncd %s\n", PACKAGE_VERSION);
			free(s.args);
			return 0;
		case '?':
			usage(stderr, argv[0]);
			free(s.args);
			return 2;
		default: s.args[s.n_args++] = (syncd_arg_t){ key, optarg }; break;
		}
	}
	if (optind != argc) {
		hg_err("unexpected argument '%s'", argv[optind]);
		usage(stderr, argv[0]);
		free(s.args);
		return 2;
	}
	/* Detaching moves to "/": paths given relative to the start directory
	 * are made absolute first, so SIGHUP re-reads the same files. */
	char cwd[PATH_MAX], *abs_paths[64] = { NULL };
	size_t n_abs = 0;
	if (!foreground && getcwd(cwd, sizeof(cwd)) != NULL) {
		static const char *const path_keys[] = { "db", "tls-cert", "tls-key", "tls-ca",
			                                 "metrics" };
		for (size_t i = 0; i <= s.n_args; i++) {
			const char **v = i < s.n_args ? &s.args[i].value : &config_path;
			bool is_path = i == s.n_args;
			for (size_t k = 0; i < s.n_args && k < 5; k++) {
				is_path |= strcmp(s.args[i].key, path_keys[k]) == 0;
			}
			if (is_path && *v != NULL && (*v)[0] != '/' && n_abs < 64) {
				size_t len = strlen(cwd) + strlen(*v) + 2;
				abs_paths[n_abs] = malloc(len);
				if (abs_paths[n_abs] != NULL) {
					snprintf(abs_paths[n_abs], len, "%s/%s", cwd, *v);
					*v = abs_paths[n_abs++];
				}
			}
		}
	}
	if (build_config(&s, config_path, &s.cfg) != HG_EOK) {
		fprintf(stderr, "Try '%s --help'.\n", argv[0]);
		syncd_config_free(&s.cfg);
		free(s.args);
		for (size_t i = 0; i < n_abs; i++) {
			free(abs_paths[i]);
		}
		return 2;
	}
	s.cfg.foreground = foreground;
	hg_log_init(argv[0], s.cfg.log_level);

	int ret;
	bool ap_ready = false;
	s.epfd = s.sig_fd = s.tick_fd = s.amqp_fd = -1;
	/* The TLS files and the URIs are checked before detaching: after
	 * daemon() a startup failure would be invisible to the caller. */
	ret = syncd_consumer_setup(&s);
	if (ret != HG_EOK) {
		goto cleanup;
	}
	if (!foreground && daemon(0, 1) != 0) {
		hg_err("cannot detach: %s", strerror(errno));
		ret = HG_EIO;
		goto cleanup;
	}
	/* LMDB after the fork (an environment does not survive one). syncd may
	 * create the environment: haltgslb-ctl load fills it later. */
	ret = store_open(s.cfg.db, STORE_CREATE, &s.store);
	if (ret != HG_EOK) {
		hg_err("database %s: %s", s.cfg.db,
		       store_last_error()[0] ? store_last_error() : hg_strerror(ret));
		goto cleanup;
	}
	ret = syncd_apply_init(&s.ap, s.store, SYNCD_STREAM(&s.cfg));
	if (ret != HG_EOK) {
		hg_err("stream position in %s: %s", s.cfg.db, hg_strerror(ret));
		goto cleanup;
	}
	ap_ready = true;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	s.rng = ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)getpid() ^ 0x9e3779b97f4a7c15ull;
	s.started_ms = store_now_ms();
	ret = syncd_loop_init(&s);
	if (ret != HG_EOK) {
		hg_err("startup: %s", hg_strerror(ret));
		goto cleanup;
	}
	uint64_t off = 0;
	bool has = syncd_apply_position(&s.ap, &off);
	hg_notice("haltgslb-syncd %s started: db %s, stream %s, %s", PACKAGE_VERSION, s.cfg.db,
	          SYNCD_STREAM(&s.cfg),
	          has ? "resuming after the stored offset" : "no stored offset");
	if (has) {
		hg_info("stored offset %llu", (unsigned long long)off);
	}
	ret = syncd_run(&s);
	hg_notice("haltgslb-syncd stopped (%llu deliveries in %llu transactions, %llu reconnects)",
	          (unsigned long long)s.ap.deliveries, (unsigned long long)s.ap.commits,
	          (unsigned long long)s.reconnects);
cleanup:
	syncd_loop_free(&s);
	hg_amqp_free(s.amqp);
	if (ap_ready) {
		syncd_apply_free(&s.ap);
	}
	if (s.store != NULL) {
		store_close(s.store);
	}
	free(s.body);
	syncd_config_free(&s.cfg);
	free(s.args);
	for (size_t i = 0; i < n_abs; i++) {
		free(abs_paths[i]);
	}
	return ret == HG_EOK ? 0 : 1;
}
