# policy compiler: YAML → validated model (shared/policy/policy.h). Unit tests below.
noinst_LTLIBRARIES += libhg_policy.la
libhg_policy_la_CFLAGS = $(HG_CFLAGS)
libhg_policy_la_SOURCES = \
	shared/policy/policy.h \
	shared/policy/policy_ctx.h \
	shared/policy/policy_parse.c \
	shared/policy/policy_yaml.c \
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
