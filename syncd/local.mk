# haltgslb-syncd: applies the probers' feed from the RabbitMQ stream to the
# node's LMDB (docs/syncd.md). The apply path is a convenience library
# without AMQP so its unit test feeds it crafted deliveries.
noinst_LTLIBRARIES += libhg_syncd.la
libhg_syncd_la_CFLAGS = $(HG_CFLAGS)
libhg_syncd_la_SOURCES = \
	syncd/syncd_apply.h syncd/syncd_int.h \
	syncd/syncd_apply.c \
	syncd/syncd_state.c
libhg_syncd_la_LIBADD = $(HG_WRITE_LIBS)

check_PROGRAMS += tests/unit/test_syncd_apply
TESTS += tests/unit/test_syncd_apply
tests_unit_test_syncd_apply_CFLAGS = $(HG_CFLAGS) -I$(top_srcdir)/syncd
tests_unit_test_syncd_apply_SOURCES = tests/unit/test_syncd_apply.c tests/unit/db_fixture.h
tests_unit_test_syncd_apply_LDADD = libhg_syncd.la $(HG_WRITE_LIBS) $(HG_EXT_LIBS)
