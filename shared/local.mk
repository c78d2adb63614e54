# libhaltgslb: code shared by the module, the tools and the daemons.
# Libtool convenience libraries, built PIC so mod-haltgslb can link them in.
# Each part (policy, store, geo, sel) is its own convenience library so its
# unit tests link only what they need; libhaltgslb.la bundles them all.
HG_CFLAGS = $(AM_CFLAGS) $(lmdb_CFLAGS) $(yaml_CFLAGS) $(libmaxminddb_CFLAGS) $(openssl_CFLAGS)
HG_EXT_LIBS = $(lmdb_LIBS) $(yaml_LIBS) $(libmaxminddb_LIBS) $(openssl_LIBS) -lm

noinst_LTLIBRARIES += libhg_base.la libhaltgslb.la
libhg_base_la_CFLAGS = $(HG_CFLAGS)
libhg_base_la_SOURCES = \
	shared/errors.c shared/errors.h \
	shared/log.c shared/log.h \
	shared/text.c shared/text.h

libhaltgslb_la_SOURCES =
libhaltgslb_la_LIBADD = libhg_base.la libhg_policy.la libhg_store.la libhg_geo.la libhg_sel.la \
	$(HG_EXT_LIBS)

# What programs link against.
HG_LIBS = libhaltgslb.la

haltgslbinclude_HEADERS += shared/errors.h shared/view.h shared/sel.h shared/geo.h \
	shared/store.h shared/policy.h shared/policy_store.h
noinst_HEADERS += shared/log.h

include shared/policy.mk
include shared/store.mk
include shared/geo.mk
include shared/sel.mk
