#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# mod-haltgslb benchmark (not a test): one knotd serves a static A record and a
# GSLB name (ECS, geofence + lowest-latency chain). knotd is pinned to CPU 0
# and dnsperf to CPU 1; runs alternate static/GSLB. On 2 cores dnsperf cannot
# saturate knotd, so besides QPS this reports knotd's CPU time per query
# (utime+stime from /proc/PID/stat over each run / queries answered) and the
# GSLB/static ratio (target <= 1.10), then callgrind instructions per query.
# A figure is only worth something if the module answered what was timed:
# before timing both names are queried and their answers checked (GSLB: the
# chain's answer for the ECS client, with its ECS scope), every dnsperf run
# must get only NOERROR, and the module's counters (knotc zone-stats) must
# have grown by every GSLB query and by none of the static ones. Otherwise
# the script fails (exit 1) without printing figures for that kind.
#
# Usage: tests/bench/bench_module.sh [BUILDDIR] ; env ROUNDS=3 SECONDS_PER_RUN=5
#        CG_KEEP=DIR keeps the callgrind profiles (DIR/static.cg, DIR/gslb.cg)
#        for callgrind_annotate --inclusive=yes; ROUNDS=0 runs callgrind only.
# Build without sanitizers for meaningful numbers.
set -euo pipefail

SRC=$(cd "$(dirname "$0")/../.." && pwd)
B=$(cd "${1:-${top_builddir:-.}}" && pwd)
ROUNDS=${ROUNDS:-3}
LEN=${SECONDS_PER_RUN:-5}
CG_QUERIES=${CG_QUERIES:-5000}
MOD=$B/knot-module/.libs/haltgslb.so
CTL=$B/haltgslb-ctl
CITY=$B/tests/data/demo-city.mmdb
for f in "$MOD" "$CTL" "$CITY"; do [ -e "$f" ] || { echo "missing $f" >&2; exit 1; }; done
for t in dnsperf knotd taskset; do command -v $t >/dev/null || { echo "needs $t" >&2; exit 1; }; done
if ldd "$MOD" | grep -q libasan; then echo "module built with sanitizers: use a plain build" >&2; exit 1; fi

DIR=$(mktemp -d /tmp/haltgslb-bench.XXXXXX)
PORT=$((20000 + RANDOM % 20000))
PID=
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$DIR"; }
trap cleanup EXIT INT TERM

"$CTL" load --db "$DIR/db" "$SRC/demo/policy.yaml" >/dev/null
for m in "eu-fra waf-fra-aws 4" "eu-fra waf-ams-gcp 9" "eu-fra waf-sin-aws 160" "eu-fra waf-jkt-azure 170" \
         "eu-fra waf-iad-aws 90" "eu-fra cdn-b 40" "ap-sin waf-fra-aws 160" "ap-sin waf-ams-gcp 165" \
         "ap-sin waf-sin-aws 3" "ap-sin waf-jkt-azure 18" "ap-sin waf-iad-aws 220" "ap-sin cdn-b 40" \
         "us-iad waf-fra-aws 90" "us-iad waf-ams-gcp 85" "us-iad waf-sin-aws 220" "us-iad waf-jkt-azure 230" \
         "us-iad waf-iad-aws 4" "us-iad cdn-b 40"; do
	set -- $m; "$CTL" measure --prober "$1" --db "$DIR/db" --up --rtt "$3ms" "$2" >/dev/null
done
cp "$SRC/demo/gslb.example.net.zone" "$DIR/gslb.zone"
echo "static A 192.0.2.80" >> "$DIR/gslb.zone"
"$CTL" zone-records "$SRC/demo/policy.yaml" | sed 's/;.*//; /^ *$/d' >> "$DIR/gslb.zone"
mkdir -p "$DIR/run" "$DIR/storage"
cat > "$DIR/knot.conf" <<CONF
server:
    rundir: $DIR/run
    listen: 127.0.0.1@$PORT
    edns-client-subnet: on
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1
log:
  - target: $DIR/knotd.log
    any: warning
database:
    storage: $DIR/storage
module:
  - id: mod-haltgslb
    file: $MOD
mod-haltgslb:
  - id: default
    database: $DIR/db
    geoip: $CITY
zone:
  - domain: gslb.example.net
    file: $DIR/gslb.zone
    module: mod-haltgslb/default
