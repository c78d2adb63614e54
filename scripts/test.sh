#!/usr/bin/env bash
# Run every haltgslb test on a fresh Debian 12 machine, as root:
# installs the dependencies, builds twice (ASan+UBSan, and plain for valgrind
# and knotd), runs the unit tests under both, the knotd integration tests,
# the network-namespace tests (prober, broker, the fleet) and `make distcheck`;
# a third, clang build runs the fuzz targets briefly (FUZZ_SECONDS each,
# default 10). Ends with the line
# "N passed, N failed"; exits non-zero if anything failed.
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
"$top/scripts/install-deps.sh" || { echo "0 passed, 1 failed"; exit 1; }

JOBS=${JOBS:-2}
# Debian's interpreter: it is the one python3-pytest and python3-dnspython
# install into (another python3 earlier in PATH would not have them).
PY=/usr/bin/python3
PASSED=0
FAILED=0
SUMMARY=()

record() { # stage passed failed
	PASSED=$((PASSED + $2))
	FAILED=$((FAILED + $3))
	SUMMARY+=("$(printf '%-28s %5d passed, %3d failed' "$1" "$2" "$3")")
	echo "=== $1: $2 passed, $3 failed"
}

# Counts of a make check run, from automake's test-suite.log.
record_make_check() { # stage builddir rc
	local log="$2/test-suite.log" pass fail
	if [ ! -f "$log" ]; then
		record "$1" 0 1
		return
	fi
	pass=$(sed -n 's/^# PASS: *//p' "$log" | head -n1)
	fail=$(( $(sed -n 's/^# FAIL: *//p' "$log" | head -n1) + $(sed -n 's/^# ERROR: *//p' "$log" | head -n1) \
		+ $(sed -n 's/^# XPASS: *//p' "$log" | head -n1) + $(sed -n 's/^# SKIP: *//p' "$log" | head -n1) ))
	if [ "$3" -ne 0 ] && [ "$fail" -eq 0 ]; then
		fail=1   # make itself failed (build error) even though no test did
	fi
	record "$1" "${pass:-0}" "$fail"
	[ "$fail" -eq 0 ] || cat "$log" | grep -E '^(FAIL|ERROR|not ok|#   )' | head -n 40
}

# Counts of a pytest run from its JUnit XML; skips count as failures: a test
# that needs something missing must not turn green by skipping.
record_pytest() { # stage xml rc
	if [ ! -f "$2" ]; then
		record "$1" 0 1
		return
	fi
	read -r pass fail < <(python3 - "$2" <<'PY'
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
t = f = 0
for s in suites:
    t += int(s.get("tests", 0))
    f += int(s.get("failures", 0)) + int(s.get("errors", 0)) + int(s.get("skipped", 0))
print(t - f, f)
PY
)
	if [ "$3" -ne 0 ] && [ "$fail" -eq 0 ]; then
		fail=1
	fi
	record "$1" "$pass" "$fail"
}

echo "=== regenerating the build system"
autoreconf -fi >/dev/null 2>&1 || { record "autoreconf" 0 1; }

# 1. The repository's copy of the reference policy must stay the contract.
if [ -f "$top/../shared/examples/policy.yaml" ]; then
	if cmp -s "$top/../shared/examples/policy.yaml" "$top/tests/unit/policies/reference.yaml"; then
		record "reference policy copy" 1 0
	else
		echo "tests/unit/policies/reference.yaml differs from ../shared/examples/policy.yaml"
		record "reference policy copy" 0 1
	fi
fi

# 2. ASan+UBSan build: unit tests.
mkdir -p "$top/build/asan"
(cd "$top/build/asan" && "$top/configure" -q --enable-sanitizers && make -j"$JOBS" >/dev/null) \
	|| { echo "ASan build failed"; (cd "$top/build/asan" && make 2>&1 | tail -n 30); }
(cd "$top/build/asan" && make -j"$JOBS" check >/dev/null 2>&1)
record_make_check "unit tests (ASan+UBSan)" "$top/build/asan" $?

# 3. Plain build: unit tests under valgrind.
mkdir -p "$top/build/plain"
(cd "$top/build/plain" && "$top/configure" -q && make -j"$JOBS" >/dev/null) \
	|| { echo "plain build failed"; (cd "$top/build/plain" && make 2>&1 | tail -n 30); }
(cd "$top/build/plain" && make -j"$JOBS" check \
	LOG_COMPILER="valgrind --quiet --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect" \
	>/dev/null 2>&1)
record_make_check "unit tests (valgrind)" "$top/build/plain" $?

# 3b. The fuzz targets build with clang + libFuzzer and run briefly over
#     their corpora (make check above already replayed the corpora).
mkdir -p "$top/build/fuzz"
(cd "$top/build/fuzz" && "$top/configure" -q --enable-fuzzing && make -j"$JOBS" >/dev/null \
	&& make fuzz FUZZ_SECONDS="${FUZZ_SECONDS:-10}" >"$top/build/fuzz/fuzz.out" 2>&1)
if [ $? -eq 0 ]; then
	record "fuzz targets (clang)" 1 0
	sed -n '/=== fuzz summary/,$p' "$top/build/fuzz/fuzz.out"
