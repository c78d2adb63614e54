#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# Benchmark (not a test): one haltgslb-prober probing N HTTP endpoints served
# by one local nginx on 127.0.0.1, 5 s interval. Prints checks/s achieved,
# the prober's CPU % (utime+stime from /proc) and RSS, then what a SIGHUP
# reload of the same policy costs: reading it (on the reload thread) and
# applying it (the only part on the event loop), from the prober's log.
#
#   tests/bench/bench_prober.sh [BUILD_DIR] [N...]     (default: 1000 10000)
# Use a build configured without sanitizers. Loopback only.
set -eu
build=$(cd "${1:-.}" && pwd)
shift || true
counts=${*:-"1000 10000"}
secs=${BENCH_SECS:-30}
port=${BENCH_PORT:-18090}
work=$(mktemp -d)
ngx_pid=
prober_pid=
cleanup() {
	[ -n "$prober_pid" ] && kill "$prober_pid" 2>/dev/null || true
	[ -n "$ngx_pid" ] && kill "$ngx_pid" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT INT TERM

cat >"$work/nginx.conf" <<NGX
daemon off;
worker_processes 1;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $work/t1; proxy_temp_path $work/t2; fastcgi_temp_path $work/t3;
  uwsgi_temp_path $work/t4; scgi_temp_path $work/t5;
  server { listen 127.0.0.1:$port backlog=4096; location / { return 200 "OK\n"; } }
}
NGX
nginx -c "$work/nginx.conf" -e "$work/nginx-e.log" &
ngx_pid=$!
sleep 0.5

hz=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

printf '%8s %12s %8s %10s %12s %16s\n' endpoints checks/s cpu% rss_MiB failed reload_read/apply
for n in $counts; do
	db="$work/db$n"
	pol="$work/policy$n.yaml"
	{
		echo "version: 1"
		echo "defaults:"
		echo "  check: {type: http, port: $port, path: /, expect: [200], interval: 5s, timeout: 2s}"
		echo "probers:"
		echo "  - id: bench"
		echo "    location: {lat: 0, lon: 0}"
		echo "pools:"
		echo "  - id: named"
		echo "    endpoints:"
		echo "      - {id: named0, address: [127.0.0.1]}"
		echo "  - id: bench"
		echo "    endpoints:"
		i=0
		while [ $i -lt "$n" ]; do
			echo "      - {id: e$i, address: [127.0.0.1]}"
			i=$((i + 1))
		done
		echo "names:"
		echo "  - name: bench.example.net."
		echo "    pools: [named]"
		echo "    chain: [up]"
	} >"$pol"
	"$build/haltgslb-ctl" load --db "$db" "$pol" >/dev/null
	"$build/haltgslb-prober" --id bench --db "$db" --foreground \
		--metrics "$work/m$n.prom" --log-level notice 2>"$work/prober$n.log" &
	prober_pid=$!
	sleep 6   # first probes are spread over one interval: measure the steady state
	t0=$(cpu_ticks $prober_pid)
	sleep 0.1
	p0=$(awk '/^haltgslb_prober_probes_total/ {s += $2} END {print s + 0}' "$work/m$n.prom")
	m0=$(stat -c %Y "$work/m$n.prom")
	sleep "$secs"
	t1=$(cpu_ticks $prober_pid)
	p1=$(awk '/^haltgslb_prober_probes_total/ {s += $2} END {print s + 0}' "$work/m$n.prom")
	m1=$(stat -c %Y "$work/m$n.prom")
	rss=$(awk '/VmRSS/ {printf "%.1f", $2 / 1024}' "/proc/$prober_pid/status")
	failed=$(awk '/^haltgslb_prober_probes_failed_total/ {s += $2} END {print s + 0}' "$work/m$n.prom")
	kill -HUP "$prober_pid"
	sleep 1
	reload=$(sed -n 's/.*(read in \([0-9.]*\) ms, applied in \([0-9.]*\) ms).*/\1\/\2ms/p' \
		"$work/prober$n.log" | tail -n1)
	kill "$prober_pid"
	wait "$prober_pid" || true
	prober_pid=
	span=$((m1 - m0))
	[ "$span" -gt 0 ] || span=$secs
	awk -v p=$((p1 - p0)) -v s="$span" -v t=$((t1 - t0)) -v hz="$hz" -v secs="$secs" \
		-v n="$n" -v rss="$rss" -v f="$failed" -v rl="${reload:-?}" \
		'BEGIN { printf "%8d %12.0f %8.1f %10s %12d %16s\n", n, p / s, 100 * t / hz / secs, rss, f, rl }'
done
