#!/bin/sh
# orthros-ckpt-demo --state (TAP): the service the protected-process tests
# and bench/protected.sh checkpoint keeps its hold as persistent state when
# asked: the first start computes it and writes the file, a later start
# loads it (the cold restart of a service that must rebuild its state from
# storage) and refuses a corrupt one, a file of the wrong size is rebuilt;
# its answer names the cgroup it runs in.
set -u
: "${ORTHROSCTL:?ORTHROSCTL must point to the built orthrosctl}"
: "${SRCDIR:?SRCDIR must point to the source tree}"
. "$SRCDIR/tests/lib/tap.sh"

DEMO=$(dirname "$ORTHROSCTL")/ckpt-demo
tmp=$(mktemp -d)
pid=""
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT
PORT=$((20000 + $$ % 20000))

# Start the demo on the state file; wait until it answers; print its answer.
serve() {
	"$DEMO" --port "$PORT" --hold 4 --state "$tmp/state" 2>"$tmp/err" &
	pid=$!
	i=0
	while [ $i -lt 100 ]; do
		if ans=$(python3 -c "
import socket, sys
s = socket.create_connection(('127.0.0.1', $PORT), timeout=2)
sys.stdout.write(s.recv(600).decode())" 2>/dev/null) && [ -n "$ans" ]; then
			echo "$ans"
			kill "$pid"
			wait "$pid" 2>/dev/null
			pid=""
			return 0
		fi
		kill -0 "$pid" 2>/dev/null || { wait "$pid"; rc=$?; pid=""; return $((rc + 100)); }
		sleep 0.05
		i=$((i + 1))
	done
	return 1
}

if ans=$(serve) && echo "$ans" | grep -q "pattern ok" && [ "$(stat -c %s "$tmp/state")" -eq $((4 << 20)) ]; then
	ok "a first start computes the hold and writes it to the state file"
else
	not_ok "a first start computes the hold and writes it to the state file" "$ans" "$(cat "$tmp/err")"
fi
sum1=$(echo "$ans" | sed -n 's/.* sum \([0-9a-f]*\) .*/\1/p')
# The cgroup it runs in ends the line: where a restore put it back.
mine=$(sed -n 's/^0:://p' /proc/self/cgroup)
if [ -n "$mine" ] && echo "$ans" | grep -qx ".* pid [0-9]* cgroup $mine"; then
	ok "its answer ends with the cgroup it runs in ($mine)"
else
	not_ok "its answer ends with the cgroup it runs in ($mine)" "$ans"
fi

if ans=$(serve) && echo "$ans" | grep -q "pattern ok sum $sum1 " && [ ! -e "$tmp/state.tmp" ]; then
	ok "a later start loads the hold from the state file (sum $sum1)"
else
	not_ok "a later start loads the hold from the state file" "$ans" "$(cat "$tmp/err")"
fi

printf 'X' | dd of="$tmp/state" bs=1 seek=40000 conv=notrunc status=none
serve >/dev/null; rc=$?
if [ "$rc" -eq 101 ] && grep -q "state: word 5000 is corrupt" "$tmp/err"; then
	ok "a corrupt state file is refused (exit 1, the word named)"
else
	not_ok "a corrupt state file is refused" "serve returned $rc" "$(cat "$tmp/err")"
fi

truncate -s 1000 "$tmp/state"
if ans=$(serve) && echo "$ans" | grep -q "pattern ok sum $sum1 " && [ "$(stat -c %s "$tmp/state")" -eq $((4 << 20)) ]; then
	ok "a state file of the wrong size is rebuilt"
else
	not_ok "a state file of the wrong size is rebuilt" "$ans" "$(cat "$tmp/err")"
fi

echo "1..$n"
exit $fail
