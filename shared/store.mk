# LMDB store and policy/measurement writers (shared/store.h, shared/policy_store.h).
noinst_LTLIBRARIES += libhg_store.la
libhg_store_la_CFLAGS = $(HG_CFLAGS)
libhg_store_la_SOURCES = \
	shared/store.c \
	shared/store_txn.c \
	shared/policy_store.c \
	shared/policy_store_write.c \
	shared/policy_store_int.h

HG_STORE_TEST_LIBS = libhg_store.la libhg_sel.la libhg_policy.la libhg_base.la $(HG_EXT_LIBS)

check_PROGRAMS += tests/unit/test_store tests/unit/test_store_schema tests/unit/test_policy_store
TESTS += tests/unit/test_store tests/unit/test_store_schema tests/unit/test_policy_store

tests_unit_test_store_CFLAGS = $(HG_CFLAGS)
tests_unit_test_store_SOURCES = tests/unit/test_store.c
tests_unit_test_store_LDADD = $(HG_STORE_TEST_LIBS)

tests_unit_test_store_schema_CFLAGS = $(HG_CFLAGS)
tests_unit_test_store_schema_SOURCES = tests/unit/test_store_schema.c
tests_unit_test_store_schema_LDADD = $(HG_STORE_TEST_LIBS)

tests_unit_test_policy_store_CFLAGS = $(HG_CFLAGS)
tests_unit_test_policy_store_SOURCES = tests/unit/test_policy_store.c tests/unit/test_policy_store_model.c \
	tests/unit/policy_store_fixture.h
tests_unit_test_policy_store_LDADD = $(HG_STORE_TEST_LIBS)
