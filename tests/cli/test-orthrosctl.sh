#!/bin/sh
# orthrosctl end to end (TAP).  Each file in tests/conf/bad/ carries one or
# more "# expect: LINE:COL: TEXT" lines; the tool must exit 2 and print each
# of them as "FILE:LINE:COL: error: TEXT".
set -u
: "${ORTHROSCTL:?ORTHROSCTL must point to the built orthrosctl}"
: "${SRCDIR:?SRCDIR must point to the source tree}"

n=0
fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); fail=1; echo "not ok $n - $1"; shift; for l in "$@"; do echo "# $l"; done; }

for f in "$SRCDIR"/tests/conf/bad/*.yaml; do
	name=$(basename "$f")
	"$ORTHROSCTL" config check "$f" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	if [ "$rc" -ne 2 ]; then
		not_ok "$name exits 2" "exit code $rc" "$(cat "$tmp/err")"
		continue
	fi
	expects=$(sed -n 's/^# expect: //p' "$f")
	if [ -z "$expects" ]; then
		not_ok "$name has an expectation" "no '# expect:' line in the file"
		continue
	fi
	good=1
	echo "$expects" | while IFS= read -r e; do
		grep -qF -- "$f:$e" "$tmp/err" || { echo "missing: $f:$e"; exit 1; }
	done >"$tmp/missing" || good=0
	if [ "$good" -eq 1 ]; then
		ok "$name is refused with its message"
	else
		not_ok "$name is refused with its message" "$(cat "$tmp/missing")" "got:" "$(cat "$tmp/err")"
	fi
done

if "$ORTHROSCTL" config check "$SRCDIR/config/orthros.yaml" >"$tmp/out" 2>"$tmp/err" &&
   grep -q 'valid (machine lab' "$tmp/out" && [ ! -s "$tmp/err" ]; then
	ok "example configuration is valid and silent"
else
	not_ok "example configuration is valid and silent" "$(cat "$tmp/out" "$tmp/err")"
fi

"$ORTHROSCTL" plan --config "$SRCDIR/config/orthros.yaml" --generations 6 >"$tmp/plan" 2>"$tmp/err"
rows=$(grep -cE '^[0-9]+ +(Active|Backup) ' "$tmp/plan")
if [ "$rows" -eq 12 ] && grep -q '^1 .*Active *first *0(BSP)' "$tmp/plan" &&
   grep -q '^7 .*Backup *odd *2 ' "$tmp/plan"; then
	ok "plan prints 6 generations with Active and Backup rows"
else
	not_ok "plan prints 6 generations with Active and Backup rows" "$(cat "$tmp/plan" "$tmp/err")"
fi

"$ORTHROSCTL" plan --config "$SRCDIR/config/orthros.yaml" --generations 0 >/dev/null 2>"$tmp/err"
rc=$?
if [ "$rc" -eq 2 ] && grep -q -- "--generations '0' is not a number from 1" "$tmp/err"; then
	ok "plan refuses --generations 0"
else
	not_ok "plan refuses --generations 0" "exit $rc" "$(cat "$tmp/err")"
fi

"$ORTHROSCTL" plan --generations 3 >/dev/null 2>"$tmp/err"
rc=$?
if [ "$rc" -eq 2 ] && grep -q 'plan needs --config FILE' "$tmp/err"; then
	ok "plan without --config is a usage error"
else
	not_ok "plan without --config is a usage error" "exit $rc" "$(cat "$tmp/err")"
fi

"$ORTHROSCTL" config check /nonexistent/orthros.yaml >/dev/null 2>"$tmp/err"
rc=$?
if [ "$rc" -eq 1 ] && grep -q '/nonexistent/orthros.yaml: error: cannot open: No such file' "$tmp/err"; then
	ok "missing file is a runtime failure with the reason"
else
	not_ok "missing file is a runtime failure with the reason" "exit $rc" "$(cat "$tmp/err")"
fi

if "$ORTHROSCTL" --help | grep -q '^  config check FILE' && "$ORTHROSCTL" --version | grep -q '^orthrosctl (orthros) '; then
	ok "--help and --version"
else
	not_ok "--help and --version"
fi

"$ORTHROSCTL" frobnicate >/dev/null 2>"$tmp/err"
rc=$?
if [ "$rc" -eq 2 ] && grep -q "unknown command 'frobnicate'" "$tmp/err"; then
	ok "unknown command is a usage error"
else
	not_ok "unknown command is a usage error" "exit $rc"
fi

echo "1..$n"
exit $fail
