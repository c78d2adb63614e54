#!/usr/bin/env bash
# The daemons' systemd units are sandboxed: `systemd-analyze security
# --offline=yes --threshold=20` rates EVERY unit file of the tree (*.service,
# wherever it is: prober/, syncd/, debian/...) at an overall exposure of 2.0
# or less (docs/security.md, "The systemd units"); a new daemon's unit is
# covered the day it lands. Then the directives the prober needs to work
# are checked one by one, since a lower score could also come from taking
# away what the daemon needs.
#   top_srcdir=DIR tests/build/test_unit_security.sh      (TAP; make check,
#   and a stage of its own in scripts/test.sh)
set -u
. "$top_srcdir/tests/tools/tap.sh"
MAX=2.0
THRESHOLD=20   # systemd-analyze's scale: exposure x 10

# The unit files of the source tree. In a git checkout, what git knows
# (tracked or new, not ignored: build directories and distcheck's unpacked
# copy are left out); in a release tarball, every *.service outside build
# directories.
units() {
	local top
	top=$(cd "$top_srcdir" && pwd -P)
	if [ "$(git -C "$top" rev-parse --show-toplevel 2>/dev/null)" = "$top" ]; then
		git -C "$top" ls-files --cached --others --exclude-standard -- '*.service' |
			while read -r f; do [ -f "$top/$f" ] && echo "$f"; done
	else
		(cd "$top" && find . \( -name .git -o -name _build -o -name build -o -name 'haltgslb-[0-9]*' \) \
			-prune -o -name '*.service' -type f -print | sed 's|^\./||')
	fi | LC_ALL=C sort
}

exposure() { # UNIT -> the overall exposure number, or nothing
	systemd-analyze security --offline=yes --no-pager "$1" 2>&1 |
		sed -n 's/.*Overall exposure level for [^:]*: \([0-9][0-9.]*\).*/\1/p'
}

command -v systemd-analyze >/dev/null; ok $? "systemd-analyze is installed (package systemd)"

mapfile -t found < <(units)
echo "unit files in the tree: ${found[*]:-none}" | diag
printf '%s\n' "${found[@]}" | grep -qx 'prober/haltgslb-prober.service'
ok $? "the prober's unit is among them"

for unit in "${found[@]}"; do
	path="$top_srcdir/$unit"
	score=$(exposure "$path")
	systemd-analyze security --offline=yes --no-pager "$path" 2>&1 | grep -E '✗|Overall' | diag
	systemd-analyze security --offline=yes --threshold=$THRESHOLD --no-pager "$path" >/dev/null 2>&1
	rc=$?
	[ -n "$score" ] && [ $rc -eq 0 ] && awk -v s="$score" -v m="$MAX" 'BEGIN { exit !(s <= m) }'
	ok $? "$unit: overall exposure ${score:-?} <= $MAX (systemd-analyze --threshold=$THRESHOLD exit $rc)"
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
