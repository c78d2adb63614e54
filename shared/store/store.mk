# store: the LMDB environment. Read side (open, read txns, iteration) in
# libhg_store, which the module links; write txns in libhg_store_write.
noinst_LTLIBRARIES += libhg_store.la libhg_store_write.la
libhg_store_la_CFLAGS = $(HG_CFLAGS)
libhg_store_la_SOURCES = \
	shared/store/store.c shared/store/store.h \
	shared/store/store_guard.c shared/store/store_guard.h \
	shared/store/store_meta.c shared/store/store_meta.h \
	shared/store/store_safe.c shared/store/store_safe.h \
	shared/store/store_rtxn.c shared/store/store_map.c \
	shared/store/store_iter.c shared/store/store_int.h
libhg_store_write_la_CFLAGS = $(HG_CFLAGS)
libhg_store_write_la_SOURCES = shared/store/store_wtxn.c shared/store/store_owner.c

haltgslbinclude_HEADERS += shared/store/store.h

check_PROGRAMS += tests/unit/test_store tests/unit/test_store_schema
TESTS += tests/unit/test_store tests/unit/test_store_schema

tests_unit_test_store_CFLAGS = $(HG_CFLAGS)
tests_unit_test_store_SOURCES = tests/unit/test_store.c
tests_unit_test_store_LDADD = $(HG_WRITE_LIBS) $(HG_EXT_LIBS)

tests_unit_test_store_schema_CFLAGS = $(HG_CFLAGS)
tests_unit_test_store_schema_SOURCES = tests/unit/test_store_schema.c
tests_unit_test_store_schema_LDADD = $(HG_WRITE_LIBS) $(HG_EXT_LIBS)

# The map grows under writers and readers follow it.
check_PROGRAMS += tests/unit/test_store_map
TESTS += tests/unit/test_store_map
tests_unit_test_store_map_CFLAGS = $(HG_CFLAGS) -pthread
tests_unit_test_store_map_SOURCES = tests/unit/test_store_map.c
tests_unit_test_store_map_LDADD = $(HG_WRITE_LIBS) $(HG_EXT_LIBS) -lpthread

check_PROGRAMS += tests/unit/test_store_meta tests/unit/test_store_guard
TESTS += tests/unit/test_store_meta tests/unit/test_store_guard

tests_unit_test_store_meta_CFLAGS = $(HG_CFLAGS)
tests_unit_test_store_meta_SOURCES = tests/unit/test_store_meta.c
tests_unit_test_store_meta_LDADD = $(HG_WRITE_LIBS) $(HG_EXT_LIBS)

tests_unit_test_store_guard_CFLAGS = $(HG_CFLAGS)
tests_unit_test_store_guard_SOURCES = tests/unit/test_store_guard.c
tests_unit_test_store_guard_LDADD = $(HG_WRITE_LIBS) $(HG_EXT_LIBS)
