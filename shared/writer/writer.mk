# writer: the write side every writer calls (ctl, prober, syncd): policy
# load, measurements, overrides, and the view encoder/patcher they use.
noinst_LTLIBRARIES += libhg_writer.la
libhg_writer_la_CFLAGS = $(HG_CFLAGS)
libhg_writer_la_SOURCES = \
	shared/writer/writer.h shared/writer/writer_int.h \
	shared/writer/writer_load.c \
	shared/writer/writer_apply.c \
	shared/writer/writer_touch.c \
	shared/writer/writer_read.c \
	shared/writer/writer_sets.c \
	shared/writer/view_build.h \
	shared/writer/view_build.c \
	shared/writer/view_patch.c \
	shared/writer/view_encode.c

haltgslbinclude_HEADERS += shared/writer/writer.h shared/writer/view_build.h

check_PROGRAMS += tests/unit/test_writer
TESTS += tests/unit/test_writer
tests_unit_test_writer_CFLAGS = $(HG_CFLAGS)
tests_unit_test_writer_SOURCES = tests/unit/test_writer.c tests/unit/test_writer_model.c \
	tests/unit/writer_fixture.h
tests_unit_test_writer_LDADD = $(HG_WRITE_LIBS) $(HG_EXT_LIBS)

check_PROGRAMS += tests/unit/test_writer_touch
TESTS += tests/unit/test_writer_touch
tests_unit_test_writer_touch_CFLAGS = $(HG_CFLAGS)
tests_unit_test_writer_touch_SOURCES = tests/unit/test_writer_touch.c tests/unit/test_writer_model.c \
	tests/unit/writer_fixture.h tests/unit/db_fixture.h
tests_unit_test_writer_touch_LDADD = $(HG_WRITE_LIBS) $(HG_EXT_LIBS)
