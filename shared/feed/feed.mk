# feed: the codec of what probers publish to the DNS nodes (shared/feed/feed.h).
# Write side only: the prober (publisher) and haltgslb-syncd link it, the
# module never does. Format: docs/replication.md, "Feed format".
noinst_LTLIBRARIES += libhg_feed.la
libhg_feed_la_CFLAGS = $(HG_CFLAGS)
libhg_feed_la_SOURCES = \
	shared/feed/feed.h shared/feed/feed_wire.h \
	shared/feed/feed_reason.c \
	shared/feed/feed_decode.c \
	shared/feed/feed_encode.c

haltgslbinclude_HEADERS += shared/feed/feed.h

check_PROGRAMS += tests/unit/test_feed
TESTS += tests/unit/test_feed
tests_unit_test_feed_SOURCES = tests/unit/test_feed.c
tests_unit_test_feed_CFLAGS = $(HG_CFLAGS)
tests_unit_test_feed_LDADD = libhg_feed.la libhg_base.la $(HG_EXT_LIBS)

# Bytes per record, printed (not a test). `make bench-feed` builds and runs it.
EXTRA_PROGRAMS += tests/bench/bench_feed
tests_bench_bench_feed_SOURCES = tests/bench/bench_feed.c
tests_bench_bench_feed_CFLAGS = $(HG_CFLAGS)
tests_bench_bench_feed_LDADD = libhg_feed.la libhg_base.la $(HG_EXT_LIBS)
CLEANFILES += tests/bench/bench_feed

bench-feed: tests/bench/bench_feed$(EXEEXT)
	tests/bench/bench_feed$(EXEEXT)
.PHONY: bench-feed
