# Shared helpers for the shell tests (TAP output).  Source it; it defines
# ok, not_ok, bail, wait_for, mark and wait_new, and counts in $n / $fail.
n=0
fail=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() {
	n=$((n + 1))
	fail=1
	echo "not ok $n - $1"
	shift
	for l in "$@"; do printf '%s\n' "$l" | sed 's/^/# /'; done
}
bail() { echo "Bail out! $*"; exit 1; }

# wait_for FILE PATTERN SECONDS: true once FILE has a line matching PATTERN.
wait_for() {
	i=0
	while [ $i -lt $(($3 * 10)) ]; do
		grep -q -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}

# An action's effect must be a new line, not an old one: mark FILE before
# acting, then wait_new FILE MARK PATTERN SECONDS.
mark() { wc -l <"$1" 2>/dev/null || echo 0; }
wait_new() {
	i=0
	while [ $i -lt $(($4 * 10)) ]; do
		tail -n +"$(($2 + 1))" "$1" 2>/dev/null | grep -q -- "$3" && return 0
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}
