# Test infrastructure shared by the unit tests; each part's fragment adds its tests.
noinst_HEADERS += tests/unit/tap.h
EXTRA_DIST += tests/integration
