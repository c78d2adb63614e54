# LMDB store and policy/measurement writers (shared/store.h, shared/policy_store.h).
noinst_LTLIBRARIES += libhg_store.la
libhg_store_la_CFLAGS = $(HG_CFLAGS)
libhg_store_la_SOURCES =
