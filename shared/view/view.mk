# view: a per-name view blob validated and read in place, and the lookup
# (with its per-thread cache) from a query name to it (query path).
noinst_LTLIBRARIES += libhg_view.la
libhg_view_la_CFLAGS = $(HG_CFLAGS)
libhg_view_la_SOURCES = shared/view/view.c shared/view/view.h \
	shared/view/view_derive.c shared/view/view_health.h \
	shared/view/view_lookup.c shared/view/view_lookup.h

haltgslbinclude_HEADERS += shared/view/view.h shared/view/view_lookup.h shared/view/view_health.h

# The lookup on real LMDB environments loaded by the writer.
check_PROGRAMS += tests/unit/test_view_lookup
TESTS += tests/unit/test_view_lookup
tests_unit_test_view_lookup_SOURCES = tests/unit/test_view_lookup.c \
	tests/unit/test_writer_model.c tests/unit/writer_fixture.h
tests_unit_test_view_lookup_CFLAGS = $(HG_CFLAGS)
tests_unit_test_view_lookup_LDADD = $(HG_WRITE_LIBS) $(HG_EXT_LIBS)
