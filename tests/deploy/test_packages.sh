#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# The Debian packages (TAP): built with dpkg-buildpackage -us -uc -b from a
# clean copy of the tree (scripts/build-debs.sh), then checked:
#   - lintian: no error and no warning (overrides only in
#     debian/*.lintian-overrides, each with its reason);
#   - every package of debian/control was built;
#   - every binary in /usr/bin and /usr/sbin has a man page;
#   - every conffile is under /etc/haltgslb/;
#   - every systemd unit is enabled by the postinst and never started by
#     it, and has a ConditionPathExists= on the database (skipped at boot
#     until a policy is loaded);
#   - knot-module-haltgslb depends on exactly the knot it was built
#     against, and installs into knotd's module directory.
# Usage: tests/deploy/test_packages.sh [DEBDIR]   (default build/deb; the
# .debs stay there for tests/deploy/test_deploy.py). HG_DEBS_PREBUILT=1
# checks the packages already in DEBDIR instead of building them.
set -uo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/tools/tap.sh"
debdir=$(mkdir -p "${1:-$top/build/deb}" && cd "${1:-$top/build/deb}" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if [ "${HG_DEBS_PREBUILT:-0}" != 1 ]; then
	start=$(date +%s)
	DEB_BUILD_OPTIONS="${DEB_BUILD_OPTIONS:-nocheck}" LINTIAN=0 \
		"$top/scripts/build-debs.sh" "$debdir" >"$work/build.out" 2>&1
	rc=$?
	ok $rc "dpkg-buildpackage -us -uc -b builds ($(( $(date +%s) - start )) s)"
	[ $rc -eq 0 ] || diag <"$work/build.out"
fi

changes=$(ls "$debdir"/*.changes 2>/dev/null | head -n1)
start=$(date +%s)
lintian --fail-on error,warning "${changes:-/nonexistent.changes}" >"$debdir/lintian.txt" 2>&1
rc=$?
ok $rc "lintian: no errors or warnings ($(( $(date +%s) - start )) s)"
[ $rc -eq 0 ] || diag <"$debdir/lintian.txt"

# Every package of debian/control, unpacked side by side.
missing=0
for p in $(sed -n 's/^Package: *//p' "$top/debian/control"); do
	deb=$(ls "$debdir/${p}"_*.deb 2>/dev/null | head -n1)
	if [ -z "$deb" ]; then
		echo "no .deb for $p" | diag
		missing=$((missing + 1))
		continue
	fi
	mkdir -p "$work/$p"
	dpkg-deb -x "$deb" "$work/$p/root" && dpkg-deb -e "$deb" "$work/$p/DEBIAN" || missing=$((missing + 1))
done
ok $missing "every package of debian/control is built"

# Man pages: for every binary, in section 1 (bin) or 8 (sbin) of any of
# the packages (haltgslb-tools ships ctl's and dump's, each daemon its own).
bad=0
for bin in "$work"/*/root/usr/bin/* "$work"/*/root/usr/sbin/*; do
	[ -e "$bin" ] || continue
	name=$(basename "$bin")
	case "$bin" in */usr/sbin/*) sec=8 ;; *) sec=1 ;; esac
	if ! ls "$work"/*/root/usr/share/man/man$sec/"$name.$sec.gz" >/dev/null 2>&1; then
		echo "$name: no man page in section $sec" | diag
		bad=$((bad + 1))
	elif ! zcat "$work"/*/root/usr/share/man/man$sec/"$name.$sec.gz" \
		| LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l - 2>"$work/man.err" >/dev/null \
		|| [ -s "$work/man.err" ]; then
		echo "$name.$sec: man reports:" | diag
		diag <"$work/man.err"
		bad=$((bad + 1))
	fi
done
ok $bad "every binary has a man page that formats without warnings"

bad=0
n=0
for f in "$work"/*/DEBIAN/conffiles; do
	[ -e "$f" ] || continue
	while read -r c; do
		n=$((n + 1))
		case "$c" in /etc/haltgslb/*) ;; *) echo "conffile outside /etc/haltgslb: $c" | diag; bad=$((bad + 1)) ;; esac
	done <"$f"
done
[ $n -gt 0 ] || { echo "no conffiles at all" | diag; bad=1; }
ok $bad "every conffile ($n) is under /etc/haltgslb/"

# Units: enabled (deb-systemd-helper enable), not started (no
# deb-systemd-invoke start/restart), skipped until a policy exists.
bad=0
n=0
for unit in "$work"/*/root/lib/systemd/system/*.service; do
	[ -e "$unit" ] || continue
	n=$((n + 1))
	pkg=$(echo "$unit" | sed "s|^$work/||; s|/.*||")
	u=$(basename "$unit")
	postinst="$work/$pkg/DEBIAN/postinst"
	if ! grep -q "deb-systemd-helper enable '$u'" "$postinst" 2>/dev/null; then
		echo "$pkg: $u is not enabled by the postinst" | diag
		bad=$((bad + 1))
	fi
	if grep -E "deb-systemd-invoke .*(start|restart)" "$postinst" 2>/dev/null | grep -v try-restart | grep -q .; then
		echo "$pkg: the postinst starts $u" | diag
		bad=$((bad + 1))
	fi
	if ! grep -qs '^ConditionPathExists=/var/lib/haltgslb/data.mdb' "$unit" "$unit.d"/*.conf; then
		echo "$pkg: $u has no ConditionPathExists=/var/lib/haltgslb/data.mdb" | diag
		bad=$((bad + 1))
	fi
done
[ $n -ge 2 ] || { echo "only $n units (prober and syncd expected)" | diag; bad=$((bad + 1)); }
ok $bad "every unit ($n) is enabled, not started, skipped until a policy is loaded"

# The module: exactly the knot it was built against, in its module dir.
knot=$(dpkg-query -W -f='${Version}' libknot-dev 2>/dev/null)
dep=$(dpkg-deb -f "$(ls "$debdir"/knot-module-haltgslb_*.deb 2>/dev/null | head -n1)" Depends 2>/dev/null)
moddir=$(pkg-config --variable=module_instdir knotd)
case ", $dep," in
*", knot (= $knot),"*) rc=0 ;;
*) rc=1; echo "Depends: $dep (want knot (= $knot))" | diag ;;
esac
[ -e "$work/knot-module-haltgslb/root$moddir/haltgslb.so" ] || { rc=1; echo "no $moddir/haltgslb.so" | diag; }
ok $rc "knot-module-haltgslb depends on knot (= $knot), installs $moddir/haltgslb.so"

done_testing
