#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Query cost and write cost at scale (issue 13). A benchmark, not a test: it
# prints figures next to their targets and fails only when something it
# needs is missing or an answer is wrong. `make bench-scale` runs it on the
# build directory (use a plain build: no sanitizers).
#
#  1. Instructions per query (callgrind, knotd with 1 UDP worker, every query
#     with ECS): Knot static; a static name through mod-haltgslb; each chain
#     kind (nearest, latency, sticky, multi) at 10 and 64 endpoints x 5 and 20
#     probers, hot (one name, one client network) and cold (a different name
#     of 1,000 and a different client network of the 20,000-record mmdb on
#     every query); Knot's mod-geoip under the same cold queries.
#  2. knotd CPU per query against Knot static (dnsperf; knotd pinned to CPU 0,
#     dnsperf to CPU 1, kinds interleaved; utime+stime from /proc).
#  3. For 1,000 and 100,000 names over 10 endpoints: haltgslb-ctl load time
#     and peak RSS, data.mdb size, knotd RSS before and after one query per
#     name, and the time to apply and commit one 1,000-record batch.
#
# Usage: tests/bench/bench_scale.sh [BUILDDIR]
#   env: CG_HOT=5000 CG_COLD=20000 (queries per callgrind kind), ROUNDS=2
#        SECONDS_PER_RUN=3 (CPU part; ROUNDS=0 skips it), SCALE="1000 100000"
#        (SCALE= skips part 3), PARTS="cg cpu scale", KEEP=DIR keeps the
#        work directory (databases, profiles) in DIR.
set -euo pipefail

SRC=$(cd "$(dirname "$0")/../.." && pwd)
B=$(cd "${1:-${top_builddir:-.}}" && pwd)
CG_HOT=${CG_HOT:-5000}
CG_COLD=${CG_COLD:-20000}
ROUNDS=${ROUNDS:-2}
LEN=${SECONDS_PER_RUN:-3}
SCALE=${SCALE-1000 100000}
PARTS=${PARTS:-cg cpu scale}
PY=/usr/bin/python3
GEN="$PY $SRC/tests/bench/bench_scale_gen.py"
MOD=$B/knot-module/.libs/haltgslb.so
CTL=$B/haltgslb-ctl
BW=$B/tests/bench/bench_writer
# Debian's knotd loads its shared modules (mod-geoip) from this directory.
GEOIP_SO=$(ls /usr/lib/x86_64-linux-gnu/knot/modules-*/geoip.so 2>/dev/null | head -1 || true)
for f in "$MOD" "$CTL" "$BW"; do [ -x "$f" ] || [ -e "$f" ] || { echo "missing $f" >&2; exit 1; }; done
[ -n "$GEOIP_SO" ] || { echo "needs Knot's mod-geoip (Debian package knot-module-geoip)" >&2; exit 1; }
for t in dnsperf knotd kdig taskset valgrind callgrind_control perl bc; do
	command -v $t >/dev/null || { echo "needs $t" >&2; exit 1; }
done
if ldd "$MOD" | grep -q libasan; then echo "module built with sanitizers: use a plain build" >&2; exit 1; fi
# The map of the old layout fills at 100k names; the figures are what they are.
export HG_STORE_MAPSIZE=${HG_STORE_MAPSIZE:-17179869184}

DIR=${KEEP:-$(mktemp -d /tmp/haltgslb-scale.XXXXXX)}
mkdir -p "$DIR"
PORT=$((20000 + RANDOM % 20000))
PID=
cleanup() {
	[ -n "$PID" ] && kill "$PID" 2>/dev/null
	wait 2>/dev/null || true
	[ -n "${KEEP:-}" ] || rm -rf "$DIR"
}
trap cleanup EXIT INT TERM
log() { echo "[$(date +%T)] $*" >&2; }

# ---- inputs --------------------------------------------------------------
log "inputs in $DIR"
$GEN geo "$DIR/geo.txt" 20000
perl "$SRC/tests/geo/mkmmdb.pl" --city "$DIR/city.mmdb" "$DIR/geo.txt"
HOT_NET=10.0.0.0     # a Frankfurt-area network of the mapping (DE, EU)

# Measurements go in while only one name exists (a load then builds every
# view from them at once): writing them under 8,000 names would patch 8,000
# views per record.
load_filled() {   # load_filled DB FILL_POLICY POLICY
	"$CTL" load --db "$1" "$2" >/dev/null
	"$BW" fill "$1" >/dev/null
	"$CTL" load --db "$1" "$3" >/dev/null
}
for P in 5 20; do
	$GEN policy "$DIR/p$P.yaml" $P
	$GEN fillpolicy "$DIR/f$P.yaml" $P
	load_filled "$DIR/db$P" "$DIR/f$P.yaml" "$DIR/p$P.yaml"
	$GEN zone "$DIR/p$P.zone" "p$P.bench." 1000 static
