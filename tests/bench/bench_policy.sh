#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# Benchmark of the policy compiler (issue 11, point 4): parse time and peak
# RSS of a 100k-name policy and of the pathological inputs, each in its own
# process; then haltgslb-ctl validate and load end to end on the 100k-name
# policy. Prints figures; not a test (docs/performance.md, "Policy compiler").
# Usage: bench_policy.sh [path/to/bench_policy [path/to/haltgslb-ctl]]
#        (`make bench-policy` runs it)
set -eu
BENCH=${1:-tests/bench/bench_policy}
CTL=${2:-./haltgslb-ctl}
if [ -f config.status ] && grep -q -- '--enable-sanitizers' config.status; then
	echo "bench_policy.sh: this build has sanitizers: time and memory are inflated"
fi
"$BENCH"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$BENCH" --write names "$tmp/names.yaml"
echo "bench_policy.sh: $(wc -c <"$tmp/names.yaml") bytes in the 100k-name policy"
"$BENCH" --run "$CTL" validate "$tmp/names.yaml" >"$tmp/out" 2>&1 || true
cat "$tmp/out"
"$BENCH" --run "$CTL" load --db "$tmp/db" "$tmp/names.yaml" >"$tmp/out" 2>&1 || true
cat "$tmp/out"
du -sk "$tmp/db" | sed 's/^\([0-9]*\).*/bench_policy.sh: database after load: \1 KB/'
