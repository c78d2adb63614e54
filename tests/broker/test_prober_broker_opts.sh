#!/usr/bin/env bash
# haltgslb-prober's broker options without a broker: every refusal says
# what is wrong (usage errors exit 2, unusable credentials exit 1 before
# probing starts, in the foreground and detached). The publishing itself is
# tested against a real broker in tests/broker/test_prober_publish.py.
set -u
. "$top_srcdir/tests/tools/tap.sh"
PROBER="$top_builddir/haltgslb-prober"
CTL="$top_builddir/haltgslb-ctl"
PY=/usr/bin/python3    # Debian's, with python3-cryptography
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$PY" - "$top_srcdir/tests/netsim" "$tmp/pki" <<'PY'
import sys
sys.path.insert(0, sys.argv[1])
import pki
ca = pki.CA(sys.argv[2], "ca")
ca.client("pub-a")
ca.client("pub-b")
PY
ok $? "test PKI generated"
P="$tmp/pki"
"$CTL" load "$top_srcdir/tests/broker/policy_pub.yaml" --db "$tmp/db" >/dev/null 2>&1
ok $? "policy loaded"
TLS=(--tls-cert "$P/ca-client-pub-a.pem" --tls-key "$P/ca-client-pub-a.key" --tls-ca "$P/ca-ca.pem")
BASE=(--id pub-a --db "$tmp/db" --foreground)
NOBROKER=amqps://127.0.0.1:1   # nothing listens: these runs never get that far

run() { # run EXPECTED_RC DESCRIPTION ARGS... ; output in $tmp/out
	local want=$1 desc=$2
	shift 2
	timeout 20 "$PROBER" "$@" >"$tmp/out" 2>&1
	local rc=$?
	[ "$rc" -eq "$want" ]
	ok $? "$desc (exit $rc, want $want)"
	[ "$rc" -eq "$want" ] || diag < "$tmp/out"
}
says() { # says FIXED_TEXT DESCRIPTION: the last run's output contains it
	grep -Fq -- "$1" "$tmp/out"
	ok $? "$2"
	grep -Fq -- "$1" "$tmp/out" || diag < "$tmp/out"
}

run 0 "--help" --help
for flag in "--broker URIS" "--tls-cert FILE" "--tls-key FILE" "--tls-ca FILE" "--snapshot-interval D" \
	"--publish-queue N"; do
	says "$flag" "--help lists $flag"
done

run 2 "plain amqp:// refused" "${BASE[@]}" --broker amqp://127.0.0.1:5672 "${TLS[@]}"
says "--broker: 'amqp://127.0.0.1:5672': plain amqp:// is refused: use amqps://" "  says why, naming the URI"
run 2 "second URI malformed" "${BASE[@]}" --broker "amqps://a:5671,amqps://b:99999" "${TLS[@]}"
says "'amqps://b:99999': port must be 1-65535" "  names the bad one"
run 2 "credentials in the URI refused" "${BASE[@]}" --broker "amqps://u:p@a:5671" "${TLS[@]}"
says "no user or password in the URI" "  says EXTERNAL takes the user from the certificate"
run 2 "empty list item" "${BASE[@]}" --broker "amqps://a:5671,," "${TLS[@]}"
says "empty URI in the list" "  says so"
run 2 "--broker without TLS files" "${BASE[@]}" --broker "$NOBROKER"
says "--broker needs --tls-cert, --tls-key and --tls-ca" "  lists what is needed"
run 2 "--broker without --tls-ca" "${BASE[@]}" --broker "$NOBROKER" --tls-cert "$P/ca-client-pub-a.pem" \
	--tls-key "$P/ca-client-pub-a.key"
run 2 "--tls-cert without --broker" "${BASE[@]}" --tls-cert "$P/ca-client-pub-a.pem"
says "--tls-cert is for publishing to a broker: give --broker too" "  says --broker is missing"
run 2 "--snapshot-interval without --broker" "${BASE[@]}" --snapshot-interval 30s
run 2 "--snapshot-interval 10x" "${BASE[@]}" --broker "$NOBROKER" "${TLS[@]}" --snapshot-interval 10x
says "--snapshot-interval: expected a duration from 1s to 24h" "  says the range"
run 2 "--snapshot-interval 500ms (under 1 s)" "${BASE[@]}" --broker "$NOBROKER" "${TLS[@]}" \
	--snapshot-interval 500ms
