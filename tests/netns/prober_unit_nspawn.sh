#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Run haltgslb-prober under its real unit (prober/haltgslb-prober.service,
# with its whole sandbox: syscall filter, ProtectSystem=strict, ...) in a
# booted systemd, once, and check that it works: TCP, HTTP, HTTPS with a
# private CA, ICMP over ping sockets, a CNAME endpoint resolved through the
# DNS, the database and the metrics file written, reload and stop.
#
#   tests/netns/prober_unit_nspawn.sh ROOTFS BUILD_DIR
#
# ROOTFS: a Debian 12 rootfs with systemd (debootstrap --variant=minbase
# --include=systemd,systemd-sysv,dbus,iproute2,python3 bookworm ROOTFS;
# tests/deploy/lab.py caches one). It is only the lower layer of an
# overlay: never written. BUILD_DIR: a plain (not sanitized) build. Run as
# root. The guest gets its own network namespace linked by a veth to a
# second namespace holding the endpoints (10.99.13.0/24): no traffic leaves
# them. Not part of the suite (it needs a rootfs a fresh machine lacks):
# docs/security.md records when it was run and what it showed.
set -euo pipefail

rootfs=$(cd "$1" && pwd)
build=$(cd "$2" && pwd)
src=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d /var/tmp/hg-unitlab.XXXXXX)
ns_g=hgug$$
ns_e=hgue$$
m=$work/merged
nspawn_pid=
pids=()

log() { printf '=== %s\n' "$*"; }
fail() { printf 'FAIL: %s\n' "$*"; exit 1; }

cleanup() {
	set +e
	if [ -n "$nspawn_pid" ] && kill -0 "$nspawn_pid" 2>/dev/null; then
		kill -TERM "$nspawn_pid"
		for _ in $(seq 50); do kill -0 "$nspawn_pid" 2>/dev/null || break; sleep 0.2; done
		kill -KILL "$nspawn_pid" 2>/dev/null
	fi
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	umount "$m" 2>/dev/null
	ip netns del "$ns_g" 2>/dev/null
	ip netns del "$ns_e" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT

[ -x "$build/haltgslb-prober" ] && [ -x "$build/haltgslb-ctl" ] || fail "no haltgslb-prober/ctl in $build"
[ -x "$rootfs/lib/systemd/systemd" ] || fail "$rootfs has no systemd"

log "overlay on $rootfs"
mkdir -p "$work/upper" "$work/work" "$m"
mount -t overlay overlay -o "lowerdir=$rootfs,upperdir=$work/upper,workdir=$work/work" "$m"

log "binaries and the libraries the rootfs lacks"
install -m 0755 "$build/haltgslb-prober" "$m/usr/sbin/haltgslb-prober"
install -m 0755 "$build/haltgslb-ctl" "$m/usr/bin/haltgslb-ctl"
install -m 0755 "$build/haltgslb-dump" "$m/usr/bin/haltgslb-dump"
mkdir -p "$m/usr/local/lib/hg-lab"
for lib in $(ldd "$build/haltgslb-prober" "$build/haltgslb-ctl" "$build/haltgslb-dump" |
	awk '$2 == "=>" && $3 ~ /^\// { print $3 }' | sort -u); do
	[ -e "$m$lib" ] || cp -L "$lib" "$m/usr/local/lib/hg-lab/"
done
echo /usr/local/lib/hg-lab >"$m/etc/ld.so.conf.d/hg-lab.conf"
chroot "$m" ldconfig

log "user, directories, unit (docs/install.md layout for a prober host)"
chroot "$m" useradd --system --user-group --home-dir /var/lib/haltgslb --shell /usr/sbin/nologin haltgslb
chroot "$m" install -d -o haltgslb -g haltgslb -m 0750 /var/lib/haltgslb
chroot "$m" install -d -o root -g haltgslb -m 2775 /var/lib/prometheus/node-exporter
install -m 0644 "$src/prober/haltgslb-prober.service" "$m/etc/systemd/system/haltgslb-prober.service"
echo "PROBER_ID=lab" >"$m/etc/default/haltgslb-prober"
echo "nameserver 10.99.13.2" >"$m/etc/resolv.conf.hg"
rm -f "$m/etc/resolv.conf"
mv "$m/etc/resolv.conf.hg" "$m/etc/resolv.conf"

log "network: guest $ns_g 10.99.13.1 <-> endpoints $ns_e 10.99.13.2"
ip netns add "$ns_g"
ip netns add "$ns_e"
ip link add hgug$$ type veth peer name hgue$$
ip link set hgug$$ netns "$ns_g"
ip link set hgue$$ netns "$ns_e"
ip -n "$ns_g" addr add 10.99.13.1/24 dev hgug$$
ip -n "$ns_e" addr add 10.99.13.2/24 dev hgue$$
for ns in "$ns_g" "$ns_e"; do
	ip -n "$ns" link set lo up
done
ip -n "$ns_g" link set hgug$$ up
ip -n "$ns_e" link set hgue$$ up
ip netns exec "$ns_g" ip route get 10.99.13.2 | grep -q "dev hgug$$" || fail "route to 10.99.13.2 is not via the lab's veth"
# Ping sockets for every group, in the guest's namespace only.
ip netns exec "$ns_g" sysctl -qw net.ipv4.ping_group_range="0 2147483647"

log "servers: HTTP, HTTPS (private CA), DNS"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
	-keyout "$work/ca.key" -out "$work/ca.pem" -subj /CN=lab-ca 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$work/srv.key" \
	-out "$work/srv.csr" -subj /CN=app.lab.test 2>/dev/null
echo "subjectAltName=DNS:app.lab.test" >"$work/ext.cnf"
openssl x509 -req -in "$work/srv.csr" -CA "$work/ca.pem" -CAkey "$work/ca.key" -CAcreateserial \
	-out "$work/srv.pem" -days 2 -extfile "$work/ext.cnf" 2>/dev/null
mkdir -p "$m/etc/haltgslb"
install -m 0644 "$work/ca.pem" "$m/etc/haltgslb/lab-ca.pem"
echo '{"cname.lab.test.": {"a": ["10.99.13.2"], "ttl": 30}}' >"$work/zone.json"
ip netns exec "$ns_e" /usr/bin/python3 "$src/tests/netsim/hg_httpd.py" --bind 10.99.13.2 --port 8080 &
pids+=($!)
ip netns exec "$ns_e" /usr/bin/python3 "$src/tests/netsim/hg_httpd.py" --bind 10.99.13.2 --port 8443 \
	--cert "$work/srv.pem" --key "$work/srv.key" &
pids+=($!)
ip netns exec "$ns_e" /usr/bin/python3 "$src/tests/netsim/hg_dnsd.py" --bind 10.99.13.2 \
	--zone "$work/zone.json" --log "$work/dns.log" >/dev/null &
pids+=($!)
sleep 1

cat >"$m/etc/haltgslb/policy.yaml" <<'EOF'
version: 1
defaults:
  check: {type: tcp, port: 8080, interval: 500ms, timeout: 400ms, rise: 2, fall: 3}
probers:
  - id: lab
    location: {lat: 50, lon: 8}
pools:
  - id: p
    endpoints:
      - {id: tcp, address: [10.99.13.2]}
      - {id: http, address: [10.99.13.2], check: {type: http, path: /}}
      - {id: https, address: [10.99.13.2], check: {type: https, port: 8443, host: app.lab.test, ca: /etc/haltgslb/lab-ca.pem}}
      - {id: icmp, address: [10.99.13.2], check: {type: icmp}}
      - {id: cname, cname: cname.lab.test., check: {host: cname.lab.test}}
names:
  - name: lab.example.net.
    pools: [p]
    chain: [up]
EOF
chroot "$m" runuser -u haltgslb -- haltgslb-ctl load /etc/haltgslb/policy.yaml --db /var/lib/haltgslb

log "boot"
SYSTEMD_NSPAWN_API_VFS_WRITABLE=network systemd-nspawn --boot --keep-unit --register=no \
	--directory="$m" --network-namespace-path="/run/netns/$ns_g" --console=read-only \
	>"$work/nspawn.log" 2>&1 &
nspawn_pid=$!
leader=
for _ in $(seq 100); do
	leader=$(pgrep -P "$nspawn_pid" | head -n1 || true)
	[ -n "$leader" ] && break
	sleep 0.1
done
[ -n "$leader" ] || fail "nspawn did not start: $(tail -n 20 "$work/nspawn.log")"
in_guest() { nsenter -t "$leader" -a -- "$@"; }
for _ in $(seq 120); do
	state=$(in_guest systemctl is-system-running 2>/dev/null || true)
	case $state in running | degraded) break ;; esac
	sleep 0.5
