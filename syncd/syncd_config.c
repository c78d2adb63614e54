/*  SPDX-License-Identifier: GPL-3.0-or-later */
/*  Options: one table for the command line and the config file, so both
 *  accept exactly the same keys with the same checks. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "log.h"
#include "text.h"
#include "syncd.h"

void syncd_config_defaults(syncd_config_t *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->snapshot_interval_ms = SYNCD_SNAPSHOT_INTERVAL_DEFAULT_MS;
	cfg->heartbeat_s = HG_AMQP_HEARTBEAT_DEFAULT_S;
	cfg->prefetch = SYNCD_PREFETCH_DEFAULT;
	cfg->batch_max = SYNCD_BATCH_DEFAULT;
	cfg->metrics_interval_ms = SYNCD_METRICS_INTERVAL_MS;
	cfg->log_level = HG_LOG_NOTICE;
}

void syncd_config_free(syncd_config_t *cfg)
{
	char **strs[] = { &cfg->db,       &cfg->broker,     &cfg->tls_cert, &cfg->tls_key,
		          &cfg->tls_ca,   &cfg->metrics,    &cfg->stream,   &cfg->vhost,
		          &cfg->identity, &cfg->config_path };
	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
		free(*strs[i]);
		*strs[i] = NULL;
	}
}

/* The prober's duration syntax (hg_duration_parse_ms: "500ms", "30s",
 * "2m", "1h", a bare number of seconds), within [min_ms, max_ms]. */
static int parse_duration(const char *text, uint32_t min_ms, uint32_t max_ms, uint32_t *out)
{
	uint32_t ms;
	if (hg_duration_parse_ms(text, &ms) != HG_EOK) {
		return HG_EINVAL;
	}
	if (ms < min_ms || ms > max_ms) {
		return HG_ERANGE;
	}
	*out = ms;
	return HG_EOK;
}

static int parse_uint(const char *text, uint32_t min, uint32_t max, uint32_t *out)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(text, &end, 10);
	if (*text == '\0' || *end != '\0' || errno != 0 || v < min || v > max) {
		return HG_EINVAL;
	}
	*out = (uint32_t)v;
	return HG_EOK;
}

enum opt_kind { OPT_STR, OPT_DURATION, OPT_UINT, OPT_LEVEL };

typedef struct {
	const char *key;
	enum opt_kind kind;
	size_t off;        /* offsetof the field in syncd_config_t */
	uint32_t min, max; /* OPT_DURATION (ms) / OPT_UINT */
	const char *what;  /* the accepted values, for errors */
} opt_t;

#define S(k, f)                                                                    \
	{                                                                          \
		k, OPT_STR, offsetof(syncd_config_t, f), 0, 0, "a non-empty value" \
	}
static const opt_t opts[] = {
	S("db", db),
	S("broker", broker),
	S("tls-cert", tls_cert),
	S("tls-key", tls_key),
	S("tls-ca", tls_ca),
	S("metrics", metrics),
	S("stream", stream),
	S("vhost", vhost),
	S("identity", identity),
	{ "snapshot-interval", OPT_DURATION, offsetof(syncd_config_t, snapshot_interval_ms), 1000,
	  86400000, "a duration from 1s to 24h (e.g. 30s)" },
	{ "metrics-interval", OPT_DURATION, offsetof(syncd_config_t, metrics_interval_ms), 100,
	  3600000, "a duration from 100ms to 1h (e.g. 5s)" },
	{ "heartbeat", OPT_UINT, offsetof(syncd_config_t, heartbeat_s), 1, 600, "1..600 seconds" },
	{ "prefetch", OPT_UINT, offsetof(syncd_config_t, prefetch), 1, 65535, "1..65535" },
	{ "batch", OPT_UINT, offsetof(syncd_config_t, batch_max), 1, 65535, "1..65535" },
	{ "log-level", OPT_LEVEL, offsetof(syncd_config_t, log_level), 0, 0,
	  "error|warning|notice|info|debug" },
};
#undef S

