/*  SPDX-License-Identifier: GPL-3.0-or-later */
/*!
 * \file
 * \brief Logging helpers for the tools and daemons (never used inside knotd:
 *        the module logs through knotd_mod_log()).
 */
#pragma once

#include <stdarg.h>

enum hg_log_level { HG_LOG_ERR = 0, HG_LOG_WARN, HG_LOG_NOTICE, HG_LOG_INFO, HG_LOG_DEBUG };

/*! \brief Set the program name used as message prefix and the minimum level. */
void hg_log_init(const char *progname, int level);

/*! \brief Parse "error|warning|notice|info|debug"; returns level or -1. */
int hg_log_level_parse(const char *name);

/*! \brief Log a message to stderr as "PROG: level: message". */
void hg_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define hg_err(...)    hg_log(HG_LOG_ERR, __VA_ARGS__)
#define hg_warn(...)   hg_log(HG_LOG_WARN, __VA_ARGS__)
#define hg_notice(...) hg_log(HG_LOG_NOTICE, __VA_ARGS__)
#define hg_info(...)   hg_log(HG_LOG_INFO, __VA_ARGS__)
#define hg_debug(...)  hg_log(HG_LOG_DEBUG, __VA_ARGS__)
