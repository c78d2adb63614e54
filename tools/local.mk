# haltgslb-ctl (policy load, status, drain, measure, explain) and haltgslb-dump.
bin_PROGRAMS += haltgslb-ctl
haltgslb_ctl_CFLAGS = $(HG_CFLAGS)
haltgslb_ctl_SOURCES = \
	tools/ctl.h \
	tools/ctl_main.c \
	tools/ctl_util.c \
	tools/ctl_policy.c \
	tools/ctl_status.c \
	tools/ctl_status.h \
	tools/ctl_status_health.c \
	tools/ctl_admin.c \
	tools/ctl_explain.h \
	tools/ctl_explain.c \
	tools/ctl_explain_print.c \
	tools/ctl_broker.h \
	tools/ctl_broker.c \
	tools/ctl_broker_args.c \
	tools/ctl_broker_render.c \
	tools/ctl_broker_files.c \
	tools/ctl_broker_tls.c
haltgslb_ctl_LDADD = $(HG_LIBS)

# broker-config: its command-line checks (make check) and the broker itself
# (tests/broker, pytest under the heavy lock, run by scripts/test.sh).
TESTS += tests/broker/test_ctl_broker.sh
EXTRA_DIST += tests/broker/test_ctl_broker.sh tests/broker/conftest.py \
	tests/broker/test_broker_config.py tests/broker/test_broker_netns.py \
	tests/broker/test_broker_cluster.py tests/netsim/pki.py tests/netsim/broker.py

include tools/dump.mk