done
$GEN zone "$DIR/static.zone" static.bench. 1000 static
$GEN zone "$DIR/geoip.zone" geoip.bench. 0
$GEN geoipconf "$DIR/geoip.conf" geoip.bench. 1000

# Query sets: NAME PATTERN ({i} = name index).
declare -A PAT
PAT[static]='s{i}.static.bench.'
PAT[static8]='m{i}.static.bench.'
PAT[pass]='s{i}.p5.bench.'
PAT[geoip]='g{i}.geoip.bench.'
CONFIGS=()
for P in 5 20; do for S in 10 64; do for K in nearest latency sticky multi; do
	CONFIGS+=("$K$S-p$P"); PAT[$K$S-p$P]="n{i}.$K$S.p$P.bench."
done; done; done
gen_queries() {   # gen_queries KIND hot|cold COUNT
	local f="$DIR/q-$1-$2.bin"
	[ -e "$f" ] || $GEN queries "$f" "$2" "${PAT[$1]}" "$3" "$DIR/geo.txt" "$HOT_NET"
	echo "$f"
}

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
  - id: p5
    database: $DIR/db5
    geoip: $DIR/city.mmdb
  - id: p20
    database: $DIR/db20
    geoip: $DIR/city.mmdb
mod-geoip:
  - id: geo
    config-file: $DIR/geoip.conf
    mode: geodb
    geodb-file: $DIR/city.mmdb
    geodb-key: [ continent/code, country/iso_code ]
zone:
  - domain: static.bench.
    file: $DIR/static.zone
  - domain: p5.bench.
    file: $DIR/p5.zone
    module: mod-haltgslb/p5
  - domain: p20.bench.
    file: $DIR/p20.zone
    module: mod-haltgslb/p20
  - domain: geoip.bench.
    file: $DIR/geoip.zone
    module: mod-geoip/geo
CONF

wait_up() {
	for _ in $(seq 150); do
		kill -0 "$PID" 2>/dev/null || { echo "knotd exited" >&2; cat "$DIR"/knotd.log "$DIR"/valgrind.log >&2 2>/dev/null; exit 1; }
		kdig @127.0.0.1 -p "$PORT" +short +time=1 +retry=0 s0.static.bench. A >/dev/null 2>&1 && return
		sleep 0.2
	done
	cat "$DIR/knotd.log" >&2; exit 1
}
stop_knotd() { kill "$PID"; wait "$PID" 2>/dev/null || true; PID=; }

# Every answer must be an answer: a benchmark of SERVFAILs or pass-throughs
# would measure nothing.
check_answers() {
	local bad=0
	for k in static static8 pass geoip "${CONFIGS[@]}"; do
		local name=${PAT[$k]//\{i\}/0}
		local a
		a=$(kdig @127.0.0.1 -p "$PORT" +short +time=2 +subnet=$HOT_NET/24 "$name" A 2>&1 | head -1)
		case "$a" in [0-9]*.[0-9]*.[0-9]*.[0-9]*) ;; *) echo "no address for $name: '$a'" >&2; bad=1;; esac
	done
	[ $bad = 0 ] || { cat "$DIR/knotd.log" >&2; exit 1; }
}

fmt() { printf "%'.0f" "$1"; }
declare -A IR

# ---- 1. callgrind --------------------------------------------------------
if [[ " $PARTS " == *" cg "* ]]; then
	log "callgrind: $CG_HOT hot / $CG_COLD cold queries per kind"
	valgrind --tool=callgrind --callgrind-out-file="$DIR/cg.%p" knotd -c "$DIR/knot.conf" \
		>"$DIR/valgrind.log" 2>&1 & PID=$!
	wait_up
	check_answers
	# callgrind reads commands only while knotd runs: poke it with queries.
	cg_cmd() {
		callgrind_control "$@" $PID >/dev/null 2>&1 & local c=$!
		while kill -0 $c 2>/dev/null; do
			kdig @127.0.0.1 -p "$PORT" +time=1 +retry=0 s0.static.bench. A >/dev/null 2>&1 || true
			sleep 0.1
		done
		wait $c
	}
	cg_run() {   # cg_run KIND hot|cold COUNT
		local q; q=$(gen_queries "$1" "$2" "$3")
		cg_cmd -z
		local out
		out=$(dnsperf -B -s 127.0.0.1 -p "$PORT" -d "$q" -n 1 -c 1 -q 20 -t 10 2>&1)
		cg_cmd -d "$1-$2"
		local f; f=$(ls -t "$DIR"/cg.$PID.* | head -1)
		local n; n=$(awk '/Queries completed:/ {print $3}' <<<"$out")
		[ "$n" = "$3" ] || { echo "$1 $2: $n of $3 queries answered" >&2; echo "$out" >&2; exit 1; }
		local ir; ir=$(awk '/^summary:/ {print $2}' "$f")
		IR[$1-$2]=$(echo "$ir / $3" | bc)
		mv "$f" "$DIR/cg-$1-$2.out"
		log "$1 $2: ${IR[$1-$2]} instructions/query"
	}
	for k in static static8 pass geoip; do
		cg_run $k hot "$CG_HOT"
		cg_run $k cold "$CG_COLD"
	done
	for k in "${CONFIGS[@]}"; do
		cg_run "$k" hot "$CG_HOT"
		cg_run "$k" cold "$CG_COLD"
	done
	stop_knotd
