# haltgslb-prober: the probe daemon (docs/prober.md).
# The measurement state is pure code in its own convenience library so its
# unit test links nothing else.
noinst_LTLIBRARIES += libhg_prober_state.la
libhg_prober_state_la_CFLAGS = $(HG_CFLAGS)
libhg_prober_state_la_SOURCES = prober/prober_state.c prober/prober_state.h
libhg_prober_state_la_LIBADD = libhg_schema.la libhg_base.la

check_PROGRAMS += tests/unit/test_prober_state
TESTS += tests/unit/test_prober_state
tests_unit_test_prober_state_CFLAGS = $(HG_CFLAGS)
tests_unit_test_prober_state_SOURCES = tests/unit/test_prober_state.c
tests_unit_test_prober_state_LDADD = libhg_prober_state.la

# What the prober probes comes from the policy loaded into its LMDB
# (prober_source.c), pure store code unit tested on its own.
noinst_LTLIBRARIES += libhg_prober_source.la
libhg_prober_source_la_CFLAGS = $(HG_CFLAGS)
libhg_prober_source_la_SOURCES = prober/prober_source.c prober/prober_source.h

check_PROGRAMS += tests/unit/test_prober_source
TESTS += tests/unit/test_prober_source
tests_unit_test_prober_source_CFLAGS = $(HG_CFLAGS)
tests_unit_test_prober_source_SOURCES = tests/unit/test_prober_source.c \
	tests/unit/test_writer_model.c tests/unit/writer_fixture.h
tests_unit_test_prober_source_LDADD = libhg_prober_source.la $(HG_WRITE_LIBS) $(HG_EXT_LIBS)

# The prober never reads YAML: it links the measurement writer and the store,
# not the policy compiler (libyaml, OpenSSL digest) nor geo; checked by
# tests/build/test_prober_link.sh.
sbin_PROGRAMS += haltgslb-prober
haltgslb_prober_CFLAGS = $(HG_CFLAGS) $(libcurl_CFLAGS)
haltgslb_prober_SOURCES = \
	prober/prober.h \
	prober/prober_main.c \
	prober/prober_opts.c \
	prober/prober_reload.c \
	prober/prober_loop.c \
	prober/prober_targets.c \
	prober/prober_http.c \
	prober/prober_tcp.c \
	prober/prober_icmp.c \
	prober/prober_batch.c \
	prober/prober_metrics.c
haltgslb_prober_LDADD = libhg_prober_state.la libhg_prober_source.la $(HG_APPLY_LIBS) \
	$(HG_APPLY_EXT_LIBS) $(libcurl_LIBS)

TESTS += tests/build/test_prober_link.sh
EXTRA_DIST += tests/build/test_prober_link.sh

# Test tool: userspace delay/loss link between two TUN devices (no netem here).
check_PROGRAMS += tests/netsim/hg_tunrelay
tests_netsim_hg_tunrelay_SOURCES = tests/netsim/hg_tunrelay.c

# Namespace tests (pytest, root): real servers behind hg_tunrelay. They run
# from scripts/test.sh against the ASan build, not from make check.
EXTRA_DIST += tests/netns/test_prober_netns.py \
	tests/netsim/netsim.py tests/netsim/hg_httpd.py \
	tests/bench/bench_prober.sh prober/haltgslb-prober.service prober/prober.conf
