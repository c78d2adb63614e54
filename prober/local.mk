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

sbin_PROGRAMS += haltgslb-prober
haltgslb_prober_CFLAGS = $(HG_CFLAGS) $(libcurl_CFLAGS)
haltgslb_prober_SOURCES = \
	prober/prober.h \
	prober/prober_main.c \
	prober/prober_loop.c \
	prober/prober_targets.c \
	prober/prober_http.c \
	prober/prober_tcp.c \
	prober/prober_icmp.c \
	prober/prober_batch.c \
	prober/prober_metrics.c
haltgslb_prober_LDADD = libhg_prober_state.la $(HG_LIBS) $(libcurl_LIBS)

# Test tool: userspace delay/loss link between two TUN devices (no netem here).
check_PROGRAMS += tests/netsim/hg_tunrelay
tests_netsim_hg_tunrelay_SOURCES = tests/netsim/hg_tunrelay.c

# Namespace tests (pytest, root): real servers behind hg_tunrelay. They run
# from scripts/test.sh against the ASan build, not from make check.
EXTRA_DIST += tests/netns/test_prober_netns.py \
	tests/netsim/netsim.py tests/netsim/hg_httpd.py \
	tests/bench/bench_prober.sh prober/haltgslb-prober.service