CONF
echo "static.gslb.example.net A" > "$DIR/q-static"
echo "global.gslb.example.net A" > "$DIR/q-gslb"
# ECS 10.1.0.0/24 (Frankfurt) on every query, static ones included.
ECS="-E 8:00011800${ECS_HEX:-0a0100}"

# check_run KIND DNSPERF_OUTPUT COMPLETED MODULE_ANSWERS: every response
# NOERROR; the module answered each GSLB query (queries dnsperf gave up on
# may still have been answered late, hence >=) and no static one.
check_run() {
	local codes
	codes=$(sed -n 's/^ *Response codes: *//p' <<<"$2")
	[ -n "$3" ] && [ "$3" -gt 0 ] || fail "$1: dnsperf completed no query"$'\n'"$2"
	[[ "$codes" =~ ^NOERROR\ [0-9]+\ \(100\.00%\)$ ]] || fail "$1: response codes '$codes', want only NOERROR"
	if [ "$1" = gslb ]; then
		[ "$4" -ge "$3" ] || fail "gslb: $3 queries answered but the module counted $4"
	else
		[ "$4" -eq 0 ] || fail "static: the module counted $4 answers for a static name"
	fi
}

wait_up() {
	for _ in $(seq 100); do
		kdig @127.0.0.1 -p "$PORT" +short +time=1 +retry=0 static.gslb.example.net A >/dev/null 2>&1 && return
		sleep 0.2
	done
	cat "$DIR/knotd.log"; exit 1
}
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
fail() { echo "bench_module.sh: FAILED: $*" >&2; exit 1; }
# The module's answers so far: mod-haltgslb.answer[A] of knotc zone-stats.
module_answers() {
	local out
	out=$(knotc -c "$DIR/knot.conf" -s "$DIR/run/knot.sock" -t 30 zone-stats gslb.example.net \
		mod-haltgslb 2>&1) || fail "knotc zone-stats: $out"
	awk -F' = ' '/mod-haltgslb\.answer\[A\]/ { n = $2 } END { print n + 0 }' <<<"$out"
}
# check_answers: static is the zone's record; global is the module's answer
# for the ECS client (10.1.0.0/24 is Frankfurt in demo-city.mmdb: the eu
# pool, fra and ams within 20 ms of each other from eu-fra), scope /16.
h=${ECS_HEX:-0a0100}
ECS_ADDR=$(printf '%d.%d.%d.0' "0x${h:0:2}" "0x${h:2:2}" "0x${h:4:2}")
check_answers() {
	local out
	out=$(kdig @127.0.0.1 -p "$PORT" +short +time=5 +retry=1 static.gslb.example.net A 2>&1)
	[ "$out" = 192.0.2.80 ] || fail "static.gslb.example.net A answered '$out', want 192.0.2.80"
	out=$(kdig @127.0.0.1 -p "$PORT" +time=5 +retry=1 +subnet="$ECS_ADDR/24" global.gslb.example.net A 2>&1)
	if [ -z "${ECS_HEX:-}" ]; then
		got=$(awk '$4 == "A" { print $5 }' <<<"$out" | sort | tr '\n' ' ')
		[ "$got" = "198.51.100.10 198.51.100.20 " ] \
			|| fail "global.gslb.example.net A (ECS $ECS_ADDR/24) answered '$got', want 198.51.100.10 198.51.100.20"$'\n'"$out"
	fi
	grep -Eq "CLIENT-SUBNET: $ECS_ADDR/24/1[0-9]" <<<"$out" \
		|| fail "global.gslb.example.net A: no ECS scope from the module"$'\n'"$out"
}

