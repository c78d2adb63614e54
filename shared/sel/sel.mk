# sel: the selection engine (shared/sel/sel.h), run per query by the module.
noinst_LTLIBRARIES += libhg_sel.la
libhg_sel_la_CFLAGS = $(HG_CFLAGS)
libhg_sel_la_SOURCES = \
	shared/sel/sel.h shared/sel/sel_internal.h \
	shared/sel/sel_decide.c shared/sel/sel_rng.c shared/sel/sel_names.c \
	shared/sel/sel_scope.c shared/sel/sel_filters_health.c shared/sel/sel_filters_geo.c \
	shared/sel/sel_filters_latency.c shared/sel/sel_filters_order.c \
	shared/sel/sel_memo.c shared/sel/sel_memo.h
haltgslbinclude_HEADERS += shared/sel/sel.h shared/sel/sel_memo.h

# Unit tests: views are built (writer's view_build) from hand-made policy
# models (sel_fixture.c), no LMDB involved.
SEL_TEST_LIBS = $(HG_WRITE_LIBS) $(HG_EXT_LIBS)
SEL_TEST_FIXTURE = tests/unit/sel_fixture.c tests/unit/sel_fixture.h

check_PROGRAMS += tests/unit/test_view tests/unit/test_sel tests/unit/test_sel_props \
	tests/unit/test_sel_health tests/unit/test_view_derive
TESTS += tests/unit/test_view tests/unit/test_sel tests/unit/test_sel_props \
	tests/unit/test_sel_health tests/unit/test_view_derive

tests_unit_test_view_SOURCES = tests/unit/test_view.c $(SEL_TEST_FIXTURE)
tests_unit_test_view_CFLAGS = $(HG_CFLAGS)
tests_unit_test_view_LDADD = $(SEL_TEST_LIBS)

tests_unit_test_sel_SOURCES = tests/unit/test_sel.c $(SEL_TEST_FIXTURE)
tests_unit_test_sel_CFLAGS = $(HG_CFLAGS)
tests_unit_test_sel_LDADD = $(SEL_TEST_LIBS)

tests_unit_test_sel_props_SOURCES = tests/unit/test_sel_props.c $(SEL_TEST_FIXTURE)
tests_unit_test_sel_props_CFLAGS = $(HG_CFLAGS)
tests_unit_test_sel_props_LDADD = $(SEL_TEST_LIBS)

# The decision memo: a hit is what sel_decide() would answer, property-tested
# with real geo lookups.
check_PROGRAMS += tests/unit/test_sel_memo
TESTS += tests/unit/test_sel_memo
tests_unit_test_sel_memo_SOURCES = tests/unit/test_sel_memo.c $(SEL_TEST_FIXTURE)
tests_unit_test_sel_memo_CFLAGS = $(HG_CFLAGS)
tests_unit_test_sel_memo_LDADD = $(SEL_TEST_LIBS)
EXTRA_tests_unit_test_sel_memo_DEPENDENCIES = tests/data/test-city.mmdb tests/data/test-asn.mmdb

# The derived state of sets: stored = computed per query, property-tested.
tests_unit_test_view_derive_SOURCES = tests/unit/test_view_derive.c $(SEL_TEST_FIXTURE)
tests_unit_test_view_derive_CFLAGS = $(HG_CFLAGS)
tests_unit_test_view_derive_LDADD = $(SEL_TEST_LIBS)

tests_unit_test_sel_health_SOURCES = tests/unit/test_sel_health.c $(SEL_TEST_FIXTURE)
tests_unit_test_sel_health_CFLAGS = $(HG_CFLAGS)
tests_unit_test_sel_health_LDADD = $(SEL_TEST_LIBS)

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
tests_unit_test_sel_reference_LDADD = $(SEL_TEST_LIBS)
EXTRA_tests_unit_test_sel_reference_DEPENDENCIES = tests/data/test-city.mmdb
