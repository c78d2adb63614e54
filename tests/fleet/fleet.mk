# The fleet: multi-host tests in network namespaces (pytest, as root, under
# the heavy lock: scripts/test.sh runs them, not make check) and the
# end-to-end replication benchmark (`make bench-replication`, not a test).
EXTRA_DIST += tests/fleet/conftest.py tests/fleet/fleet.py tests/fleet/fleetnet.py \
	tests/fleet/feedmsg.py tests/fleet/amqp_tool.py tests/fleet/test_fleet.py \
	tests/fleet/test_fleet_cluster.py tests/bench/bench_replication.py

EXTRA_PROGRAMS += tests/bench/bench_replication_watch
tests_bench_bench_replication_watch_SOURCES = tests/bench/bench_replication_watch.c
tests_bench_bench_replication_watch_CFLAGS = $(HG_CFLAGS)
tests_bench_bench_replication_watch_LDADD = $(HG_LIBS) $(HG_EXT_LIBS)
CLEANFILES += tests/bench/bench_replication_watch

# As root, under the heavy lock: flock /tmp/hg-heavy.lock make bench-replication
bench-replication: tests/bench/bench_replication_watch$(EXEEXT) haltgslb-prober$(EXEEXT) \
		haltgslb-syncd$(EXEEXT) haltgslb-ctl$(EXEEXT) haltgslb-dump$(EXEEXT) \
		tests/netsim/hg_tunrelay$(EXEEXT) tests/data/test-city.mmdb tests/data/test-asn.mmdb
	top_srcdir='$(abs_top_srcdir)' top_builddir='$(abs_top_builddir)' \
		/usr/bin/python3 $(top_srcdir)/tests/bench/bench_replication.py
.PHONY: bench-replication
