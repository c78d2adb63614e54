#!/usr/bin/env bash
# Run every haltgslb test on a fresh Debian 12 machine, as root:
# installs the dependencies, builds twice (ASan+UBSan, and plain for valgrind
# and knotd), runs the unit tests under both, the knotd integration tests,
# the network-namespace tests (prober, broker, the fleet) and `make distcheck`; a third, clang build runs
# the fuzz targets briefly (FUZZ_SECONDS each, default 10), cppcheck (make
# lint) and the clang-format check (make format-check); every systemd unit
# of the tree is rated by systemd-analyze security (<= 2.0). Then the Debian
# packages are built (scripts/build-debs.sh) and checked with lintian, the
# Ansible roles with ansible-lint, and the deployment test boots nspawn
# hosts and deploys the packages with the roles (tests/deploy/). Ends with
# the line "N passed, N failed"; exits non-zero if anything failed.
#
# Only this run's results count: every log or XML a stage is counted from is
# deleted before the stage runs (a build error or a pytest that dies would
# otherwise leave the last run's results to be counted again), a stage whose
# build failed counts as failed and its tests are not run against stale
# binaries, and XFAIL counts as a failure like SKIP and XPASS.
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
STAGE_START=$(date +%s)

# Each stage's time is the time since the previous record.
record() { # stage passed failed
	local now secs
	now=$(date +%s)
	secs=$((now - STAGE_START))
	STAGE_START=$now
	PASSED=$((PASSED + $2))
	FAILED=$((FAILED + $3))
	SUMMARY+=("$(printf '%-28s %5d passed, %3d failed %6d s' "$1" "$2" "$3" "$secs")")
	echo "=== $1: $2 passed, $3 failed ($secs s)"
}

# configure + make in a build directory, output in BUILDDIR/build.log.
build() { # name builddir configure-args...
	local name=$1 dir=$2
	shift 2
	mkdir -p "$dir"
	if (cd "$dir" && "$top/configure" -q "$@" && make -j"$JOBS") >"$dir/build.log" 2>&1; then
		return 0
	fi
	echo "=== $name build failed:"
	tail -n 30 "$dir/build.log"
	return 1
}

# One "# KIND: N" count of automake's test-suite.log (0 when absent).
suite_count() { # log kind
	local n
	n=$(sed -n "s/^# $2: *//p" "$1" | head -n1)
	echo "${n:-0}"
}

# Counts of a make check run, from automake's test-suite.log (deleted by the
# caller before the run, so a missing log means make check never got to it).
record_make_check() { # stage builddir rc
	local log="$2/test-suite.log" pass fail kind
	if [ ! -f "$log" ]; then
		echo "$2: no test-suite.log (make check exited $3 before running the tests)"
		record "$1" 0 1
		return
	fi
	pass=$(suite_count "$log" PASS)
	fail=0
	for kind in FAIL ERROR XFAIL XPASS SKIP; do
		fail=$((fail + $(suite_count "$log" "$kind")))
	done
	if [ "$3" -ne 0 ] && [ "$fail" -eq 0 ]; then
		fail=1   # make itself failed (build error) even though no test did
	fi
	record "$1" "$pass" "$fail"
	[ "$fail" -eq 0 ] || grep -E '^(FAIL|ERROR|XFAIL|XPASS|SKIP|not ok|#   )' "$log" | head -n 40
}

