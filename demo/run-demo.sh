#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# haltgslb demo: knotd + mod-haltgslb on 127.0.0.1 (unprivileged port) with the
# demo geo databases and demo policy. Shows per-country answers through ECS,
# marks an endpoint down with a synthetic measurement and shows the change.
#
# Usage: demo/run-demo.sh [BUILDDIR]   (default: $top_builddir, else ./)
# Needs: a build (make && make demo-data), knotd, knotc, kdig.
set -eu

SRC=$(cd "$(dirname "$0")/.." && pwd)
B=$(cd "${1:-${top_builddir:-.}}" && pwd)
MOD=$B/knot-module/.libs/haltgslb.so
CTL=$B/haltgslb-ctl
CITY=$B/tests/data/demo-city.mmdb
ASN=$B/tests/data/demo-asn.mmdb
for f in "$MOD" "$CTL" "$CITY" "$ASN"; do
	[ -e "$f" ] || { echo "missing $f: run 'make && make demo-data' in $B" >&2; exit 1; }
done

DIR=$(mktemp -d /tmp/haltgslb-demo.XXXXXX)
PORT=$((20000 + $(od -An -N2 -tu2 /dev/urandom) % 20000))
KNOTD_PID=
cleanup() {
	[ -n "$KNOTD_PID" ] && kill "$KNOTD_PID" 2>/dev/null && wait "$KNOTD_PID" 2>/dev/null
	rm -rf "$DIR"
}
trap cleanup EXIT INT TERM

# A module built with sanitizers needs their runtime preloaded into knotd.
PRELOAD=$(ldd "$MOD" | awk '/lib(a|ub)san/ {printf "%s%s", sep, $3; sep=":"}')

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
q() {   # q NAME TYPE SUBNET LABEL
	printf '%-34s %-5s ECS %-14s -> ' "$4" "$2" "$3"
	kdig @127.0.0.1 -p "$PORT" +subnet="$3" +noall +answer +opt "$1" "$2" |
		awk '/CLIENT-SUBNET/ {scope=$3} $4 ~ /^(A|AAAA|CNAME)$/ {a = a " " $5; ttl=$2}
		     END {printf "%s (ttl %s, ecs %s)\n", a == "" ? " (none)" : a, ttl, scope}'
}

say "policy -> LMDB ($DIR/db)"
"$CTL" load --db "$DIR/db" "$SRC/demo/policy.yaml"
# Every prober sees every endpoint up, with plausible latencies.
for m in "eu-fra waf-fra-aws 4" "eu-fra waf-ams-gcp 9" "eu-fra waf-sin-aws 160" "eu-fra waf-jkt-azure 170" \
         "eu-fra waf-iad-aws 90" "eu-fra cdn-b 40" "ap-sin waf-fra-aws 160" "ap-sin waf-ams-gcp 165" \
         "ap-sin waf-sin-aws 3" "ap-sin waf-jkt-azure 18" "ap-sin waf-iad-aws 220" "ap-sin cdn-b 40" \
         "us-iad waf-fra-aws 90" "us-iad waf-ams-gcp 85" "us-iad waf-sin-aws 220" "us-iad waf-jkt-azure 230" \
         "us-iad waf-iad-aws 4" "us-iad cdn-b 40"; do
	set -- $m
	"$CTL" measure --prober "$1" --db "$DIR/db" --up --rtt "$3ms" "$2" >/dev/null
done

cp "$SRC/demo/gslb.example.net.zone" "$DIR/gslb.zone"
"$CTL" zone-records "$SRC/demo/policy.yaml" | sed 's/;.*//; /^ *$/d' >> "$DIR/gslb.zone"

mkdir -p "$DIR/run" "$DIR/storage"
cat > "$DIR/knot.conf" <<CONF
server:
    rundir: $DIR/run
    listen: 127.0.0.1@$PORT
    edns-client-subnet: on
log:
  - target: $DIR/knotd.log
    any: info
database:
    storage: $DIR/storage
module:
  - id: mod-haltgslb
    file: $MOD
mod-haltgslb:
  - id: default
    database: $DIR/db
    geoip: $CITY
    asn-db: $ASN
zone:
  - domain: gslb.example.net
    file: $DIR/gslb.zone
    module: mod-haltgslb/default
CONF

say "knotd with mod-haltgslb on 127.0.0.1@$PORT"
LD_PRELOAD=$PRELOAD ASAN_OPTIONS=detect_leaks=0 knotd -c "$DIR/knot.conf" &
KNOTD_PID=$!
i=0
until kdig @127.0.0.1 -p "$PORT" +short +time=1 +retry=0 ns1.gslb.example.net A >/dev/null 2>&1; do
	i=$((i + 1)); [ $i -lt 50 ] || { cat "$DIR/knotd.log"; exit 1; }; sleep 0.2
done
grep -h "mod-haltgslb" "$DIR/knotd.log" || true

say "global.gslb.example.net: geofence + lowest latency, per client country (ECS)"
q global.gslb.example.net A 10.1.0.0/24   "Frankfurt, DE"
q global.gslb.example.net A 10.6.0.0/24   "Amsterdam, NL"
q global.gslb.example.net A 10.2.0.0/24   "Jakarta, ID (stays in-country)"
q global.gslb.example.net A 10.3.0.0/24   "Singapore, SG"
q global.gslb.example.net A 10.4.0.0/24   "Ashburn, US"
q global.gslb.example.net AAAA 10.4.0.0/24 "Ashburn, US"

say "nearest.gslb.example.net: pure proximity"
for c in "10.1.0.0/24 Frankfurt, DE" "10.3.0.0/24 Singapore, SG" "10.4.0.0/24 Ashburn, US" "10.11.0.0/24 Sydney, AU"; do
	set -- $c; net=$1; shift
	q nearest.gslb.example.net A "$net" "$*"
done
q dr.gslb.example.net A 10.4.0.0/24 "dr (client-independent, scope 0)"

say "waf-fra-aws goes down (synthetic measurement from every prober)"
for p in eu-fra ap-sin us-iad; do
	"$CTL" measure --prober "$p" --db "$DIR/db" --down waf-fra-aws >/dev/null
done
q global.gslb.example.net A 10.1.0.0/24   "Frankfurt, DE"
q nearest.gslb.example.net A 10.1.0.0/24  "Frankfurt, DE"
q dr.gslb.example.net A 10.4.0.0/24       "dr"

say "waf-ams-gcp drained too: EU traffic leaves Europe"
"$CTL" drain --db "$DIR/db" waf-ams-gcp >/dev/null
q global.gslb.example.net A 10.1.0.0/24   "Frankfurt, DE"
q dr.gslb.example.net A 10.4.0.0/24       "dr (fails over to us)"

say "counters: knotc zone-stats gslb.example.net mod-haltgslb"
ASAN_OPTIONS=verify_asan_link_order=0 knotc -c "$DIR/knot.conf" -s "$DIR/run/knot.sock" \
	zone-stats gslb.example.net mod-haltgslb
