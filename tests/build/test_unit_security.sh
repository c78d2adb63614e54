#!/usr/bin/env bash
# The daemons' systemd units are sandboxed: `systemd-analyze security
# --offline=true` rates each at an overall exposure of 2.0 or less
# (docs/security.md, "The systemd units"), and the directives the daemons
# need to work are still there (checked one by one below, since a lower
# score could also come from taking away what the daemon needs).
set -u
. "$top_srcdir/tests/tools/tap.sh"
MAX=2.0

exposure() { # UNIT -> the overall exposure number, or nothing
	systemd-analyze security --offline=true --no-pager "$1" 2>&1 |
		sed -n 's/.*Overall exposure level for [^:]*: \([0-9][0-9.]*\).*/\1/p'
}

command -v systemd-analyze >/dev/null; ok $? "systemd-analyze is installed (package systemd)"

for unit in prober/haltgslb-prober.service; do
	path="$top_srcdir/$unit"
	[ -f "$path" ]; ok $? "$unit exists"
	score=$(exposure "$path")
	systemd-analyze security --offline=true --no-pager "$path" 2>&1 | grep -E '✗|Overall' | diag
	[ -n "$score" ] && awk -v s="$score" -v m="$MAX" 'BEGIN { exit !(s <= m) }'
	ok $? "$unit: overall exposure ${score:-?} <= $MAX"
done

# What the prober needs from its unit to work at all.
u="$top_srcdir/prober/haltgslb-prober.service"
need() { grep -Eq "^$1" "$u"; ok $? "prober unit: $2"; }
need 'User=haltgslb$' "runs as haltgslb"
need 'ReadWritePaths=.*/var/lib/haltgslb( |$)' "writes the database directory"
need 'ReadWritePaths=.*-/var/lib/prometheus/node-exporter' "writes the metrics textfile directory (if it exists)"
need 'RestrictAddressFamilies=.*AF_INET .*AF_INET6' "IPv4 and IPv6 sockets (probes, ping sockets, DNS)"
need 'SystemCallFilter=@system-service$' "system calls: @system-service (sockets, epoll, mmap, fcntl locks, fdatasync)"
! grep -Eq '^(PrivateNetwork|PrivateUsers|IPAddressDeny)=' "$u"; ok $? "prober unit: keeps the host's network (no PrivateNetwork, IPAddressDeny)"
! grep -Eq '^CapabilityBoundingSet=.*CAP_NET_RAW' "$u"; ok $? "prober unit: no CAP_NET_RAW (ICMP over ping sockets)"

done_testing
