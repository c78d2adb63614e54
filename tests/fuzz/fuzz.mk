# Fuzzing (tests/fuzz/README.md). Each target is one C file defining
# LLVMFuzzerTestOneInput (tests/fuzz/fuzz.h) with a seed corpus in
# tests/fuzz/corpus/NAME/, built twice:
#   tests/fuzz/replay_NAME  any compiler; `make check` replays the corpus
#                           through it (TAP), so fixed crashes stay fixed;
#   tests/fuzz/fuzz_NAME    clang + libFuzzer, only with
#                           `./configure --enable-fuzzing`; `make fuzz`.
#
# Adding a target NAME linked against LIBS is these lines (and the corpus):
#
#   FUZZ_TARGETS += NAME
#   check_PROGRAMS += tests/fuzz/replay_NAME
#   TESTS += tests/fuzz/replay_NAME
#   tests_fuzz_replay_NAME_SOURCES = tests/fuzz/fuzz_NAME.c $(FUZZ_REPLAY_MAIN)
#   tests_fuzz_replay_NAME_CFLAGS = $(HG_CFLAGS)
#   tests_fuzz_replay_NAME_LDADD = LIBS
#   FUZZ_BINARIES += tests/fuzz/fuzz_NAME
#   tests_fuzz_fuzz_NAME_SOURCES = tests/fuzz/fuzz_NAME.c tests/fuzz/fuzz.h
#   tests_fuzz_fuzz_NAME_CFLAGS = $(HG_CFLAGS)
#   tests_fuzz_fuzz_NAME_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_LDFLAGS)
#   tests_fuzz_fuzz_NAME_LDADD = LIBS

FUZZ_TARGETS =
FUZZ_BINARIES =
FUZZ_REPLAY_MAIN = tests/fuzz/replay_main.c tests/fuzz/fuzz.h
FUZZ_SECONDS = 60
FUZZ_FLAGS =

# The feed decoder: decode, walk every record, re-encode, compare.
FUZZ_TARGETS += feed
check_PROGRAMS += tests/fuzz/replay_feed
TESTS += tests/fuzz/replay_feed
tests_fuzz_replay_feed_SOURCES = tests/fuzz/fuzz_feed.c $(FUZZ_REPLAY_MAIN)
tests_fuzz_replay_feed_CFLAGS = $(HG_CFLAGS)
tests_fuzz_replay_feed_LDADD = libhg_feed.la libhg_base.la $(HG_EXT_LIBS)
FUZZ_BINARIES += tests/fuzz/fuzz_feed
tests_fuzz_fuzz_feed_SOURCES = tests/fuzz/fuzz_feed.c tests/fuzz/fuzz.h
tests_fuzz_fuzz_feed_CFLAGS = $(HG_CFLAGS)
tests_fuzz_fuzz_feed_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_LDFLAGS)
tests_fuzz_fuzz_feed_LDADD = libhg_feed.la libhg_base.la $(HG_EXT_LIBS)

# The policy compiler on arbitrary bytes.
FUZZ_TARGETS += policy
check_PROGRAMS += tests/fuzz/replay_policy
TESTS += tests/fuzz/replay_policy
tests_fuzz_replay_policy_SOURCES = tests/fuzz/fuzz_policy.c $(FUZZ_REPLAY_MAIN)
tests_fuzz_replay_policy_CFLAGS = $(HG_CFLAGS)
tests_fuzz_replay_policy_LDADD = libhg_policy.la libhg_schema.la libhg_base.la $(HG_EXT_LIBS)
FUZZ_BINARIES += tests/fuzz/fuzz_policy
tests_fuzz_fuzz_policy_SOURCES = tests/fuzz/fuzz_policy.c tests/fuzz/fuzz.h
tests_fuzz_fuzz_policy_CFLAGS = $(HG_CFLAGS)
tests_fuzz_fuzz_policy_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_LDFLAGS)
tests_fuzz_fuzz_policy_LDADD = libhg_policy.la libhg_schema.la libhg_base.la $(HG_EXT_LIBS)

