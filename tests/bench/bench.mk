# Query and write cost at scale (issue 13): not a test. `make bench-scale`
# builds the write helper and runs tests/bench/bench_scale.sh on this build
# (a plain build: the script refuses a module built with sanitizers).
EXTRA_PROGRAMS += tests/bench/bench_writer
tests_bench_bench_writer_SOURCES = tests/bench/bench_writer.c
tests_bench_bench_writer_CFLAGS = $(HG_CFLAGS)
tests_bench_bench_writer_LDADD = $(HG_WRITE_LIBS) $(HG_EXT_LIBS)
CLEANFILES += tests/bench/bench_writer
EXTRA_DIST += tests/bench/bench_scale.sh tests/bench/bench_scale_gen.py

bench-scale: tests/bench/bench_writer$(EXEEXT) haltgslb-ctl$(EXEEXT) knot-module/haltgslb.la
	$(SHELL) $(top_srcdir)/tests/bench/bench_scale.sh $(abs_top_builddir)
.PHONY: bench-scale
