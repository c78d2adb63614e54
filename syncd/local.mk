# haltgslb-syncd: applies the probers' feed from the RabbitMQ stream to the
# node's LMDB (docs/syncd.md). The apply path is a convenience library
# without AMQP so its unit test feeds it crafted deliveries.
noinst_LTLIBRARIES += libhg_syncd.la
libhg_syncd_la_CFLAGS = $(HG_CFLAGS)
libhg_syncd_la_SOURCES = \
	syncd/syncd_apply.h syncd/syncd_int.h syncd/syncd_resume.h \
	syncd/syncd_apply.c \
	syncd/syncd_state.c \
	syncd/syncd_resume.c
libhg_syncd_la_LIBADD = $(HG_WRITE_LIBS)

check_PROGRAMS += tests/unit/test_syncd_apply
TESTS += tests/unit/test_syncd_apply
tests_unit_test_syncd_apply_CFLAGS = $(HG_CFLAGS) -I$(top_srcdir)/syncd
tests_unit_test_syncd_apply_SOURCES = tests/unit/test_syncd_apply.c tests/unit/db_fixture.h
tests_unit_test_syncd_apply_LDADD = libhg_syncd.la $(HG_WRITE_LIBS) $(HG_EXT_LIBS)

check_PROGRAMS += tests/unit/test_syncd_resume
TESTS += tests/unit/test_syncd_resume
tests_unit_test_syncd_resume_CFLAGS = $(HG_CFLAGS) -I$(top_srcdir)/syncd
tests_unit_test_syncd_resume_SOURCES = tests/unit/test_syncd_resume.c
tests_unit_test_syncd_resume_LDADD = libhg_syncd.la $(HG_WRITE_LIBS) $(HG_EXT_LIBS)

sbin_PROGRAMS += haltgslb-syncd
haltgslb_syncd_CFLAGS = $(HG_CFLAGS) $(librabbitmq_CFLAGS)
haltgslb_syncd_SOURCES = \
	syncd/syncd.h \
	syncd/syncd_main.c \
	syncd/syncd_config.c \
	syncd/syncd_loop.c \
	syncd/syncd_consume.c \
	syncd/syncd_metrics.c
haltgslb_syncd_LDADD = libhg_syncd.la $(HG_AMQP_LIBS) $(HG_LIBS) $(HG_AMQP_EXT_LIBS)

EXTRA_DIST += syncd/haltgslb-syncd.service

# The unit into $(systemdsystemunitdir), its ExecStart pointing at the
# installed binary ($(sbindir); /usr/sbin with --prefix=/usr).
install-data-local: install-syncd-unit
install-syncd-unit:
	$(MKDIR_P) '$(DESTDIR)$(systemdsystemunitdir)'
	sed -e 's|/usr/sbin/haltgslb-syncd|$(sbindir)/haltgslb-syncd|' \
		'$(srcdir)/syncd/haltgslb-syncd.service' \
		>'$(DESTDIR)$(systemdsystemunitdir)/haltgslb-syncd.service.tmp'
	chmod 644 '$(DESTDIR)$(systemdsystemunitdir)/haltgslb-syncd.service.tmp'
	mv '$(DESTDIR)$(systemdsystemunitdir)/haltgslb-syncd.service.tmp' \
		'$(DESTDIR)$(systemdsystemunitdir)/haltgslb-syncd.service'
uninstall-local: uninstall-syncd-unit
uninstall-syncd-unit:
	rm -f '$(DESTDIR)$(systemdsystemunitdir)/haltgslb-syncd.service'
.PHONY: install-syncd-unit uninstall-syncd-unit

# Test helper: feed messages from the real encoder for the Python
# publishers of tests/broker/test_syncd.py (pytest, real rabbitmq-server;
# scripts/test.sh's broker stage).
check_PROGRAMS += tests/broker/hg_feedmsg
tests_broker_hg_feedmsg_SOURCES = tests/broker/hg_feedmsg.c
tests_broker_hg_feedmsg_CFLAGS = $(HG_CFLAGS)
tests_broker_hg_feedmsg_LDADD = libhg_feed.la libhg_base.la $(HG_EXT_LIBS)

# Benchmark (not a test): `make bench-syncd` as root, under the heavy lock.
EXTRA_PROGRAMS += tests/bench/bench_syncd
tests_bench_bench_syncd_SOURCES = tests/bench/bench_syncd.c
tests_bench_bench_syncd_CFLAGS = $(HG_CFLAGS) $(librabbitmq_CFLAGS) -I$(top_srcdir)/syncd
tests_bench_bench_syncd_LDADD = libhg_syncd.la $(HG_AMQP_LIBS) $(HG_LIBS) $(HG_AMQP_EXT_LIBS)
CLEANFILES += tests/bench/bench_syncd
EXTRA_DIST += tests/bench/bench_syncd.py tests/broker/syncd_env.py tests/broker/test_syncd.py \
	tests/broker/policy_syncd.yaml

bench-syncd: tests/bench/bench_syncd$(EXEEXT) haltgslb-syncd$(EXEEXT) haltgslb-ctl$(EXEEXT)
	top_srcdir='$(abs_top_srcdir)' top_builddir='$(abs_top_builddir)' \
		/usr/bin/python3 $(top_srcdir)/tests/bench/bench_syncd.py
.PHONY: bench-syncd

# The daemon without a broker: options, config file, startup failures,
# waiting for a policy, signals (TAP from shell).
TESTS += tests/tools/test_syncd_cli.sh
EXTRA_DIST += tests/tools/test_syncd_cli.sh
