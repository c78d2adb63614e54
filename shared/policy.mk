# policy compiler: YAML → validated model (shared/policy.h). Unit tests below.
noinst_LTLIBRARIES += libhg_policy.la
libhg_policy_la_CFLAGS = $(HG_CFLAGS)
libhg_policy_la_SOURCES =
