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
	tools/ctl_explain_print.c
haltgslb_ctl_LDADD = $(HG_LIBS)

include tools/dump.mk
