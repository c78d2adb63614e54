# views (shared/view.h) and the selection engine (shared/sel.h).
noinst_LTLIBRARIES += libhg_sel.la
libhg_sel_la_CFLAGS = $(HG_CFLAGS)
libhg_sel_la_SOURCES =
