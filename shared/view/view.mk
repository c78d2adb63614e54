# view: a per-name view blob validated and read in place (query path).
noinst_LTLIBRARIES += libhg_view.la
libhg_view_la_CFLAGS = $(HG_CFLAGS)
libhg_view_la_SOURCES = shared/view/view.c shared/view/view.h

haltgslbinclude_HEADERS += shared/view/view.h
