#!/usr/bin/env bash
# haltgslb-ctl and haltgslb-dump end to end: validate, load, dump, a broken
# policy over a good one, drain/measure, status, explain, zone-records.
# pipefail: a tool that fails (or a sanitizer that aborts it) inside a pipe
# must fail the check, not hide behind the exit of grep or python.
set -uo pipefail
. "$top_srcdir/tests/tools/tap.sh"
CTL="$top_builddir/haltgslb-ctl"
DUMP="$top_builddir/haltgslb-dump"
REF="$top_srcdir/tests/unit/policies/reference.yaml"
CITY="$HG_TEST_DATA/test-city.mmdb"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
db="$tmp/db"

# status_has PATTERN: `haltgslb-ctl status` exits 0 and a line matches the
# extended regex. Through a file, not a pipe into grep -q: grep exiting at the
# first match could make status die of SIGPIPE.
status_has() {
	"$CTL" status --db "$db" >"$tmp/status" 2>&1 && grep -Eq "$1" "$tmp/status"
}

# --help on every subcommand, exit 0.
for c in validate load status drain undrain force-up measure explain zone-records; do
	"$CTL" "$c" --help >/dev/null 2>&1
	ok $? "haltgslb-ctl $c --help"
done
"$DUMP" --help >/dev/null 2>&1
ok $? "haltgslb-dump --help"
"$CTL" frobnicate >/dev/null 2>&1
[ $? -eq 2 ]; ok $? "unknown command is a usage error (exit 2)"

# validate: the reference policy is valid.
"$CTL" validate "$REF" >"$tmp/out" 2>&1
ok $? "validate reference policy exits 0"

# validate: weight -> wieght gives FILE:LINE:COL of the first occurrence.
sed '0,/weight: 100/s//wieght: 100/' "$REF" > "$tmp/bad.yaml"
line=$(grep -n 'wieght' "$tmp/bad.yaml" | head -n1 | cut -d: -f1)
col=$(awk -v l="$line" 'NR==l { print index($0, "wieght") }' "$tmp/bad.yaml")
"$CTL" validate "$tmp/bad.yaml" >"$tmp/out" 2>&1
rc=$?
[ $rc -ne 0 ]; ok $? "validate with 'wieght' exits non-zero ($rc)"
grep -q "^$tmp/bad.yaml:$line:$col: .*wieght" "$tmp/out"
ok $? "error names $tmp/bad.yaml:$line:$col and the key"
diag < "$tmp/out"

# load the reference policy; dump --json shows 6 endpoints, 3 probers, 5 names.
"$CTL" load "$REF" --db "$db" >"$tmp/out" 2>&1
ok $? "load reference policy"
"$DUMP" --db "$db" --json > "$tmp/dump.json" 2>"$tmp/err"
ok $? "haltgslb-dump --json exits 0"
python3 -m json.tool "$tmp/dump.json" >/dev/null
ok $? "dump --json is valid JSON"
python3 - "$tmp/dump.json" <<'PY' 2>&1 | diag
import json, sys
d = json.load(open(sys.argv[1]))
def count(db):
    v = d[db]
    return len(v) if isinstance(v, (list, dict)) else -1
print("endpoints", count("endpoints"), "probers", count("probers"), "names", count("names"))
PY
python3 - "$tmp/dump.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
eps, probers, names = d["endpoints"], d["probers"], d["names"]
assert len(eps) == 6 and len(probers) == 3 and len(names) == 5, (len(eps), len(probers), len(names))
text = json.dumps(d)
# decoded fields, never raw bytes
for needle in ["waf-fra-aws", "198.51.100.10", "2001:db8:10::10", "global.gslb.example.net.",
               "app.cdn-b.example.org.", "eu-fra"]:
    assert needle in text, needle
PY
ok $? "dump shows 6 endpoints, 3 probers, 5 names with decoded names and addresses"

# Exact modes whatever the umask: knotd's group reads the directory and
# data.mdb and writes its reader slot in lock.mdb, nothing else.
( umask 077; "$CTL" load "$REF" --db "$tmp/gdb" >/dev/null 2>&1 )
[ "$(stat -c %a "$tmp/gdb/data.mdb")" = 640 ] && [ "$(stat -c %a "$tmp/gdb/lock.mdb")" = 660 ] \
	&& [ "$(stat -c %a "$tmp/gdb")" = 750 ]