fi

# ---- 2. CPU per query (dnsperf) -------------------------------------------
declare -A CPU Q
if [[ " $PARTS " == *" cpu "* ]] && [ "$ROUNDS" -gt 0 ]; then
	CPU_KINDS="static-hot static-cold nearest10-p5-hot nearest10-p5-cold latency10-p5-hot"
	CPU_KINDS+=" latency10-p5-cold sticky10-p5-hot multi10-p5-hot nearest64-p20-hot geoip-cold"
	log "CPU: $ROUNDS rounds x ${LEN}s per kind"
	taskset -c 0 knotd -c "$DIR/knot.conf" & PID=$!
	wait_up
	check_answers
	HZ=$(getconf CLK_TCK)
	ticks() { awk '{print $14 + $15}' "/proc/$PID/stat"; }
	for k in $CPU_KINDS; do CPU[$k]=0; Q[$k]=0; gen_queries "${k%-*}" "${k##*-}" \
		"$([ "${k##*-}" = hot ] && echo 1000 || echo 20000)" >/dev/null; done
	for r in $(seq "$ROUNDS"); do
		for k in $CPU_KINDS; do
			t0=$(ticks)
			out=$(taskset -c 1 dnsperf -B -s 127.0.0.1 -p "$PORT" -d "$DIR/q-$k.bin" -l "$LEN" \
				-c 4 -q 200 2>&1)
			t1=$(ticks)
			n=$(awk '/Queries completed:/ {print $3}' <<<"$out")
			CPU[$k]=$((CPU[$k] + t1 - t0)); Q[$k]=$((Q[$k] + n))
		done
	done
	stop_knotd
fi

# ---- 3. scale ------------------------------------------------------------
declare -A SC
if [[ " $PARTS " == *" scale "* ]]; then
	for N in $SCALE; do
		log "scale: $N names"
		$GEN scale "$DIR/sc$N.yaml" "$N"
		$GEN scale "$DIR/scf.yaml" 1
		db=$DIR/sc$N
		"$CTL" load --db "$db" "$DIR/scf.yaml" >/dev/null
		"$BW" fill "$db" >/dev/null
		t=$( { /usr/bin/time -f '%e %M' "$CTL" load --db "$db" "$DIR/sc$N.yaml" >/dev/null; } 2>&1 | tail -1)
		SC[$N-load-s]=${t% *}; SC[$N-load-mb]=$(( ${t#* } / 1024 ))
		SC[$N-mdb-mb]=$(( $(stat -c %s "$db/data.mdb") / 1048576 ))
		b=$("$BW" batch "$db" 1000)
		SC[$N-batch]=$(sed 's/.*total \([0-9.]*\) ms/\1/' <<<"$b")
		SC[$N-batch-detail]=$(sed 's/^batch 1000 records: //' <<<"$b")
		# knotd RSS: started on the database, then one query for every name.
		$GEN zone "$DIR/scale.zone" scale.bench. 1 static
		sed -e "s|$DIR/db5|$db|; s|domain: p5.bench.|domain: scale.bench.|; s|$DIR/p5.zone|$DIR/scale.zone|" \
			"$DIR/knot.conf" > "$DIR/knot-scale.conf"
		knotd -c "$DIR/knot-scale.conf" & PID=$!
		wait_up
		kdig @127.0.0.1 -p "$PORT" +short +subnet=$HOT_NET/24 app0.scale.bench. A >/dev/null
		rss0=$(awk '/VmRSS/ {print $2}' /proc/$PID/status)
		$GEN names "$DIR/names$N.txt" 'app{i}.scale.bench.' "$N"
		dnsperf -s 127.0.0.1 -p "$PORT" -d "$DIR/names$N.txt" -n 1 -c 4 -q 200 \
			-E "8:00011800$(printf '%02x%02x%02x' 10 0 0)" >/dev/null 2>&1
		rss1=$(awk '/VmRSS/ {print $2}' /proc/$PID/status)
		stop_knotd
		SC[$N-rss0]=$((rss0 / 1024)); SC[$N-rss1]=$((rss1 / 1024))
		rm -rf "$db"
	done
fi

# ---- report ----------------------------------------------------------------
echo
echo "== bench_scale: $(date -u +%Y-%m-%dT%H:%MZ), $(knotd -V 2>&1 | head -1), $(nproc) CPUs"
if [ -n "${IR[static-hot]:-}" ]; then
	echo
	echo "Instructions per query (callgrind, knotd, ECS on every query; hot: one name and"
	echo "one client network; cold: a new name of 1,000 and a new network of 20,000 per query)"
	echo
	printf '%-22s %9s %9s %9s %9s  %s\n' kind hot "+static" cold "+static" "targets"
	st_h=${IR[static-hot]}; st_c=${IR[static-cold]}; geo_c=${IR[geoip-cold]}
	row() {   # row LABEL KEY TARGET_HOT_DELTA
		local h=${IR[$2-hot]} c=${IR[$2-cold]} t=""
		[ -n "$3" ] && t="hot +static <= +$3 ($([ $((h - st_h)) -le "$3" ] && echo met || echo MISSED)); "
		if [ "$2" != static ] && [ "$2" != static8 ] && [ "$2" != geoip ]; then
			t+="cold <= geoip cold $(fmt "$geo_c") ($([ "$c" -le "$geo_c" ] && echo met || echo MISSED))"
		fi
		printf '%-22s %9s %+9d %9s %+9d  %s\n' "$1" "$(fmt "$h")" $((h - st_h)) "$(fmt "$c")" \
			$((c - st_c)) "$t"
	}
	row "Knot static" static ""
	row "Knot static, 8 A" static8 ""
	row "static via module" pass ""
	row "Knot mod-geoip" geoip ""
	for P in 5 20; do for S in 10 64; do for K in nearest latency sticky multi; do
		tgt=""
		if [ "$S$P" = 105 ] && [ $K = nearest ]; then tgt=1000; fi
		if [ "$S$P" = 105 ] && [ $K = latency ]; then tgt=1500; fi
		if [ "$S$P" = 6420 ]; then tgt=3000; fi
		row "$K ${S}ep x ${P}pr" "$K$S-p$P" "$tgt"
	done; done; done
	echo
	echo "chains: nearest [up, geofence, nearest, first 1]; latency [up, geofence,"
	echo "lowest-latency 20ms, first 2]; sticky [up, weighted sticky, first 1];"
	echo "multi [up, round-robin, first 8]. mod-geoip: geodb keys continent/code,"
	echo "country/iso_code, one view per country and continent. \"Knot static, 8 A\":"
	echo "a static name of 8 addresses, what Knot itself spends on multi's answer size"
	echo "(targets are against the 1-address static row all the same)."
fi
if [ -n "${CPU[static-hot]:-}" ]; then
	echo
	echo "knotd CPU per query (dnsperf, knotd on CPU 0, dnsperf on CPU 1, $ROUNDS x ${LEN}s per kind, interleaved)"
	echo
	HZ=$(getconf CLK_TCK)
	printf '%-20s %10s %12s %8s\n' kind queries "cpu us/query" "/static"
	for k in $CPU_KINDS; do
		us=$(echo "${CPU[$k]} * 1000000 / $HZ / ${Q[$k]}" | bc -l)
		base=static-${k##*-}
		bus=$(echo "${CPU[$base]} * 1000000 / $HZ / ${Q[$base]}" | bc -l)
		printf '%-20s %10d %12.3f %8.3f\n' "$k" "${Q[$k]}" "$us" "$(echo "$us / $bus" | bc -l)"
	done
	echo "(target: GSLB answer <= 1.10 x static, DESIGN.md)"
fi
for N in $SCALE; do
	[ -n "${SC[$N-load-s]:-}" ] || continue
	[ "$N" = 100000 ] && tl=" (target <= 3 s, <= 300 MB)" tm=" (target <= 200 MB)" \
		tr=" (target growth <= 100 MB)" tb=" (target <= 20 ms)" || tl= tm= tr= tb=
	echo
	echo "$N names over 10 endpoints, 5 probers:"
	echo "  haltgslb-ctl load:        ${SC[$N-load-s]} s, peak RSS ${SC[$N-load-mb]} MB$tl"
	echo "  data.mdb:                 ${SC[$N-mdb-mb]} MB$tm"
	echo "  knotd RSS:                ${SC[$N-rss0]} MB at start, ${SC[$N-rss1]} MB after one query per name$tr"
	echo "  1,000-record batch:       ${SC[$N-batch]} ms (${SC[$N-batch-detail]})$tb"
done
