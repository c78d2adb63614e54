#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# make check entry for the prober's namespace tests (TAP for automake's
# driver). Needs root, /dev/net/tun and python3 with pytest; skips otherwise.
set -u
src=${top_srcdir:-$(dirname "$0")/../..}
build=${top_builddir:-.}
if [ "$(id -u)" != 0 ] || [ ! -c /dev/net/tun ] || ! command -v ip >/dev/null; then
	echo "1..0 # SKIP needs root, /dev/net/tun and iproute2"
	exit 0
fi
py=
for cand in "${PYTHON3:-}" python3 /usr/bin/python3; do
	if [ -n "$cand" ] && "$cand" -c 'import pytest' 2>/dev/null; then
		py=$cand
		break
	fi
done
if [ -z "$py" ]; then
	echo "1..0 # SKIP python3 with pytest not found"
	exit 0
fi
log=$(mktemp)
trap 'rm -f "$log"' EXIT
top_srcdir=$src top_builddir=$build "$py" -m pytest -v -p no:cacheprovider \
	"$src/tests/netns/test_prober_netns.py" >"$log" 2>&1
rc=$?
n=0
grep -E '::test_[a-z0-9_]+ (PASSED|FAILED|ERROR|SKIPPED)' "$log" | while read -r line; do
	n=$((n + 1))
	name=$(echo "$line" | sed -E 's/.*::(test_[a-z0-9_]+).*/\1/')
	case $line in
	*PASSED*) echo "ok $n - $name" ;;
	*SKIPPED*) echo "ok $n - $name # SKIP" ;;
	*) echo "not ok $n - $name" ;;
	esac
done
sed 's/^/# /' "$log" | tail -n 60
count=$(grep -cE '::test_[a-z0-9_]+ (PASSED|FAILED|ERROR|SKIPPED)' "$log")
if [ "$count" = 0 ]; then
	echo "not ok 1 - pytest ran no test (exit $rc)"
	count=1
fi
echo "1..$count"
exit 0
