#!/usr/bin/env bash
# make fuzz: run each libFuzzer target for a bounded time over its corpus.
#   run.sh SRCDIR SECONDS TARGET...     (from the build directory)
# New inputs libFuzzer finds go to tests/fuzz/work/TARGET/corpus in the
# build tree (the seeds in the source tree are never written); crashes,
# leaks and timeouts to tests/fuzz/work/TARGET/ as crash-*, leak-*,
# timeout-*. Prints executions and coverage per target; exits non-zero if
# any target found a fault. FUZZ_FLAGS (environment) adds libFuzzer flags.
set -u

src=$1
seconds=$2
shift 2
case $seconds in
	'' | *[!0-9]*) echo "run.sh: FUZZ_SECONDS must be a whole number of seconds" >&2; exit 2 ;;
esac

failed=0
summary=()
for t in "$@"; do
	bin=tests/fuzz/fuzz_$t
	seeds=$src/tests/fuzz/corpus/$t
	work=tests/fuzz/work/$t
	mkdir -p "$work/corpus"
	opts=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
	      -artifact_prefix="$work/")
	[ -f "$src/tests/fuzz/dict/$t.dict" ] && opts+=(-dict="$src/tests/fuzz/dict/$t.dict")
	# Extra libFuzzer flags for every target, e.g. FUZZ_FLAGS=-max_len=8192.
	read -r -a extra <<<"${FUZZ_FLAGS:-}"
	opts+=("${extra[@]}")
	echo "=== fuzz $t for ${seconds}s: $bin ${opts[*]} $work/corpus $seeds"
	log=$work/fuzz.log
	"$bin" "${opts[@]}" "$work/corpus" "$seeds" >"$log" 2>&1
	rc=$?
	# libFuzzer's last status line: "#N DONE cov: C ft: F corp: ..."
	done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -n1)
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n1)
	cov=$(echo "$done_line" | sed -n 's/.*cov: \([0-9]*\).*/\1/p')
	ft=$(echo "$done_line" | sed -n 's/.*ft: \([0-9]*\).*/\1/p')
	corp=$(echo "$done_line" | sed -n 's/.*corp: \([0-9]*\/[0-9a-zA-Z]*\).*/\1/p')
	if [ $rc -ne 0 ]; then
		failed=1
		grep -E 'ERROR:|SUMMARY:|Test unit written|artifact' "$log" | head -n 20
		summary+=("$(printf '%-10s FAILED (exit %d): see %s' "$t" "$rc" "$log")")
	else
		summary+=("$(printf '%-10s %12s execs  cov %6s  ft %6s  corpus %s' "$t" "${execs:-?}" \
			"${cov:-?}" "${ft:-?}" "${corp:-?}")")
	fi
done
echo "=== fuzz summary (${seconds}s per target)"
printf '%s\n' "${summary[@]}"
exit $failed
