#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# Benchmark of one GSLB decision: wall time per decision over 1,000,000 runs,
# then instructions per decision under callgrind (difference of two fixed
# counts, so setup and process start-up cancel out).
# Usage: bench_sel.sh [path/to/bench_sel]   (`make bench-sel` runs it)
set -eu
BENCH=${1:-tests/bench/bench_sel}
# libtool wrapper scripts must be run through libtool for valgrind.
if head -c 2 "$BENCH" | grep -q '#!'; then
	if [ -x ./libtool ]; then RUN="./libtool --mode=execute"; else RUN="libtool --mode=execute"; fi
else
	RUN=""
fi
FULL="geofence loss=200 latency=60 shuffle first=2"
GEO="geofence nearest first=1"
# The chain bench_module.sh serves (global.gslb.example.net): FULL plus up.
UP="up $FULL"
# What each chain must answer the benchmark's client (near us-iad; bench_sel
# checks it before timing and exits 1 otherwise): within 60 ms of the best
# RTT from us-iad are iad, sjc and lon, two of them shuffled; nearest is iad.
NEAR_US="192.0.2.10 192.0.2.20 198.51.100.30"
"$BENCH" 1000000 "$FULL" "$NEAR_US"
"$BENCH" 1000000 "$GEO" "192.0.2.10"
"$BENCH" 1000000 "$UP" "$NEAR_US"

if ! command -v valgrind >/dev/null 2>&1; then
	echo "bench_sel.sh: valgrind not found, skipping the instruction count"
	exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# count N CHAIN ALLOWED: instructions of a run of N decisions; the run must
# pass bench_sel's own answer checks (exit 0), or the count is worthless.
count() {
	if ! $RUN valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.$1" "$BENCH" "$1" "$2" "$3" \
		>/dev/null 2>"$tmp/log.$1"; then
		echo "bench_sel.sh: FAILED: callgrind run of $1 decisions, chain [$2]:" >&2
		tail -n 20 "$tmp/log.$1" >&2
		return 1
	fi
	sed -n 's/^summary: *//p' "$tmp/cg.$1"
}
for spec in "$FULL|$NEAR_US" "$GEO|192.0.2.10" "$UP|$NEAR_US"; do
	chain=${spec%%|*} allowed=${spec#*|}
	lo=$(count 10000 "$chain" "$allowed") || exit 1
	hi=$(count 110000 "$chain" "$allowed") || exit 1
	echo "bench_sel: callgrind: $(( (hi - lo) / 100000 )) instructions per decision" \
		"(sel_decide), chain [$chain]"
done
