#!/usr/bin/env bash
# haltgslb-ctl and haltgslb-dump end to end: validate, load, dump, a broken
# policy over a good one, drain/measure, status, explain, zone-records.
set -u
. "$top_srcdir/tests/tools/tap.sh"
CTL="$top_builddir/haltgslb-ctl"
DUMP="$top_builddir/haltgslb-dump"
REF="$top_srcdir/tests/unit/policies/reference.yaml"
CITY="$HG_TEST_DATA/test-city.mmdb"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
db="$tmp/db"

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

# A broken policy over the good one leaves the good one intact.
"$DUMP" --db "$db" --json > "$tmp/before.json" 2>/dev/null
"$CTL" load "$tmp/bad.yaml" --db "$db" >"$tmp/out" 2>&1
[ $? -ne 0 ]; ok $? "loading a broken policy fails"
grep -q "unchanged" "$tmp/out"; ok $? "and says the database is unchanged"
"$DUMP" --db "$db" --json > "$tmp/after.json" 2>/dev/null
cmp -s "$tmp/before.json" "$tmp/after.json"
ok $? "database byte-for-byte the same after the failed load"

# drain / measure / status
"$CTL" drain waf-fra-aws --db "$db" --reason test >/dev/null 2>&1
ok $? "drain waf-fra-aws"
"$CTL" status --db "$db" > "$tmp/status" 2>&1
grep -q "waf-fra-aws.*drained" "$tmp/status"; ok $? "status shows the drain"
"$CTL" status --db "$db" --json | python3 -m json.tool >/dev/null 2>&1
ok $? "status --json is valid JSON"
"$CTL" load "$REF" --db "$db" >/dev/null 2>&1
"$CTL" status --db "$db" | grep -q "waf-fra-aws.*drained"
ok $? "drain survives a policy reload"
"$CTL" undrain waf-fra-aws --db "$db" >/dev/null 2>&1
ok $? "undrain"
"$CTL" drain no-such-endpoint --db "$db" >"$tmp/out" 2>&1
[ $? -eq 1 ] && grep -q "unknown endpoint" "$tmp/out"; ok $? "drain of an unknown endpoint fails clearly"
"$CTL" measure waf-sin-aws --prober ap-sin --db "$db" --down --rtt 30ms >/dev/null 2>&1
ok $? "measure writes a synthetic measurement"
"$CTL" status --db "$db" | grep -q "waf-sin-aws.*down"
ok $? "status shows the endpoint down"
"$CTL" status --db "$db" | grep -q "ap-sin.*fresh"
ok $? "status shows the prober's data as fresh"
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
"$CTL" explain nosuch.gslb.example.net --client "$idaddr" --geoip "$CITY" --db "$db" >"$tmp/out" 2>&1
[ $? -eq 1 ]; ok $? "explain of an unknown name fails clearly"

# zone-records prints static records for every name.
"$CTL" zone-records "$REF" > "$tmp/zone" 2>&1
ok $? "zone-records"
[ "$(grep -c '^global.gslb.example.net\. .* IN A ' "$tmp/zone")" -eq 5 ]
ok $? "zone-records lists the 5 IPv4 addresses of global"

# A read-only missing database is a clear error.
"$CTL" status --db "$tmp/none" >"$tmp/out" 2>&1
[ $? -eq 1 ] && grep -q "no haltgslb database" "$tmp/out"; ok $? "status of a missing database fails clearly"

done_testing
