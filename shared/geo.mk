# geo lookup over libmaxminddb (shared/geo.h) and the test/demo mmdb generator.
noinst_LTLIBRARIES += libhg_geo.la
libhg_geo_la_CFLAGS = $(HG_CFLAGS)
libhg_geo_la_SOURCES =