taskset -c 0 knotd -c "$DIR/knot.conf" & PID=$!
wait_up
check_answers
HZ=$(getconf CLK_TCK)
declare -A Q CPU QPS
for kind in static gslb; do Q[$kind]=0; CPU[$kind]=0; QPS[$kind]=0; done
echo "knotd pid $PID on CPU 0, dnsperf on CPU 1, $ROUNDS rounds x ${LEN}s per kind"
for r in $(seq "$ROUNDS"); do
	for kind in static gslb; do
		a0=$(module_answers)
		t0=$(cpu_ticks $PID)
		out=$(taskset -c 1 dnsperf -s 127.0.0.1 -p "$PORT" -d "$DIR/q-$kind" -l "$LEN" -c 4 -q 200 $ECS 2>&1)
		t1=$(cpu_ticks $PID)
		a1=$(module_answers)
		n=$(awk '/Queries completed:/ {print $3}' <<<"$out")
		qps=$(awk '/Queries per second:/ {print $4}' <<<"$out")
		check_run "$kind" "$out" "$n" $((a1 - a0))
		printf 'round %d %-6s %10s queries %12s qps  %8.3f us cpu/query\n' "$r" "$kind" "$n" "$qps" \
			"$(echo "($t1 - $t0) * 1000000 / $HZ / $n" | bc -l)"
		Q[$kind]=$((Q[$kind] + n)); CPU[$kind]=$((CPU[$kind] + t1 - t0))
		QPS[$kind]=$(echo "${QPS[$kind]} + $qps / $ROUNDS" | bc -l)
	done
done
kill $PID; wait $PID 2>/dev/null || true; PID=

if [ "$ROUNDS" -gt 0 ]; then
	s=$(echo "${CPU[static]} * 1000000 / $HZ / ${Q[static]}" | bc -l)
	g=$(echo "${CPU[gslb]} * 1000000 / $HZ / ${Q[gslb]}" | bc -l)
	printf '\n%-8s %12s %16s\n' kind "mean qps" "cpu us/query"
	printf '%-8s %12.0f %16.3f\n' static "${QPS[static]}" "$s" gslb "${QPS[gslb]}" "$g"
	printf 'GSLB/static CPU per query: %.3f (target <= 1.10)\n' "$(echo "$g / $s" | bc -l)"
fi

# Callgrind: instructions per query, same knotd, counters zeroed between kinds.
if command -v valgrind >/dev/null && command -v callgrind_control >/dev/null; then
	echo; echo "callgrind ($CG_QUERIES queries per kind)..."
	valgrind --tool=callgrind --callgrind-out-file="$DIR/cg.%p" knotd -c "$DIR/knot.conf" \
		>/dev/null 2>&1 & PID=$!
	wait_up
	check_answers
	# knotd idles in epoll_wait and callgrind only sees commands while the
	# process runs: poke it with a query of the same kind until it answers.
	cg_cmd() {   # cg_cmd KIND ARGS...
		local kind=$1; shift
		callgrind_control "$@" $PID >/dev/null 2>&1 & local c=$!
		while kill -0 $c 2>/dev/null; do
			kdig @127.0.0.1 -p "$PORT" +time=1 +retry=0 $(cat "$DIR/q-$kind") >/dev/null 2>&1 || true
			sleep 0.1
		done
		wait $c
	}
	declare -A IR
	for kind in static gslb; do
		a0=$(module_answers)
		cg_cmd $kind -z
		awk -v n="$CG_QUERIES" -v q="$(cat "$DIR/q-$kind")" 'BEGIN { for (i = 0; i < n; i++) print q }' \
			> "$DIR/cg-q"
		out=$(dnsperf -s 127.0.0.1 -p "$PORT" -d "$DIR/cg-q" -n 1 -c 1 -q 10 $ECS 2>&1)
		cg_cmd $kind -d "$kind"
		# Counted after the dump: knotc's work stays out of the profile.
		# (The pokes of cg_cmd are queries of the same kind, hence >=.)
		a1=$(module_answers)
		n=$(awk '/Queries completed:/ {print $3}' <<<"$out")
		check_run "$kind" "$out" "$n" $((a1 - a0))
		[ "$n" -eq "$CG_QUERIES" ] || fail "callgrind $kind: $n of $CG_QUERIES queries completed"
		f=$(ls -t "$DIR"/cg.$PID.* | head -1)
		IR[$kind]=$(awk '/^summary:/ {print $2}' "$f")
		[ -n "${CG_KEEP:-}" ] && mkdir -p "$CG_KEEP" && cp "$f" "$CG_KEEP/$kind.cg"
		printf '%-8s %10.0f instructions/query\n' "$kind" "$(echo "${IR[$kind]} / $CG_QUERIES" | bc -l)"
	done
	kill $PID; wait $PID 2>/dev/null || true; PID=
	printf 'GSLB - static: %+.0f instructions/query\n' \
		"$(echo "(${IR[gslb]} - ${IR[static]}) / $CG_QUERIES" | bc -l)"
fi
