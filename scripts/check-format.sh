#!/usr/bin/env bash
# Check (default) or apply (--fix) .clang-format on every tracked C file.
# Lists the files that differ, each with the first lines of its diff, and
# exits 1 when any does.
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
# For each file that differs: its name and the start of the diff between it
# and what clang-format would make of it (FMT_DIFF_LINES lines, default 20).
lines=${FMT_DIFF_LINES:-20}
bad=0
for f in "${files[@]}"; do
	if ! formatted=$(clang-format --style=file "$f" 2>&1); then
		echo "clang-format failed on $f: $formatted"
		bad=$((bad + 1))
		continue
	fi
	if ! d=$(diff -u --label "$f" --label "$f (clang-format)" "$f" - <<<"$formatted"); then
		echo "needs formatting: $f"
		head -n "$lines" <<<"$d"
		[ "$(wc -l <<<"$d")" -gt "$lines" ] && echo "  ... (diff cut at $lines lines)"
		bad=$((bad + 1))
	fi
done
echo "format check: ${#files[@]} files, $bad need formatting (make format, or scripts/check-format.sh --fix)"
[ "$bad" -eq 0 ]