int syncd_config_set(syncd_config_t *cfg, const char *key, const char *value, const char *where)
{
	const opt_t *o = NULL;
	for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
		if (strcmp(opts[i].key, key) == 0) {
			o = &opts[i];
		}
	}
	if (o == NULL) {
		hg_err("%s: unknown option '%s'", where, key);
		return HG_EINVAL;
	}
	char *field = (char *)cfg + o->off;
	int ret = HG_EOK;
	switch (o->kind) {
	case OPT_STR: {
		if (*value == '\0') {
			ret = HG_EINVAL;
			break;
		}
		char *copy = strdup(value);
		if (copy == NULL) {
			return HG_ENOMEM;
		}
		free(*(char **)field);
		*(char **)field = copy;
		break;
	}
	case OPT_DURATION: ret = parse_duration(value, o->min, o->max, (uint32_t *)field); break;
	case OPT_UINT: ret = parse_uint(value, o->min, o->max, (uint32_t *)field); break;
	case OPT_LEVEL: {
		int level = hg_log_level_parse(value);
		if (level < 0) {
			ret = HG_EINVAL;
		} else {
			*(int *)field = level;
		}
		break;
	}
	}
	if (ret != HG_EOK) {
		hg_err("%s: %s: '%s' is not %s", where, key, value, o->what);
		return HG_EINVAL;
	}
	return HG_EOK;
}

static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t') {
		s++;
	}
	char *e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r')) {
		*--e = '\0';
	}
	return s;
}

int syncd_config_file(syncd_config_t *cfg, const char *path)
{
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		int ret = hg_err_from_errno(errno);
		hg_err("%s: %s", path, strerror(errno));
		return ret;
	}
	char line[4096], where[1100];
	int ret = HG_EOK;
	for (unsigned n = 1; fgets(line, sizeof(line), f) != NULL; n++) {
		snprintf(where, sizeof(where), "%s:%u", path, n);
		if (strchr(line, '\n') == NULL && !feof(f)) {
			hg_err("%s: line longer than %zu bytes", where, sizeof(line) - 2);
			ret = HG_EINVAL;
			break;
		}
		char *s = trim(line);
		if (*s == '\0' || *s == '#') {
			continue;
		}
		char *eq = strchr(s, '=');
		if (eq == NULL) {
			hg_err("%s: expected 'key = value'", where);
			ret = HG_EINVAL;
			continue;
		}
		*eq = '\0';
		char *key = trim(s), *value = trim(eq + 1);
		if (strcmp(key, "config") == 0 || strcmp(key, "foreground") == 0) {
			hg_err("%s: '%s' is a command-line option only", where, key);
			ret = HG_EINVAL;
			continue;
		}
		int r = syncd_config_set(cfg, key, value, where);
		if (r != HG_EOK) {
			ret = r;
		}
	}
	fclose(f);
	return ret;
}

int syncd_config_check(const syncd_config_t *cfg)
{
	const struct {
		const char *v, *name;
	} req[] = {
		{ cfg->db, "--db DIR" },
		{ cfg->broker, "--broker URIS" },
		{ cfg->tls_cert, "--tls-cert FILE" },
		{ cfg->tls_key, "--tls-key FILE" },
		{ cfg->tls_ca, "--tls-ca FILE" },
	};
	int ret = HG_EOK;
	for (size_t i = 0; i < sizeof(req) / sizeof(req[0]); i++) {
		if (req[i].v == NULL) {
			hg_err("missing %s", req[i].name);
			ret = HG_EINVAL;
		}
	}
	if (cfg->batch_max > cfg->prefetch) {
		/* A batch waits for deliveries the broker would never send: it
		 * sends at most prefetch unacknowledged ones. */
		hg_err("--batch %u is larger than --prefetch %u", cfg->batch_max, cfg->prefetch);
		ret = HG_EINVAL;
	}
	return ret;
}
