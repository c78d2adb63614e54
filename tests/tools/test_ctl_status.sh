#!/usr/bin/env bash
# haltgslb-ctl status shows the engine's own verdict per name: names over
# the same endpoints with quorum 1.0, the default 0.5 and a short
# stale-after; status must match explain for every (endpoint, name).
set -u -o pipefail
. "$top_srcdir/tests/tools/tap.sh"
CTL="$top_builddir/haltgslb-ctl"
POLICY="$top_srcdir/tests/tools/status.yaml"
CITY="$HG_TEST_DATA/test-city.mmdb"
PY=/usr/bin/python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
db="$tmp/db"

run() { # run DESCRIPTION COMMAND...: one TAP line for a command that must succeed
	local what=$1
	shift
	"$@" >"$tmp/run.out" 2>&1
	local rc=$?
	ok $rc "$what"
	[ $rc -eq 0 ] || diag <"$tmp/run.out"
}
measure() { # measure ENDPOINT PROBER STATE [ARGS...]
	local ep=$1 pr=$2 st=$3
	shift 3
	run "measure $ep by $pr: $st $*" "$CTL" measure "$ep" --prober "$pr" --db "$db" "--$st" "$@"
}

run "load $POLICY" "$CTL" load "$POLICY" --db "$db"
measure ep-split pr-1 up
measure ep-split pr-2 down
measure ep-stale pr-1 up
measure ep-stale pr-2 up --age 300s
measure ep-down pr-1 down
measure ep-down pr-2 down
measure ep-drained pr-1 up
measure ep-drained pr-2 up
measure ep-warming pr-1 unknown
measure ep-warming pr-2 unknown
measure ep-forced pr-1 down
measure ep-forced pr-2 down
measure ep-up pr-1 up
measure ep-up pr-2 up
run "drain ep-drained" "$CTL" drain ep-drained --db "$db"
run "force-up ep-forced" "$CTL" force-up ep-forced --db "$db"

"$CTL" status --db "$db" >"$tmp/status" 2>&1
ok $? "status"
diag <"$tmp/status"
has() { grep -Eq "$1" "$tmp/status"; }

# One of two probers sees ep-split down: down for quorum 1.0, up for 0.5.
has '^  ep-split +main +mixed +1/2 fresh probers up'
ok $? "names disagree on ep-split: mixed (every name counts 1 of 2 up)"
has '^    strict\.status\.example\. +down +1/2 fresh probers up  \(quorum 100%, stale-after 10m0s\)$'
ok $? "ep-split: strict (quorum 100%) says down, 1 of 2 up"
has '^    loose\.status\.example\. +up +1/2 fresh probers up  \(quorum 50%, stale-after 10m0s\)$'
ok $? "ep-split: loose (quorum 50%) says up, 1 of 2 up"
# pr-2's 300 s old data is stale for quick (120 s) only: same verdict, other votes.
has '^  ep-stale +main +up +differs by name:'
ok $? "ep-stale: every name says up, the votes differ"
has '^    quick\.status\.example\. +up +1/1 fresh probers up  \(quorum 50%, stale-after 2m0s\)$'
ok $? "ep-stale: quick counts only pr-1 (pr-2's data is older than 120s)"
has '^    strict\.status\.example\. +up +2/2 fresh probers up'
ok $? "ep-stale: strict counts both"
# Names that agree on verdict and votes: one line, no per-name lines.
for want in "ep-down +main +down +0/2 fresh" "ep-drained +main +drained +2/2 fresh" \
	"ep-warming +main +unknown +0/0 fresh" "ep-forced +main +forced-up +0/2 fresh" \
	"ep-up +main +up +2/2 fresh" "ep-spare +spare +unused +in no name"; do
	has "^  $want"
	ok $? "status line: $want"
done
n_lines=$(grep -c '^    [a-z]*\.status\.example\. ' "$tmp/status")
[ "$n_lines" -eq 6 ]; ok $? "per-name lines only where names differ (got $n_lines, want 3+3)"

"$CTL" status --db "$db" --json >"$tmp/status.json" 2>&1
ok $? "status --json"

# For every endpoint and every name listing it: the verdict status reports
# is what explain's run of the module's selection did to that endpoint.
for name in strict loose quick; do
	"$CTL" explain "$name.status.example." --client 192.0.2.200 --geoip "$CITY" --db "$db" \
		--json >"$tmp/explain.$name.json" 2>&1
	ok $? "explain $name.status.example. --json"
done
"$PY" - "$tmp" >"$tmp/cmp" 2>&1 <<'EOF'
import json, sys
d = sys.argv[1]
status = json.load(open(d + "/status.json"))
explain = {n: json.load(open("%s/explain.%s.json" % (d, n.split(".")[0])))
           for n in ("strict.status.example.", "loose.status.example.", "quick.status.example.")}
def fate(doc, ep):
    """What explain's steps did to ep: drained / down / kept."""
    for s in doc["steps"]:
        for drop in s["dropped"]:
            if drop["id"] == ep:
                return drop["reason"] if s["step"] in ("candidates", "up") else "later"
    return "kept"
want_fate = {"up": "kept", "unknown": "kept", "forced-up": "kept", "down": "down",
             "drained": "drained"}
bad = 0
for e in status["endpoints"]:
    names = e["names"]
    if e["id"] == "ep-spare":
        if names or e["health"] != "unused":
            print("ep-spare: want unused and no names, got", e); bad += 1
        continue
    if sorted(n["name"] for n in names) != sorted(explain):
        print(e["id"], "names", [n["name"] for n in names]); bad += 1
    for n in names:
        got = fate(explain[n["name"]], e["id"])
        if want_fate.get(n["health"]) != got:
            print("%s in %s: status says %s, explain %s" % (e["id"], n["name"], n["health"], got))
            bad += 1
    words = {n["health"] for n in names}
    top = words.pop() if len(words) == 1 else "mixed"
    if e["health"] != top:
        print(e["id"], "top-level health", e["health"], "want", top); bad += 1
    votes = {(n["fresh_probers"], n["up_probers"]) for n in names}
    if len(votes) == 1 and (e.get("fresh_probers"), e.get("up_probers")) != next(iter(votes)):
        print(e["id"], "top-level votes differ from the names'"); bad += 1
    if len(votes) > 1 and "fresh_probers" in e:
        print(e["id"], "top-level votes shown although the names differ"); bad += 1
split = {n["name"]: n for e in status["endpoints"] if e["id"] == "ep-split" for n in e["names"]}
if split["strict.status.example."]["health"] != "down" or split["loose.status.example."]["health"] != "up":
    print("ep-split:", split); bad += 1
if split["strict.status.example."]["quorum"] != 1 or split["quick.status.example."]["stale_after_ms"] != 120000:
    print("ep-split settings:", split); bad += 1
print("%d endpoints compared, %d disagreements" % (len(status["endpoints"]), bad))
sys.exit(1 if bad else 0)
EOF
ok $? "status --json matches explain for every endpoint in every name"
diag <"$tmp/cmp"

done_testing
