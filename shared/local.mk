# libhaltgslb: code shared by the module, the tools and the daemons, one
# directory per library. Libtool convenience libraries, built PIC so
# mod-haltgslb can link them in.
#
#   read side  (what answering needs; the module links only these):
#     base   errors, logging, fixed-field text        shared/base/
#     schema enum <-> text tables of schema.h         lmdb-schema/schema_names.c
#     store  LMDB environment, read txns, iteration   shared/store/
#     geo    client location over libmaxminddb        shared/geo/
#     view   a per-name view read in place            shared/view/
#     sel    the selection engine (filter chain)      shared/sel/
#   write side (ctl, prober, syncd):
#     store_write  sticky-error write txns            shared/store/store_wtxn.c
#     policy       YAML policy compiler               shared/policy/
#     writer       policy load, measurements, overrides, view build/patch
#                                                     shared/writer/
#     feed         the replication feed codec         shared/feed/
#     amqp         broker connections (librabbitmq)   shared/amqp/
HG_CFLAGS = $(AM_CFLAGS) $(lmdb_CFLAGS) $(yaml_CFLAGS) $(libmaxminddb_CFLAGS) $(openssl_CFLAGS)
HG_READ_EXT_LIBS = $(lmdb_LIBS) $(libmaxminddb_LIBS) -lm
HG_EXT_LIBS = $(HG_READ_EXT_LIBS) $(yaml_LIBS) $(openssl_LIBS)

# The query path, in link order.
HG_READ_LIBS = libhg_sel.la libhg_view.la libhg_geo.la libhg_store.la libhg_schema.la libhg_base.la
# What a measurement writer needs (writer_apply_*, store write txns, view
# patching), without the policy compiler or geo: the prober, which reads its
# policy from LMDB. In link order.
HG_APPLY_LIBS = libhg_writer.la libhg_store_write.la libhg_view.la libhg_store.la libhg_schema.la libhg_base.la
HG_APPLY_EXT_LIBS = $(lmdb_LIBS)
# Everything a writer needs, in link order.
HG_WRITE_LIBS = libhg_feed.la libhg_writer.la libhg_policy.la libhg_store_write.la $(HG_READ_LIBS)

noinst_LTLIBRARIES += libhaltgslb.la
libhaltgslb_la_SOURCES =
libhaltgslb_la_LIBADD = $(HG_WRITE_LIBS) $(HG_EXT_LIBS)

# What the tools and daemons link against.
HG_LIBS = libhaltgslb.la

include shared/base/base.mk
include shared/store/store.mk
include shared/geo/geo.mk
include shared/view/view.mk
include shared/sel/sel.mk
include shared/policy/policy.mk
include shared/writer/writer.mk
include shared/feed/feed.mk
include shared/amqp/amqp.mk
