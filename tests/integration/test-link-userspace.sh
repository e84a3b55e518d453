#!/bin/sh
# The partition link between user-space peers on a real doorbell server
# (TAP): the same protocol, watcher and events the kernel module uses,
# exercised without booting a guest.
set -u
: "${ORTHROSCTL:?}" "${DOORBELLD:?}" "${SRCDIR:?}"
. "$SRCDIR/tests/lib/tap.sh"

tmp=$(mktemp -d)
pids=""
cleanup() { for p in $pids; do kill -CONT "$p" 2>/dev/null; kill "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
sock=$tmp/db.sock
shm=$tmp/shm

"$DOORBELLD" --socket "$sock" --shm "$shm" --size 64KiB 2>"$tmp/server.log" &
pids="$pids $!"
for _ in $(seq 50); do [ -S "$sock" ] && break; sleep 0.1; done
[ -S "$sock" ] || { echo "Bail out! doorbell server did not start: $(cat "$tmp/server.log")"; exit 1; }

link() { "$ORTHROSCTL" link --ivshmem "$sock" "$@"; }

# Peer 0: the watcher (a Backup), printing every event it sees.
"$ORTHROSCTL" link --ivshmem "$sock" --role backup --gen 2 events --for 120s >"$tmp/watcher" 2>&1 &
watcher=$!
pids="$pids $watcher"
sleep 0.5
# Peer 1: an Active that just beats.
"$ORTHROSCTL" link --ivshmem "$sock" --role active --gen 1 events --for 120s >"$tmp/active" 2>&1 &
active=$!
pids="$pids $active"

if wait_for "$tmp/watcher" "PEER_UP peer=1 gen=1" 10 && wait_for "$tmp/active" "PEER_UP peer=0 gen=2" 10; then
	ok "each peer sees the other come up with its generation"
else
	not_ok "each peer sees the other come up" "$(cat "$tmp/watcher" "$tmp/active")"
fi

hb() { link status | awk -v id="$1" '$1 == id { print $5 }'; }
a1=$(hb 1); b1=$(hb 0); sleep 1; a2=$(hb 1); b2=$(hb 0)
if [ -n "$a1" ] && [ -n "$b1" ] && [ "$a2" -gt "$a1" ] && [ "$b2" -gt "$b1" ]; then
	ok "heartbeats flow both ways and are counted in shared memory ($a1->$a2, $b1->$b2)"
else
	not_ok "heartbeats flow both ways" "active $a1->$a2 backup $b1->$b2" "$(link status)"
fi

kill -STOP "$active"
if wait_for "$tmp/watcher" "HEARTBEAT_LOST peer=1" 5; then
	ok "a stopped peer is reported HEARTBEAT_LOST"
else
	not_ok "a stopped peer is reported HEARTBEAT_LOST" "$(cat "$tmp/watcher")"
fi
kill -CONT "$active"
if wait_for "$tmp/watcher" "HEARTBEAT_BACK peer=1" 5; then
	ok "a resumed peer is reported HEARTBEAT_BACK"
else
	not_ok "a resumed peer is reported HEARTBEAT_BACK" "$(cat "$tmp/watcher")"
fi

# Garbage in peer 1's record, written behind its back with the owner stopped.
# Magic and sequence stay (an odd sequence would read as "mid-write", which
# is silent until the timeout); everything after them is random.
kill -STOP "$active"
off=$((72 + 1 * 152 + 8))
head -c 144 /dev/urandom | dd of="$shm" bs=1 seek=$off conv=notrunc status=none
link ring 0 1 2>/dev/null || true
if wait_for "$tmp/watcher" 'RECORD_INVALID peer=1' 5 && ! grep -q 'PANIC peer=1' "$tmp/watcher"; then
	ok "garbage in a peer's record is refused, not trusted"
else
	not_ok "garbage in a peer's record is refused" "$(cat "$tmp/watcher")"
fi
kill -CONT "$active"
wait_for "$tmp/watcher" "HEARTBEAT_BACK peer=1" 5 || true

link --role active --gen 3 announce panic "simulated crash" 2>"$tmp/err"
if wait_for "$tmp/watcher" "PANIC peer=[0-9]* gen=3" 5; then
	ok "a peer's PANIC notice is delivered with its generation"
else
	not_ok "a peer's PANIC notice is delivered" "$(cat "$tmp/watcher" "$tmp/err")"
fi

link --role active --gen 5 announce stopping "kexec" 2>"$tmp/err"
if wait_for "$tmp/watcher" "STOPPING peer=[0-9]* gen=5" 5; then
	ok "a planned stop is delivered as STOPPING"
else
	not_ok "a planned stop is delivered as STOPPING" "$(cat "$tmp/watcher" "$tmp/err")"
fi

echo "1..$n"
exit $fail
