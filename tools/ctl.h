/*  SPDX-License-Identifier: GPL-3.0-or-later */
/*!
 * \file
 * \brief haltgslb-ctl: subcommands and the small helpers they share.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "store.h"

/*! A subcommand: argv[0] is the subcommand name. Returns the process exit code. */
typedef int (*ctl_cmd_fn)(int argc, char **argv);

int ctl_cmd_validate(int argc, char **argv);
int ctl_cmd_load(int argc, char **argv);
int ctl_cmd_zone_records(int argc, char **argv);
int ctl_cmd_status(int argc, char **argv);
int ctl_cmd_drain(int argc, char **argv);
int ctl_cmd_undrain(int argc, char **argv);
int ctl_cmd_force_up(int argc, char **argv);
int ctl_cmd_measure(int argc, char **argv);
int ctl_cmd_explain(int argc, char **argv);
int ctl_cmd_broker_config(int argc, char **argv);

/*! Exit codes: 0 success, 1 operation failed, 2 usage error. */
enum { CTL_OK = 0, CTL_FAIL = 1, CTL_USAGE = 2 };

/*! \brief Print "haltgslb-ctl: <msg>" on stderr. */
void ctl_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*! \brief Report a usage problem of \a cmd and return CTL_USAGE. */
int ctl_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*! \brief Open the store in \a dir, printing a clear one-line reason on failure. */
int ctl_open_store(const char *dir, unsigned flags, store_t **out);

/*! \brief Format a Unix ms time as ISO 8601 UTC ("2026-11-22T03:04:05.123Z"). */
void ctl_fmt_time(uint64_t ms, char *buf, size_t size);

/*! \brief Format a duration in ms as "1.5s", "250ms", "3m12s" (for humans). */
void ctl_fmt_age(uint64_t ms, char *buf, size_t size);

/*! \brief Wire name → presentation (with final dot). */
void ctl_fmt_dname(const uint8_t *wire, size_t len, char *buf, size_t size);

/*! \brief Write \a s as a JSON string literal (with quotes). */
void ctl_json_str(FILE *out, const char *s);

/*! \brief Copy a NUL-padded fixed field into a C string. */
void ctl_fixed_str(const char *field, size_t field_size, char *buf, size_t size);