# The geo lookup the module does per query: a tree walk and the decoding of
# the record it reaches, on an mmdb built from the input.
FUZZ_TARGETS += geo
check_PROGRAMS += tests/fuzz/replay_geo
TESTS += tests/fuzz/replay_geo
tests_fuzz_replay_geo_SOURCES = tests/fuzz/fuzz_geo.c $(FUZZ_REPLAY_MAIN)
tests_fuzz_replay_geo_CFLAGS = $(HG_CFLAGS)
tests_fuzz_replay_geo_LDADD = libhg_geo.la libhg_base.la $(HG_READ_EXT_LIBS)
FUZZ_BINARIES += tests/fuzz/fuzz_geo
tests_fuzz_fuzz_geo_SOURCES = tests/fuzz/fuzz_geo.c tests/fuzz/fuzz.h
tests_fuzz_fuzz_geo_CFLAGS = $(HG_CFLAGS)
tests_fuzz_fuzz_geo_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_LDFLAGS)
tests_fuzz_fuzz_geo_LDADD = libhg_geo.la libhg_base.la $(HG_READ_EXT_LIBS)

# The module's client and ECS handling (knot-module/module_client.c compiled
# in) on a query libknot parsed as knotd does.
FUZZ_CLIENT_SOURCES = tests/fuzz/fuzz_client.c knot-module/module_client.c \
	knot-module/module_client.h
FUZZ_CLIENT_CFLAGS = $(HG_CFLAGS) $(libknot_CFLAGS) $(knotd_CFLAGS) -I$(srcdir)/knot-module
FUZZ_TARGETS += client
check_PROGRAMS += tests/fuzz/replay_client
TESTS += tests/fuzz/replay_client
tests_fuzz_replay_client_SOURCES = $(FUZZ_CLIENT_SOURCES) $(FUZZ_REPLAY_MAIN)
tests_fuzz_replay_client_CFLAGS = $(FUZZ_CLIENT_CFLAGS)
tests_fuzz_replay_client_LDADD = libhg_base.la $(libknot_LIBS)
FUZZ_BINARIES += tests/fuzz/fuzz_client
tests_fuzz_fuzz_client_SOURCES = $(FUZZ_CLIENT_SOURCES) tests/fuzz/fuzz.h
tests_fuzz_fuzz_client_CFLAGS = $(FUZZ_CLIENT_CFLAGS)
tests_fuzz_fuzz_client_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_LDFLAGS)
tests_fuzz_fuzz_client_LDADD = libhg_base.la $(libknot_LIBS)

# ---------------------------------------------------------------------- #
# The libFuzzer binaries are built only in a fuzzing build (they need the
# clang runtime); elsewhere `make fuzz` says how to get one.
if FUZZING
noinst_PROGRAMS += $(FUZZ_BINARIES)
fuzz: $(FUZZ_BINARIES)
	FUZZ_FLAGS='$(FUZZ_FLAGS)' $(SHELL) $(top_srcdir)/tests/fuzz/run.sh "$(top_srcdir)" \
		"$(FUZZ_SECONDS)" $(FUZZ_TARGETS)
else
EXTRA_PROGRAMS += $(FUZZ_BINARIES)
fuzz:
	@echo "make fuzz: this build has no libFuzzer targets;" \
	      "configure a build directory with ../configure --enable-fuzzing (clang)" >&2; exit 1
endif
.PHONY: fuzz

EXTRA_DIST += tests/fuzz/README.md tests/fuzz/run.sh tests/fuzz/corpus tests/fuzz/dict \
	tests/fuzz/mkseeds_geo.py tests/fuzz/mkseeds_client.py
CLEANFILES += $(FUZZ_BINARIES)
clean-local: clean-fuzz
clean-fuzz:
	rm -rf tests/fuzz/work
.PHONY: clean-fuzz

# The feed seeds' generator (not run by the build: the seeds are in the tree).
EXTRA_PROGRAMS += tests/fuzz/mkseeds_feed
tests_fuzz_mkseeds_feed_SOURCES = tests/fuzz/mkseeds_feed.c
tests_fuzz_mkseeds_feed_CFLAGS = $(HG_CFLAGS)
tests_fuzz_mkseeds_feed_LDADD = libhg_feed.la libhg_base.la $(HG_EXT_LIBS)
CLEANFILES += tests/fuzz/mkseeds_feed
