# Minimal TAP helpers for shell tests (sourced).
TAP_N=0
TAP_FAILED=0
ok() { # ok CONDITION_EXIT_CODE DESCRIPTION
	TAP_N=$((TAP_N + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $TAP_N - $2"
	else
		echo "not ok $TAP_N - $2"
		TAP_FAILED=$((TAP_FAILED + 1))
	fi
}
diag() { sed 's/^/# /'; }
done_testing() {
	echo "1..$TAP_N"
	[ "$TAP_FAILED" -eq 0 ]
}