run 2 "--snapshot-interval 25h" "${BASE[@]}" --broker "$NOBROKER" "${TLS[@]}" --snapshot-interval 25h
run 2 "--publish-queue without --broker" "${BASE[@]}" --publish-queue 8
says "--publish-queue is for publishing to a broker: give --broker too" "  says --broker is missing"
for bad in 0 -1 65537 8x ""; do
	run 2 "--publish-queue '$bad'" "${BASE[@]}" --broker "$NOBROKER" "${TLS[@]}" --publish-queue "$bad"
done
says "--publish-queue: expected a number of batches from 1 to 65536, not ''" "  says the range"

run 1 "certificate of another prober" "${BASE[@]}" --broker "$NOBROKER" --tls-cert "$P/ca-client-pub-b.pem" \
	--tls-key "$P/ca-client-pub-b.key" --tls-ca "$P/ca-ca.pem"
says "its subject CN is 'pub-b', not the prober id 'pub-a' (--id)" "  says CN and id"
# Detached, the parent waits for the child's startup: the error still shows, exit 1.
run 1 "certificate of another prober, detached" --id pub-a --db "$tmp/db" --broker "$NOBROKER" \
	--tls-cert "$P/ca-client-pub-b.pem" --tls-key "$P/ca-client-pub-b.key" --tls-ca "$P/ca-ca.pem"
says "not the prober id 'pub-a'" "  the detached prober's error reaches the caller"
run 1 "key of another certificate" "${BASE[@]}" --broker "$NOBROKER" --tls-cert "$P/ca-client-pub-a.pem" \
	--tls-key "$P/ca-client-pub-b.key" --tls-ca "$P/ca-ca.pem"
says "is not the key of" "  says the key does not match"
run 1 "missing CA file" "${BASE[@]}" --broker "$NOBROKER" --tls-cert "$P/ca-client-pub-a.pem" \
	--tls-key "$P/ca-client-pub-a.key" --tls-ca "$tmp/nope.pem"
says "CA file $tmp/nope.pem: No such file or directory" "  names the file"
run 1 "certificate that is not PEM" "${BASE[@]}" --broker "$NOBROKER" --tls-cert "$tmp/db/data.mdb" \
	--tls-key "$P/ca-client-pub-a.key" --tls-ca "$P/ca-ca.pem"
says "no PEM certificate" "  says what the file is not"

# Without --broker: the single-host prober of before. No publisher runs
# (nothing logged about it, no publisher series in the metrics, one thread
# fewer than with --broker), probing and LMDB writes as always.
threads() { awk '/^Threads:/ {print $2}' "/proc/$1/status"; }
"$PROBER" "${BASE[@]}" --metrics "$tmp/m.prom" --log-level debug >"$tmp/out" 2>&1 &
pid=$!
sleep 1.5
plain_threads=$(threads $pid)
kill -TERM $pid
wait $pid
ok $? "without --broker: runs and stops on SIGTERM with exit 0"
! grep -qi "publish\|broker" "$tmp/out"
ok $? "  says nothing about publishing or a broker"
grep -q '^haltgslb_prober_' "$tmp/m.prom" && ! grep -q 'publish\|broker\|feed_' "$tmp/m.prom"
ok $? "  metrics without publisher series"
"$top_builddir/haltgslb-dump" --db "$tmp/db" measurements >"$tmp/meas" 2>&1
grep -q "ep-down" "$tmp/meas"
ok $? "  measurements in LMDB"
"$PROBER" "${BASE[@]}" --broker "$NOBROKER" "${TLS[@]}" >"$tmp/out" 2>&1 &
pid=$!
sleep 1.5
broker_threads=$(threads $pid)
kill -TERM $pid
wait $pid
[ "$broker_threads" -eq $((plain_threads + 1)) ]
ok $? "  one thread fewer than with --broker ($plain_threads, $broker_threads)"

done_testing