# Every pytest stage is bounded twice, so that a hang fails the run instead of
# eating the CI job: each test by pytest-timeout (PYTEST_TEST_TIMEOUT seconds,
# signal method: the test fails with its traceback and its fixtures still
# tear down, which is why only the test function is timed: a fixture's own
# waits are bounded by the fixture), and the whole stage by timeout(1)
# (PYTEST_STAGE_TIMEOUT seconds): SIGINT, which pytest turns into an orderly
# stop (fixtures torn down, the JUnit XML written), then SIGKILL 60 s later.
PYTEST_TEST_TIMEOUT=${PYTEST_TEST_TIMEOUT:-300}
PYTEST_STAGE_TIMEOUT=${PYTEST_STAGE_TIMEOUT:-1200}
# Counts of a pytest run from its JUnit XML (deleted by the caller before the
# run); skips and xfails (JUnit "skipped") count as failures: a test that
# needs something missing must not turn green by skipping. XPASS fails
# through xfail_strict (run_pytest).
record_pytest() { # stage xml rc
	if [ ! -f "$2" ]; then
		echo "$2: no JUnit XML (pytest exited $3 before writing it)"
		record "$1" 0 1
		return
	fi
	read -r pass fail < <("$PY" - "$2" <<'PY'
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
	if [ -z "${pass:-}" ] || [ -z "${fail:-}" ]; then
		echo "$2: unreadable JUnit XML"
		pass=0 fail=1
	fi
	if [ "$3" -ne 0 ] && [ "$fail" -eq 0 ]; then
		fail=1
	fi
	record "$1" "$pass" "$fail"
}

# One pytest stage, counted from its JUnit XML. Environment for pytest goes
# before the call (VAR=... run_pytest ...).
run_pytest() { # stage xml paths...
	local stage=$1 xml=$2
	shift 2
	rm -f "$xml"      # never count a previous run's results
	timeout -s INT -k 60 "$PYTEST_STAGE_TIMEOUT" \
		"$PY" -m pytest -q -rfEsxX -p no:cacheprovider -o xfail_strict=true \
		-p timeout --timeout="$PYTEST_TEST_TIMEOUT" --timeout_method=signal -o timeout_func_only=true \
		--junitxml="$xml" "$@"
	local rc=$?
	[ "$rc" -eq 124 ] && echo "pytest stopped after $PYTEST_STAGE_TIMEOUT s (PYTEST_STAGE_TIMEOUT): $*"
	record_pytest "$stage" "$xml" "$rc"
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

# 1b. Static analysis and formatting (make lint, make format-check; the same
#     scripts, run from the source tree: no build needed). Each is one stage,
#     its log deleted first; on failure the start of the log is shown.
qa_stage() { # stage log script
	local stage=$1 log=$2
	shift 2
	mkdir -p "$top/build"
	rm -f "$log"
	if "$@" >"$log" 2>&1; then
		record "$stage" 1 0
	else
		head -n 60 "$log"
		record "$stage" 0 1
	fi
}
qa_stage "lint (cppcheck)" "$top/build/lint.log" bash "$top/scripts/lint.sh"
qa_stage "format check (clang-format)" "$top/build/format-check.log" bash "$top/scripts/check-format.sh"

# 2. ASan+UBSan build: unit tests.
rm -f "$top/build/asan/test-suite.log"
if build "ASan+UBSan" "$top/build/asan" --enable-sanitizers; then
	asan_ok=1
	(cd "$top/build/asan" && make -j"$JOBS" check >/dev/null 2>&1)
	record_make_check "unit tests (ASan+UBSan)" "$top/build/asan" $?
else
	asan_ok=0
	record "unit tests (ASan+UBSan)" 0 1
fi

# 3. Plain build: unit tests under valgrind.
rm -f "$top/build/plain/test-suite.log"
if build "plain" "$top/build/plain"; then
	plain_ok=1
	(cd "$top/build/plain" && make -j"$JOBS" check \
		LOG_COMPILER="valgrind --quiet --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect" \
		>/dev/null 2>&1)
	record_make_check "unit tests (valgrind)" "$top/build/plain" $?
else
	plain_ok=0
	record "unit tests (valgrind)" 0 1
fi

# 3b. The fuzz targets build with clang + libFuzzer and run briefly over
#     their corpora (make check above already replayed the corpora).
mkdir -p "$top/build/fuzz"
rm -f "$top/build/fuzz/fuzz.out"
(cd "$top/build/fuzz" && "$top/configure" -q --enable-fuzzing && make -j"$JOBS" >/dev/null \
	&& make fuzz FUZZ_SECONDS="${FUZZ_SECONDS:-10}" >"$top/build/fuzz/fuzz.out" 2>&1)
if [ $? -eq 0 ]; then
	record "fuzz targets (clang)" 1 0
	sed -n '/=== fuzz summary/,$p' "$top/build/fuzz/fuzz.out"
else
	tail -n 30 "$top/build/fuzz/fuzz.out" 2>/dev/null
	record "fuzz targets (clang)" 0 1
fi

# 3c. Every systemd unit of the tree (*.service: the prober's, syncd's, any
#     later one) must score <= 2.0 in `systemd-analyze security --offline`
#     (also part of make check; here on its own so its scores are shown).
units_out=$(top_srcdir="$top" bash "$top/tests/build/test_unit_security.sh" 2>&1)
units_rc=$?
grep -E '^(not ok|# unit files|# → Overall)' <<<"$units_out"
units_fail=$(grep -c '^not ok' <<<"$units_out")
if [ "$units_rc" -ne 0 ] && [ "$units_fail" -eq 0 ]; then units_fail=1; fi
record "systemd units (security)" "$(grep -c '^ok ' <<<"$units_out")" "$units_fail"

export top_srcdir="$top"

# 4. Integration tests with a real knotd: the whole suite with the module
#    built with ASan+UBSan (the runtimes are preloaded into knotd and any
#    sanitizer report fails the test), then the robustness tests with the
#    plain module under valgrind.
#    A stage whose build failed counts as failed without running: its
#    binaries would be the last run's.
if [ -d "$top/tests/integration" ] && ls "$top"/tests/integration/test_*.py >/dev/null 2>&1; then
	if [ "$asan_ok" -eq 1 ]; then
		top_builddir="$top/build/asan" HG_TEST_DATA="$top/build/asan/tests/data" \
			run_pytest "knotd integration (ASan)" "$top/build/integration.xml" "$top/tests/integration"
	else
		record "knotd integration (ASan)" 0 1
	fi
	if [ "$plain_ok" -eq 1 ]; then
		top_builddir="$top/build/plain" HG_TEST_DATA="$top/build/plain/tests/data" HG_VALGRIND=1 \
			run_pytest "knotd robustness (valgrind)" "$top/build/integration-vg.xml" \
			"$top/tests/integration/test_robustness.py"
	else
		record "knotd robustness (valgrind)" 0 1
	fi
fi

# 5. Multi-host tests in network namespaces (prober built with ASan+UBSan).
if [ -d "$top/tests/netns" ] && ls "$top"/tests/netns/test_*.py >/dev/null 2>&1; then
	if [ "$asan_ok" -eq 1 ]; then
		top_builddir="$top/build/asan" HG_TEST_DATA="$top/build/asan/tests/data" \
			run_pytest "network namespace tests" "$top/build/netns.xml" "$top/tests/netns"
	else
		record "network namespace tests" 0 1
	fi
fi

# 5b. Against real rabbitmq-server nodes: haltgslb-ctl broker-config (one on
#     loopback, one in a network namespace, a 3-node cluster) and
#     haltgslb-syncd consuming the stream (test_syncd.py; its feed helper
#     tests/broker/hg_feedmsg is built by make check above).
if [ -d "$top/tests/broker" ] && ls "$top"/tests/broker/test_*.py >/dev/null 2>&1; then
	if [ "$asan_ok" -eq 1 ]; then
		top_builddir="$top/build/asan" run_pytest "broker (rabbitmq)" "$top/build/broker.xml" "$top/tests/broker"
	else
		record "broker (rabbitmq)" 0 1
	fi
fi

# 5c. The fleet in network namespaces: a broker configured by broker-config,
#     probers over delay links, DNS nodes (knotd + mod-haltgslb + syncd), a
#     client; every figure the tests print (-s) is kept in build/fleet.log.
if [ -d "$top/tests/fleet" ] && ls "$top"/tests/fleet/test_*.py >/dev/null 2>&1; then
	if [ "$asan_ok" -eq 1 ]; then
		top_builddir="$top/build/asan" HG_TEST_DATA="$top/build/asan/tests/data" \
			run_pytest "fleet (network namespaces)" "$top/build/fleet.xml" -s "$top/tests/fleet" \
			> >(tee "$top/build/fleet.log")
	else
		record "fleet (network namespaces)" 0 1
	fi
fi

# 6. The release tarball builds and passes its own checks.
rm -f "$top/build/distcheck.log"
if [ "$plain_ok" -eq 1 ] && (cd "$top/build/plain" && make -j"$JOBS" distcheck >"$top/build/distcheck.log" 2>&1); then
	record "make distcheck" 1 0
else
	[ -f "$top/build/distcheck.log" ] && tail -n 40 "$top/build/distcheck.log"
	record "make distcheck" 0 1
fi

# 7. make install DESTDIR=... installs the tools, the module, headers and docs;
#    its own exit status counts too.
stage="$top/build/stage"
rm -rf "$stage" "$top/build/install.log"
missing=0
if [ "$plain_ok" -eq 1 ] && (cd "$top/build/plain" && make install DESTDIR="$stage" >"$top/build/install.log" 2>&1); then
	for f in bin/haltgslb-ctl bin/haltgslb-dump sbin/haltgslb-prober sbin/haltgslb-syncd \
		include/haltgslb/schema.h include/haltgslb/view.h share/doc/haltgslb/SCHEMA.md \
		share/doc/haltgslb/policy.md share/man/man1/haltgslb-ctl.1 share/man/man1/haltgslb-dump.1 \
		share/man/man8/haltgslb-prober.8 share/man/man8/haltgslb-syncd.8; do
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
else
	echo "make install DESTDIR=$stage failed:"
	[ -f "$top/build/install.log" ] && tail -n 30 "$top/build/install.log"
	missing=1
fi
if [ "$missing" -eq 0 ]; then record "make install DESTDIR" 1 0; else record "make install DESTDIR" 0 1; fi

# A TAP script as one stage: its ok/not ok lines counted, its exit status
# too; the output (deleted first) is shown on failure.
tap_stage() { # stage out script args...
	local stage=$1 out=$2 rc pass fail
	shift 2
	rm -f "$out"
	"$@" >"$out" 2>&1
	rc=$?
	pass=$(grep -c '^ok ' "$out")
	fail=$(grep -c '^not ok ' "$out")
	[ "$rc" -eq 0 ] || [ "$fail" -gt 0 ] || fail=1
	[ "$fail" -eq 0 ] || cat "$out"
	record "$stage" "$pass" "$fail"
}

# 8. Debian packages (tests/deploy/test_packages.sh): built with
#    dpkg-buildpackage from a clean copy of the tree (make check ran twice
#    above, hence nocheck), lintian clean (errors and warnings fail;
#    overrides only in debian/*.lintian-overrides, each with its reason),
#    man pages, conffiles, units enabled but not started, the knot pin.
debdir="$top/build/deb"
DEB_BUILD_OPTIONS=nocheck tap_stage "debian packages, lintian" "$top/build/packages.tap" \
	"$top/tests/deploy/test_packages.sh" "$debdir"

# 9. The Ansible roles and playbook (tests/deploy/test_ansible.sh):
#    ansible-lint --offline at the production profile (ansible/.ansible-lint),
#    syntax check with the example inventory, every role default documented.
top_builddir="$top/build/plain" tap_stage "ansible-lint, roles" "$top/build/ansible.tap" \
	"$top/tests/deploy/test_ansible.sh"

# 10. Deployment test: nspawn hosts from a debootstrap image (cached in
#     build/lab/cache), the packages above from a local apt repository,
#     ansible/site.yml, answers checked from a client namespace.
rm -f "$top/build/lab/timings.txt"
if [ "$plain_ok" -eq 1 ] && ls "$debdir"/*.deb >/dev/null 2>&1; then
	top_builddir="$top/build/plain" HG_TEST_DATA="$top/build/plain/tests/data" \
		HG_DEB_DIR="$debdir" HG_LAB_DIR="$top/build/lab" \
		run_pytest "deployment (nspawn hosts)" "$top/build/deploy.xml" "$top/tests/deploy"
	cat "$top/build/lab/timings.txt" 2>/dev/null
else
	record "deployment (nspawn hosts)" 0 1
fi

echo
echo "=== summary"
printf '%s\n' "${SUMMARY[@]}"
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
