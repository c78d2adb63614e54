/*  SPDX-License-Identifier: GPL-3.0-or-later */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ctl.h"
#include "errors.h"
#include "text.h"

void ctl_error(const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "haltgslb-ctl: %s\n", msg);
}

int ctl_usage_error(const char *cmd, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "haltgslb-ctl %s: %s (see haltgslb-ctl %s --help)\n", cmd, msg, cmd);
	return CTL_USAGE;
}

int ctl_open_store(const char *dir, unsigned flags, store_t **out)
{
	char why[512];
	int ret = store_become_dir_owner(dir, why, sizeof(why));
	if (ret != HG_EOK) {
		ctl_error("%s", why);
		return ret;
	}
	ret = store_open(dir, flags, out);
	const char *reason = store_last_error();
	if (ret == HG_ENOENT) {
		ctl_error("%s (run haltgslb-ctl load first)",
		          *reason ? reason : "no haltgslb database");
	} else if (ret != HG_EOK && *reason) {
		ctl_error("%s", reason);
	} else if (ret != HG_EOK) {
		ctl_error("%s: cannot open database: %s", dir, hg_strerror(ret));
	}
	return ret;
}

void ctl_fmt_time(uint64_t ms, char *buf, size_t size)
{
	if (ms == 0) {
		snprintf(buf, size, "never");
		return;
	}
	time_t secs = (time_t)(ms / 1000);
	struct tm tm;
	gmtime_r(&secs, &tm);
	char base[32];
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, size, "%s.%03uZ", base, (unsigned)(ms % 1000));
}

void ctl_fmt_age(uint64_t ms, char *buf, size_t size)
{
	if (ms < 1000) {
		snprintf(buf, size, "%llums", (unsigned long long)ms);
	} else if (ms < 60000) {
		snprintf(buf, size, "%.1fs", (double)ms / 1000.0);
	} else if (ms < 3600000) {
		snprintf(buf, size, "%llum%llus", (unsigned long long)(ms / 60000),
		         (unsigned long long)(ms % 60000 / 1000));
	} else {
		snprintf(buf, size, "%lluh%llum", (unsigned long long)(ms / 3600000),
		         (unsigned long long)(ms % 3600000 / 60000));
	}
}

void ctl_fmt_dname(const uint8_t *wire, size_t len, char *buf, size_t size)
{
	size_t o = 0, i = 0;
	if (size == 0) {
		return;
	}
	while (i < len && wire[i] != 0 && o + 1 < size) {
		uint8_t lab = wire[i++];
		for (uint8_t k = 0; k < lab && i < len && o + 1 < size; k++, i++) {
			o += (size_t)snprintf(buf + o, size - o, "%c", wire[i]);
		}
		if (o + 1 < size) {
			buf[o++] = '.';
		}
	}
	if (o == 0 && size > 1) {
		buf[o++] = '.';
	}
	buf[o < size ? o : size - 1] = '\0';
}

void ctl_json_str(FILE *out, const char *s)
{
	hg_json_str(out, s, strlen(s));
}

void ctl_fixed_str(const char *field, size_t field_size, char *buf, size_t size)
{
	hg_fixed_get(field, field_size, buf, size);
}