else
	tail -n 30 "$top/build/fuzz/fuzz.out" 2>/dev/null
	record "fuzz targets (clang)" 0 1
fi

export top_srcdir="$top"

# 4. Integration tests with a real knotd: the whole suite with the module
#    built with ASan+UBSan (the runtimes are preloaded into knotd and any
#    sanitizer report fails the test), then the robustness tests with the
#    plain module under valgrind.
if [ -d "$top/tests/integration" ] && ls "$top"/tests/integration/test_*.py >/dev/null 2>&1; then
	top_builddir="$top/build/asan" HG_TEST_DATA="$top/build/asan/tests/data" \
		"$PY" -m pytest -q -rfEs -p no:cacheprovider --junitxml="$top/build/integration.xml" \
		"$top/tests/integration"
	record_pytest "knotd integration (ASan)" "$top/build/integration.xml" $?
	top_builddir="$top/build/plain" HG_TEST_DATA="$top/build/plain/tests/data" HG_VALGRIND=1 \
		"$PY" -m pytest -q -rfEs -p no:cacheprovider --junitxml="$top/build/integration-vg.xml" \
		"$top/tests/integration/test_robustness.py"
	record_pytest "knotd robustness (valgrind)" "$top/build/integration-vg.xml" $?
fi

# 5. Multi-host tests in network namespaces (prober built with ASan+UBSan).
if [ -d "$top/tests/netns" ] && ls "$top"/tests/netns/test_*.py >/dev/null 2>&1; then
	top_builddir="$top/build/asan" HG_TEST_DATA="$top/build/asan/tests/data" \
		"$PY" -m pytest -q -rfEs -p no:cacheprovider --junitxml="$top/build/netns.xml" "$top/tests/netns"
	record_pytest "network namespace tests" "$top/build/netns.xml" $?
fi

# 5b. Against real rabbitmq-server nodes: haltgslb-ctl broker-config (one on
#     loopback, one in a network namespace, a 3-node cluster) and
#     haltgslb-syncd consuming the stream (test_syncd.py; its feed helper
#     tests/broker/hg_feedmsg is built by make check above).
if [ -d "$top/tests/broker" ] && ls "$top"/tests/broker/test_*.py >/dev/null 2>&1; then
	top_builddir="$top/build/asan" \
		"$PY" -m pytest -q -rfEs -p no:cacheprovider --junitxml="$top/build/broker.xml" "$top/tests/broker"
	record_pytest "broker (rabbitmq)" "$top/build/broker.xml" $?
fi

# 5c. The fleet in network namespaces: a broker configured by broker-config,
#     probers over delay links, DNS nodes (knotd + mod-haltgslb + syncd), a
#     client; every figure the tests print is kept in build/fleet.log.
if [ -d "$top/tests/fleet" ] && ls "$top"/tests/fleet/test_*.py >/dev/null 2>&1; then
	top_builddir="$top/build/asan" HG_TEST_DATA="$top/build/asan/tests/data" \
		"$PY" -m pytest -q -rfEs -s -p no:cacheprovider -p timeout --timeout=300 --junitxml="$top/build/fleet.xml" \
		"$top/tests/fleet" 2>&1 | tee "$top/build/fleet.log"
	record_pytest "fleet (network namespaces)" "$top/build/fleet.xml" "${PIPESTATUS[0]}"
fi

# 6. The release tarball builds and passes its own checks.
(cd "$top/build/plain" && make -j"$JOBS" distcheck >"$top/build/distcheck.log" 2>&1)
if [ $? -eq 0 ]; then
	record "make distcheck" 1 0
else
	tail -n 40 "$top/build/distcheck.log"
	record "make distcheck" 0 1
fi

# 7. make install DESTDIR=... installs the tools, the module, headers and docs.
stage="$top/build/stage"
rm -rf "$stage"
(cd "$top/build/plain" && make install DESTDIR="$stage" >"$top/build/install.log" 2>&1)
missing=0
for f in bin/haltgslb-ctl bin/haltgslb-dump sbin/haltgslb-prober sbin/haltgslb-syncd include/haltgslb/schema.h \
	include/haltgslb/view.h share/doc/haltgslb/SCHEMA.md share/doc/haltgslb/policy.md; do
	[ -e "$stage/usr/local/$f" ] || { echo "make install did not install /usr/local/$f"; missing=$((missing + 1)); }
done
unit="$stage/usr/local/lib/systemd/system/haltgslb-syncd.service"
if [ ! -e "$unit" ]; then
	echo "make install did not install $unit"; missing=$((missing + 1))
elif ! grep -q '^ExecStart=/usr/local/sbin/haltgslb-syncd ' "$unit"; then
	echo "$unit: ExecStart does not run the installed /usr/local/sbin/haltgslb-syncd"; missing=$((missing + 1))
fi
modfile="$stage$(pkg-config --variable=module_instdir knotd)/haltgslb.so"
[ -e "$modfile" ] || { echo "make install did not install $modfile"; missing=$((missing + 1)); }
if [ "$missing" -eq 0 ]; then record "make install DESTDIR" 1 0; else record "make install DESTDIR" 0 1; fi

echo
echo "=== summary"
printf '%s\n' "${SUMMARY[@]}"
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
