#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Build the Debian packages from a clean copy of the source tree and check
# them with lintian:
#   scripts/build-debs.sh [OUTDIR]        (default: build/deb)
# The copy holds what git tracks plus untracked files that are not ignored
# (so uncommitted work is packaged, build directories are not); outside a
# git checkout, everything but build*/. The .debs, .changes and .buildinfo
# land in OUTDIR; OUTDIR/lintian.txt keeps lintian's output.
# Environment: DEB_BUILD_OPTIONS (e.g. nocheck to skip make check),
# LINTIAN=0 to skip lintian. Exit status: 0 built and lintian clean.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
out=$(mkdir -p "${1:-$top/build/deb}" && cd "${1:-$top/build/deb}" && pwd)
version=$(dpkg-parsechangelog -l "$top/debian/changelog" -S Version)
src="$out/src/haltgslb-$version"

rm -rf "$out/src" "$out"/*.deb "$out"/*.changes "$out"/*.buildinfo
mkdir -p "$src"
if git -C "$top" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	# (a tracked file deleted in the work tree is left out)
	(cd "$top" && git ls-files -z --cached --others --exclude-standard \
		| while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done \
		| tar -c --null -T - -f -) | tar -x -f - -C "$src"
else
	(cd "$top" && tar -c --exclude='./build*' -f - .) | tar -x -f - -C "$src"
fi

# dh builds with one job unless told otherwise.
case " ${DEB_BUILD_OPTIONS:-} " in
*" parallel="*) ;;
*) export DEB_BUILD_OPTIONS="${DEB_BUILD_OPTIONS:-} parallel=$(nproc)" ;;
esac
start=$(date +%s)
(cd "$src" && dpkg-buildpackage -us -uc -b) >"$out/build.log" 2>&1 || {
	tail -n 40 "$out/build.log"
	echo "build-debs.sh: dpkg-buildpackage failed (log: $out/build.log)" >&2
	exit 1
}
# dpkg-buildpackage writes next to the source directory.
mv "$out/src"/*.deb "$out/src"/*.changes "$out/src"/*.buildinfo "$out/"
echo "build-debs.sh: built in $(( $(date +%s) - start )) s:"
ls -1 "$out"/*.deb

if [ "${LINTIAN:-1}" = 1 ]; then
	changes=$(ls "$out"/*.changes)
	# --fail-on warning: errors and warnings fail; info tags are shown.
	if lintian --fail-on error,warning --info --display-info "$changes" >"$out/lintian.txt" 2>&1; then
		echo "build-debs.sh: lintian clean ($(grep -c '^[EW]:' "$out/lintian.txt" || true) errors/warnings)"
	else
		cat "$out/lintian.txt"
		echo "build-debs.sh: lintian found problems" >&2
		exit 1
	fi
fi
