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
count() {
	$RUN valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.$1" "$BENCH" "$1" "$2" \
		>/dev/null 2>"$tmp/log.$1"
	sed -n 's/^summary: *//p' "$tmp/cg.$1"
}
for chain in "$FULL" "$GEO" "$UP"; do
	lo=$(count 10000 "$chain")
	hi=$(count 110000 "$chain")
	echo "bench_sel: callgrind: $(( (hi - lo) / 100000 )) instructions per decision" \
		"(sel_decide), chain [$chain]"
done
