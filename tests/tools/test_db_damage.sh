#!/usr/bin/env bash
# Every tool on a truncated, zeroed or emptied data.mdb exits 1 with a clear
# message (what is wrong, how to rebuild), never a signal; the prober whose
# database is truncated under it exits 1 with a message; and the runbook's
# rebuild (load into a fresh directory, swap) gives a working database.
set -u
. "$top_srcdir/tests/tools/tap.sh"
CTL="$top_builddir/haltgslb-ctl"
DUMP="$top_builddir/haltgslb-dump"
PROBER="$top_builddir/haltgslb-prober"
REF="$top_srcdir/tests/unit/policies/reference.yaml"
CITY="$HG_TEST_DATA/test-city.mmdb"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
db="$tmp/db"
PAGE=4096

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

# The runbook: rebuild into a fresh directory, swap, and everything works.
damage truncated
"$CTL" load "$REF" --db "$tmp/db.new" >/dev/null 2>&1 &&
	mv "$db" "$tmp/db.broken" && mv "$tmp/db.new" "$db" &&
	"$CTL" status --db "$db" >"$tmp/out" 2>&1 && "$DUMP" --db "$db" >/dev/null 2>&1
ok $? "rebuilt into a fresh directory and swapped in: status and dump work"
diag < "$tmp/out"

done_testing
