/*  SPDX-License-Identifier: GPL-3.0-or-later */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "log.h"

static const char *log_prog = "haltgslb";
static int log_level = HG_LOG_NOTICE;

static const char *const level_names[] = {
	[HG_LOG_ERR] = "error", [HG_LOG_WARN] = "warning", [HG_LOG_NOTICE] = "notice",
	[HG_LOG_INFO] = "info", [HG_LOG_DEBUG] = "debug",
};

void hg_log_init(const char *progname, int level)
{
	if (progname != NULL) {
		const char *slash = strrchr(progname, '/');
		log_prog = slash ? slash + 1 : progname;
	}
	log_level = level;
}

int hg_log_level_parse(const char *name)
{
	for (int i = 0; i <= HG_LOG_DEBUG; i++) {
		if (strcasecmp(name, level_names[i]) == 0) {
			return i;
		}
	}
	return -1;
}

void hg_log(int level, const char *fmt, ...)
{
	if (level > log_level) {
		return;
	}
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* One fprintf per message so lines from several threads do not interleave. */
	fprintf(stderr, "%s: %s: %s\n", log_prog,
	        level >= 0 && level <= HG_LOG_DEBUG ? level_names[level] : "log", msg);
}
