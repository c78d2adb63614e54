/*  haltgslb — minimal TAP producer for C unit tests.
 *  SPDX-License-Identifier: GPL-3.0-or-later
 *
 *  Header-only on purpose: each test program is one .c file. Output is TAP 13
 *  read by automake's tap-driver.sh, which prints the PASS/FAIL summary.
 *
 *    int main(void) {
 *        ok(1 + 1 == 2, "addition");
 *        is_int(f(), 0, "f succeeds");
 *        is_str(name, "eu", "pool name");
 *        return done_testing();
 *    }
 */
#pragma once

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int tap_count;
static int tap_failed;

static inline int tap_vok(int pass, const char *file, int line, const char *fmt, va_list ap)
{
	tap_count++;
	printf("%s %d - ", pass ? "ok" : "not ok", tap_count);
	vprintf(fmt, ap);
	printf("\n");
	if (!pass) {
		tap_failed++;
		printf("#   Failed at %s:%d\n", file, line);
	}
	fflush(stdout);
	return pass;
}

static inline int tap_ok_at(int pass, const char *file, int line, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
static inline int tap_ok_at(int pass, const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = tap_vok(pass, file, line, fmt, ap);
	va_end(ap);
	return r;
}

#define ok(cond, ...) tap_ok_at(!!(cond), __FILE__, __LINE__, __VA_ARGS__)

#define is_int(got, want, ...)                                                         \
	do {                                                                           \
		long long tap_g_ = (long long)(got), tap_w_ = (long long)(want);       \
		if (!tap_ok_at(tap_g_ == tap_w_, __FILE__, __LINE__, __VA_ARGS__))     \
			printf("#   got: %lld\n#   expected: %lld\n", tap_g_, tap_w_); \
	} while (0)

#define is_str(got, want, ...)                                                                    \
	do {                                                                                      \
		const char *tap_g_ = (got), *tap_w_ = (want);                                     \
		int tap_p_ = tap_g_ != NULL && tap_w_ != NULL && strcmp(tap_g_, tap_w_) == 0;     \
		if (!tap_ok_at(tap_p_, __FILE__, __LINE__, __VA_ARGS__))                          \
			printf("#   got: '%s'\n#   expected: '%s'\n", tap_g_ ? tap_g_ : "(null)", \
			       tap_w_ ? tap_w_ : "(null)");                                       \
	} while (0)

#define diag(...)                    \
	do {                         \
		printf("# ");        \
		printf(__VA_ARGS__); \
		printf("\n");        \
	} while (0)

/*! \brief Print the plan after the tests ("1..N"); returns the exit code. */
static inline int done_testing(void)
{
	printf("1..%d\n", tap_count);
	if (tap_failed) {
		printf("# %d of %d tests failed\n", tap_failed, tap_count);
	}
	return tap_failed ? 1 : 0;
}
