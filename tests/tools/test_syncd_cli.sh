#!/bin/sh
# haltgslb-syncd without a broker: options, config files, startup failures
# before detaching, waiting for a policy, an unreachable broker logged once,
# SIGHUP with a broken config, SIGTERM, the metrics file. Connects only to a
# closed port on 127.0.0.1. TAP.
. "$top_srcdir/tests/tools/tap.sh"
SYNCD="$(cd "$top_builddir" && pwd)/haltgslb-syncd"
CTL="$top_builddir/haltgslb-ctl"
tmp=$(mktemp -d "${HG_TEST_DATA:-/tmp}/test_syncd_cli.XXXXXX" 2>/dev/null || mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$SYNCD" --help >"$tmp/out" 2>&1
rc=$?
[ $rc -eq 0 ] && grep -q -- '--broker URIS' "$tmp/out" && grep -q -- '--tls-ca FILE' "$tmp/out" \
	&& grep -q -- '--snapshot-interval' "$tmp/out"
ok $? "--help exits 0 and documents the options"
"$SYNCD" --version | grep -Eq '^haltgslb-syncd [0-9]'
ok $? "--version"

"$SYNCD" >"$tmp/out" 2>&1
rc=$?
[ $rc -eq 2 ] && grep -q 'missing --db DIR' "$tmp/out" && grep -q 'missing --broker URIS' "$tmp/out" \
	&& grep -q 'missing --tls-key FILE' "$tmp/out"
ok $? "no options: exit 2 naming every missing one (got $rc)"
"$SYNCD" --nope >/dev/null 2>&1
[ $? -eq 2 ]; ok $? "unknown option: exit 2"
"$SYNCD" --db d --broker amqps://x --tls-cert c --tls-key k --tls-ca a --snapshot-interval 3parsecs \
	>"$tmp/out" 2>&1
rc=$?
[ $rc -eq 2 ] && grep -q "snapshot-interval: '3parsecs' is not a duration" "$tmp/out"
ok $? "bad duration: exit 2 with the accepted form (got $rc)"
"$SYNCD" --db d --broker amqps://x --tls-cert c --tls-key k --tls-ca a --prefetch 10 --batch 20 \
	>"$tmp/out" 2>&1
[ $? -eq 2 ] && grep -q -- '--batch 20 is larger than --prefetch 10' "$tmp/out"
ok $? "--batch above --prefetch refused"

printf 'db = %s\n# a comment\n\nnope = 1\nbroker amqps://x\n' "$tmp/db" >"$tmp/bad.conf"
"$SYNCD" --config "$tmp/bad.conf" >"$tmp/out" 2>&1
rc=$?
[ $rc -eq 2 ] && grep -q "bad.conf:4: unknown option 'nope'" "$tmp/out" \
	&& grep -q "bad.conf:5: expected 'key = value'" "$tmp/out"
ok $? "config file errors name FILE:LINE (got $rc)"
"$SYNCD" --config "$tmp/missing.conf" >"$tmp/out" 2>&1
[ $? -eq 2 ] && grep -q "missing.conf: No such file" "$tmp/out"
ok $? "unreadable config file: exit 2"

# TLS files: a self-signed certificate with CN dns-1 (also its own CA).
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=dns-1 \
	-keyout "$tmp/key.pem" -out "$tmp/cert.pem" >/dev/null 2>&1
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=other \
	-keyout "$tmp/key2.pem" -out "$tmp/cert2.pem" >/dev/null 2>&1
[ -s "$tmp/cert.pem" ]; ok $? "test certificates made with openssl"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
tls="--tls-cert $tmp/cert.pem --tls-key $tmp/key.pem --tls-ca $tmp/cert.pem"

# Startup failures are reported before detaching (daemon mode).
"$SYNCD" --db "$tmp/db" --broker "amqp://127.0.0.1:$port" $tls >"$tmp/out" 2>&1
rc=$?
[ $rc -eq 1 ] && grep -q -- '--broker: ' "$tmp/out" && grep -qi 'amqps' "$tmp/out"
ok $? "plain amqp:// refused before detaching: exit 1 (got $rc)"
"$SYNCD" --db "$tmp/db" --broker "amqps://127.0.0.1:$port" --tls-cert "$tmp/nope.pem" \
	--tls-key "$tmp/key.pem" --tls-ca "$tmp/cert.pem" >"$tmp/out" 2>&1
rc=$?
[ $rc -eq 1 ] && grep -q 'nope.pem' "$tmp/out"
ok $? "missing certificate: exit 1 naming it (got $rc)"
"$SYNCD" --db "$tmp/db" --broker "amqps://127.0.0.1:$port" --tls-cert "$tmp/cert.pem" \
	--tls-key "$tmp/key2.pem" --tls-ca "$tmp/cert.pem" >"$tmp/out" 2>&1
rc=$?
[ $rc -eq 1 ] && grep -qi 'key' "$tmp/out"
ok $? "key of another certificate: exit 1 (got $rc)"

wait_log() { # FILE PATTERN: up to 10 s
	i=0
	while [ $i -lt 100 ]; do
		grep -q "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}
stop() { # PID: SIGTERM, exit status in $rc
	kill -TERM "$1"
	wait "$1"
	rc=$?
}

# No policy in the DB: nothing is consumed (not even tried), said once.
"$SYNCD" --foreground --db "$tmp/db" --broker "amqps://127.0.0.1:$port" $tls \
	--metrics "$tmp/m.prom" --metrics-interval 100ms >"$tmp/log1" 2>&1 &
pid=$!
wait_log "$tmp/log1" 'holds no policy'
ok $? "an empty database: waits for a policy"
wait_log "$tmp/m.prom" 'haltgslb_syncd_connected 0'
ok $? "metrics file: not connected"
[ "$(stat -c %a "$tmp/m.prom")" = 644 ]; ok $? "metrics file mode 0644 (node_exporter reads it)"
sleep 0.5
[ "$(grep -c 'holds no policy' "$tmp/log1")" -eq 1 ] && ! grep -q 'no broker' "$tmp/log1"
ok $? "said once, and no connection attempted"

# A policy appears: it tries the broker, whose port is closed, and says so once.
cat >"$tmp/policy.yaml" <<EOF
version: 1
probers: [{id: p1, location: {lat: 1, lon: 2}}]
pools: [{id: a, endpoints: [{id: e1, address: [192.0.2.1]}]}]
names: [{name: www.example.net., pools: [a], chain: [up]}]
EOF
"$CTL" load "$tmp/policy.yaml" --db "$tmp/db" >/dev/null 2>&1
wait_log "$tmp/log1" "no broker: amqps://127.0.0.1:$port: "
ok $? "policy loaded: the unreachable broker is reported"
sleep 1.5
[ "$(grep -c 'no broker' "$tmp/log1")" -eq 1 ]
ok $? "the same error is logged once, not per retry"
stop $pid
[ $rc -eq 0 ] && grep -q 'haltgslb-syncd stopped' "$tmp/log1"
ok $? "SIGTERM while disconnected: exit 0 (got $rc)"

# SIGHUP: a config file that became invalid is refused, the daemon runs on;
# a valid one is taken.
printf 'db = %s\nbroker = amqps://127.0.0.1:%s\ntls-cert = %s\ntls-key = %s\ntls-ca = %s\n' \
	"$tmp/db" "$port" "$tmp/cert.pem" "$tmp/key.pem" "$tmp/cert.pem" >"$tmp/ok.conf"
"$SYNCD" --foreground --config "$tmp/ok.conf" >"$tmp/log2" 2>&1 &
pid=$!
wait_log "$tmp/log2" 'started'
echo 'heartbeat = 0' >>"$tmp/ok.conf"
kill -HUP $pid
wait_log "$tmp/log2" 'reload failed: the previous configuration stays in force'
ok $? "SIGHUP with a bad config: refused, old one kept"
kill -0 $pid; ok $? "still running"
sed -i '$d' "$tmp/ok.conf"
echo 'log-level = debug' >>"$tmp/ok.conf"
kill -HUP $pid
wait_log "$tmp/log2" 'configuration reloaded'
ok $? "SIGHUP with a good config: reloaded"
stop $pid
[ $rc -eq 0 ]; ok $? "SIGTERM: exit 0 (got $rc)"

# Daemon mode detaches and keeps working with relative paths.
(cd "$tmp" && "$SYNCD" --db db --broker "amqps://127.0.0.1:$port" --tls-cert cert.pem \
	--tls-key key.pem --tls-ca cert.pem --metrics d.prom --metrics-interval 100ms >"$tmp/log3" 2>&1)
rc=$?
[ $rc -eq 0 ]; ok $? "daemon mode: the command exits 0 once detached (got $rc)"
wait_log "$tmp/d.prom" 'haltgslb_syncd_connected 0'
ok $? "the detached daemon writes its metrics (relative paths made absolute)"
pid=$(pgrep -f "haltgslb-syncd --db db --broker amqps://127.0.0.1:$port" | head -n1)
[ -n "$pid" ] && kill -TERM "$pid"
i=0
while [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
[ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; ok $? "the daemon stops on SIGTERM"

done_testing