ok $? "load under umask 077 creates the directory 0750, data.mdb 0640, lock.mdb 0660"

# A broken policy over the good one leaves the good one intact.
"$DUMP" --db "$db" --json > "$tmp/before.json" 2>/dev/null
rc_before=$?
"$CTL" load "$tmp/bad.yaml" --db "$db" >"$tmp/out" 2>&1
[ $? -ne 0 ]; ok $? "loading a broken policy fails"
grep -q "unchanged" "$tmp/out"; ok $? "and says the database is unchanged"
"$DUMP" --db "$db" --json > "$tmp/after.json" 2>/dev/null
rc_after=$?
[ $rc_before -eq 0 ] && [ $rc_after -eq 0 ] && [ -s "$tmp/before.json" ] && cmp -s "$tmp/before.json" "$tmp/after.json"
ok $? "database byte-for-byte the same after the failed load (dumps exit $rc_before, $rc_after)"

# drain / measure / status
"$CTL" drain waf-fra-aws --db "$db" --reason test >/dev/null 2>&1
ok $? "drain waf-fra-aws"
status_has "waf-fra-aws.*drained"; ok $? "status shows the drain"
"$CTL" status --db "$db" --json | python3 -m json.tool >/dev/null 2>&1
ok $? "status --json is valid JSON"
"$CTL" load "$REF" --db "$db" >"$tmp/out" 2>&1
rc=$?
[ $rc -eq 0 ] && grep -q "generation 2" "$tmp/out" && status_has "waf-fra-aws.*drained"
ok $? "drain survives a policy reload (load exits $rc)"
diag < "$tmp/out"
"$CTL" undrain waf-fra-aws --db "$db" >/dev/null 2>&1
ok $? "undrain"
"$CTL" drain waf-fra-aws --db "$db" --reason "$(printf '%0200d' 0)" >"$tmp/out" 2>&1
[ $? -eq 2 ] && grep -q "longer than 127" "$tmp/out"; ok $? "a drain reason too long for the record is refused, not cut"
"$CTL" drain no-such-endpoint --db "$db" >"$tmp/out" 2>&1
[ $? -eq 1 ] && grep -q "unknown endpoint" "$tmp/out"; ok $? "drain of an unknown endpoint fails clearly"
"$CTL" measure waf-sin-aws --prober ap-sin --db "$db" --down --rtt 30ms >/dev/null 2>&1
ok $? "measure writes a synthetic measurement"
status_has "waf-sin-aws.*down"
ok $? "status shows the endpoint down"
status_has "ap-sin.*fresh"
ok $? "status shows the prober's data as fresh"
# A prober still warming up (state unknown) has no vote, as in the `up` filter.
# Each measurement must really be written: with the two abstentions missing
# the line below would read 1/1 all the same.
"$CTL" measure waf-iad-aws --prober us-iad --db "$db" --up >/dev/null 2>&1
rc1=$?
"$CTL" measure waf-iad-aws --prober eu-fra --db "$db" --unknown >/dev/null 2>&1
rc2=$?
"$CTL" measure waf-iad-aws --prober ap-sin --db "$db" --unknown >/dev/null 2>&1
rc3=$?
"$DUMP" --db "$db" --json measurements >"$tmp/meas.json" 2>&1
rc4=$?
python3 - "$tmp/meas.json" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))["measurements"]
got = sorted((r["prober"], r["state"]) for r in m if r["endpoint"] == "waf-iad-aws")
assert got == [("ap-sin", "unknown"), ("eu-fra", "unknown"), ("us-iad", "up")], got
PY
rc5=$?
[ $rc1 -eq 0 ] && [ $rc2 -eq 0 ] && [ $rc3 -eq 0 ] && [ $rc4 -eq 0 ] && [ $rc5 -eq 0 ] \
	&& status_has "waf-iad-aws +us +up +1/1 fresh"
ok $? "status: probers warming up abstain (1 up of 1 voting -> up; exits $rc1 $rc2 $rc3, dump $rc4, check $rc5)"
"$CTL" measure waf-sin-aws --prober nowhere --db "$db" --up >"$tmp/out" 2>&1
[ $? -eq 1 ]; ok $? "measure with an unknown prober fails"

