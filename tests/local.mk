# Test infrastructure shared by the unit tests; each part's fragment adds its tests.
noinst_HEADERS += tests/unit/tap.h

# End-to-end tests of the tools (TAP from shell).
TESTS += tests/tools/test_ctl.sh tests/tools/test_db_damage.sh
EXTRA_DIST += tests/tools/tap.sh tests/tools/test_ctl.sh tests/tools/test_db_damage.sh

# The module's link set (read side only), checked on the built .so.
TESTS += tests/build/test_module_link.sh
EXTRA_DIST += tests/build/test_module_link.sh
