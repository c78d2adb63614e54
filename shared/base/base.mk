# base: error codes, logging, fixed-field and JSON text helpers.
noinst_LTLIBRARIES += libhg_base.la
libhg_base_la_CFLAGS = $(HG_CFLAGS)
libhg_base_la_SOURCES = \
	shared/base/errors.c shared/base/errors.h \
	shared/base/log.c shared/base/log.h \
	shared/base/text.c shared/base/text.h

haltgslbinclude_HEADERS += shared/base/errors.h
noinst_HEADERS += shared/base/log.h