# explain: an Indonesian client of global keeps waf-jkt-azure at the geofence.
idaddr=$(awk '$3 == "ID" && $1 !~ /:/ { split($1, a, "/"); print a[1]; exit }' "$top_srcdir/tests/geo/test-geo.txt")
"$CTL" explain global.gslb.example.net --client "$idaddr" --geoip "$CITY" --db "$db" > "$tmp/explain" 2>&1
ok $? "explain for an Indonesian client ($idaddr)"
diag < "$tmp/explain"
grep -E "geofence.*-> \[waf-jkt-azure" "$tmp/explain" >/dev/null
ok $? "explain shows the geofence keeping waf-jkt-azure"
"$CTL" explain global.gslb.example.net --client "$idaddr" --geoip "$CITY" --db "$db" --json > "$tmp/explain.json" 2>&1
python3 - "$tmp/explain.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
geo = [s for s in d["steps"] if s["step"] == "geofence"][0]
assert geo["out"] == ["waf-jkt-azure"], geo
assert d["answer"]["addresses"] == ["203.0.113.20"], d["answer"]
PY
ok $? "explain --json is valid and shows the same"
"$CTL" explain GLOBAL.GSLB.example.NET --client "$idaddr" --geoip "$CITY" --db "$db" --json > "$tmp/explain.json" 2>&1
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["name"] == "global.gslb.example.net.", d["name"]' "$tmp/explain.json"
ok $? "explain matches names case-insensitively and shows them lower-case"
"$CTL" explain "" --client "$idaddr" --geoip "$CITY" --db "$db" >"$tmp/out" 2>&1
[ $? -eq 2 ]; ok $? "explain of an empty name is a usage error"
"$CTL" explain nosuch.gslb.example.net --client "$idaddr" --geoip "$CITY" --db "$db" >"$tmp/out" 2>&1
[ $? -eq 1 ]; ok $? "explain of an unknown name fails clearly"
# explain shares the module's view lookup: a policy name without a view and
# a view it cannot read are refused as the module refuses them (pass-through),
# each saying so. A copy of the DB gets a names entry without a view and a
# garbled view (mdb_load -T: key line, value line, \xx escapes).
cp -r "$db" "$tmp/xdb"
printf '\\05ghost\\04gslb\\07example\\03net\\00\nno view\n' > "$tmp/names.txt"
printf '\\06global\\04gslb\\07example\\03net\\00\nnot a view\n' > "$tmp/views.txt"
mdb_load -s names -T -f "$tmp/names.txt" "$tmp/xdb" && mdb_load -s views -T -f "$tmp/views.txt" "$tmp/xdb"
ok $? "a names entry without a view and a garbled view written with mdb_load"
"$CTL" explain ghost.gslb.example.net --client "$idaddr" --geoip "$CITY" --db "$tmp/xdb" >"$tmp/out" 2>&1
[ $? -eq 1 ] && grep -q "is a name of the loaded policy without a view" "$tmp/out"
ok $? "explain of a policy name without a view fails saying so"
"$CTL" explain global.gslb.example.net --client "$idaddr" --geoip "$CITY" --db "$tmp/xdb" >"$tmp/out" 2>&1
[ $? -eq 1 ] && grep -q "cannot read the view of global.gslb.example.net." "$tmp/out"
ok $? "explain of a garbled view fails saying so"

# Issue 10 point 1: a vantage that sees an endpoint down never ranks it by
# the figures in its cell. fra is up by quorum (ap-sin and us-iad see it up)
# and 5 ms from eu-fra by the cell, but eu-fra sees it down: a DE client
# (vantage eu-fra) must not get fra first; explain says why.
cat > "$tmp/vantage.yaml" <<'YAML'
version: 1
defaults: {ttl: 30, degraded-ttl: 10, quorum: 0.5}
probers:
  - {id: eu-fra, location: {lat: 50.11, lon: 8.68}}
  - {id: ap-sin, location: {lat: 1.35, lon: 103.82}}
  - {id: us-iad, location: {lat: 38.95, lon: -77.45}}
pools:
  - id: eu
    endpoints:
      - {id: fra, address: 198.51.100.10, location: {lat: 50.11, lon: 8.68}}
      - {id: ams, address: 198.51.100.20, location: {lat: 52.37, lon: 4.90}}
