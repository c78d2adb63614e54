# geo lookup over libmaxminddb (shared/geo/geo.h) and the test/demo mmdb generator.
noinst_LTLIBRARIES += libhg_geo.la
libhg_geo_la_CFLAGS = $(HG_CFLAGS)
libhg_geo_la_SOURCES = shared/geo/geo.c shared/geo/geo.h \
	shared/geo/geo_decode.c shared/geo/geo_decode.h shared/geo/geo_tree.c
haltgslbinclude_HEADERS += shared/geo/geo.h

# Test and demo MaxMind databases are generated, never checked in: the text
# mappings are the source (see docs/geo-data.md). Each file has its own rule
# so make -j and a deleted single file both behave.
GEO_MKMMDB = $(top_srcdir)/tests/geo/mkmmdb.pl
GEO_TEST_MAP = $(top_srcdir)/tests/geo/test-geo.txt
GEO_DEMO_MAP = $(top_srcdir)/demo/geo-demo.txt
GEO_TEST_DBS = tests/data/test-city.mmdb tests/data/test-asn.mmdb \
	tests/data/test-city-v4.mmdb tests/data/test-city-24.mmdb tests/data/test-city-32.mmdb
GEO_DEMO_DBS = tests/data/demo-city.mmdb tests/data/demo-asn.mmdb

tests/data/test-city.mmdb: $(GEO_MKMMDB) $(GEO_TEST_MAP)
	$(AM_V_GEN)$(MKDIR_P) tests/data && $(PERL) $(GEO_MKMMDB) --city $@ $(GEO_TEST_MAP)
tests/data/test-asn.mmdb: $(GEO_MKMMDB) $(GEO_TEST_MAP)
	$(AM_V_GEN)$(MKDIR_P) tests/data && $(PERL) $(GEO_MKMMDB) --asn $@ $(GEO_TEST_MAP)
# IPv4-only tree: exercises the prefix arithmetic without the ::/96 offset.
tests/data/test-city-v4.mmdb: $(GEO_MKMMDB) $(GEO_TEST_MAP)
	$(AM_V_GEN)$(MKDIR_P) tests/data && $(PERL) $(GEO_MKMMDB) --ipv4 --city $@ $(GEO_TEST_MAP)
# The other two record sizes of the format: the tree walk reads all three.
tests/data/test-city-24.mmdb: $(GEO_MKMMDB) $(GEO_TEST_MAP)
	$(AM_V_GEN)$(MKDIR_P) tests/data && $(PERL) $(GEO_MKMMDB) --record-size 24 --city $@ $(GEO_TEST_MAP)
tests/data/test-city-32.mmdb: $(GEO_MKMMDB) $(GEO_TEST_MAP)
	$(AM_V_GEN)$(MKDIR_P) tests/data && $(PERL) $(GEO_MKMMDB) --record-size 32 --city $@ $(GEO_TEST_MAP)
tests/data/demo-city.mmdb: $(GEO_MKMMDB) $(GEO_DEMO_MAP)
	$(AM_V_GEN)$(MKDIR_P) tests/data && $(PERL) $(GEO_MKMMDB) --city $@ $(GEO_DEMO_MAP)
tests/data/demo-asn.mmdb: $(GEO_MKMMDB) $(GEO_DEMO_MAP)
	$(AM_V_GEN)$(MKDIR_P) tests/data && $(PERL) $(GEO_MKMMDB) --asn $@ $(GEO_DEMO_MAP)

# Integration tests use both sets.
check_DATA += $(GEO_TEST_DBS) $(GEO_DEMO_DBS)
demo-data: $(GEO_DEMO_DBS)
.PHONY: demo-data
CLEANFILES += $(GEO_TEST_DBS) $(GEO_DEMO_DBS)
EXTRA_DIST += tests/geo/mkmmdb.pl tests/geo/test-geo.txt demo/geo-demo.txt
dist_doc_DATA += docs/geo-data.md

check_PROGRAMS += tests/unit/test_geo
TESTS += tests/unit/test_geo
tests_unit_test_geo_SOURCES = tests/unit/test_geo.c
tests_unit_test_geo_CFLAGS = $(HG_CFLAGS)
tests_unit_test_geo_LDADD = libhg_geo.la libhg_base.la $(HG_EXT_LIBS)
# So `make tests/unit/test_geo && ./tests/unit/test_geo` works outside make check.
EXTRA_tests_unit_test_geo_DEPENDENCIES = $(GEO_TEST_DBS) $(GEO_DEMO_DBS)

# The one-pass record decoder against MMDB_aget_value(), record by record.
check_PROGRAMS += tests/unit/test_geo_decode
TESTS += tests/unit/test_geo_decode
tests_unit_test_geo_decode_SOURCES = tests/unit/test_geo_decode.c
tests_unit_test_geo_decode_CFLAGS = $(HG_CFLAGS)
tests_unit_test_geo_decode_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/tests/unit
tests_unit_test_geo_decode_LDADD = libhg_geo.la libhg_base.la $(HG_EXT_LIBS)
EXTRA_tests_unit_test_geo_decode_DEPENDENCIES = $(GEO_TEST_DBS) $(GEO_DEMO_DBS)
