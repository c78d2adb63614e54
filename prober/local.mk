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

# The publisher's pure parts (what counts as a change, the hand-over queue,
# the unconfirmed messages), unit tested on their own.
noinst_LTLIBRARIES += libhg_prober_pub.la
libhg_prober_pub_la_CFLAGS = $(HG_CFLAGS) -pthread
libhg_prober_pub_la_SOURCES = \
	prober/prober_pub_diff.c prober/prober_pub_diff.h \
	prober/prober_pub_queue.c prober/prober_pub_queue.h \
	prober/prober_pub_unacked.c prober/prober_pub_unacked.h
libhg_prober_pub_la_LIBADD = -lpthread

check_PROGRAMS += tests/unit/test_prober_pub
TESTS += tests/unit/test_prober_pub
tests_unit_test_prober_pub_CFLAGS = $(HG_CFLAGS)
tests_unit_test_prober_pub_SOURCES = tests/unit/test_prober_pub.c
tests_unit_test_prober_pub_LDADD = libhg_prober_pub.la libhg_base.la -lpthread

# The prober never reads YAML: it links the measurement writer and the store,
# not the policy compiler (libyaml, OpenSSL digest) nor geo; checked by
# tests/build/test_prober_link.sh.
sbin_PROGRAMS += haltgslb-prober
haltgslb_prober_CFLAGS = $(HG_CFLAGS) $(libcurl_CFLAGS) $(libcares_CFLAGS) $(librabbitmq_CFLAGS) -pthread
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
	prober/prober_resolve.c \
	prober/prober_resolve.h \
	prober/prober_batch.c \
	prober/prober_writer.c \
	prober/prober_metrics.c \
	prober/prober_pub.h prober/prober_pub_int.h \
	prober/prober_pub.c \
	prober/prober_pub_thread.c
haltgslb_prober_LDADD = libhg_prober_state.la libhg_prober_source.la libhg_prober_pub.la \
	libhg_feed.la $(HG_AMQP_LIBS) $(HG_APPLY_LIBS) $(HG_APPLY_EXT_LIBS) $(HG_AMQP_EXT_LIBS) \
	$(libcurl_LIBS) $(libcares_LIBS)

TESTS += tests/build/test_prober_link.sh
EXTRA_DIST += tests/build/test_prober_link.sh

# The unit's sandbox: systemd-analyze security exposure <= 2.0.
TESTS += tests/build/test_unit_security.sh
EXTRA_DIST += tests/build/test_unit_security.sh

# Test tool: userspace delay/loss link between two TUN devices (no netem here).
check_PROGRAMS += tests/netsim/hg_tunrelay
tests_netsim_hg_tunrelay_SOURCES = tests/netsim/hg_tunrelay.c

# Namespace tests (pytest, root): real servers behind hg_tunrelay. They run
# from scripts/test.sh against the ASan build, not from make check.
EXTRA_DIST += tests/netns/test_prober_netns.py tests/netns/test_prober_dns.py \
	tests/netns/test_prober_reload.py \
	tests/netsim/netsim.py tests/netsim/hg_httpd.py tests/netsim/hg_dnsd.py \
	tests/bench/bench_prober.sh prober/haltgslb-prober.service prober/prober.conf

# The resolver of CNAME endpoints' names, against a DNS server inside the
# test (127.0.0.1, a port of its own).
check_PROGRAMS += tests/unit/test_prober_resolve
TESTS += tests/unit/test_prober_resolve
tests_unit_test_prober_resolve_CFLAGS = $(HG_CFLAGS) $(libcares_CFLAGS) -I$(srcdir)/prober
tests_unit_test_prober_resolve_SOURCES = tests/unit/test_prober_resolve.c \
	prober/prober_resolve.c prober/prober_resolve.h
tests_unit_test_prober_resolve_LDADD = libhg_base.la $(libcares_LIBS)

# Test tool of the broker tests: decodes published feed messages to JSON
# (tests/broker/test_prober_publish.py reads what the prober sent with it).
check_PROGRAMS += tests/broker/hg_feed_dump
tests_broker_hg_feed_dump_CFLAGS = $(HG_CFLAGS)
tests_broker_hg_feed_dump_SOURCES = tests/broker/hg_feed_dump.c
tests_broker_hg_feed_dump_LDADD = libhg_feed.la libhg_base.la