names:
  - name: lat.example.net.
    pools: [eu]
    chain: [up, lowest-latency: {tolerance: 5ms}]
YAML
vdb="$tmp/vdb"
"$CTL" load "$tmp/vantage.yaml" --db "$vdb" >/dev/null 2>&1
for p in eu-fra ap-sin us-iad; do
	"$CTL" measure fra --prober "$p" --db "$vdb" --up --rtt 10ms >/dev/null 2>&1
	"$CTL" measure ams --prober "$p" --db "$vdb" --up --rtt 30ms >/dev/null 2>&1
done
deaddr=$(awk '$3 == "DE" && $1 !~ /:/ { split($1, a, "/"); print a[1]; exit }' "$top_srcdir/tests/geo/test-geo.txt")
"$CTL" explain lat.example.net --client "$deaddr" --geoip "$CITY" --db "$vdb" --json > "$tmp/vx.json" 2>&1
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["answer"]["endpoints"] == ["fra"], d["answer"]' "$tmp/vx.json"
ok $? "vantage: a DE client gets fra (10 ms from eu-fra) while eu-fra sees it up"
"$CTL" measure fra --prober eu-fra --db "$vdb" --down --rtt 5ms >/dev/null 2>&1
ok $? "measure fra --prober eu-fra --down --rtt 5ms"
"$CTL" explain lat.example.net --client "$deaddr" --geoip "$CITY" --db "$vdb" > "$tmp/vx" 2>&1
diag < "$tmp/vx"
grep -q "vantage eu-fra, 1 down from the vantage" "$tmp/vx" && grep -q "dropped fra: down-from-vantage" "$tmp/vx"
ok $? "explain: lowest-latency names the vantage and drops fra as down-from-vantage"
"$CTL" explain lat.example.net --client "$deaddr" --geoip "$CITY" --db "$vdb" --json > "$tmp/vx.json" 2>&1
python3 - "$tmp/vx.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
up = [s for s in d["steps"] if s["step"] == "up"][0]
lat = [s for s in d["steps"] if s["step"] == "lowest-latency"][0]
assert up["out"] == ["fra", "ams"], up                      # the quorum keeps fra up
assert lat["dropped"] == [{"id": "fra", "reason": "down-from-vantage"}], lat
assert d["vantage"] == "eu-fra", d["vantage"]
assert d["answer"]["endpoints"] == ["ams"] and d["answer"]["ttl"] == 10, d["answer"]
assert "degraded" in d["answer"]["flags"], d["answer"]
PY
ok $? "explain --json: up keeps fra, lowest-latency drops it, the DE client gets ams (degraded TTL)"
"$CTL" measure fra --prober eu-fra --db "$vdb" --up --rtt 10ms >/dev/null 2>&1
"$CTL" explain lat.example.net --client "$deaddr" --geoip "$CITY" --db "$vdb" --json > "$tmp/vx.json" 2>&1
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["answer"]["endpoints"] == ["fra"] and d["answer"]["ttl"] == 30, d["answer"]' "$tmp/vx.json"
ok $? "vantage: fra first again once eu-fra sees it up"

# zone-records prints static records for every name.
"$CTL" zone-records "$REF" > "$tmp/zone" 2>&1
ok $? "zone-records"
[ "$(grep -c '^global.gslb.example.net\. .* IN A ' "$tmp/zone")" -eq 5 ]
ok $? "zone-records lists the 5 IPv4 addresses of global"

# A read-only missing database is a clear error.
"$CTL" status --db "$tmp/none" >"$tmp/out" 2>&1
[ $? -eq 1 ] && grep -q "no haltgslb database" "$tmp/out"; ok $? "status of a missing database fails clearly"


