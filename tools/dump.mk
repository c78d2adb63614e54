# haltgslb-dump: every DB of the LMDB environment as text or JSON (read-only).
bin_PROGRAMS += haltgslb-dump
haltgslb_dump_CFLAGS = $(HG_CFLAGS)
haltgslb_dump_SOURCES = \
	tools/dump.h \
	tools/dump_main.c \
	tools/dump_out.c \
	tools/dump_records.c \
	tools/dump_view.c
haltgslb_dump_LDADD = $(HG_LIBS)
