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
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null
	if mountpoint -q "$tmp/cg"; then
		[ -d "$tmp/cg/ckpt-demo" ] && { echo 1 >"$tmp/cg/ckpt-demo/cgroup.kill"; sleep 0.2; rmdir "$tmp/cg/ckpt-demo"; }
		umount "$tmp/cg"
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
PORT=$((20000 + $$ % 20000))
WRAP=

# Start the demo on the state file; wait until it answers; print its answer.
serve() {
	if [ -n "$WRAP" ]; then
		# orthros-init returns once the command runs; its pid is the tree's.
		rm -f "$tmp/init.pid"
		$WRAP --pidfile "$tmp/init.pid" -- "$DEMO" --port "$PORT" --hold 4 --state "$tmp/state" \
			2>"$tmp/err" >/dev/null || return 1
		pid=$(cat "$tmp/init.pid")
	else
		"$DEMO" --port "$PORT" --hold 4 --state "$tmp/state" 2>"$tmp/err" &
		pid=$!
	fi
	i=0
	while [ $i -lt 100 ]; do
		if ans=$(python3 -c "
import socket, sys
s = socket.create_connection(('127.0.0.1', $PORT), timeout=2)
sys.stdout.write(s.recv(600).decode())" 2>/dev/null) && [ -n "$ans" ]; then
			echo "$ans"
			kill "$pid"
			# not a child when orthros-init started it: wait until it is gone
			wait "$pid" 2>/dev/null
			j=0
			while kill -0 "$pid" 2>/dev/null && [ $j -lt 100 ]; do sleep 0.05; j=$((j + 1)); done
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
# As a protected group runs it: pid 2 of its own pid namespace, where the
# partition's /proc/2 is another process (the lab's counter said "/"), in
# a cgroup of its own (a private cgroup2 mount: the host may be on v1).
mkdir "$tmp/cg"
mount -t cgroup2 none "$tmp/cg" || bail "cannot mount a cgroup2 hierarchy at $tmp/cg"
WRAP="$(dirname "$ORTHROSCTL")/orthros-init --cgroup $tmp/cg/ckpt-demo"
if ans=$(serve) && echo "$ans" | grep -qx ".* pid 2 cgroup $(sed -n 's/^0:://p' /proc/self/cgroup | sed 's|/$||')/ckpt-demo"; then
	ok "in its own pid namespace (under orthros-init) it names its own cgroup"
else
	not_ok "in its own pid namespace (under orthros-init) it names its own cgroup" "$ans" "$(cat "$tmp/err")"
fi
WRAP=

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

# --journal: records appended to a file it keeps open, the last one named
# in its answer (what a restore of its data paths must agree with).  Asked
# until its first record is written (100 ms of its running time).
"$DEMO" --port "$PORT" --hold 1 --journal "$tmp/journal" 2>"$tmp/err" &
pid=$!
ans=$(python3 -c "
import socket, sys, time
for _ in range(200):
    try:
        s = socket.create_connection(('127.0.0.1', $PORT), timeout=2)
        line = s.recv(600).decode()
        s.close()
        if ' journal ' in line and not line.rstrip().endswith(' journal 0'):
            break
    except OSError:
        line = ''
    time.sleep(0.05)
sys.stdout.write(line)" 2>&1)
kill "$pid"
wait "$pid" 2>/dev/null
pid=""
j=$(echo "$ans" | sed -n 's/.* journal \([0-9]*\)$/\1/p')
if [ -n "$j" ] && [ "$j" -gt 0 ] && grep -qx "counter $j" "$tmp/journal" &&
   awk '$1 != "counter" || $2 + 0 <= last { bad = 1 } { last = $2 + 0 } END { exit bad }' "$tmp/journal"; then
	ok "--journal: it appends its records to the file and names the last in its answer (journal $j)"
else
	not_ok "--journal: it appends its records to the file and names the last in its answer" "$ans" \
		"$(tail -3 "$tmp/journal" 2>&1)" "$(cat "$tmp/err")"
fi

echo "1..$n"
exit $fail
