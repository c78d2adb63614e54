#!/usr/bin/env bash
# Check (default) or apply (--fix) .clang-format on every tracked C file.
# Lists the files that differ and exits 1 when any does.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
command -v clang-format >/dev/null || { echo "check-format.sh: clang-format is not installed" >&2; exit 1; }
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	mapfile -t files < <(git ls-files '*.c' '*.h')
else   # a release tarball: every C file in the tree
	mapfile -t files < <(find . -name '*.[ch]' -not -path './build*' | sort)
fi
if [ "${1:-}" = "--fix" ]; then
	clang-format -i "${files[@]}"
	exit 0
fi
bad=0
for f in "${files[@]}"; do
	if ! clang-format --dry-run --Werror "$f" >/dev/null 2>&1; then
		echo "needs formatting: $f (scripts/check-format.sh --fix)"
		bad=$((bad + 1))
	fi
done
echo "format check: ${#files[@]} files, $bad need formatting"
[ "$bad" -eq 0 ]
