#!/usr/bin/env bash
# Static analysis of every C file with cppcheck (Debian's 2.10). Exits non-zero
# on any finding. Justified false positives are suppressed inline, next to the
# code, with a comment saying why (cppcheck --inline-suppr).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
command -v cppcheck >/dev/null || { echo "lint.sh: cppcheck is not installed (scripts/install-deps.sh)" >&2; exit 1; }
includes=(-I lmdb-schema)
for d in shared/*/ knot-module prober syncd tools; do
	[ -d "$d" ] && includes+=(-I "$d")
done
dirs=()
for d in shared knot-module prober syncd tools lmdb-schema tests/unit tests/netsim tests/fuzz; do
	[ -d "$d" ] && dirs+=("$d")
done
# schema.h insists on a little-endian host: tell cppcheck what gcc would.
exec cppcheck -q --std=c11 --enable=warning,portability,performance \
	--error-exitcode=1 --inline-suppr --suppress=missingIncludeSystem \
	-D__BYTE_ORDER__=1234 -D__ORDER_LITTLE_ENDIAN__=1234 -D_GNU_SOURCE \
	"${includes[@]}" "${dirs[@]}"