done
log "guest state: $state"

log "systemd-analyze security inside the guest (online)"
in_guest systemd-analyze security --no-pager haltgslb-prober.service | tail -n 1

log "start the prober under its unit"
in_guest systemctl start haltgslb-prober.service
sleep 6
in_guest systemctl is-active haltgslb-prober.service || {
	in_guest journalctl -u haltgslb-prober --no-pager | tail -n 30; fail "not active"; }
in_guest journalctl -u haltgslb-prober --no-pager | tail -n 20

log "what it wrote (read from the host through the overlay)"
"$build/haltgslb-dump" --db "$m/var/lib/haltgslb" measurements
states=$("$build/haltgslb-dump" --db "$m/var/lib/haltgslb" --json measurements |
	/usr/bin/python3 -c 'import json, sys
d = json.load(sys.stdin)
recs = d.get("measurements", d) if isinstance(d, dict) else d
print(" ".join("%s=%s" % (r.get("endpoint"), r.get("state")) for r in recs))')
echo "$states"
for ep in tcp http https icmp cname; do
	echo "$states" | grep -q "$ep=up" || fail "$ep is not up under the unit ($states)"
done
[ -s "$m/var/lib/prometheus/node-exporter/haltgslb-prober.prom" ] || fail "no metrics file"
grep -c '^haltgslb_prober_up' "$m/var/lib/prometheus/node-exporter/haltgslb-prober.prom"
stat -c '%n %U:%G %a' "$m/var/lib/haltgslb/data.mdb" "$m/var/lib/haltgslb/lock.mdb" \
	"$m/var/lib/prometheus/node-exporter/haltgslb-prober.prom"

log "reload (SIGHUP) and stop"
in_guest systemctl reload haltgslb-prober.service
sleep 1
in_guest systemctl stop haltgslb-prober.service
in_guest journalctl -u haltgslb-prober --no-pager | grep -E 'SIGHUP|stopped|seccomp|denied|Operation not permitted' || true
in_guest journalctl -u haltgslb-prober --no-pager | grep -q 'stopped' || fail "no clean stop"
log "all checks passed"
