# views (shared/view.h) and the selection engine (shared/sel.h).
noinst_LTLIBRARIES += libhg_sel.la
libhg_sel_la_CFLAGS = $(HG_CFLAGS)
libhg_sel_la_SOURCES = \
	shared/view.c shared/view_build.c shared/view_patch.c \
	shared/sel_internal.h shared/sel_decide.c shared/sel_rng.c shared/sel_names.c \
	shared/sel_scope.c shared/sel_filters_health.c shared/sel_filters_geo.c \
	shared/sel_filters_latency.c shared/sel_filters_order.c

# Unit tests: views are built from hand-made policy models (sel_fixture.c),
# no LMDB involved.
SEL_TEST_LIBS = libhg_sel.la libhg_policy.la libhg_base.la $(HG_EXT_LIBS)
SEL_TEST_FIXTURE = tests/unit/sel_fixture.c tests/unit/sel_fixture.h

check_PROGRAMS += tests/unit/test_view tests/unit/test_sel tests/unit/test_sel_props
TESTS += tests/unit/test_view tests/unit/test_sel tests/unit/test_sel_props

tests_unit_test_view_SOURCES = tests/unit/test_view.c $(SEL_TEST_FIXTURE)
tests_unit_test_view_CFLAGS = $(HG_CFLAGS)
tests_unit_test_view_LDADD = $(SEL_TEST_LIBS)

tests_unit_test_sel_SOURCES = tests/unit/test_sel.c $(SEL_TEST_FIXTURE)
tests_unit_test_sel_CFLAGS = $(HG_CFLAGS)
tests_unit_test_sel_LDADD = $(SEL_TEST_LIBS)

tests_unit_test_sel_props_SOURCES = tests/unit/test_sel_props.c $(SEL_TEST_FIXTURE)
tests_unit_test_sel_props_CFLAGS = $(HG_CFLAGS)
tests_unit_test_sel_props_LDADD = $(SEL_TEST_LIBS)

# Benchmark: not a test. `make bench-sel` builds and runs it.
EXTRA_PROGRAMS += tests/bench/bench_sel
tests_bench_bench_sel_SOURCES = tests/bench/bench_sel.c $(SEL_TEST_FIXTURE)
tests_bench_bench_sel_CFLAGS = $(HG_CFLAGS)
tests_bench_bench_sel_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/tests/unit
tests_bench_bench_sel_LDADD = $(SEL_TEST_LIBS)
EXTRA_DIST += tests/bench/bench_sel.sh
CLEANFILES += tests/bench/bench_sel

bench-sel: tests/bench/bench_sel$(EXEEXT)
	$(SHELL) $(top_srcdir)/tests/bench/bench_sel.sh tests/bench/bench_sel$(EXEEXT)
.PHONY: bench-sel

# The reference policy end to end (policy compiler + geo + views + selection).
check_PROGRAMS += tests/unit/test_sel_reference
TESTS += tests/unit/test_sel_reference
tests_unit_test_sel_reference_SOURCES = tests/unit/test_sel_reference.c $(SEL_TEST_FIXTURE)
tests_unit_test_sel_reference_CFLAGS = $(HG_CFLAGS)
tests_unit_test_sel_reference_LDADD = libhg_sel.la libhg_policy.la libhg_geo.la libhg_base.la \
	$(HG_EXT_LIBS)
EXTRA_tests_unit_test_sel_reference_DEPENDENCIES = tests/data/test-city.mmdb
