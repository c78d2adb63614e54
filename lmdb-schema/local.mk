# The on-disk contract: installed so external readers build against it.
haltgslbinclude_HEADERS += lmdb-schema/schema.h
dist_doc_DATA += lmdb-schema/SCHEMA.md

# schema: the name <-> value table of every enum of schema.h and the
# decoder of its variable-sized records. Read side
# (no allocation, no I/O): part of HG_READ_LIBS, so the module may link it.
noinst_LTLIBRARIES += libhg_schema.la
libhg_schema_la_CFLAGS = $(HG_CFLAGS)
libhg_schema_la_SOURCES = lmdb-schema/schema_names.c lmdb-schema/schema_names.h \
	lmdb-schema/schema_records.c lmdb-schema/schema_records.h

check_PROGRAMS += tests/unit/test_schema_names
TESTS += tests/unit/test_schema_names
tests_unit_test_schema_names_SOURCES = tests/unit/test_schema_names.c
tests_unit_test_schema_names_CFLAGS = $(HG_CFLAGS)
tests_unit_test_schema_names_LDADD = libhg_schema.la libhg_base.la
