# Test infrastructure shared by the unit tests; each part's fragment adds its tests.
noinst_HEADERS += tests/unit/tap.h

# End-to-end tests of the tools (TAP from shell).
TESTS += tests/tools/test_ctl.sh
EXTRA_DIST += tests/tools/tap.sh tests/tools/test_ctl.sh
# status: the engine's verdict per name, checked against explain.
TESTS += tests/tools/test_ctl_status.sh
EXTRA_DIST += tests/tools/test_ctl_status.sh tests/tools/status.yaml
# A truncated, zeroed or emptied database: every tool says so and exits 1.
TESTS += tests/tools/test_db_damage.sh
EXTRA_DIST += tests/tools/test_db_damage.sh

# The module's link set (read side only), checked on the built .so.
TESTS += tests/build/test_module_link.sh
EXTRA_DIST += tests/build/test_module_link.sh

# Fuzz targets, their corpora (replayed by make check) and make fuzz.
include tests/fuzz/fuzz.mk

# Benchmarks at scale (make bench-scale).
include tests/bench/bench.mk
# Multi-host fleet tests (network namespaces) and the replication benchmark.
include tests/fleet/fleet.mk
