# policy compiler: YAML → validated model (shared/policy/policy.h). Unit tests below.
noinst_LTLIBRARIES += libhg_policy.la
libhg_policy_la_CFLAGS = $(HG_CFLAGS)
libhg_policy_la_SOURCES = \
	shared/policy/policy.h \
	shared/policy/policy_ctx.h \
	shared/policy/policy_parse.c \
	shared/policy/policy_load.c \
	shared/policy/policy_tree.c \
	shared/policy/policy_yaml.c \
	shared/policy/policy_index.c \
	shared/policy/policy_valid.c \
	shared/policy/policy_util.c \
	shared/policy/policy_check.c \
	shared/policy/policy_pools.c \
	shared/policy/policy_names.c \
	shared/policy/policy_chain.c \
	shared/policy/policy_geofence.c

check_PROGRAMS += tests/unit/test_policy tests/unit/test_policy_errors
TESTS += tests/unit/test_policy tests/unit/test_policy_errors
tests_unit_test_policy_SOURCES = tests/unit/test_policy.c
tests_unit_test_policy_CFLAGS = $(HG_CFLAGS)
tests_unit_test_policy_LDADD = libhg_policy.la libhg_schema.la libhg_base.la $(HG_EXT_LIBS)
tests_unit_test_policy_errors_SOURCES = tests/unit/test_policy_errors.c
tests_unit_test_policy_errors_CFLAGS = $(HG_CFLAGS)
tests_unit_test_policy_errors_LDADD = libhg_policy.la libhg_schema.la libhg_base.la $(HG_EXT_LIBS)
EXTRA_DIST += tests/unit/policies
haltgslbinclude_HEADERS += shared/policy/policy.h

# Benchmark: not a test. `make bench-policy` builds and runs it.
EXTRA_PROGRAMS += tests/bench/bench_policy
tests_bench_bench_policy_SOURCES = tests/bench/bench_policy.c
tests_bench_bench_policy_CFLAGS = $(HG_CFLAGS)
tests_bench_bench_policy_LDADD = libhg_policy.la libhg_schema.la libhg_base.la $(HG_EXT_LIBS)
EXTRA_DIST += tests/bench/bench_policy.sh
CLEANFILES += tests/bench/bench_policy

bench-policy: tests/bench/bench_policy$(EXEEXT) haltgslb-ctl$(EXEEXT)
	$(SHELL) $(top_srcdir)/tests/bench/bench_policy.sh tests/bench/bench_policy$(EXEEXT) \
		./haltgslb-ctl$(EXEEXT)
.PHONY: bench-policy