# haltgslb-prober startup. A tiny policy: one TCP endpoint on loopback.
PROBER="$top_builddir/haltgslb-prober"
cat > "$tmp/mini.yaml" <<'YAML'
version: 1
probers: [{id: p1, location: {lat: 1, lon: 2}}]
pools: [{id: a, endpoints: [{id: e1, address: 127.0.0.1, check: {type: tcp, port: 9}}]}]
names: [{name: x.example., pools: [a], chain: [up]}]
YAML
"$CTL" load "$tmp/mini.yaml" --db "$tmp/pdb" >/dev/null 2>&1
# Without --foreground the prober detaches: a missing DB must still be an
# error the caller sees (exit 1), not a 0 from the parent.
"$PROBER" --id p1 --db "$tmp/none" >"$tmp/out" 2>&1
rc=$?
[ $rc -eq 1 ] && grep -q "$tmp/none" "$tmp/out"
ok $? "prober (daemon mode) with a missing DB exits 1 naming it (got $rc)"
# Poll for a condition instead of sleeping a guessed time: these run beside
# valgrind-heavy tests on 2 cores. until_true SECONDS COMMAND...
until_true() {
	local deadline=$(( $(date +%s) + $1 )); shift
	until "$@"; do
		[ "$(date +%s)" -ge "$deadline" ] && return 1
		sleep 0.1
	done
}
# Bit 1 of SigBlk (SIGHUP) is set once the prober's main() has blocked the
# signals. The pid must already be the prober (exec done), not the shell
# forked for `&`, whose mask says nothing about the prober.
hup_blocked() {
	local mask exe
	exe=$(readlink "/proc/$1/exe" 2>/dev/null) || return 1
	case "$exe" in */haltgslb-prober | */lt-haltgslb-prober) ;; *) return 1 ;; esac
	mask=$(sed -n 's/^SigBlk:[[:space:]]*//p' "/proc/$1/status" 2>/dev/null) || return 1
	[ -n "$mask" ] && [ $(( 0x$mask & 1 )) -eq 1 ]
}
stop_prober() { # PID: SIGTERM, SIGKILL after 20 s; exit status in $rc
	kill -TERM "$1" 2>/dev/null
	local i=0
	while kill -0 "$1" 2>/dev/null && [ $i -lt 200 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	kill -KILL "$1" 2>/dev/null
	wait "$1"
	rc=$?
}

# SIGHUP and SIGTERM during startup must not kill the prober: the reload and
# the stop happen once the loop runs, and it exits 0. The prober is held in
# startup by a lock on LMDB's lock file (what mdb_env_open waits for while
# another process sets the environment up), released once the signals are in.
hold_lock() { # FILE: hold the fcntl lock on byte 0 until our fd 9 closes
	python3 -c 'import fcntl, sys
f = open(sys.argv[1], "r+b")
fcntl.lockf(f, fcntl.LOCK_EX, 1, 0)
print("locked", flush=True)
sys.stdin.read()' "$1" 9>&- <"$tmp/hold" >"$tmp/locked" &
	holder=$!
	exec 9>"$tmp/hold"
}
mkfifo "$tmp/hold"
hold_lock "$tmp/pdb/lock.mdb"
until_true 10 grep -q locked "$tmp/locked"
"$PROBER" --id p1 --db "$tmp/pdb" --foreground 9>&- >"$tmp/perr" 2>&1 &
ppid=$!
until_true 20 hup_blocked $ppid
blocked=$?
kill -HUP $ppid 2>/dev/null
sleep 0.3
! grep -q "started" "$tmp/perr"; held=$?
exec 9>&-                                                  # release the lock
wait $holder
until_true 20 grep -q "policy generation 1: 1 endpoints" "$tmp/perr"   # the SIGHUP reload
stop_prober $ppid
[ "$blocked" = 0 ] && [ "$held" = 0 ] && [ "$rc" = 0 ] \
	&& grep -q "SIGHUP: reloading" "$tmp/perr" && grep -q "stopping" "$tmp/perr"
ok $? "prober survives SIGHUP during startup, reloads, then stops on SIGTERM with 0 (got $rc, signals blocked $blocked, held $held)"
diag < "$tmp/perr"

# The policy comes from the DB only: the old --policy option says what to do
# instead, and an --id that is not a prober of the loaded policy is refused
# naming the ones it could be.
"$PROBER" --id p1 --policy "$tmp/mini.yaml" --db "$tmp/pdb" --foreground >"$tmp/out" 2>&1
rc=$?
[ $rc -eq 2 ] && grep -q -- "--policy was removed" "$tmp/out" && grep -q "haltgslb-ctl load" "$tmp/out"
ok $? "prober refuses the removed --policy, saying to load the file with haltgslb-ctl (got $rc)"
"$PROBER" --id p9 --db "$tmp/pdb" >"$tmp/out" 2>&1
rc=$?
[ $rc -eq 1 ] && grep -q "prober 'p9' is not a prober of the policy" "$tmp/out" && grep -q "probers: p1" "$tmp/out"
ok $? "prober (daemon mode) with an --id the policy does not list exits 1 naming its probers (got $rc)"
diag < "$tmp/out"

# SIGHUP that shortens an endpoint's interval (1h -> 100ms) takes effect at
# once: the endpoint must not wait out its old hour-long schedule.
probes_total() { # prints probes_total of the single measurement, or 0
	"$DUMP" --db "$tmp/pdb" --json measurements 2>/dev/null | python3 -c '
import json, sys
m = json.load(sys.stdin)["measurements"]
print(m[0]["probes_total"] if m else 0)' 2>/dev/null || echo 0
}
probes_at_least() { [ "$(probes_total)" -ge "$1" ]; }
sed 's/port: 9}/port: 9, interval: 1h}/' "$tmp/mini.yaml" > "$tmp/live.yaml"
rm -rf "$tmp/pdb"
"$CTL" load "$tmp/live.yaml" --db "$tmp/pdb" >/dev/null 2>&1
"$PROBER" --id p1 --db "$tmp/pdb" --foreground >"$tmp/perr" 2>&1 &
ppid=$!
until_true 10 probes_at_least 1            # the first probe ran; the next is an hour away
sed 's/port: 9}/port: 9, interval: 100ms, timeout: 50ms}/' "$tmp/mini.yaml" > "$tmp/live.yaml"
"$CTL" load "$tmp/live.yaml" --db "$tmp/pdb" >/dev/null 2>&1
kill -HUP $ppid
until_true 10 probes_at_least 6
stop_prober $ppid
total=$(probes_total)
[ "$total" -ge 6 ] && [ "$rc" = 0 ]
ok $? "a reload that shortens the interval reschedules at once ($total probes, rc $rc)"
diag < "$tmp/perr"

# A policy loaded while the prober runs is picked up without SIGHUP (the
# prober looks at the policy generation once a second).
measured() { # ENDPOINT: the prober stored a measurement of it
	"$DUMP" --db "$tmp/pdb" --json measurements 2>/dev/null | python3 -c '
import json, sys
sys.exit(0 if any(m["endpoint"] == sys.argv[1] for m in json.load(sys.stdin)["measurements"]) else 1)' "$1"
}
"$PROBER" --id p1 --db "$tmp/pdb" --foreground >"$tmp/perr" 2>&1 &
ppid=$!
until_true 10 grep -q "started" "$tmp/perr"
sed 's/^pools: .*/pools: [{id: a, endpoints: [{id: e1, address: 127.0.0.1, check: {type: tcp, port: 9}}, {id: e2, address: 127.0.0.1, check: {type: tcp, port: 9, interval: 100ms, timeout: 50ms}}]}]/' \
	"$tmp/mini.yaml" > "$tmp/more.yaml"
"$CTL" load "$tmp/more.yaml" --db "$tmp/pdb" >/dev/null 2>&1; lrc=$?
until_true 10 measured e2; seen=$?
stop_prober $ppid
[ "$lrc" = 0 ] && [ "$seen" = 0 ] && [ "$rc" = 0 ] && grep -q "policy generation 3 loaded into" "$tmp/perr" &&
	grep -q "policy generation 3: 2 endpoints" "$tmp/perr" && ! grep -q "SIGHUP" "$tmp/perr"
ok $? "a policy loaded while the prober runs is probed without SIGHUP (load $lrc, e2 measured $seen, rc $rc)"
diag < "$tmp/perr"

# The metrics textfile is readable by node_exporter (another user) even
# under a strict umask such as 0027.
( umask 0027; exec "$PROBER" --id p1 --db "$tmp/pdb" --foreground \
	--metrics "$tmp/p.prom" ) >"$tmp/perr" 2>&1 &
ppid=$!
until_true 10 test -s "$tmp/p.prom"
stop_prober $ppid
mode=$(stat -c %a "$tmp/p.prom" 2>/dev/null)
[ "$mode" = 644 ] && grep -q '^haltgslb_prober_up{prober="p1",endpoint="e1"}' "$tmp/p.prom"
ok $? "metrics textfile is mode 644 under umask 0027 (got $mode, rc $rc)"
diag < "$tmp/perr"

done_testing
