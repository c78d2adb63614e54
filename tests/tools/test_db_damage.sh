#!/usr/bin/env bash
# Every tool on a truncated, zeroed or emptied data.mdb exits 1 with a clear
# message (what is wrong, how to rebuild), never a signal; the prober and
# haltgslb-syncd whose database is truncated under them exit 1 with a
# message; and the runbook's
# rebuild (load into a fresh directory, swap) gives a working database.
set -u
. "$top_srcdir/tests/tools/tap.sh"
CTL="$top_builddir/haltgslb-ctl"
DUMP="$top_builddir/haltgslb-dump"
PROBER="$top_builddir/haltgslb-prober"
SYNCD="$top_builddir/haltgslb-syncd"
REF="$top_srcdir/tests/unit/policies/reference.yaml"
CITY="$HG_TEST_DATA/test-city.mmdb"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
db="$tmp/db"
PAGE=4096
# syncd checks its TLS files before it opens the database: a self-signed
# pair; its broker (a closed port on loopback) is never reached.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=dns-1 \
	-keyout "$tmp/key.pem" -out "$tmp/cert.pem" >/dev/null 2>&1
SYNCD_TLS="--broker amqps://127.0.0.1:1 --tls-cert $tmp/cert.pem --tls-key $tmp/key.pem --tls-ca $tmp/cert.pem"

"$CTL" load "$REF" --db "$db" >/dev/null 2>&1
ok $? "load the reference policy"
cp "$db/data.mdb" "$tmp/good.mdb"

damage() { # KIND: restore the good file, then damage it
	cp "$tmp/good.mdb" "$db/data.mdb"
	case "$1" in
	truncated) truncate -s $((3 * PAGE)) "$db/data.mdb" ;;
	metas-only) truncate -s $((2 * PAGE)) "$db/data.mdb" ;;
	zeroed) dd if=/dev/zero of="$db/data.mdb" bs=$PAGE count=2 conv=notrunc status=none ;;
	empty) : > "$db/data.mdb" ;;
	esac
}

# KIND  words the message must contain
cases=(
	"truncated|truncated|haltgslb-ctl load POLICY --db NEWDIR"
	"metas-only|truncated|haltgslb-ctl load POLICY --db NEWDIR"
	"zeroed|not an LMDB meta page|haltgslb-ctl load POLICY --db NEWDIR"
	"empty|data.mdb is empty|haltgslb-ctl load"
)
tools=(
	"ctl status|$CTL status --db $db"
	"ctl explain|$CTL explain global.gslb.example.net --client 10.1.0.1 --geoip $CITY --db $db"
	"ctl load|$CTL load $REF --db $db"
	"ctl drain|$CTL drain waf-fra-aws --db $db"
	"dump|$DUMP --db $db"
	"prober|$PROBER --id eu-fra --db $db --foreground"
	"syncd|$SYNCD --db $db --foreground $SYNCD_TLS"
)
for c in "${cases[@]}"; do
	IFS='|' read -r kind word1 word2 <<<"$c"
	for t in "${tools[@]}"; do
		IFS='|' read -r name cmd <<<"$t"
		damage "$kind"
		timeout 20 $cmd >"$tmp/out" 2>&1
		rc=$?
		[ "$rc" -eq 1 ] && grep -qF "$word1" "$tmp/out" && grep -qF "$word2" "$tmp/out"
		ok $? "$name on a $kind data.mdb: exit 1 (got $rc), says '$word1' and '$word2'"
		diag < "$tmp/out"
	done
done

# The database truncated under a running prober: a message and exit 1.
cat > "$tmp/mini.yaml" <<'YAML'
version: 1
probers: [{id: p1, location: {lat: 1, lon: 2}}]
pools: [{id: a, endpoints: [{id: e1, address: 127.0.0.1, check: {type: tcp, port: 9, interval: 100ms, timeout: 50ms}}]}]
names: [{name: x.example., pools: [a], chain: [up]}]
YAML
"$CTL" load "$tmp/mini.yaml" --db "$tmp/pdb" >/dev/null 2>&1
"$PROBER" --id p1 --db "$tmp/pdb" --foreground >"$tmp/perr" 2>&1 &
ppid=$!
for _ in $(seq 50); do
	[ "$("$DUMP" --db "$tmp/pdb" measurements 2>/dev/null | grep -c e1)" -gt 0 ] && break
	sleep 0.1
done
truncate -s $((2 * PAGE)) "$tmp/pdb/data.mdb"
for _ in $(seq 100); do
	kill -0 $ppid 2>/dev/null || break
	sleep 0.1
done
kill -KILL $ppid 2>/dev/null
wait $ppid
rc=$?
[ "$rc" -eq 1 ] && grep -q "read fault (SIGBUS) in a mapped file: the database was truncated while in use" "$tmp/perr"
ok $? "prober whose database is truncated under it: message, exit 1 (got $rc)"
diag < "$tmp/perr"

# The same under a running syncd (waiting for its broker, reading the
# database every 250 ms for the policy): a message and exit 1.
"$CTL" load "$tmp/mini.yaml" --db "$tmp/sdb" >/dev/null 2>&1
"$SYNCD" --db "$tmp/sdb" --foreground $SYNCD_TLS >"$tmp/serr" 2>&1 &
spid=$!
for _ in $(seq 100); do
	grep -q 'no broker' "$tmp/serr" && break
	sleep 0.1
done
truncate -s $((2 * PAGE)) "$tmp/sdb/data.mdb"
for _ in $(seq 100); do
	kill -0 $spid 2>/dev/null || break
	sleep 0.1
done
kill -KILL $spid 2>/dev/null
wait $spid
rc=$?
[ "$rc" -eq 1 ] && grep -q "read fault (SIGBUS) in a mapped file: the database was truncated while in use" "$tmp/serr"
ok $? "syncd whose database is truncated under it: message, exit 1 (got $rc)"
diag < "$tmp/serr"

# The runbook: rebuild into a fresh directory, swap, and everything works.
damage truncated
"$CTL" load "$REF" --db "$tmp/db.new" >/dev/null 2>&1 &&
	mv "$db" "$tmp/db.broken" && mv "$tmp/db.new" "$db" &&
	"$CTL" status --db "$db" >"$tmp/out" 2>&1 && "$DUMP" --db "$db" >/dev/null 2>&1
ok $? "rebuilt into a fresh directory and swapped in: status and dump work"
diag < "$tmp/out"

done_testing
