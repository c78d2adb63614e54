/*  SPDX-License-Identifier: GPL-3.0-or-later */
/* broker-config: checks of single option values. Everything that ends up in
 * rabbitmq.conf, definitions.json or rabbitmq-env.conf passes one of these,
 * so the renderers never need to quote or escape beyond JSON strings. */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ctl.h"
#include "ctl_broker.h"
#include "schema.h"

/* Policy ids and node ids share one alphabet: they are certificate CNs,
 * user names and (for probers) routing keys. */
bool broker_id_valid(const char *id)
{
	size_t n = strlen(id);
	if (n == 0 || n > HG_ID_MAX) {
		return false;
	}
	return strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") == n;
}

/* NAME@HOST as Erlang node names are spelled (no quoting needed). */
bool broker_node_name_valid(const char *s)
{
	const char *at = strchr(s, '@');
	if (at == NULL || at == s || at[1] == '\0' || strlen(s) > 255) {
		return false;
	}
	size_t name_len = (size_t)(at - s);
	const char *host = at + 1;
	return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") ==
	               name_len &&
	       strspn(host, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.-") ==
	               strlen(host);
}

/* Printable, no space: the value runs to the end of a rabbitmq.conf line,
 * and syncd compares it byte for byte with the one it stored. */
bool broker_cluster_name_valid(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > BROKER_CLUSTER_NAME_MAX) {
		return false;
	}
	for (; *s != '\0'; s++) {
		if ((unsigned char)*s <= ' ' || (unsigned char)*s >= 0x7f || *s == '#') {
			return false;
		}
	}
	return true;
}

char *broker_default_cluster_name(const char *const *nodes, size_t n)
{
	if (n == 0) {
		return NULL;
	}
	const char *first = nodes[0];
	for (size_t i = 1; i < n; i++) {
		if (strcmp(nodes[i], first) < 0) {
			first = nodes[i];
		}
	}
	char *name;
	if (asprintf(&name, "haltgslb-%s", first) < 0) {
		return NULL;
	}
	return name;
}

bool broker_addr_valid(const char *s)
{
	unsigned char buf[16];
	return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

int broker_parse_uint(const char *opt, const char *s, unsigned lo, unsigned hi, unsigned *out)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || s[0] == '-' || v < lo || v > hi) {
		return ctl_usage_error(BROKER_CMD, "%s '%s': expected an integer from %u to %u",
		                       opt, s, lo, hi);
	}
	*out = (unsigned)v;
	return CTL_OK;
}

/* "16MiB", "2GB", "1073741824" → bytes. */
int broker_parse_size(const char *opt, const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
	static const struct {
		const char *suffix;
		uint64_t mult;
	} units[] = {
		{ "", 1 },
		{ "B", 1 },
		{ "kB", 1000ULL },
		{ "KB", 1000ULL },
		{ "MB", 1000000ULL },
		{ "GB", 1000000000ULL },
		{ "KiB", 1ULL << 10 },
		{ "MiB", 1ULL << 20 },
		{ "GiB", 1ULL << 30 },
	};
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno == 0 && end != s && s[0] != '-') {
		for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
			if (strcmp(end, units[i].suffix) == 0 && v <= hi / units[i].mult) {
				uint64_t bytes = (uint64_t)v * units[i].mult;
				if (bytes >= lo && bytes <= hi) {
					*out = bytes;
					return CTL_OK;
				}
			}
		}
	}
	return ctl_usage_error(BROKER_CMD,
	                       "%s '%s': expected a size from %llu to %llu bytes "
	                       "(a number, optionally followed by kB MB GB KiB MiB GiB)",
	                       opt, s, (unsigned long long)lo, (unsigned long long)hi);
}

/* RabbitMQ's max-age syntax: a positive integer and one unit letter. */
bool broker_retention_valid(const char *s)
{
	size_t digits = strspn(s, "0123456789");
	return digits > 0 && digits <= 9 && strtoul(s, NULL, 10) > 0 && s[digits] != '\0' &&
	       strchr("YMDhms", s[digits]) != NULL && s[digits + 1] == '\0';
}

/* rabbitmq.conf values run to the end of the line and '#' starts a comment. */
bool broker_conf_path_ok(const char *p)
{
	for (; *p != '\0'; p++) {
		if ((unsigned char)*p <= ' ' || *p == '#' || *p == 0x7f) {
			return false;
		}
	}
	return true;
}

int broker_abs_file(const char *opt, const char *path, char **out)
{
	*out = realpath(path, NULL);
	if (*out == NULL) {
		ctl_error("%s %s: %s", opt, path, strerror(errno));
		return CTL_FAIL;
	}
	struct stat st;
	if (stat(*out, &st) != 0 || !S_ISREG(st.st_mode)) {
		ctl_error("%s %s: not a regular file", opt, path);
		return CTL_FAIL;
	}
	if (!broker_conf_path_ok(*out)) {
		ctl_error("%s %s: rabbitmq.conf cannot hold a path with spaces, control "
		          "characters or '#'",
		          opt, *out);
		return CTL_FAIL;
	}
	return CTL_OK;
}

/* mkdir -p, then the canonical path. */
int broker_make_out_dir(const char *dir, char **out)
{
	char buf[PATH_MAX];
	if (snprintf(buf, sizeof(buf), "%s", dir) >= (int)sizeof(buf)) {
		ctl_error("--out %s: path too long", dir);
		return CTL_FAIL;
	}
	for (char *p = buf + 1;; p++) {
		if (*p == '/' || *p == '\0') {
			char saved = *p;
			*p = '\0';
			if (mkdir(buf, 0750) != 0 && errno != EEXIST) {
				ctl_error("--out %s: cannot create %s: %s", dir, buf,
				          strerror(errno));
				return CTL_FAIL;
			}
			*p = saved;
			if (saved == '\0') {
				break;
			}
		}
	}
	struct stat st;
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		ctl_error("--out %s: not a directory", dir);
		return CTL_FAIL;
	}
	*out = realpath(dir, NULL);
	if (*out == NULL) {
		ctl_error("--out %s: %s", dir, strerror(errno));
		return CTL_FAIL;
	}
	if (!broker_conf_path_ok(*out)) {
		ctl_error("--out %s: rabbitmq.conf cannot hold a path with spaces, control "
		          "characters or '#'",
		          *out);
		return CTL_FAIL;
	}
	return CTL_OK;
}
